"""SAC (Haarnoja et al. 2018): tanh-squashed Gaussian actor, twin critics with the minimum in
the target, and a temperature tuned automatically toward entropy -action_size.

``make_maximum_entropy`` is that update with the critics left open: SAC's twin Q-functions here,
TQC's quantile critics in ``tqc.py``. A ``Critics`` says how many there are, what network each
is, how its loss is taken against the target networks' values, and what value the actor climbs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxik.config import TrainConfig
from jaxik.device import lockstep
from jaxik.device.agents import common
from jaxik.device.agents.common import Agent, Update
from jaxik.device.hyperparams import Hyperparams
from jaxik.device.networks import (
    Critic,
    GaussianActor,
    apply_critics,
    init_actor_and_critics,
    squashed_sample,
)

NUM_CRITICS = 2


@dataclasses.dataclass(frozen=True)
class Critics:
    """The critics of a maximum-entropy learner.

    network: each critic, (x [batch, in_dim], action [batch, a]) -> its estimate
    count: how many, stacked on a leading axis: q [count, batch, ...]
    loss(q, next_q, next_log_prob [batch], alpha, batch: Update, hp) -> scalar: the critics'
        loss, q from the online critics at (x, action), next_q from the target critics at
        (next_x, a sampled next action) with that action's log-probability
    value(q) -> [batch]: what the actor maximises (less alpha times its log-probability)
    """

    network: nn.Module
    count: int
    loss: Callable[..., jax.Array]
    value: Callable[[jax.Array], jax.Array]


@struct.dataclass
class SacState:
    actor_params: dict
    critic_params: dict  # leaves [critics.count, ...]
    target_critic_params: dict
    log_alpha: jax.Array  # scalar
    actor_opt_state: optax.OptState
    critic_opt_state: optax.OptState
    alpha_opt_state: optax.OptState
    updates: jax.Array = lockstep.counter()  # int32


def make(config: TrainConfig, in_dim: int, action_size: int) -> Agent:
    """``config`` supplies hidden_sizes, max_grad_norm and clip_target; the float settings come
    as ``hp``."""

    def loss(q, next_q, next_log_prob, alpha, batch: Update, hp: Hyperparams) -> jax.Array:
        next_value = next_q.min(axis=0) - alpha * next_log_prob
        target = common.td_target(
            batch.reward, batch.terminated, hp.gamma, next_value, config.clip_target
        )
        return common.mean_squared_error(q, target)

    critics = Critics(
        network=Critic(config.hidden_sizes),
        count=NUM_CRITICS,
        loss=loss,
        value=lambda q: q.min(axis=0),
    )
    return make_maximum_entropy(config, in_dim, action_size, critics)


def make_maximum_entropy(
    config: TrainConfig, in_dim: int, action_size: int, critics: Critics
) -> Agent:
    """SAC's actor, temperature and update around ``critics``; ``config`` supplies
    hidden_sizes and max_grad_norm."""
    actor = GaussianActor(config.hidden_sizes, action_size)
    critic = critics.network
    optimizer = common.make_optimizer(config.max_grad_norm)
    target_entropy = -float(action_size)

    def init(key: jax.Array, hp: Hyperparams) -> SacState:
        actor_params, critic_params = init_actor_and_critics(
            actor, critic, key, in_dim, action_size, critics.count
        )
        log_alpha = jnp.log(jnp.asarray(hp.init_alpha, jnp.float32))
        return SacState(
            actor_params=actor_params,
            critic_params=critic_params,
            target_critic_params=critic_params,
            log_alpha=log_alpha,
            actor_opt_state=optimizer(hp).init(actor_params),
            critic_opt_state=optimizer(hp).init(critic_params),
            alpha_opt_state=common.temperature_optimizer(hp).init(log_alpha),
            updates=jnp.zeros((), jnp.int32),
        )

    def act(state: SacState, x: jax.Array, key: jax.Array, explore: bool) -> jax.Array:
        mean, log_std = actor.apply(state.actor_params, x)
        if not explore:
            return jnp.tanh(mean)
        return squashed_sample(mean, log_std, key)[0]

    def init_exploration(num_envs: int) -> None:
        del num_envs  # SAC explores by sampling its policy: nothing carries between steps

    def explore(state, exploration, x, policy_key, noise_key, hp: Hyperparams, episode_ended):
        del noise_key, hp, episode_ended
        return act(state, x, policy_key, explore=True), exploration

    def critic_loss(critic_params, state: SacState, batch: Update, key: jax.Array, hp: Hyperparams):
        alpha = jnp.exp(state.log_alpha)
        next_action, next_log_prob = squashed_sample(
            *actor.apply(state.actor_params, batch.next_x), key
        )
        next_q = apply_critics(critic, state.target_critic_params, batch.next_x, next_action)
        q = apply_critics(critic, critic_params, batch.x, batch.action)
        return critics.loss(q, next_q, next_log_prob, alpha, batch, hp), q.mean()

    def actor_loss(actor_params, state: SacState, batch: Update, key: jax.Array):
        alpha = jnp.exp(state.log_alpha)
        action, log_prob = squashed_sample(*actor.apply(actor_params, batch.x), key)
        q = critics.value(apply_critics(critic, state.critic_params, batch.x, action))
        return (alpha * log_prob - q).mean(), log_prob

    def alpha_loss(log_alpha, log_prob):
        return -(log_alpha * jax.lax.stop_gradient(log_prob + target_entropy)).mean()

    def update(state: SacState, batch: Update, key: jax.Array, hp: Hyperparams):
        critic_key, actor_key = jax.random.split(key)
        (c_loss, q_mean), grads = jax.value_and_grad(critic_loss, has_aux=True)(
            state.critic_params, state, batch, critic_key, hp
        )
        critic_params, critic_opt_state = common.apply_optimizer(
            optimizer(hp), state.critic_params, grads, state.critic_opt_state
        )
        state = state.replace(critic_params=critic_params, critic_opt_state=critic_opt_state)

        (a_loss, log_prob), grads = jax.value_and_grad(actor_loss, has_aux=True)(
            state.actor_params, state, batch, actor_key
        )
        actor_params, actor_opt_state = common.apply_optimizer(
            optimizer(hp), state.actor_params, grads, state.actor_opt_state
        )

        _t_loss, grad = jax.value_and_grad(alpha_loss)(state.log_alpha, log_prob)
        log_alpha, alpha_opt_state = common.apply_optimizer(
            common.temperature_optimizer(hp), state.log_alpha, grad, state.alpha_opt_state
        )
        state = state.replace(
            actor_params=actor_params,
            actor_opt_state=actor_opt_state,
            log_alpha=log_alpha,
            alpha_opt_state=alpha_opt_state,
            target_critic_params=common.soft_update(
                state.target_critic_params, critic_params, hp.tau
            ),
            updates=state.updates + 1,
        )
        metrics = {
            "critic_loss": c_loss,
            "actor_loss": a_loss,
            "q_mean": q_mean,
            "alpha": jnp.exp(state.log_alpha),
            "entropy": -log_prob.mean(),
        }
        return state, metrics

    return Agent(
        init=init,
        act=act,
        init_exploration=init_exploration,
        explore=explore,
        update=update,
    )
