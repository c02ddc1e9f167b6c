"""Keeps Brax's own trainers running on the JAX this project uses.

Brax 0.14.2's SAC and PPO trainers call ``jax.device_put_replicated``, which JAX deprecated in
0.8.1 and removed in 0.10. ``brax_trainers()`` puts back an equivalent built on ``jax.device_put``
(a copy of each leaf per device, stacked on a new leading axis) where it is missing, and does
nothing where JAX still has it. Only needed to run ``brax.training.agents`` on these envs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def _device_put_replicated(x, devices):
    devices = list(devices)
    sharding = NamedSharding(Mesh(devices, ("devices",)), PartitionSpec("devices"))

    def replicate(leaf):
        stacked = jnp.broadcast_to(jnp.asarray(leaf), (len(devices), *jnp.shape(leaf)))
        return jax.device_put(stacked, sharding)

    return jax.tree.map(replicate, x)


def brax_trainers() -> None:
    """Makes ``jax.device_put_replicated`` available again if this JAX removed it."""
    try:
        jax.device_put_replicated  # noqa: B018
    except AttributeError:
        jax.device_put_replicated = _device_put_replicated
