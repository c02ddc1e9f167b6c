"""The float hyperparameters, carried as arrays in the training state instead of baked into the
compiled program as constants.

Because they are leaves, one compiled program serves any of their values, and ``jax.vmap`` over a
stacked ``Hyperparams`` trains a grid of them at once (``jaxik.scan``). Everything else in
``TrainConfig`` (sizes, counts, choices) shapes the program and is static.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import struct

FIELDS = (
    "learning_rate",
    "gamma",
    "tau",
    "noise_std",
    "ou_theta",
    "target_noise",
    "target_noise_clip",
    "init_alpha",
    "her_future_prob",
)
"""TrainConfig fields that are leaves: a scan over them does not recompile."""


@struct.dataclass
class Hyperparams:
    """float32 scalars (or [runs] when stacked for a scan)."""

    learning_rate: jax.Array  # Adam step size of every optimiser
    gamma: jax.Array  # discount
    tau: jax.Array  # soft target update rate
    noise_std: jax.Array  # DDPG / TD3 exploration noise scale
    ou_theta: jax.Array  # Ornstein-Uhlenbeck mean reversion
    target_noise: jax.Array  # TD3 target-policy smoothing std
    target_noise_clip: jax.Array  # TD3 smoothing clip
    init_alpha: jax.Array  # SAC initial temperature
    her_future_prob: jax.Array  # fraction of relabelled goals


def from_config(config) -> Hyperparams:
    """The config's values as float32 scalars."""
    return Hyperparams(**{name: jnp.float32(getattr(config, name)) for name in FIELDS})


def stack(configs: Sequence) -> Hyperparams:
    """Leaves [len(configs)], in order: the batch a vmapped scan takes."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *[from_config(c) for c in configs])
