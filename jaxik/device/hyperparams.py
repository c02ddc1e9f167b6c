"""The float hyperparameters, carried as arrays in the training state instead of baked into the
compiled program as constants.

They are the ``TrainConfig`` fields marked ``hyperparameter``; ``Hyperparams`` names
them again, in a fixed order, so that editors and type checkers see its fields (a new one is
marked on its field and added here; tests/test_config.py checks that the two agree). Because
they are leaves, one compiled program serves any of their values, and ``jax.vmap`` over a
stacked ``Hyperparams`` trains a grid of them at once (``jaxik.host.scan``). Everything else in
``TrainConfig`` (sizes, counts, choices) shapes the program and is static.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import struct

from jaxik import config as config_lib


@struct.dataclass
class Hyperparams:
    """One float32 array per hyperparameter (scalars, or [runs] when stacked for a scan), named
    as the TrainConfig fields marked ``hyperparameter`` (a test keeps the two sets one)."""

    her_future_prob: jax.Array
    learning_rate: jax.Array
    weight_decay: jax.Array
    gamma: jax.Array
    tau: jax.Array
    noise_std: jax.Array
    ou_theta: jax.Array
    random_action_prob: jax.Array
    action_l2: jax.Array
    target_noise: jax.Array
    target_noise_clip: jax.Array
    init_alpha: jax.Array


FIELDS = tuple(field.name for field in dataclasses.fields(Hyperparams))
"""TrainConfig fields that are leaves: a scan over them does not recompile. In Hyperparams'
order, which is the order of a checkpoint's leaves (TrainConfig's order may change)."""


def from_config(config: config_lib.TrainConfig) -> Hyperparams:
    """The config's values as float32 scalars."""
    return Hyperparams(**{name: jnp.float32(getattr(config, name)) for name in FIELDS})


def stack(configs: Sequence[config_lib.TrainConfig]) -> Hyperparams:
    """Leaves [len(configs)], in order: the batch a vmapped scan takes."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *[from_config(c) for c in configs])
