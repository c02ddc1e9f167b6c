"""Checkpoints of the whole training state, for exact resumption.

``Checkpoints(run_dir)`` keeps the newest ``keep`` checkpoints in run_dir/checkpoints/<chunk>/:
the TrainState (networks, targets, optimiser states, SAC's temperature, normaliser, the HER
buffer and its write counter, environment states, exploration noise, RNG key and iteration
counter; with a leading runs axis for scans) and a JSON record of the host's side (chunks done,
metrics rows so far, the config). Orbax writes each checkpoint into a temporary folder and renames
it when complete, so a crash during a save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or does not fit the run being resumed."""


class Checkpoints:
    def __init__(self, run_dir: Path, keep: int = 2, create: bool = True):
        import orbax.checkpoint as ocp

        self.directory = (Path(run_dir) / "checkpoints").absolute()
        if not create and not self.directory.is_dir():
            raise CheckpointError(f"{run_dir} has no checkpoints/ folder: nothing to resume")
        # cleanup_tmp_directories: a process killed while saving leaves orbax's temporary
        # folder behind; the next process removes it (the checkpoint was never complete).
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=create, cleanup_tmp_directories=True
        )
        handlers = {"state": ocp.StandardCheckpointHandler(), "host": ocp.JsonCheckpointHandler()}
        self._manager = ocp.CheckpointManager(
            self.directory, options=options, item_handlers=handlers
        )

    def latest(self) -> int | None:
        return self._manager.latest_step()

    def save(self, chunk: int, state: Any, host: dict[str, Any]) -> None:
        """Saves and waits until the checkpoint is complete on disk."""
        import orbax.checkpoint as ocp

        from jaxik.host.outputs import OutputError

        stored = stored_leaves(state)
        args = ocp.args.Composite(state=ocp.args.StandardSave(stored), host=ocp.args.JsonSave(host))
        try:
            self._manager.save(chunk, args=args, force=True)
            self._manager.wait_until_finished()
        except Exception as error:  # orbax and tensorstore wrap OSErrors in several types
            kept = self._complete_steps()
            raise OutputError(
                f"could not write the checkpoint of chunk {chunk} into {self.directory}: "
                f"{error}. "
                + (
                    f"The newest complete checkpoint (chunk {kept[-1]}) is kept; "
                    if kept
                    else "No checkpoint was complete yet; "
                )
                + "free space, then continue with: python train.py --resume "
                f"{self.directory.parent}"
            ) from None

    def _complete_steps(self) -> list[int]:
        """Chunks whose checkpoint folder is complete (orbax renames a folder when done)."""
        return sorted(int(p.name) for p in self.directory.iterdir() if p.name.isdigit())

    def restore(self, like: Any) -> tuple[Any, dict[str, Any]]:
        """The newest checkpoint's (state, host record). ``like`` is the state's abstract tree
        (jax.ShapeDtypeStruct leaves with shardings); a checkpoint of other shapes is refused."""
        import orbax.checkpoint as ocp

        chunk = self.latest()
        if chunk is None:
            raise CheckpointError(f"{self.directory} holds no complete checkpoint")
        where = self.directory / str(chunk)
        try:
            stored = self._manager.item_metadata(chunk)["state"]
        except Exception as error:  # orbax raises several types for unreadable files
            raise CheckpointError(f"cannot read the checkpoint {where}: {error}") from None
        wanted = stored_leaves(like)
        check_same_tree(stored, wanted, where)
        try:
            restored = self._manager.restore(
                chunk,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(wanted), host=ocp.args.JsonRestore()
                ),
            )
        except Exception as error:
            raise CheckpointError(f"cannot restore the checkpoint {where}: {error}") from None
        leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
        values = restored["state"]
        state = treedef.unflatten(
            [
                values[leaf_name(path)]
                if leaf_name(path) in values
                else jnp.zeros(leaf.shape, leaf.dtype, device=leaf.sharding)
                for path, leaf in leaves
            ]
        )
        return state, restored["host"]

    def close(self) -> None:
        self._manager.close()


def leaf_name(path: tuple) -> str:
    """A leaf's path as one string, e.g. "agent.actor_params.params.MLP_0.Dense_0.bias"."""
    parts = []
    for key in path:
        for attribute in ("name", "key", "idx"):
            if hasattr(key, attribute):
                parts.append(str(getattr(key, attribute)))
                break
        else:
            parts.append(str(key))
    return ".".join(parts)


def stored_leaves(tree: Any) -> dict[str, Any]:
    """The leaves a checkpoint holds, by name: every leaf but the empty ones (orbax cannot store
    zero-size arrays, such as MJX's actuator activations of a model without any; restore
    recreates them as zeros)."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {leaf_name(path): leaf for path, leaf in flat if math.prod(leaf.shape) > 0}


def check_same_tree(stored: Any, like: Any, where: Path) -> None:
    """Raises CheckpointError naming the first leaf whose name or shape differ."""

    def leaves(tree):
        flat = jax.tree_util.tree_flatten_with_path(tree)[0]
        return {leaf_name(path): leaf for path, leaf in flat}

    have, want = leaves(stored), leaves(like)
    if set(have) != set(want):
        extra = sorted(set(have) - set(want))[:3]
        missing = sorted(set(want) - set(have))[:3]
        raise CheckpointError(
            f"the checkpoint {where} does not fit this config: it holds another training "
            f"state (only in the "
            f"checkpoint: {extra}; missing from it: {missing})"
        )
    for name, leaf in want.items():
        stored_shape = tuple(have[name].shape)
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            stored_shape = stored_shape[: len(leaf.shape)]  # stored as key data [..., 2]
        if stored_shape != tuple(leaf.shape):
            raise CheckpointError(
                f"the checkpoint {where} does not fit this config: {name} has shape "
                f"{stored_shape} there, {tuple(leaf.shape)} here"
            )
