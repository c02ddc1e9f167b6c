"""The learners' updates: TD targets stop at termination and bootstrap through truncation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxik import config
from jaxik.device import agents, hyperparams, normalizer
from jaxik.device.agents.common import (
    Update,
    apply_optimizer,
    make_optimizer,
    soft_update,
    td_target,
)
from jaxik.device.agents.td3 import random_actions

IN_DIM, ACTION_SIZE, BATCH = 5, 2, 32


def test_td_target_bootstraps_unless_terminated():
    reward = jnp.asarray([-1.0, -1.0, 0.0])
    terminated = jnp.asarray([0.0, 1.0, 1.0])  # cut by the time limit, failed end, success end
    target = td_target(reward, terminated, 0.9, next_value=jnp.asarray([-5.0, -5.0, -5.0]))
    np.testing.assert_allclose(target, [-1.0 - 4.5, -1.0, 0.0])


def test_clipped_td_target_stays_in_the_range_of_returns_of_rewards_in_minus_one_to_zero():
    """gamma 0.9: returns of rewards in [-1, 0] lie in [-10, 0]; targets outside are clipped."""
    reward, terminated = jnp.asarray([0.0, -1.0, -1.0, 0.0]), jnp.zeros(4)
    next_value = jnp.asarray([5.0, -100.0, -3.0, 0.0])
    clipped = td_target(reward, terminated, 0.9, next_value, clip=True)
    np.testing.assert_allclose(clipped, [0.0, -10.0, -3.7, 0.0], rtol=1e-6)
    unclipped = td_target(reward, terminated, 0.9, next_value)
    np.testing.assert_allclose(unclipped, [4.5, -91.0, -3.7, 0.0], rtol=1e-6)


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


@pytest.mark.parametrize("algo", agents.ALGOS)
def test_critic_target_ignores_the_next_state_only_when_terminated(algo):
    """The critic loss of the first update, for batches differing only in next_x: the same when
    every transition terminated, different when they were truncated (bootstrapping)."""
    cfg = config.TrainConfig(algo=algo)
    agent, hp = agents.make(cfg, IN_DIM, ACTION_SIZE), hyperparams.from_config(cfg)
    state = agent.init(jax.random.key(0), hp)
    update = jax.jit(agent.update)

    def critic_loss(batch):
        return float(update(state, batch, jax.random.key(1), hp)[1]["critic_loss"])

    for terminated, should_match in ((1.0, True), (0.0, False)):
        batch = random_update(jax.random.key(2), terminated)
        moved = batch.replace(next_x=batch.next_x + 3.0)
        same = np.isclose(critic_loss(batch), critic_loss(moved), rtol=1e-6)
        assert same == should_match, (algo, terminated)


@pytest.mark.parametrize("algo", agents.ALGOS)
def test_update_changes_the_networks_and_stays_finite(algo):
    cfg = config.TrainConfig(algo=algo)
    agent, hp = agents.make(cfg, IN_DIM, ACTION_SIZE), hyperparams.from_config(cfg)
    state = agent.init(jax.random.key(0), hp)
    new_state, metrics = jax.jit(agent.update)(
        state, random_update(jax.random.key(3), 0.0), jax.random.key(4), hp
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
    cfg = config.TrainConfig(algo="td3", policy_delay=3)
    agent, hp = agents.make(cfg, IN_DIM, ACTION_SIZE), hyperparams.from_config(cfg)
    state = agent.init(jax.random.key(0), hp)
    update = jax.jit(agent.update)
    changed = []
    for step in range(6):
        batch = random_update(jax.random.key(step), 0.0)
        new_state, _ = update(state, batch, jax.random.key(9), hp)
        leaves = zip(
            jax.tree.leaves(state.actor_params),
            jax.tree.leaves(new_state.actor_params),
            strict=True,
        )
        changed.append(any(bool(jnp.any(a != b)) for a, b in leaves))
        state = new_state
    assert changed == [False, False, True, False, False, True]


def run_optimizer(max_grad_norm, hp, grads_per_step, params):
    """Steps of ``make_optimizer(max_grad_norm)(hp)`` from ``params``, traced hp included."""
    optimizer = make_optimizer(max_grad_norm)

    @jax.jit
    def step(params, opt_state, grads, hp):
        return apply_optimizer(optimizer(hp), params, grads, opt_state)

    opt_state = optimizer(hp).init(params)
    for grads in grads_per_step:
        params, opt_state = step(params, opt_state, grads, hp)
    return params


def test_random_actions_replace_whole_rows_with_the_given_probability():
    """DDPG's and TD3's random_action_prob: each environment's action is kept or replaced as a
    whole, by one uniform in [-1, 1], about as often as asked; at 0 nothing changes."""
    action, key = jnp.full((4000, 3), 0.5), jax.random.key(0)
    np.testing.assert_array_equal(random_actions(key, action, jnp.float32(0.0)), action)
    every = np.asarray(random_actions(key, action, jnp.float32(1.0)))
    assert (np.abs(every) <= 1.0).all() and not np.isclose(every, 0.5).any()
    some = np.isclose(np.asarray(random_actions(key, action, jnp.float32(0.3))), 0.5)
    assert (some.all(axis=1) == some.any(axis=1)).all()  # whole rows
    assert 0.27 < 1.0 - some.all(axis=1).mean() < 0.33  # 4,000 rows: 0.3 within 4 sd


def test_action_l2_adds_the_mean_squared_action_to_the_actor_loss():
    """The same update with action_l2 = 2 reports an actor loss larger by twice the mean squared
    action of the actor it updates (the critic update, which comes first, is the same)."""
    cfg = config.TrainConfig(algo="ddpg")
    agent, hp = agents.make(cfg, IN_DIM, ACTION_SIZE), hyperparams.from_config(cfg)
    state, key = agent.init(jax.random.key(0), hp), jax.random.key(1)
    batch = random_update(jax.random.key(2), 0.0)
    update = jax.jit(agent.update)
    plain = float(update(state, batch, key, hp)[1]["actor_loss"])
    weighted = update(state, batch, key, hp.replace(action_l2=jnp.float32(2.0)))
    action = np.asarray(agent.act(state, batch.x, key, explore=False))
    assert float(weighted[1]["actor_loss"]) - plain == pytest.approx(
        2.0 * np.mean(np.square(action)), abs=1e-5
    )


def test_the_default_optimiser_with_a_traced_rate_is_optax_adam():
    params = {"w": jnp.asarray([1.0, -2.0, 3.0])}
    grads = [{"w": jnp.asarray([0.5, -1.0, 2.0]) * (step + 1)} for step in range(5)]
    hp = hyperparams.from_config(config.TrainConfig(learning_rate=3e-3))
    reference, reference_state = params, optax.adam(3e-3).init(params)
    for g in grads:
        changes, reference_state = optax.adam(3e-3).update(g, reference_state)
        reference = optax.apply_updates(reference, changes)
    ours = run_optimizer(0.0, hp, grads, params)
    np.testing.assert_allclose(ours["w"], reference["w"], rtol=1e-6)


def test_weight_decay_shrinks_the_parameters_by_rate_times_decay():
    """With zero gradients Adam's step is zero, so one update leaves (1 - lr * wd) * params."""
    params = {"w": jnp.asarray([1.0, -2.0, 3.0]), "b": jnp.asarray([0.5])}
    zeros = [jax.tree.map(jnp.zeros_like, params)]
    for decay in (0.0, 0.1):
        hp = hyperparams.from_config(config.TrainConfig(learning_rate=1e-2, weight_decay=decay))
        decayed = run_optimizer(0.0, hp, zeros, params)
        for name in params:
            np.testing.assert_allclose(decayed[name], params[name] * (1 - 1e-2 * decay), rtol=1e-6)


