"""Lockstep counters: the integer scalars of a run's state that every run of a program advances
together (iterations done, gradient updates, rows written into the buffer, Adam's step count).

They are declared, field by field: ``counter()`` marks a field of the project's own state
dataclasses, and ``FOREIGN`` names the fields of other libraries' states (optax's). A program
of several runs shares them (jaxik.host.pieces.vmap_runs): each run sees run 0's, so that a
``lax.cond`` on them (warm-up, TD3's policy delay) stays a cond instead of running both
branches. Any other leaf, an integer one included, stays each run's own.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import optax
from flax import struct
from jax.tree_util import DictKey, GetAttrKey, SequenceKey

MARK = "lockstep"

FOREIGN: dict[type, frozenset[str]] = {optax.ScaleByAdamState: frozenset({"count"})}
"""Counters inside other libraries' states, by type and field name."""


def counter() -> Any:
    """A dataclass field (flax ``struct``) holding a lockstep counter: an integer scalar per run
    that all runs of a program advance together."""
    return struct.field(metadata={MARK: True})


def marks(tree: Any) -> list[bool]:
    """Per leaf of ``jax.tree.leaves(tree)``, in that order: whether it is a declared counter."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [declared(tree, path) for path, _ in flat]


def declared(tree: Any, path: tuple) -> bool:
    """Whether the leaf at ``path`` is a field declared a counter by its parent's type."""
    node = tree
    for depth, key in enumerate(path):
        if isinstance(key, GetAttrKey):
            if depth == len(path) - 1:
                return is_counter_field(node, key.name)
            node = getattr(node, key.name)
        elif isinstance(key, SequenceKey):
            node = node[key.idx]
        elif isinstance(key, DictKey):
            node = node[key.key]
        else:  # a pytree whose children have no names: none of them is declared
            return False
    return False


def is_counter_field(node: Any, name: str) -> bool:
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return any(
            field.name == name and field.metadata.get(MARK, False)
            for field in dataclasses.fields(node)
        )
    return name in FOREIGN.get(type(node), frozenset())
