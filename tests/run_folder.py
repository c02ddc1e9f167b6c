"""A finished run folder's final numbers as arrays, for bit-for-bit comparisons between runs:
the whole final training state (its newest checkpoint: networks, targets, optimiser states,
normaliser, buffer, environments, keys) and the policy folder's arrays."""

from pathlib import Path

import jax
import numpy as np

from jaxik.host import policy_folder


def final_arrays(run_dir: Path) -> dict[str, np.ndarray]:
    import orbax.checkpoint as ocp

    folder = (run_dir / "checkpoints").absolute()
    newest = max(int(p.name) for p in folder.iterdir() if p.name.isdigit())
    with ocp.StandardCheckpointer() as checkpointer:
        state = checkpointer.restore(folder / str(newest) / "state")
    _, policy = policy_folder.read(run_dir / "policy")
    return {
        **{f"state/{name}": as_numpy(value) for name, value in state.items()},
        **{f"policy/{name}": value for name, value in policy.items()},
    }


def as_numpy(value) -> np.ndarray:
    """A restored leaf as NumPy; typed PRNG keys as their key data."""
    if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
        value = jax.random.key_data(value)
    return np.asarray(value)


def assert_same_arrays(a: Path, b: Path) -> None:
    one, other = final_arrays(a), final_arrays(b)
    assert sorted(one) == sorted(other)
    for name in one:
        np.testing.assert_array_equal(one[name], other[name], err_msg=name)
