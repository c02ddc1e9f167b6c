"""The HER buffer against a NumPy reference, on a fixture whose goals encode (episode, step)."""

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from jaxik.device import her

NUM_ENVS, NUM_ROWS, MAX_EPISODE = 3, 12, 5


def fixture_buffer(rows_to_write: int, seed: int = 0):
    """Writes ``rows_to_write`` iterations of NUM_ENVS columns of random-length episodes.

    next_achieved_goal = (episode id, step in episode) and observation = (absolute time, env), so
    every sampled quantity says where it came from. Returns the buffer and, per column, the
    NumPy list of (episode id, step, done) by absolute time.
    """
    rng = np.random.default_rng(seed)
    buffer = her.init(
        her.Transitions(
            observation=jnp.zeros((NUM_ENVS, 2)),
            desired_goal=jnp.zeros((NUM_ENVS, 2)),
            action=jnp.zeros((NUM_ENVS, 1)),
            next_observation=jnp.zeros((NUM_ENVS, 2)),
            next_achieved_goal=jnp.zeros((NUM_ENVS, 2)),
            nonfinite=jnp.zeros((NUM_ENVS,), bool),
            done=jnp.zeros((NUM_ENVS,), bool),
        ),
        capacity=NUM_ENVS * NUM_ROWS,
    )
    episode = np.arange(NUM_ENVS) * 1000
    step = np.zeros(NUM_ENVS, int)
    length = rng.integers(1, MAX_EPISODE + 1, NUM_ENVS)
    history = np.zeros((rows_to_write, NUM_ENVS, 3), int)
    insert = jax.jit(her.insert)
    for time in range(rows_to_write):
        done = step + 1 >= length
        history[time] = np.stack([episode, step, done], axis=1)
        buffer = insert(
            buffer,
            her.Transitions(
                observation=jnp.asarray(
                    np.stack([np.full(NUM_ENVS, time), np.arange(NUM_ENVS)], 1), jnp.float32
                ),
                desired_goal=jnp.full((NUM_ENVS, 2), -7.0),
                action=jnp.zeros((NUM_ENVS, 1)),
                next_observation=jnp.zeros((NUM_ENVS, 2)),
                next_achieved_goal=jnp.asarray(np.stack([episode, step], 1), jnp.float32),
                nonfinite=jnp.zeros((NUM_ENVS,), bool),
                done=jnp.asarray(done),
            ),
        )
        step = np.where(done, 0, step + 1)
        episode = np.where(done, episode + 1, episode)
        length = np.where(done, rng.integers(1, MAX_EPISODE + 1, NUM_ENVS), length)
    return buffer, history


def reference_end(history: np.ndarray, time: int, env: int) -> int:
    """The episode's last written step at or after ``time``: plain NumPy scan."""
    end = time
    while not history[end, env, 2] and end + 1 < len(history):
        end += 1
    return end


@pytest.mark.parametrize("rows_to_write", [7, 40])  # buffer partly filled; wrapped 3 times
@pytest.mark.parametrize("strategy", ["future", "final"])
def test_relabelled_goals_come_from_the_same_episode_later(rows_to_write, strategy):
    buffer, history = fixture_buffer(rows_to_write)
    sample = jax.jit(her.sample_indices, static_argnums=(2, 3, 5))
    time, env, goal_time, relabelled = map(
        np.asarray, sample(buffer, jax.random.key(1), 20_000, strategy, 0.8, MAX_EPISODE)
    )
    oldest = max(0, rows_to_write - NUM_ROWS)
    assert time.min() >= oldest and time.max() <= rows_to_write - 1  # stored rows only
    assert set(np.unique(time)) == set(range(oldest, rows_to_write))  # all of them
    assert set(np.unique(env)) == set(range(NUM_ENVS))
    assert abs(relabelled.mean() - 0.8) < 0.015
    np.testing.assert_array_equal(goal_time[~relabelled], time[~relabelled])
    ends = np.array([reference_end(history, t, e) for t, e in zip(time, env, strict=True)])
    t, e, g = time[relabelled], env[relabelled], goal_time[relabelled]
    assert (g >= t).all() and (g <= ends[relabelled]).all()
    np.testing.assert_array_equal(history[g, e, 0], history[t, e, 0])  # same episode
    if strategy == "final":
        np.testing.assert_array_equal(g, ends[relabelled])
    else:  # uniform over [time, end]: the offset's mean is half the span
        span = ends[relabelled] - t + 1
        position = (g - t + 0.5) / span
        assert abs(position.mean() - 0.5) < 0.01
        long = span >= 4
        assert len(np.unique(g[long] - t[long])) >= 4


def test_sampled_batch_rewards_and_terminations_are_recomputed():
    buffer, history = fixture_buffer(40)
    env = envs.make("PlanarReach")

    def sample(buffer, key, terminate_on_success):
        sampler = her.make_sampler(
            4096, "future", MAX_EPISODE, env.compute_reward, env.is_success, terminate_on_success
        )
        return sampler(buffer, key, 0.8)

    batch = jax.jit(sample, static_argnums=2)(buffer, jax.random.key(2), True)
    time, env_index = np.asarray(batch.observation, int).T
    next_achieved = history[time, env_index, :2]
    goal = np.asarray(batch.goal)
    relabelled = goal[:, 0] != -7.0
    # hindsight goals are (episode, step) of the same episode at the same or a later step
    np.testing.assert_array_equal(goal[relabelled, 0], next_achieved[relabelled, 0])
    assert (goal[relabelled, 1] >= next_achieved[relabelled, 1]).all()
    distance = np.linalg.norm(next_achieved - goal, axis=1)
    np.testing.assert_array_equal(np.asarray(batch.reward), -(distance > 0.05).astype(np.float32))
    np.testing.assert_array_equal(
        np.asarray(batch.terminated), (distance < 0.05).astype(np.float32)
    )
    assert 0 < batch.terminated.mean() < 1
    batch = jax.jit(sample, static_argnums=2)(buffer, jax.random.key(2), False)
    assert float(batch.terminated.max()) == 0.0  # without success termination nothing terminates