def test_max_grad_norm_clips_the_gradients_before_adam():
    """Adam's step depends on past gradient scales: a large first gradient dampens the next
    steps unless it is clipped. Clipping inside the optimiser equals feeding clipped gradients."""
    params = {"w": jnp.asarray([1.0, -2.0, 3.0])}
    raw = [{"w": jnp.asarray([30.0, -40.0, 0.0])}, {"w": jnp.asarray([0.1, 0.2, -0.3])}]
    clipped = [{"w": raw[0]["w"] / 50.0}, raw[1]]  # norm 50 -> 1; the second is under 1
    hp = hyperparams.from_config(config.TrainConfig(learning_rate=1e-2))
    inside = run_optimizer(1.0, hp, raw, params)
    np.testing.assert_allclose(inside["w"], run_optimizer(0.0, hp, clipped, params)["w"], rtol=1e-5)
    assert not np.allclose(inside["w"], run_optimizer(0.0, hp, raw, params)["w"], rtol=1e-5)


@pytest.mark.parametrize("algo", agents.ALGOS)
def test_clip_target_reaches_the_critic_loss(algo):
    """With clip_target, a reward of +5 (above any return of rewards in [-1, 0]) makes every
    target 0: the critic loss equals that of a batch whose targets are 0 because each
    transition ended with reward 0. Without it the two losses differ."""
    loss = {}
    for clip in (False, True):
        cfg = config.TrainConfig(algo=algo, clip_target=clip)
        agent, hp = agents.make(cfg, IN_DIM, ACTION_SIZE), hyperparams.from_config(cfg)
        state = agent.init(jax.random.key(0), hp)
        batch = random_update(jax.random.key(1), 0.0)
        for name, changed in (("above", batch.replace(reward=jnp.full((BATCH,), 5.0))),
                              ("zero", batch.replace(reward=jnp.zeros((BATCH,)),
                                                     terminated=jnp.ones((BATCH,))))):  # fmt: skip
            metrics = agent.update(state, changed, jax.random.key(2), hp)[1]
            loss[clip, name] = float(metrics["critic_loss"])
    assert np.isclose(loss[True, "above"], loss[True, "zero"], rtol=1e-6)
    assert not np.isclose(loss[False, "above"], loss[False, "zero"], rtol=1e-2)
    assert np.isclose(loss[False, "zero"], loss[True, "zero"], rtol=1e-6)  # in range: kept


