"""The goal-conditioned reward, shared by the environments and the HER sampler."""

from __future__ import annotations

import jax
import jax.numpy as jnp

REWARD_TYPES = ("sparse", "dense")


def goal_distance(achieved_goal: jax.Array, desired_goal: jax.Array) -> jax.Array:
    """Euclidean distance. achieved_goal, desired_goal: [..., goal_dim] -> [...]."""
    return jnp.linalg.norm(achieved_goal - desired_goal, axis=-1)


def compute_reward(
    achieved_goal: jax.Array,
    desired_goal: jax.Array,
    reward_type: str,
    distance_threshold: float,
) -> jax.Array:
    """panda-gym's reward. Goals: [..., goal_dim] -> reward [...], float32.

    sparse: -1.0 where distance > threshold, else 0.0; dense: -distance.
    """
    distance = goal_distance(achieved_goal, desired_goal)
    if reward_type == "sparse":
        return -(distance > distance_threshold).astype(jnp.float32)
    if reward_type == "dense":
        return -distance.astype(jnp.float32)
    raise ValueError(f"reward_type={reward_type!r} is not allowed; choose one of {REWARD_TYPES}")


def is_success(
    achieved_goal: jax.Array, desired_goal: jax.Array, distance_threshold: float
) -> jax.Array:
    """Strictly within the threshold, as panda-gym. Goals: [..., goal_dim] -> [...] bool."""
    return goal_distance(achieved_goal, desired_goal) < distance_threshold
