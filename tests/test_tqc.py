"""TQC's critic and actor losses against sb3-contrib's TQC on one batch, and what the truncation
drops. sb3-contrib comes with the optional compare extra (``make install-compare``); without it
the comparison runs against the losses it gave, recorded below."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxik import config
from jaxik.device import agents, hyperparams
from jaxik.device.agents import tqc
from jaxik.device.agents.common import Update
from jaxik.device.networks import QuantileCritic, apply_critics

CRITICS, QUANTILES, DROPPED, HIDDEN = 2, 5, 2, (8, 8)
IN_DIM, ACTION_SIZE, BATCH = 3, 1, 6  # gymnasium's Pendulum: sb3-contrib needs an environment
ALPHA, GAMMA = 0.3, 0.95
# sb3-contrib 2.9.2's TQC.train on case() (test_losses_match_sb3_contrib computes them anew)
SB3_CRITIC_LOSS, SB3_ACTOR_LOSS = 0.10249065607786179, -0.23154985904693604


def case():
    """One batch in both libraries' terms: TQC's critic and target-critic parameters (jaxik's
    layout: leaves [CRITICS, ...]), the batch, the next actions with their log-probabilities,
    and the actor's actions at x with theirs."""
    cfg = config.TrainConfig(
        algo="tqc", hidden_sizes=HIDDEN, quantiles=QUANTILES, quantile_critics=CRITICS,
        dropped_quantiles=DROPPED,
    )  # fmt: skip
    agent = agents.make(cfg, IN_DIM, ACTION_SIZE)
    state = agent.init(jax.random.key(0), hyperparams.from_config(cfg))
    rng = np.random.default_rng(0)

    def draw(*shape, low=-1.0, high=1.0):
        return jnp.asarray(rng.uniform(low, high, shape), jnp.float32)

    target_params = jax.tree.map(lambda p: p + draw(*p.shape, low=-0.3, high=0.3),
                                 state.critic_params)  # fmt: skip
    batch = Update(
        x=draw(BATCH, IN_DIM), action=draw(BATCH, ACTION_SIZE),
        reward=-jnp.asarray(rng.integers(0, 2, BATCH), jnp.float32),
        next_x=draw(BATCH, IN_DIM),
        terminated=jnp.asarray([0, 1, 0, 0, 1, 0], jnp.float32),
    )  # fmt: skip
    policy = {
        "next_action": draw(BATCH, ACTION_SIZE), "next_log_prob": draw(BATCH, low=-2, high=1),
        "action": draw(BATCH, ACTION_SIZE), "log_prob": draw(BATCH, low=-2, high=1),
    }  # fmt: skip
    return state.critic_params, target_params, batch, policy


def jaxik_losses(critic_params, target_params, batch, policy):
    critic = QuantileCritic(HIDDEN, QUANTILES)
    next_q = apply_critics(critic, target_params, batch.next_x, policy["next_action"])
    target = tqc.truncated_targets(
        next_q, policy["next_log_prob"], ALPHA, batch, GAMMA, DROPPED, clip=False
    )
    q = apply_critics(critic, critic_params, batch.x, batch.action)
    critic_loss = tqc.quantile_huber_loss(q, target)
    q_policy = apply_critics(critic, critic_params, batch.x, policy["action"])
    actor_loss = (ALPHA * policy["log_prob"] - tqc.mean_quantile(q_policy)).mean()
    return float(critic_loss), float(actor_loss)