def test_none_strategy_keeps_the_stored_goal():
    buffer, _ = fixture_buffer(9)
    time, _env, goal_time, relabelled = her.sample_indices(
        buffer, jax.random.key(3), 512, "none", 0.8, MAX_EPISODE
    )
    assert not bool(relabelled.any())
    np.testing.assert_array_equal(goal_time, time)


def empty_buffer(capacity_rows: int, num_envs: int = 4) -> her.HerBuffer:
    example = her.Transitions(
        observation=jnp.zeros((num_envs, 2)), desired_goal=jnp.zeros((num_envs, 2)),
        action=jnp.zeros((num_envs, 1)), next_observation=jnp.zeros((num_envs, 2)),
        next_achieved_goal=jnp.zeros((num_envs, 2)), nonfinite=jnp.zeros((num_envs,), bool),
        done=jnp.zeros((num_envs,), bool),
    )  # fmt: skip
    return her.init(example, capacity=num_envs * capacity_rows)


def largest_computed_array(hlo_text: str) -> int:
    """Elements of the largest array any instruction of a compiled (optimised) HLO module
    produces; parameters and constants, which are only read, do not count."""
    largest = 0
    for line in hlo_text.splitlines():
        found = re.match(r"\s*(?:ROOT )?%[\w.\-]+ = \w+\[([\d,]*)\]", line)
        if found and "parameter(" not in line and "constant(" not in line:
            dims = [int(d) for d in found.group(1).split(",") if d]
            largest = max(largest, math.prod(dims))
    return largest


def test_insert_and_sample_do_not_touch_the_whole_buffer():
    """Compiled insert and sample at 1,000 and 100,000 rows: insert reads and writes the same
    bytes whatever the capacity (XLA's cost analysis, buffer donated), and no array the sampler
    computes grows with it: the largest is a few words per (sample, step ahead)."""
    env = envs.make("PlanarReach")
    insert_bytes, sample_largest = [], []
    for rows in (1_000, 100_000):
        buffer = empty_buffer(rows)
        row = jax.tree.map(lambda x: x[0], buffer.data)
        insert = jax.jit(her.insert, donate_argnums=0).lower(buffer, row).compile()
        cost = insert.cost_analysis()
        cost = cost[0] if isinstance(cost, list | tuple) else cost
        insert_bytes.append(cost["bytes accessed"])

        sampler = her.make_sampler(64, "future", 50, env.compute_reward, env.is_success, True)

        def sample(buffer, key, sampler=sampler):
            return sampler(buffer, key, 0.8)

        compiled = jax.jit(sample).lower(buffer, jax.random.key(0)).compile()
        sample_largest.append(largest_computed_array(compiled.as_text()))
    buffer_bytes = sum(x.nbytes for x in jax.tree.leaves(empty_buffer(1_000)))
    assert insert_bytes[0] == insert_bytes[1] < buffer_bytes / 100
    assert sample_largest[0] == sample_largest[1] <= 4 * 64 * 50


@pytest.mark.parametrize("strategy", ["future", "none"])
def test_candidates_keep_the_first_transition_whose_goal_moves(strategy):
    """With k candidates per row, each row is the first of its k uniform draws (those of a
    batch k times as large) whose achieved goal changes before its episode's end, else the
    first draw. In the fixture the goal (episode, step) changes at every step, so a transition
    moves unless it is its episode's last stored step."""
    buffer, history = fixture_buffer(40)
    batch, k = 4_000, 3
    sample = jax.jit(her.sample_indices, static_argnums=(2, 3, 5, 6))
    drawn_time, drawn_env, _, _ = map(
        np.asarray, sample(buffer, jax.random.key(4), k * batch, "none", 0.8, MAX_EPISODE, 1)
    )
    time, env, goal_time, relabelled = map(
        np.asarray, sample(buffer, jax.random.key(4), batch, strategy, 0.8, MAX_EPISODE, k)
    )
    ends = np.array([reference_end(history, t, e) for t, e in zip(drawn_time, drawn_env,
                                                                  strict=True)])  # fmt: skip
    moved = (ends > drawn_time).reshape(k, batch)
    first = np.where(moved.any(axis=0), moved.argmax(axis=0), 0)
    rows = np.arange(batch)
    np.testing.assert_array_equal(time, drawn_time.reshape(k, batch)[first, rows])
    np.testing.assert_array_equal(env, drawn_env.reshape(k, batch)[first, rows])
    still = ~moved[0]
    assert 0.05 < still.mean() and (~moved.any(axis=0)).mean() < still.mean() ** k + 0.02
    chosen_ends = ends.reshape(k, batch)[first, rows]
    if strategy == "none":
        assert not relabelled.any()
        np.testing.assert_array_equal(goal_time, time)
    else:  # relabelled goals still come from the chosen transition's episode, at or after it
        assert (goal_time >= time).all() and (goal_time <= chosen_ends).all()
        assert (goal_time[relabelled] > time[relabelled]).mean() > 0.5
