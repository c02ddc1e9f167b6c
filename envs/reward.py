"""The goal-conditioned reward, shared by the environments and the HER sampler."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

REWARD_TYPES = ("sparse", "dense")


def goal_distance(achieved_goal: jax.Array, desired_goal: jax.Array) -> jax.Array:
    """Euclidean distance. achieved_goal, desired_goal: [..., goal_dim] -> [...]."""
    return jnp.linalg.norm(achieved_goal - desired_goal, axis=-1)


def angle_distance(achieved_goal: jax.Array, desired_goal: jax.Array) -> jax.Array:
    """panda-gym's distance between two orientations (Flip): 1 - <q_a, q_d>^2 of unit
    quaternions [..., 4] -> [...], which is sin^2 of half the angle between them, whatever
    either quaternion's sign (0 the same orientation, 1 half a turn apart)."""
    return 1.0 - jnp.sum(achieved_goal * desired_goal, axis=-1) ** 2


DISTANCES = {"euclidean": goal_distance, "angle": angle_distance}


def compute_reward(
    achieved_goal: jax.Array,
    desired_goal: jax.Array,
    reward_type: str,
    distance_threshold: float,
    distance_fn: Callable[[jax.Array, jax.Array], jax.Array] = goal_distance,
) -> jax.Array:
    """panda-gym's reward. Goals: [..., goal_dim] -> reward [...], float32.

    sparse: -1.0 where distance > threshold, else 0.0; dense: -distance (``distance_fn``:
    Euclidean, or ``angle_distance`` for orientations).
    """
    distance = distance_fn(achieved_goal, desired_goal)
    if reward_type == "sparse":
        return -(distance > distance_threshold).astype(jnp.float32)
    if reward_type == "dense":
        return -distance.astype(jnp.float32)
    raise ValueError(f"reward_type={reward_type!r} is not allowed; choose one of {REWARD_TYPES}")


def is_success(
    achieved_goal: jax.Array,
    desired_goal: jax.Array,
    distance_threshold: float,
    distance_fn: Callable[[jax.Array, jax.Array], jax.Array] = goal_distance,
) -> jax.Array:
    """Strictly within the threshold, as panda-gym. Goals: [..., goal_dim] -> [...] bool."""
    return distance_fn(achieved_goal, desired_goal) < distance_threshold
