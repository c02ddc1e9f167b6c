"""TD3 (Fujimoto et al. 2018): twin critics with the minimum in the target, target-policy
smoothing with clipped noise, delayed actor and target updates. DDPG is this update with one
critic, no smoothing and no delay (``ddpg.py``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxik.config import TrainConfig
from jaxik.device import lockstep
from jaxik.device.agents import common
from jaxik.device.agents.common import Agent, Update
from jaxik.device.hyperparams import Hyperparams
from jaxik.device.networks import Critic, DeterministicActor, apply_critics, init_actor_and_critics


@struct.dataclass
class DeterministicState:
    actor_params: dict
    critic_params: dict  # leaves [num_critics, ...]
    target_actor_params: dict
    target_critic_params: dict
    actor_opt_state: optax.OptState
    critic_opt_state: optax.OptState
    updates: jax.Array = lockstep.counter()  # int32: critic updates so far


def make_deterministic(
    config: TrainConfig,
    in_dim: int,
    action_size: int,
    num_critics: int,
    policy_delay: int,
    smoothing: bool,
) -> Agent:
    """The DDPG / TD3 family; ``config`` supplies hidden_sizes, exploration_noise, max_grad_norm
    and clip_target. With ``smoothing`` the target action gets clipped noise (hp.target_noise,
    hp.target_noise_clip)."""
    actor = DeterministicActor(config.hidden_sizes, action_size)
    critic = Critic(config.hidden_sizes)
    optimizer = common.make_optimizer(config.max_grad_norm)

    def init(key: jax.Array, hp: Hyperparams) -> DeterministicState:
        actor_params, critic_params = init_actor_and_critics(
            actor, critic, key, in_dim, action_size, num_critics
        )
        return DeterministicState(
            actor_params=actor_params,
            critic_params=critic_params,
            target_actor_params=actor_params,
            target_critic_params=critic_params,
            actor_opt_state=optimizer(hp).init(actor_params),
            critic_opt_state=optimizer(hp).init(critic_params),
            updates=jnp.zeros((), jnp.int32),
        )

    def init_exploration(num_envs: int) -> jax.Array:
        return jnp.zeros((num_envs, action_size))

    def explore(state, noise, x, policy_key, noise_key, hp: Hyperparams, episode_ended):
        """The actor's action plus Gaussian or Ornstein-Uhlenbeck noise (config's
        exploration_noise, scaled by hp.noise_std), clipped to [-1, 1]; with probability
        hp.random_action_prob per environment, a uniform random action instead."""
        action = act(state, x, policy_key, explore=False)  # deterministic: the key is unused
        if config.exploration_noise == "ou":
            noise = ornstein_uhlenbeck(noise, noise_key, hp.noise_std, hp.ou_theta, episode_ended)
        else:
            noise = gaussian_noise(noise_key, action.shape, hp.noise_std)
        action = jnp.clip(action + noise, -1.0, 1.0)
        random_key = jax.random.fold_in(noise_key, 1)
        return random_actions(random_key, action, hp.random_action_prob), noise

    def act(state: DeterministicState, x: jax.Array, key: jax.Array, explore: bool) -> jax.Array:
        del key, explore  # deterministic; exploration noise is added by ``explore``
        return actor.apply(state.actor_params, x)

    def critic_loss(
        critic_params, state: DeterministicState, batch: Update, key: jax.Array, hp: Hyperparams
    ):
        next_action = actor.apply(state.target_actor_params, batch.next_x)
        if smoothing:
            noise = hp.target_noise * jax.random.normal(key, next_action.shape)
            noise = jnp.clip(noise, -hp.target_noise_clip, hp.target_noise_clip)
            next_action = jnp.clip(next_action + noise, -1.0, 1.0)
        next_q = apply_critics(critic, state.target_critic_params, batch.next_x, next_action)
        target = common.td_target(
            batch.reward, batch.terminated, hp.gamma, next_q.min(axis=0), config.clip_target
        )
        q = apply_critics(critic, critic_params, batch.x, batch.action)
        return common.mean_squared_error(q, target), q.mean()

    def actor_loss(actor_params, critic_params, batch: Update, hp: Hyperparams):
        """-Q(x, actor(x)) of the first critic, plus hp.action_l2 times the mean squared
        action."""
        action = actor.apply(actor_params, batch.x)
        first_critic = jax.tree.map(lambda p: p[:1], critic_params)
        q = apply_critics(critic, first_critic, batch.x, action).mean()
        return -q + hp.action_l2 * jnp.mean(jnp.square(action))

    def update_actor_and_targets(state: DeterministicState, batch: Update, hp: Hyperparams):
        loss, grads = jax.value_and_grad(actor_loss)(
            state.actor_params, state.critic_params, batch, hp
        )
        actor_params, actor_opt_state = common.apply_optimizer(
            optimizer(hp), state.actor_params, grads, state.actor_opt_state
        )
        state = state.replace(
            actor_params=actor_params,
            actor_opt_state=actor_opt_state,
            target_actor_params=common.soft_update(state.target_actor_params, actor_params, hp.tau),
            target_critic_params=common.soft_update(
                state.target_critic_params, state.critic_params, hp.tau
            ),
        )
        return state, loss

    def update(state: DeterministicState, batch: Update, key: jax.Array, hp: Hyperparams):
        (loss, q_mean), grads = jax.value_and_grad(critic_loss, has_aux=True)(
            state.critic_params, state, batch, key, hp
        )
        critic_params, critic_opt_state = common.apply_optimizer(
            optimizer(hp), state.critic_params, grads, state.critic_opt_state
        )
        state = state.replace(
            critic_params=critic_params,
            critic_opt_state=critic_opt_state,
            updates=state.updates + 1,
        )
        if policy_delay == 1:
            state, actor_loss_value = update_actor_and_targets(state, batch, hp)
        else:
            state, actor_loss_value = jax.lax.cond(
                state.updates % policy_delay == 0,
                update_actor_and_targets,
                lambda s, b, h: (s, jnp.full((), jnp.nan, jnp.float32)),
                state,
                batch,
                hp,
            )
        metrics = {"critic_loss": loss, "actor_loss": actor_loss_value, "q_mean": q_mean}
        return state, metrics

    return Agent(
        init=init,
        act=act,
        init_exploration=init_exploration,
        explore=explore,
        update=update,
    )


def make(config: TrainConfig, in_dim: int, action_size: int) -> Agent:
    return make_deterministic(
        config,
        in_dim,
        action_size,
        num_critics=2,
        policy_delay=config.policy_delay,
        smoothing=True,
    )


def gaussian_noise(key: jax.Array, shape: tuple[int, ...], std: float) -> jax.Array:
    """Exploration noise, independent N(0, std^2) per step: [num_envs, action_size]."""
    return std * jax.random.normal(key, shape)


def random_actions(key: jax.Array, action: jax.Array, probability: jax.Array) -> jax.Array:
    """``action`` [num_envs, action_size] with each environment's row replaced, with
    ``probability``, by one drawn uniformly from [-1, 1]. ``key`` is a key of its own (folded
    from the noise's), so the noise is drawn as it was without this: at probability 0 the actions
    are the same, bit for bit."""
    coin_key, uniform_key = jax.random.split(key)
    replace = jax.random.uniform(coin_key, (*action.shape[:-1], 1)) < probability
    uniform = jax.random.uniform(uniform_key, action.shape, minval=-1.0, maxval=1.0)
    return jnp.where(replace, uniform, action)


def ornstein_uhlenbeck(
    previous: jax.Array, key: jax.Array, std: float, theta: float, episode_ended: jax.Array
) -> jax.Array:
    """Temporally correlated exploration noise: x <- (1 - theta) x + std * N(0, 1), restarted
    at zero where the environment's episode ended. previous: [num_envs, action_size];
    episode_ended: [num_envs] bool (of the previous step)."""
    previous = jnp.where(episode_ended[:, None], 0.0, previous)
    return (1.0 - theta) * previous + std * jax.random.normal(key, previous.shape)
