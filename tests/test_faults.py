"""Faults: a run killed with SIGKILL at 20 moments (half of them while a checkpoint is being
written) resumes every time and ends bit for bit equal to the run never interrupted; a disk that
fills up mid-run and an unwritable --out are clear errors that keep the last good checkpoint;
non-finite physics never reaches a loss.

All but the unwritable-folder check are in the slow suite (``make test-slow``): minutes each.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import run_folder
from brax.envs.base import Wrapper
from uncached import level_zero

import envs
from jaxik import config
from jaxik.device import trainer

ROOT = Path(__file__).resolve().parent.parent
# 400 chunks of 512 steps on the planar arm (about 2 minutes), a checkpoint after every chunk:
# long enough that 20 processes, each killed within seconds, leave work for the last one.
RUN = ["env=PlanarReach", "gamma=0.98", "total_env_steps=204800", "eval_every=512",
       "learning_starts=256", "checkpoint_every=1"]  # fmt: skip
KILLS = 20


def environment(cache: Path) -> dict[str, str]:
    return {**os.environ, "JAXIK_CACHE_DIR": str(cache)}


def train(
    out: Path, cache: Path, *extra: str, resume: bool = False, uncached: bool = False
) -> subprocess.Popen:
    """train.py in the background; ``uncached``: its programs cannot be cached (level_zero)."""
    args = ["--resume", str(out), *extra] if resume else ["--out", str(out), *RUN, *extra]
    env = level_zero(environment(cache)) if uncached else environment(cache)
    return subprocess.Popen(
        [sys.executable, "train.py", *args], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(process: subprocess.Popen, timeout: float = 600) -> str:
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr[-3000:]
    return stderr


def metrics(run_dir: Path) -> list[str]:
    """metrics.csv without its wall_seconds column, as text: equal means bit for bit."""
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    if not lines:  # a run killed before its first evaluation
        return []
    column = lines[0].split(",").index("wall_seconds")
    return [",".join(c for i, c in enumerate(line.split(",")) if i != column) for line in lines]


def assert_same_run(a: Path, b: Path) -> None:
    assert metrics(a) == metrics(b)
    run_folder.assert_same_arrays(a, b)


def temporary_folders(run_dir: Path) -> set[str]:
    """Orbax's temporary folders: a checkpoint being written (or left by a killed write)."""
    folder = run_dir / "checkpoints"
    try:
        return {p.name for p in folder.iterdir() if "tmp" in p.name}
    except FileNotFoundError:
        return set()


