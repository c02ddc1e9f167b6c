"""Actor and critic networks (flax linen MLPs), their sizes from the config.

Inputs are the normalised [observation, goal] (``policy_input``); actions live in [-1, 1].
Critics come as an ensemble: ``num_critics`` independent parameter sets stacked on a leading axis
and applied with ``jax.vmap``, so TD3 and SAC's twin critics are one call.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLP(nn.Module):
    hidden_sizes: Sequence[int]
    output_size: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for size in self.hidden_sizes:
            x = nn.relu(nn.Dense(size)(x))
        return nn.Dense(self.output_size)(x)


class DeterministicActor(nn.Module):
    """DDPG / TD3 policy: x [..., in_dim] -> action [..., action_size] in (-1, 1)."""

    hidden_sizes: Sequence[int]
    action_size: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.tanh(MLP(self.hidden_sizes, self.action_size)(x))


LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


class GaussianActor(nn.Module):
    """SAC policy: x [..., in_dim] -> (mean, log_std), each [..., action_size], of a Gaussian
    that ``squashed_sample`` passes through tanh."""

    hidden_sizes: Sequence[int]
    action_size: int

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        out = MLP(self.hidden_sizes, 2 * self.action_size)(x)
        mean, log_std = jnp.split(out, 2, axis=-1)
        return mean, jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)


def squashed_sample(
    mean: jax.Array, log_std: jax.Array, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """A tanh-squashed Gaussian draw and its log-probability: [..., a] -> ([..., a], [...])."""
    noise = jax.random.normal(key, mean.shape)
    pre_tanh = mean + jnp.exp(log_std) * noise
    action = jnp.tanh(pre_tanh)
    gaussian_log_prob = -0.5 * (noise**2 + 2 * log_std + jnp.log(2 * jnp.pi))
    # log |d tanh(u)/du| = 2 (log 2 - u - softplus(-2u)), stable for large |u|
    log_det = 2 * (jnp.log(2.0) - pre_tanh - jax.nn.softplus(-2 * pre_tanh))
    return action, (gaussian_log_prob - log_det).sum(axis=-1)


class Critic(nn.Module):
    """Q(x, action): x [..., in_dim], action [..., a] -> [...]."""

    hidden_sizes: Sequence[int]

    @nn.compact
    def __call__(self, x: jax.Array, action: jax.Array) -> jax.Array:
        return MLP(self.hidden_sizes, 1)(jnp.concatenate([x, action], axis=-1))[..., 0]


class QuantileCritic(nn.Module):
    """TQC's distributional critic: x [..., in_dim], action [..., a] -> the return's
    ``quantiles`` quantile estimates [..., quantiles], at fractions (i + 0.5) / quantiles."""

    hidden_sizes: Sequence[int]
    quantiles: int

    @nn.compact
    def __call__(self, x: jax.Array, action: jax.Array) -> jax.Array:
        return MLP(self.hidden_sizes, self.quantiles)(jnp.concatenate([x, action], axis=-1))


def init_actor_and_critics(
    actor: nn.Module,
    critic: nn.Module,
    key: jax.Array,
    in_dim: int,
    action_size: int,
    num_critics: int,
):
    """Fresh actor parameters and ``num_critics`` independent critic parameter sets, stacked:
    critic leaves [num_critics, ...]."""
    actor_key, critic_key = jax.random.split(key)
    x, action = jnp.zeros((1, in_dim)), jnp.zeros((1, action_size))
    critic_keys = jax.random.split(critic_key, num_critics)
    critic_params = jax.vmap(lambda k: critic.init(k, x, action))(critic_keys)
    return actor.init(actor_key, x), critic_params


def apply_critics(critic: nn.Module, params, x: jax.Array, action: jax.Array) -> jax.Array:
    """Every critic's Q: x [batch, in_dim], action [batch, a] -> [num_critics, batch] (a
    ``QuantileCritic``: [num_critics, batch, quantiles])."""
    return jax.vmap(lambda p: critic.apply(p, x, action))(params)
