"""What the learners share: their interface, TD targets and soft target updates."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxik.device.hyperparams import Hyperparams


@dataclasses.dataclass(frozen=True)
class Agent:
    """An algorithm as pure functions over its own state pytree.

    init(key, hp: Hyperparams) -> state
    act(state, x [n, in_dim], key, explore: bool (static)) -> action [n, action_size]
        (explore=False: the deterministic action evaluation uses; True: SAC samples)
    init_exploration(n) -> exploration: the per-environment exploration state (DDPG / TD3: the
        noise [n, action_size], which Ornstein-Uhlenbeck carries over; SAC: None)
    explore(state, exploration, x, policy_key, noise_key, hp, episode_ended [n] bool)
        -> (action [n, action_size] in [-1, 1], exploration): the training action, with the
        algorithm's own exploration (SAC: a sample; DDPG / TD3: the actor plus noise)
    update(state, batch: Update, key, hp: Hyperparams) -> (state, metrics: dict of scalars)

    The float hyperparameters come in as ``hp`` (arrays), so the compiled update serves any of
    their values; sizes and choices are fixed when the agent is made.
    """

    init: Callable[[jax.Array], Any]
    act: Callable[..., jax.Array]
    init_exploration: Callable[[int], Any]
    explore: Callable[..., tuple[jax.Array, Any]]
    update: Callable[..., tuple[Any, dict[str, jax.Array]]]


@struct.dataclass
class Update:
    """A normalised training batch: [batch, ...]."""

    x: jax.Array  # [batch, in_dim]: normalised observation and goal
    action: jax.Array  # [batch, action_size]
    reward: jax.Array  # [batch]
    next_x: jax.Array  # [batch, in_dim]: normalised next observation, same goal
    terminated: jax.Array  # [batch] float: 1 stops bootstrapping; truncation does not


def td_target(
    reward: jax.Array,
    terminated: jax.Array,
    gamma: float | jax.Array,
    next_value: jax.Array,
    clip: bool = False,
) -> jax.Array:
    """r + gamma * V(s') unless the episode terminated; [batch] each. A transition cut by the
    time limit is not terminated, so it bootstraps. With ``clip`` (static) the target is clipped
    to [-1/(1-gamma), 0], where every discounted return of rewards in [-1, 0] lies."""
    target = reward + gamma * (1.0 - terminated) * next_value
    if clip:
        target = jnp.clip(target, -1.0 / (1.0 - gamma), 0.0)
    return jax.lax.stop_gradient(target)


def soft_update(target: Any, online: Any, tau: float | jax.Array) -> Any:
    """Polyak averaging: target <- tau * online + (1 - tau) * target."""
    return jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


def mean_squared_error(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """prediction [num_critics, batch], target [batch] -> scalar, summed over critics."""
    return jnp.mean((prediction - target[None, :]) ** 2, axis=1).sum()


def make_optimizer(max_grad_norm: float) -> Callable[[Hyperparams], optax.GradientTransformation]:
    """The actor's and the critics' optimiser: AdamW with step size hp.learning_rate and
    decoupled weight decay hp.weight_decay (0: Adam), after clipping the gradients to the global
    norm ``max_grad_norm`` (0: not clipped; a static setting, as a clip in the program changes
    its numerics even where it does not bind).

    The returned ``optimizer(hp)`` is called inside the traced update with the hyperparameter
    arrays, so one compiled program serves any of their values. Its state (Adam's step count and
    moments) does not depend on them, so ``optimizer(hp).init(params)`` in ``init`` matches every
    later update. Another optax transformation belongs in this chain.
    """

    def optimizer(hp: Hyperparams) -> optax.GradientTransformation:
        adamw = optax.adamw(hp.learning_rate, weight_decay=hp.weight_decay)
        if max_grad_norm == 0:
            return adamw
        return optax.chain(optax.clip_by_global_norm(max_grad_norm), adamw)

    return optimizer


def temperature_optimizer(hp: Hyperparams) -> optax.GradientTransformation:
    """SAC's temperature: Adam with step size hp.learning_rate. Not clipped or decayed: decay
    would pull log(alpha) toward 0, that is alpha toward 1."""
    return optax.adam(hp.learning_rate)


def apply_optimizer(
    transformation: optax.GradientTransformation, params: Any, grads: Any, opt_state: Any
) -> tuple[Any, Any]:
    """One step of ``transformation``: returns (params, opt_state)."""
    updates, opt_state = transformation.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state
