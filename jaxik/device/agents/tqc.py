"""TQC (Kuznetsov et al. 2020), truncated quantile critics: SAC's actor and temperature with
critics that each estimate ``quantiles`` quantiles of the return. The target pools the target
critics' quantiles at the next state, sorts them and drops the ``dropped_quantiles`` largest of
each critic, which curbs the overestimation of the maximum; each critic regresses onto the rest
with the quantile Huber loss. The actor climbs the mean of all quantiles.

The losses are those of sb3-contrib's TQC (which Stable-Baselines3's zoo trains panda-gym's
tasks with), the entropy-regularised target included; tests/test_tqc.py compares them on one
batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxik.config import TrainConfig
from jaxik.device.agents import common, sac
from jaxik.device.agents.common import Agent, Update
from jaxik.device.hyperparams import Hyperparams
from jaxik.device.networks import QuantileCritic


def quantile_huber_loss(q: jax.Array, target: jax.Array) -> jax.Array:
    """q [critics, batch, quantiles] at fractions (i + 0.5) / quantiles, target [batch, targets]
    -> scalar: the mean over critics, batch, quantiles and targets of
    |fraction - 1{delta < 0}| * huber(delta), delta = target - q, Huber's threshold 1."""
    quantiles = q.shape[-1]
    fractions = (jnp.arange(quantiles, dtype=q.dtype) + 0.5) / quantiles
    delta = target[None, :, None, :] - q[..., None]  # [critics, batch, quantiles, targets]
    magnitude = jnp.abs(delta)
    huber = jnp.where(magnitude > 1.0, magnitude - 0.5, 0.5 * delta**2)
    weight = jnp.abs(fractions[:, None] - (delta < 0).astype(q.dtype))
    return (weight * huber).mean()


def truncated_targets(
    next_q: jax.Array,
    next_log_prob: jax.Array,
    alpha: jax.Array,
    batch: Update,
    gamma: jax.Array,
    dropped: int,
    clip: bool,
) -> jax.Array:
    """next_q [critics, batch, quantiles] from the target critics -> the TD targets
    [batch, critics * (quantiles - dropped)]: the pooled quantiles sorted, the critics *
    dropped largest left out, less alpha times the next action's log-probability [batch]."""
    critics, size, quantiles = next_q.shape
    pooled = jnp.sort(jnp.moveaxis(next_q, 0, 1).reshape(size, critics * quantiles), axis=-1)
    kept = pooled[:, : critics * (quantiles - dropped)]
    next_value = kept - alpha * next_log_prob[:, None]
    return common.td_target(
        batch.reward[:, None], batch.terminated[:, None], gamma, next_value, clip
    )


def mean_quantile(q: jax.Array) -> jax.Array:
    """What the actor climbs: q [critics, batch, quantiles] -> the mean quantile [batch]."""
    return q.mean(axis=(0, 2))


def make(config: TrainConfig, in_dim: int, action_size: int) -> Agent:
    """``config`` supplies hidden_sizes, max_grad_norm, clip_target, quantile_critics, quantiles
    and dropped_quantiles (per critic); the float settings come as ``hp``."""

    def loss(q, next_q, next_log_prob, alpha, batch: Update, hp: Hyperparams) -> jax.Array:
        target = truncated_targets(
            next_q, next_log_prob, alpha, batch, hp.gamma, config.dropped_quantiles,
            config.clip_target,
        )  # fmt: skip
        return quantile_huber_loss(q, target)

    critics = sac.Critics(
        network=QuantileCritic(config.hidden_sizes, config.quantiles),
        count=config.quantile_critics,
        loss=loss,
        value=mean_quantile,
    )
    return sac.make_maximum_entropy(config, in_dim, action_size, critics)