@contextlib.contextmanager
def tmpfs(folder: Path, options: str):
    """A small file system mounted at ``folder`` for the block (skips where mounting is not
    allowed: it needs root)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                             capture_output=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here: {mounted.stderr!r}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """The uninterrupted run, and the compilation cache every process here shares."""
    base = tmp_path_factory.mktemp("reference")
    cache = base / "cache"
    finish(train(base / "run", cache))
    return base / "run", cache


@pytest.mark.slow
def test_sigkill_at_20_moments_resumes_to_the_uninterrupted_run(reference, tmp_path):
    whole, cache = reference
    out = tmp_path / "killed"
    rng = random.Random(20261121)
    log = []
    for kill in range(KILLS):
        left_over = temporary_folders(out)  # by the previous kill, if it hit a write

        def saving(left_over: set[str] = left_over) -> bool:
            return bool(temporary_folders(out) - left_over)

        process = train(out, cache, resume=(out / "config.yaml").is_file())
        started = time.monotonic()
        if kill % 2 == 0:  # while a checkpoint is being written
            while process.poll() is None and not saving() and time.monotonic() - started < 300:
                time.sleep(0.001)
        else:  # anywhere: importing, compiling, restoring, training, saving
            time.sleep(rng.uniform(0.0, 8.0))
        during_save = saving()
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
        chunks = len(metrics(out)) - 1 if (out / "metrics.csv").is_file() else 0
        log.append({"kill": kill, "after_seconds": round(time.monotonic() - started, 2),
                    "during_checkpoint_write": during_save, "metrics_rows": chunks,
                    "returncode": process.returncode})  # fmt: skip
    finish(train(out, cache, resume=True))
    (tmp_path / "kills.json").write_text(json.dumps(log, indent=1))
    print(json.dumps(log))
    killed = [entry for entry in log if entry["returncode"] == -signal.SIGKILL]
    assert len(killed) == KILLS, "every process was still running when it was killed"
    assert sum(entry["during_checkpoint_write"] for entry in log) >= KILLS // 4
    assert_same_run(out, whole)


# PandaPickAndPlace on MuJoCo's C engine: its physics runs on the host between the compiled
# program's steps, so a kill can land inside MuJoCo; a checkpoint after every chunk of 256 steps.
CONTACT_RUN = ["env=PandaPickAndPlace", "num_envs=8", "total_env_steps=2048", "eval_every=256",
               "learning_starts=128", "num_eval_envs=8", "batch_size=64",
               "hidden_sizes=[32,32]", "checkpoint_every=1"]  # fmt: skip


def test_sigkill_on_a_contact_task_resumes_to_the_uninterrupted_run(tmp_path):
    cache = tmp_path / "cache"
    whole, out = tmp_path / "whole", tmp_path / "killed"
    finish(train(whole, cache, *CONTACT_RUN, uncached=True))
    process = train(out, cache, *CONTACT_RUN, uncached=True)
    started = time.monotonic()

    def written() -> int:
        return len(metrics(out)) if (out / "metrics.csv").is_file() else 0

    while written() < 4 and process.poll() is None and time.monotonic() - started < 300:
        time.sleep(0.01)  # three chunks written: the kill lands mid-run
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 4 <= len(metrics(out)) < len(metrics(whole))
    finish(train(out, cache, resume=True, uncached=True))
    assert_same_run(out, whole)


@pytest.mark.slow
def test_a_disk_that_fills_up_is_a_clear_error_and_keeps_the_last_checkpoint(reference, tmp_path):
    whole, cache = reference
    with tmpfs(tmp_path / "disk", "size=64m") as disk:
        out = disk / "run"
        process = train(out, cache)
        deadline = time.monotonic() + 300
        while not (out / "checkpoints" / "2").is_dir() and time.monotonic() < deadline:
            time.sleep(0.01)
        free = os.statvfs(disk)
        with open(disk / "filler", "wb") as filler:  # the disk is full from here on
            try:
                filler.write(b"\0" * (free.f_bavail * free.f_frsize))
            except OSError:
                pass
        _, stderr = process.communicate(timeout=300)
        # orbax logs its own failed background writes; the process ends with our message
        assert process.returncode == 2, stderr[-3000:]
        last = stderr.strip().splitlines()[-1]
        assert last.startswith(f"{out}: could not write") and "No space left on device" in last
        assert "kept" in last and "python train.py --resume" in last
        complete = sorted(int(p.name) for p in (out / "checkpoints").iterdir() if p.name.isdigit())
        assert complete and complete[-1] >= 2
        (disk / "filler").unlink()
        finish(train(out, cache, resume=True))  # from the last good checkpoint
        assert_same_run(out, whole)


@pytest.mark.slow
def test_a_read_only_out_is_a_clear_error_before_compiling(tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=1m") as disk:
        start = time.monotonic()
        process = train(disk / "run", tmp_path / "cache")
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 2
        assert "cannot write to the output folder" in stderr and "Read-only" in stderr
        assert time.monotonic() - start < 60, "it compiled before finding out"


def test_an_unwritable_out_is_a_clear_error_before_compiling(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    result = subprocess.run(
        [sys.executable, "train.py", "--out", str(tmp_path / "a-file" / "run"), *RUN],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot write to the output folder" in result.stderr
    assert "Traceback" not in result.stderr


class NonFiniteActions(Wrapper):
    """Sends NaN actions at steps 3, 10, 17, ... of every episode: the physics goes non-finite
    (a NaN joint target), which the environment must catch, end and reset."""

    def step(self, state, action):
        poisoned = state.info["steps"] % 7 == 3
        return self.env.step(state, jnp.where(poisoned, jnp.nan, action))


@pytest.mark.slow
def test_non_finite_physics_never_reaches_a_loss(monkeypatch):
    make = envs.make
    monkeypatch.setattr(trainer.envs, "make", lambda *a, **k: NonFiniteActions(make(*a, **k)))
    cfg = config.load(None, {"env": "PandaReach", "num_envs": 8, "eval_every": 256,
                             "total_env_steps": 1024, "learning_starts": 128,
                             "buffer_size": 4096})  # fmt: skip
    state, chunks = jax.jit(trainer.make_train(cfg))(jax.random.key(0))
    for name in ("critic_loss", "actor_loss", "q_mean", "eval_return"):
        values = np.asarray(chunks[name])
        assert np.isfinite(values[~np.isnan(values)]).all(), name
        assert not np.isnan(values[1:]).any(), name  # updates ran from the second chunk on
    data = state.buffer.data
    assert int(data.nonfinite.sum()) > 0, "the physics never went non-finite"
    for name in ("observation", "desired_goal", "action", "next_observation",
                 "next_achieved_goal"):  # fmt: skip
        assert bool(jnp.isfinite(getattr(data, name)).all()), name
    for leaf in jax.tree.leaves(state.agent):
        if jnp.issubdtype(leaf.dtype, jnp.floating):
            assert bool(jnp.isfinite(leaf).all())
