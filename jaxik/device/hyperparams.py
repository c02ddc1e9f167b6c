"""The float hyperparameters, carried as arrays in the training state instead of baked into the
compiled program as constants.

They are the ``TrainConfig`` fields marked ``config.hyperparameter``; ``Hyperparams`` is made
from those marks, so a new one is declared once, on its field. Because they are leaves, one
compiled program serves any of their values, and ``jax.vmap`` over a stacked ``Hyperparams``
trains a grid of them at once (``jaxik.host.scan``). Everything else in ``TrainConfig`` (sizes,
counts, choices) shapes the program and is static.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import struct

from jaxik import config as config_lib

FIELDS = config_lib.hyperparameter_names()
"""TrainConfig fields that are leaves: a scan over them does not recompile."""

Hyperparams = struct.dataclass(
    type(
        "Hyperparams",
        (),
        {
            "__annotations__": dict.fromkeys(FIELDS, jax.Array),
            "__module__": __name__,
            "__doc__": "One float32 array per hyperparameter (scalars, or [runs] when stacked "
            "for a scan), named as in TrainConfig: " + ", ".join(FIELDS) + ".",
        },
    )
)


def from_config(config: config_lib.TrainConfig) -> Hyperparams:
    """The config's values as float32 scalars."""
    return Hyperparams(**{name: jnp.float32(getattr(config, name)) for name in FIELDS})


def stack(configs: Sequence[config_lib.TrainConfig]) -> Hyperparams:
    """Leaves [len(configs)], in order: the batch a vmapped scan takes."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *[from_config(c) for c in configs])