def sb3_losses(critic_params, target_params, batch, policy):
    """sb3-contrib's TQC.train, one gradient step on this batch (learning rate 0, so its actor
    loss sees the critics as they were), its actor's samples replaced by the case's."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("sb3_contrib")
    import gymnasium as gym
    from sb3_contrib import TQC
    from stable_baselines3.common.logger import configure
    from stable_baselines3.common.type_aliases import ReplayBufferSamples

    model = TQC(
        "MlpPolicy", gym.make("Pendulum-v1"), learning_rate=0.0, ent_coef=ALPHA, gamma=GAMMA,
        top_quantiles_to_drop_per_net=DROPPED, device="cpu",
        policy_kwargs={"net_arch": list(HIDDEN), "n_quantiles": QUANTILES, "n_critics": CRITICS},
    )  # fmt: skip
    model.set_logger(configure(None, []))

    def tensor(a):
        return torch.as_tensor(np.array(a))

    for module, params in ((model.critic, critic_params), (model.critic_target, target_params)):
        dense = params["params"]["MLP_0"]
        with torch.no_grad():
            for i, net in enumerate(module.q_networks):
                linear = [layer for layer in net if isinstance(layer, torch.nn.Linear)]
                for j, layer in enumerate(linear):
                    layer.weight.copy_(tensor(dense[f"Dense_{j}"]["kernel"][i]).T)
                    layer.bias.copy_(tensor(dense[f"Dense_{j}"]["bias"][i]))
    samples = ReplayBufferSamples(
        observations=tensor(batch.x), actions=tensor(batch.action),
        next_observations=tensor(batch.next_x), dones=tensor(batch.terminated)[:, None],
        rewards=tensor(batch.reward)[:, None],
    )  # fmt: skip
    model.replay_buffer.sample = lambda batch_size, env=None: samples

    def action_log_prob(obs):
        if obs is samples.next_observations:
            return tensor(policy["next_action"]), tensor(policy["next_log_prob"])
        return tensor(policy["action"]), tensor(policy["log_prob"])

    model.actor.action_log_prob = action_log_prob
    model.train(gradient_steps=1, batch_size=BATCH)
    values = model.logger.name_to_value
    return float(values["train/critic_loss"]), float(values["train/actor_loss"])


def test_losses_match_sb3_contrib():
    inputs = case()
    np.testing.assert_allclose(jaxik_losses(*inputs), sb3_losses(*inputs), rtol=1e-5)


def test_losses_match_those_sb3_contrib_gave():
    np.testing.assert_allclose(jaxik_losses(*case()), (SB3_CRITIC_LOSS, SB3_ACTOR_LOSS), rtol=1e-5)


def test_the_target_drops_the_largest_quantiles_of_the_pool():
    """Two critics of four quantiles, one dropped each: the target keeps the 6 smallest of the
    8 pooled values, sorted, as r + gamma * (value - alpha * log_prob) unless terminated."""
    next_q = jnp.asarray([[[4.0, 1.0, 7.0, 3.0]], [[2.0, 8.0, 5.0, 6.0]]])  # [2, 1, 4]
    batch = Update(
        x=jnp.zeros((1, 1)), action=jnp.zeros((1, 1)), reward=jnp.asarray([-1.0]),
        next_x=jnp.zeros((1, 1)), terminated=jnp.zeros(1),
    )  # fmt: skip
    target = tqc.truncated_targets(next_q, jnp.asarray([2.0]), 0.5, batch, 0.9, 1, clip=False)
    np.testing.assert_allclose(target, [[-1.0 + 0.9 * (v - 1.0) for v in range(1, 7)]], rtol=1e-6)
    ended = tqc.truncated_targets(
        next_q, jnp.asarray([2.0]), 0.5, batch.replace(terminated=jnp.ones(1)), 0.9, 1, False
    )
    np.testing.assert_allclose(ended, -np.ones((1, 6)))


def test_quantile_loss_is_zero_at_the_target_and_weighs_by_fraction():
    """A single quantile at fraction 0.5 regressing onto one target: Huber / 2 either side; with
    two quantiles (fractions 0.25, 0.75) an error below the target costs the upper quantile 3
    times what it costs the lower one."""
    zero = tqc.quantile_huber_loss(jnp.full((1, 1, 1), 3.0), jnp.full((1, 1), 3.0))
    assert float(zero) == 0.0
    for error in (0.5, -0.5, 3.0):
        loss = tqc.quantile_huber_loss(jnp.zeros((1, 1, 1)), jnp.full((1, 1), error))
        huber = 0.5 * error**2 if abs(error) <= 1 else abs(error) - 0.5
        np.testing.assert_allclose(loss, 0.5 * huber, rtol=1e-6)
    lower, upper = (tqc.quantile_huber_loss(jnp.asarray(q).reshape(1, 1, 2), jnp.ones((1, 1)))
                    for q in ([0.5, 1.0], [1.0, 0.5]))  # fmt: skip
    np.testing.assert_allclose(float(upper), 3 * float(lower), rtol=1e-6)


def test_more_dropped_quantiles_lower_the_critic_targets():
    """The truncation is what curbs overestimation: on the same batch, each quantile dropped
    lowers the mean target."""
    _, target_params, batch, policy = case()
    next_q = apply_critics(
        QuantileCritic(HIDDEN, QUANTILES), target_params, batch.next_x, policy["next_action"]
    )
    means = [
        float(tqc.truncated_targets(next_q, policy["next_log_prob"], ALPHA, batch, GAMMA, d,
                                    False)[batch.terminated == 0].mean())
        for d in range(QUANTILES)
    ]  # fmt: skip
    assert all(a > b for a, b in itertools.pairwise(means)), means
