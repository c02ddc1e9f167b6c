"""The Hindsight Experience Replay buffer: device-resident, fixed-shape, O(batch) insert and sample.

Layout. Parallel environments write one transition each per iteration, so the buffer is a ring of
``num_rows = capacity // num_envs`` rows by ``num_envs`` columns: row ``t % num_rows`` holds the
transitions of iteration ``t`` (an absolute count kept in ``rows_written``). An environment's
episodes therefore lie along its column, one after another, each ended by a transition with
``done`` set (termination or the time limit). The newest ``num_rows`` iterations are stored.

Sampling. A transition is drawn uniformly from the stored ones. With probability
``her_future_prob`` its goal is relabelled with the achieved goal (after the action) of a
transition of the same episode at the same or a later step: "future" draws that step uniformly up
to the episode's end, "final" takes the end. The end is the first ``done`` in the ``max_episode``
rows that follow (no episode is longer), or the newest written row while the episode is still
running, so the work is O(batch * max_episode), whatever the capacity. Rewards, and terminations
where episodes end on success, are recomputed for the sampled goal by the environment's
``compute_reward`` / ``is_success`` of the achieved goal after the action.

Preferring moved goals (``her_candidates`` k > 1). Where the achieved goal is an object that the
arm rarely touches at first (Push), most stored episodes leave it where it started, and their
hindsight goals teach nothing about moving it. Each batch row then draws k transitions and keeps
the first whose achieved goal moves between it and its episode's end, in the spirit of
energy-based prioritisation (Zhao and Tresp 2018), for the O(k * batch * max_episode) of the
look-ahead that uniform sampling already does.
"""

from __future__ import annotations

from collections.abc import Callable

import chex
import jax
import jax.numpy as jnp
from flax import struct

from envs.validation import check_choice
from jaxik.config import HER_STRATEGIES
from jaxik.device import lockstep

STRATEGIES = HER_STRATEGIES
NO_ENV_AXIS = -1  # in env_axes: a leaf without an environment axis
MOVED = 0.01
"""How far an achieved goal must move (its own units: metres for an object's position) from a
transition to the end of its episode for ``her_candidates`` to prefer the transition."""


@struct.dataclass
class Transitions:
    """A batch of transitions; leading dims [...] are [num_rows, num_envs] in the buffer."""

    observation: jax.Array  # [..., obs_dim]
    desired_goal: jax.Array  # [..., goal_dim]
    action: jax.Array  # [..., action_size]
    next_observation: jax.Array  # [..., obs_dim], the episode's last one where done
    next_achieved_goal: jax.Array  # [..., goal_dim]
    nonfinite: jax.Array  # [...] bool: the physics blew up (always terminal)
    done: jax.Array  # [...] bool: the episode ended here (terminated or truncated)


@struct.dataclass
class Batch:
    """What a learner trains on: [batch, ...]."""

    observation: jax.Array  # [batch, obs_dim]
    goal: jax.Array  # [batch, goal_dim], relabelled or not
    action: jax.Array  # [batch, action_size]
    reward: jax.Array  # [batch]
    next_observation: jax.Array  # [batch, obs_dim]
    terminated: jax.Array  # [batch] float: 1 where the target must not bootstrap


@struct.dataclass
class HerBuffer:
    data: Transitions  # leaves [num_rows, num_envs, ...]
    rows_written: jax.Array = lockstep.counter()  # int32 scalar: iterations inserted so far

    @property
    def num_rows(self) -> int:
        return self.data.done.shape[0]

    @property
    def num_envs(self) -> int:
        return self.data.done.shape[1]

    def env_axes(self) -> HerBuffer:
        """Each leaf's environment axis (-1: none), for jaxik.host.sharding: the data's columns."""
        return HerBuffer(data=jax.tree.map(lambda _: 1, self.data), rows_written=NO_ENV_AXIS)


def init(example: Transitions, capacity: int) -> HerBuffer:
    """An empty buffer for ``capacity // num_envs`` rows of transitions shaped like ``example``
    (leaves [num_envs, ...])."""
    num_envs = example.done.shape[0]
    num_rows = capacity // num_envs
    if num_rows < 1:
        raise ValueError(f"buffer_size={capacity} must be at least num_envs={num_envs}")
    data = jax.tree.map(lambda x: jnp.zeros((num_rows, *x.shape), x.dtype), example)
    return HerBuffer(data=data, rows_written=jnp.zeros((), jnp.int32))


def insert(buffer: HerBuffer, transitions: Transitions) -> HerBuffer:
    """Writes one row: transitions' leaves are [num_envs, ...]. O(num_envs)."""
    chex.assert_equal_shape_prefix([transitions.done, buffer.data.done[0]], 1)
    row = buffer.rows_written % buffer.num_rows
    data = jax.tree.map(
        lambda stored, new: jax.lax.dynamic_update_index_in_dim(stored, new, row, 0),
        buffer.data,
        transitions,
    )
    return buffer.replace(data=data, rows_written=buffer.rows_written + 1)


