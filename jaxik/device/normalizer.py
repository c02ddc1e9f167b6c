"""Running mean and variance of the policy's inputs, kept in the training state.

Updated from every batch of environment observations inside the compiled loop (Chan et al.'s
parallel update, numerically stable in float32), and applied as ``clip((x - mean) / std)``, as in
the HER reference recipe.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Normalizer:
    mean: jax.Array  # [dim]
    variance: jax.Array  # [dim]
    count: jax.Array  # float32 scalar: samples seen


def init(dim: int) -> Normalizer:
    return Normalizer(
        mean=jnp.zeros((dim,), jnp.float32),
        variance=jnp.ones((dim,), jnp.float32),
        count=jnp.zeros((), jnp.float32),
    )


def update(normalizer: Normalizer, x: jax.Array) -> Normalizer:
    """Folds in a batch x: [n, dim]."""
    n = jnp.asarray(x.shape[0], jnp.float32)
    batch_mean = x.mean(axis=0)
    batch_variance = x.var(axis=0)
    total = normalizer.count + n
    delta = batch_mean - normalizer.mean
    mean = normalizer.mean + delta * n / total
    sum_squares = (
        normalizer.variance * normalizer.count
        + batch_variance * n
        + delta**2 * normalizer.count * n / total
    )
    return Normalizer(mean=mean, variance=sum_squares / total, count=total)


EPS = 1e-4  # added to the variance before its square root


def normalize(normalizer: Normalizer, x: jax.Array, clip: float, eps: float = EPS) -> jax.Array:
    """x: [..., dim] -> [..., dim], standardised and clipped to [-clip, clip]."""
    std = jnp.sqrt(normalizer.variance + eps)
    return jnp.clip((x - normalizer.mean) / std, -clip, clip)
