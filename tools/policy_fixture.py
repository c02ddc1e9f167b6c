"""Writes tests/fixtures/policy-v1/: a policy folder of format version 1 (jaxik.host.policy_folder)
and the actions it gave when written, for tests/test_policy.py to load forever after.

    python tools/policy_fixture.py

TD3 on PlanarReach with 32-unit layers, trained for 16,384 steps (seconds on a CPU), so that the
folder is small and its policy reaches most goals. Run it only to make a fixture for a new format
version: the point of the committed one is that today's code must keep loading it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import numpy as np

from jaxik import policy
from jaxik.host import policy_folder, run, scan

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / f"policy-v{policy_folder.VERSION}"
SETTINGS = {
    "env": "PlanarReach", "algo": "td3", "gamma": 0.98, "eval_every": 4096,
    "learning_starts": 256, "hidden_sizes": [32, 32], "total_env_steps": 16384,
}  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "run"
        run.run_scan(scan.load(None, SETTINGS), out)
        shutil.rmtree(FIXTURE, ignore_errors=True)
        shutil.copytree(out / "policy", FIXTURE)
    act = policy.load(FIXTURE)
    keys = jax.random.split(jax.random.key(2026), 2)
    obs = {
        "observation": np.asarray(jax.random.normal(keys[0], (32, 6)), np.float32),
        "desired_goal": np.asarray(jax.random.uniform(keys[1], (32, 2), minval=-1.5, maxval=1.5)),
    }
    np.savez(FIXTURE / "expected.npz", **obs, action=act(obs))
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
