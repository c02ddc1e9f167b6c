"""The learners' updates: TD targets stop at termination and bootstrap through truncation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxik import agents, config, normalizer
from jaxik.agents.common import Update, soft_update, td_target

IN_DIM, ACTION_SIZE, BATCH = 5, 2, 32


def test_td_target_bootstraps_unless_terminated():
    reward = jnp.asarray([-1.0, -1.0, 0.0])
    terminated = jnp.asarray([0.0, 1.0, 1.0])  # cut by the time limit, failed end, success end
    target = td_target(reward, terminated, 0.9, next_value=jnp.asarray([-5.0, -5.0, -5.0]))
    np.testing.assert_allclose(target, [-1.0 - 4.5, -1.0, 0.0])


def test_soft_update_moves_tau_of_the_way():
    target = soft_update({"w": jnp.zeros(3)}, {"w": jnp.ones(3)}, 0.25)
    np.testing.assert_allclose(target["w"], 0.25)


def random_update(key, terminated: float) -> Update:
    keys = jax.random.split(key, 4)
    return Update(
        x=jax.random.normal(keys[0], (BATCH, IN_DIM)),
        action=jax.random.uniform(keys[1], (BATCH, ACTION_SIZE), minval=-1, maxval=1),
        reward=-jnp.ones((BATCH,)),
        next_x=jax.random.normal(keys[2], (BATCH, IN_DIM)),
        terminated=jnp.full((BATCH,), terminated),
    )


@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac"])
def test_critic_target_ignores_the_next_state_only_when_terminated(algo):
    """The critic loss of the first update, for batches differing only in next_x: the same when
    every transition terminated, different when they were truncated (bootstrapping)."""
    agent = agents.make(config.TrainConfig(algo=algo), IN_DIM, ACTION_SIZE)
    state = agent.init(jax.random.key(0))
    update = jax.jit(agent.update)

    def critic_loss(batch):
        return float(update(state, batch, jax.random.key(1))[1]["critic_loss"])

    for terminated, should_match in ((1.0, True), (0.0, False)):
        batch = random_update(jax.random.key(2), terminated)
        moved = batch.replace(next_x=batch.next_x + 3.0)
        same = np.isclose(critic_loss(batch), critic_loss(moved), rtol=1e-6)
        assert same == should_match, (algo, terminated)


@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac"])
def test_update_changes_the_networks_and_stays_finite(algo):
    agent = agents.make(config.TrainConfig(algo=algo), IN_DIM, ACTION_SIZE)
    state = agent.init(jax.random.key(0))
    new_state, metrics = jax.jit(agent.update)(
        state, random_update(jax.random.key(3), 0.0), jax.random.key(4)
    )
    for name, value in metrics.items():
        assert np.isfinite(value) or (algo == "td3" and name == "actor_loss"), name
    changed = jax.tree.map(
        lambda a, b: bool(jnp.any(a != b)), state.critic_params, new_state.critic_params
    )
    assert all(jax.tree.leaves(changed))
    action = agent.act(new_state, jnp.zeros((7, IN_DIM)), jax.random.key(5), explore=True)
    assert action.shape == (7, ACTION_SIZE) and float(jnp.abs(action).max()) <= 1.0


def test_td3_updates_the_actor_every_policy_delay_updates():
    agent = agents.make(config.TrainConfig(algo="td3", policy_delay=3), IN_DIM, ACTION_SIZE)
    state = agent.init(jax.random.key(0))
    update = jax.jit(agent.update)
    changed = []
    for step in range(6):
        new_state, _ = update(state, random_update(jax.random.key(step), 0.0), jax.random.key(9))
        leaves = zip(
            jax.tree.leaves(state.actor_params),
            jax.tree.leaves(new_state.actor_params),
            strict=True,
        )
        changed.append(any(bool(jnp.any(a != b)) for a, b in leaves))
        state = new_state
    assert changed == [False, False, True, False, False, True]


def test_normalizer_matches_numpy_over_batches():
    data = np.random.default_rng(0).normal(3.0, 2.0, (1000, 4)).astype(np.float32)
    stats = normalizer.init(4)
    for part in np.split(data, 10):
        stats = normalizer.update(stats, jnp.asarray(part))
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats.variance, data.var(0), rtol=1e-4)
    standardised = normalizer.normalize(stats, jnp.asarray(data), clip=1.0)
    assert float(jnp.abs(standardised).max()) <= 1.0
