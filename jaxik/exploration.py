"""Exploration noise for the deterministic policies (DDPG, TD3), one process per environment."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gaussian(key: jax.Array, shape: tuple[int, ...], std: float) -> jax.Array:
    """Independent N(0, std^2) per step: [num_envs, action_size]."""
    return std * jax.random.normal(key, shape)


def ornstein_uhlenbeck(
    previous: jax.Array, key: jax.Array, std: float, theta: float, episode_ended: jax.Array
) -> jax.Array:
    """Temporally correlated noise: x <- (1 - theta) x + std * N(0, 1), restarted at zero where
    the environment's episode ended. previous: [num_envs, action_size]; episode_ended:
    [num_envs] bool (of the previous step)."""
    previous = jnp.where(episode_ended[:, None], 0.0, previous)
    return (1.0 - theta) * previous + std * jax.random.normal(key, previous.shape)