def sample_indices(
    buffer: HerBuffer,
    key: jax.Array,
    batch_size: int,
    strategy: str,
    her_future_prob: float | jax.Array,
    max_episode: int,
    candidates: int = 1,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Which transitions, and whose achieved goals, make a batch.

    Returns (time, env, goal_time, relabelled): absolute iteration numbers [batch] of the sampled
    transitions and of the transitions whose ``next_achieved_goal`` is the goal (equal to ``time``
    where not relabelled), their environment columns [batch], and the relabel mask [batch] bool.

    With ``candidates`` k > 1 each batch row draws k transitions uniformly and keeps the first
    whose achieved goal moves more than ``MOVED`` between it and its episode's last stored step
    (the first drawn where none does): if a fraction q of the stored transitions move, about
    1 - (1 - q)^k of the batch does. With k = 1 the draws are those of uniform sampling.
    """
    check_choice("her_strategy", strategy, STRATEGIES)
    time_key, env_key, her_key, future_key = jax.random.split(key, 4)
    stored_rows = jnp.minimum(buffer.rows_written, buffer.num_rows)
    oldest = buffer.rows_written - stored_rows
    newest = buffer.rows_written - 1
    drawn = candidates * batch_size
    time = oldest + jax.random.randint(time_key, (drawn,), 0, stored_rows)
    env = jax.random.randint(env_key, (drawn,), 0, buffer.num_envs)
    if strategy == "none" and candidates == 1:
        return time, env, time, jnp.zeros((batch_size,), bool)

    end = episode_end(buffer, time, env, newest, max_episode)
    if candidates > 1:
        time, env, end = first_moved(buffer, candidates, time, env, end)
    if strategy == "none":
        return time, env, time, jnp.zeros((batch_size,), bool)
    if strategy == "future":
        span = end - time + 1
        goal_time = time + jnp.floor(jax.random.uniform(future_key, (batch_size,)) * span).astype(
            time.dtype
        )
        goal_time = jnp.minimum(goal_time, end)
    else:  # final
        goal_time = end
    relabelled = jax.random.uniform(her_key, (batch_size,)) < her_future_prob
    return time, env, jnp.where(relabelled, goal_time, time), relabelled


def episode_end(
    buffer: HerBuffer, time: jax.Array, env: jax.Array, newest: jax.Array, max_episode: int
) -> jax.Array:
    """The last stored step [n] of the episodes of transitions (time, env) [n]: the first done
    at or after ``time``, else the newest row (the episode is still running)."""
    ahead = time[:, None] + jnp.arange(max_episode)[None, :]  # [n, max_episode]
    written = ahead <= newest
    done_ahead = buffer.data.done[ahead % buffer.num_rows, env[:, None]] & written
    has_end = done_ahead.any(axis=1)
    return jnp.where(has_end, time + jnp.argmax(done_ahead, axis=1), newest)


def first_moved(
    buffer: HerBuffer, candidates: int, time: jax.Array, env: jax.Array, end: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(time, env, end) [candidates * batch] -> [batch]: per batch row (candidate c of row b at
    c * batch + b), the first candidate whose achieved goal moves more than ``MOVED`` from
    ``time`` to ``end``, else candidate 0."""
    goals = buffer.data.next_achieved_goal
    change = goals[end % buffer.num_rows, env] - goals[time % buffer.num_rows, env]
    moved = jnp.sum(jnp.square(change), axis=-1) > MOVED**2
    moved = moved.reshape(candidates, -1)  # [candidates, batch]
    pick = jnp.argmax(moved, axis=0)[None, :]  # the first True; 0 where none

    def choose(x):
        return jnp.take_along_axis(x.reshape(candidates, -1), pick, axis=0)[0]

    return choose(time), choose(env), choose(end)


def make_sampler(
    batch_size: int,
    strategy: str,
    max_episode: int,
    compute_reward: Callable[[jax.Array, jax.Array], jax.Array],
    is_success: Callable[[jax.Array, jax.Array], jax.Array],
    terminate_on_success: bool,
    candidates: int = 1,
) -> Callable[[HerBuffer, jax.Array, float | jax.Array], Batch]:
    """``sample(buffer, key, her_future_prob) -> Batch`` [batch_size] with hindsight goals (see
    the module docstring); the static settings are fixed, and checked, here, once.

    ``compute_reward(achieved_goal, desired_goal)`` and ``is_success`` are the environment's,
    batched over leading dims; ``max_episode`` bounds an episode's length (its time limit);
    ``candidates`` is ``sample_indices``'.
    """
    check_choice("her_strategy", strategy, STRATEGIES)

    def sample(buffer: HerBuffer, key: jax.Array, her_future_prob: float | jax.Array) -> Batch:
        time, env, goal_time, relabelled = sample_indices(
            buffer, key, batch_size, strategy, her_future_prob, max_episode, candidates
        )
        taken = jax.tree.map(lambda x: x[time % buffer.num_rows, env], buffer.data)
        hindsight = buffer.data.next_achieved_goal[goal_time % buffer.num_rows, env]
        goal = jnp.where(relabelled[:, None], hindsight, taken.desired_goal)
        terminated = taken.nonfinite
        if terminate_on_success:
            terminated = terminated | is_success(taken.next_achieved_goal, goal)
        return Batch(
            observation=taken.observation,
            goal=goal,
            action=taken.action,
            reward=compute_reward(taken.next_achieved_goal, goal),
            next_observation=taken.next_observation,
            terminated=terminated.astype(jnp.float32),
        )

    return sample
