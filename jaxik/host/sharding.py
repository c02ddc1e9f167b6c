"""Placing a training program on all local devices: a ("runs", "envs") mesh and named
shardings of the training state.

A scan's runs (seeds and hyperparameter settings, the vmapped leading axis) are split over the
"runs" axis; the parallel environments of each run (the environment states, exploration noise and
the HER buffer's columns) over "envs". Everything else (networks, optimiser states, normaliser,
keys) is replicated along "envs". XLA's partitioner inserts whatever communication follows
(gradient updates sample the buffer across environment shards); there is no hand-written
collective here.

Several hosts: start every process with ``jax.distributed.initialize()`` (``train.py
--distributed``); ``jax.devices()`` then lists every host's devices and the same mesh spans them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P


def make_mesh(num_runs: int | None, num_envs: int, devices: Sequence | None = None) -> Mesh:
    """The largest ("runs", "envs") grid of ``devices`` (default: all) whose sides divide
    ``num_runs`` (1 for an unbatched run) and ``num_envs``; runs first, since they need no
    communication at all."""
    devices = list(jax.devices() if devices is None else devices)
    runs = math.gcd(num_runs or 1, len(devices))
    envs = math.gcd(num_envs, len(devices) // runs)
    grid = np.asarray(devices[: runs * envs], dtype=object).reshape(runs, envs)
    return Mesh(grid, ("runs", "envs"))


def state_shardings(abstract_state: Any, mesh: Mesh, batched: bool) -> Any:
    """A NamedSharding per leaf of a state that declares its environment axes
    (``state.env_axes()``: a tree of the same shape, -1 where a leaf has none; see
    trainer.TrainState); shapes from ``jax.eval_shape``. With ``batched`` every leaf has a
    leading runs axis."""
    lead = 1 if batched else 0

    def sharding(leaf, env_axis: int) -> NamedSharding:
        spec: list[str | None] = [None] * len(leaf.shape)
        if batched:
            spec[0] = "runs"
        if env_axis >= 0:
            spec[lead + env_axis] = "envs"
        return NamedSharding(mesh, P(*spec))

    return jax.tree.map(sharding, abstract_state, abstract_state.env_axes())


def run_sharding(mesh: Mesh, batched: bool) -> NamedSharding:
    """Per-run values (keys, metrics): split over "runs" when batched, else replicated."""
    return NamedSharding(mesh, P("runs") if batched else P())


def describe(mesh: Mesh) -> str:
    runs, envs = mesh.devices.shape
    kind = mesh.devices.flat[0].device_kind
    return f"{runs * envs} {kind} device(s): runs x{runs}, environments x{envs}"


def axes(mesh: Mesh) -> dict[str, int]:
    """The mesh's axis sizes by name: {"runs": r, "envs": e}."""
    return dict(zip(mesh.axis_names, mesh.devices.shape, strict=True))
