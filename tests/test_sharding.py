"""Several devices: on 4 CPU devices (XLA's forced host device count), runs and environments
are split over a device mesh, and the results match the 1-device run of the same seeds; and two
processes joined by jax.distributed (one CPU device each, gloo collectives over 127.0.0.1) train
the same runs as one process with one device."""

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import planar
import pytest
from uncached import level_zero

ROOT = Path(__file__).resolve().parent.parent
# One chunk of 32 iterations, 16 of them with 4 gradient updates each. Partitioned programs add
# and multiply in another order; over longer runs a float-level difference eventually flips a
# discrete event (an episode ends a step earlier), after which the runs part like two seeds, so
# the comparison covers one chunk (measured: learner metrics agree to 7e-6 relative there).
SMALL = planar.arguments(total_env_steps=512)
DEVICE_COUNT = "--xla_force_host_platform_device_count"


def results(out: Path) -> tuple[list[dict], dict]:
    with open(out / "metrics.csv") as file:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(file)]
    return rows, json.loads((out / "summary.json").read_text())


def environment(devices: int = 1) -> dict[str, str]:
    """This process's environment, with XLA_FLAGS asking for ``devices`` CPU devices. The other
    flags (conftest's optimisation level) stay, so that one device is this process's own set-up
    and its programs are the ones other tests compiled and cached."""
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith(DEVICE_COUNT)]
    if devices > 1:
        flags.append(f"{DEVICE_COUNT}={devices}")
    env["XLA_FLAGS"] = " ".join(flags)
    return env


def train(
    out: Path, devices: int, *overrides: str, uncached: bool = False
) -> tuple[list[dict], dict]:
    """train.py on ``devices`` CPU devices (one: the pieces other tests compiled load);
    ``uncached``: programs the cache cannot keep, compiled at level 0 (level_zero)."""
    env = level_zero(environment(devices)) if uncached else environment(devices)
    result = subprocess.run(
        [sys.executable, "train.py", "--out", str(out), *SMALL, *overrides],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return results(out)


def assert_same_training(one: list[dict], other: list[dict]) -> None:
    assert len(one) == len(other) > 0
    for a, b in zip(one, other, strict=True):
        for name in ("env_steps", "train_episodes", "run", "seed"):
            assert a.get(name) == b.get(name), name
        for name in ("critic_loss", "actor_loss", "q_mean"):
            np.testing.assert_allclose(a[name], b[name], rtol=1e-4, err_msg=name)
        np.testing.assert_allclose(a["eval_return"], b["eval_return"], rtol=1e-3)
        assert abs(a["eval_success"] - b["eval_success"]) <= 0.01  # one episode of 100


def test_four_devices_match_one(tmp_path):
    """Two runs on a 2 x 2 mesh: the runs split over one axis, each run's environments (and its
    HER buffer's columns) over the other, against the same runs on one device (the reference
    the two-process test trains too, so its pieces are compiled once)."""
    one, one_summary = train(tmp_path / "one", 1, "seeds=2")
    four, four_summary = train(tmp_path / "four", 4, "seeds=2")
    assert "runs x1, environments x1" in one_summary["device"]
    assert "runs x2, environments x2" in four_summary["device"]
    assert_same_training(one, four)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def command(process_id: int, address: str, out: Path) -> list[str]:
    return [sys.executable, "train.py", "--distributed", "--coordinator", address,
            "--num-processes", "2", "--process-id", str(process_id), "--out", str(out),
            *SMALL]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "layout"),
    [
        (("seeds=2",), "runs x2, environments x1"),
        # environments split over processes: slow (the 4-device test splits them in-process)
        pytest.param((), "runs x1, environments x2", marks=pytest.mark.slow),
    ],
    ids=["seeds", "environments"],
)
def test_two_processes_match_one_process_with_two_devices(tmp_path, overrides, layout):
    """train.py --distributed, twice, on 127.0.0.1: the mesh spans both processes' devices,
    XLA's partitioned program communicates through gloo, process 0 writes the outputs. The
    reference is the one-device run of the same seeds (the program other tests compiled)."""
    address = f"127.0.0.1:{free_port()}"
    env = environment(1)
    out = tmp_path / "two"
    processes = [
        subprocess.Popen(
            [*command(i, address, out), *overrides],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
    two, two_summary = results(out)
    one, one_summary = train(tmp_path / "one", 1, *overrides)
    assert "runs x1, environments x1" in one_summary["device"]
    assert layout in two_summary["device"]
    assert_same_training(one, two)


# PickAndPlace on MuJoCo's C engine: the physics leaves the partitioned program through a host
# callback, which sees the batch gathered from every device (docs/physics_engines.md).
CONTACT = ["env=PandaPickAndPlace", "num_envs=8", "total_env_steps=512", "eval_every=256",
           "learning_starts=128", "num_eval_envs=8", "batch_size=64",
           "hidden_sizes=[32,32]"]  # fmt: skip


def test_a_contact_task_on_two_devices_matches_one(tmp_path):
    one, _ = train(tmp_path / "one", 1, *CONTACT, "seeds=2", uncached=True)
    two, two_summary = train(tmp_path / "two", 2, *CONTACT, "seeds=2", uncached=True)
    assert "runs x2, environments x1" in two_summary["device"]
    assert_same_training(one, two)