@pytest.mark.parametrize("algo", agents.ALGOS)
def test_float_hyperparameters_are_arguments_not_constants(algo):
    """Another learning rate, gamma, tau or weight decay reuses the compiled update and changes
    what it should: the online critic (learning rate, weight decay), the critic loss (gamma), the
    target critic (tau).
    Two updates each, so that TD3 (policy_delay 2) moves its targets."""
    cfg = config.TrainConfig(algo=algo)
    agent, hp = agents.make(cfg, IN_DIM, ACTION_SIZE), hyperparams.from_config(cfg)
    state = agent.init(jax.random.key(0), hp)
    update = jax.jit(agent.update)
    batch = random_update(jax.random.key(1), 0.0)
    results = {}
    for name, changed in (("base", {}), ("learning_rate", {"learning_rate": 1e-2}),
                          ("gamma", {"gamma": 0.5}), ("tau", {"tau": 0.5}),
                          ("weight_decay", {"weight_decay": 0.5})):  # fmt: skip
        new_hp = hp.replace(**{k: jnp.float32(v) for k, v in changed.items()})
        new_state, metrics = update(state, batch, jax.random.key(2), new_hp)
        new_state, _ = update(new_state, batch, jax.random.key(3), new_hp)
        results[name] = (new_state, float(metrics["critic_loss"]))
    assert update._cache_size() == 1

    def leaves(name, field):
        return jax.tree.leaves(getattr(results[name][0], field))

    def differ(name, field):
        pairs = zip(leaves("base", field), leaves(name, field), strict=True)
        return any(not np.allclose(a, b) for a, b in pairs)

    assert differ("learning_rate", "critic_params")
    assert not np.isclose(results["gamma"][1], results["base"][1])  # gamma enters the target
    assert differ("tau", "target_critic_params")
    assert differ("weight_decay", "critic_params")


def test_normalizer_matches_numpy_over_batches():
    data = np.random.default_rng(0).normal(3.0, 2.0, (1000, 4)).astype(np.float32)
    stats = normalizer.init(4)
    for part in np.split(data, 10):
        stats = normalizer.update(stats, jnp.asarray(part))
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats.variance, data.var(0), rtol=1e-4)
    standardised = normalizer.normalize(stats, jnp.asarray(data), clip=1.0)
    assert float(jnp.abs(standardised).max()) <= 1.0
