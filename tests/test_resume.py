"""Checkpoints and resume: an interrupted-then-resumed run equals the uninterrupted one exactly;
Ctrl-C saves and exits; a missing, corrupt or incompatible checkpoint is a clear error that
leaves the run folder as it was."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import planar
import pytest
import run_folder
import yaml
from rich.console import Console

from jaxik.host import run
from jaxik.host import scan as scan_lib
from jaxik.host.checkpoint import CheckpointError

ROOT = Path(__file__).resolve().parent.parent
SMALL = {**planar.SMALL, "total_env_steps": 2048, "checkpoint_every": 1}
QUIET = Console(quiet=True)


def metrics(run_dir: Path) -> list[dict[str, str]]:
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    for row in rows:
        row.pop("wall_seconds")
    return rows


# One run is a scan of one: the 2-seed case runs the same host path, and one seed is slow-marked.
# PandaPush's state holds MuJoCo's contact physics (about two minutes of compiling): slow too.
@pytest.mark.parametrize(
    ("env", "seeds"),
    [
        pytest.param("PlanarReach", 1, marks=pytest.mark.slow),
        ("PlanarReach", 2),
        pytest.param("PandaPush", 2, marks=pytest.mark.slow),
    ],
)
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, env, seeds):
    scan = scan_lib.load(None, {**SMALL, "env": env, "seeds": seeds})
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    run.run_scan(scan, whole, console=QUIET)
    first = run.run_scan(scan, parts, console=QUIET, interrupt=run.Interrupt(2))
    assert first["interrupted"]
    assert len(metrics(parts)) == 2 * seeds
    resumed = run.run_scan(scan, parts, console=QUIET, resume=True)
    assert not resumed["interrupted"]
    # times add up over both processes, and the rate counts every step over all training time
    for name in ("compile_seconds", "train_seconds", "wall_seconds"):
        assert resumed[name] > first[name], name
    assert resumed["wall_seconds"] > resumed["compile_seconds"] + resumed["train_seconds"] * 0.99
    steps = resumed["env_steps"] * seeds
    assert resumed["steps_per_second"] == pytest.approx(steps / resumed["train_seconds"])
    assert metrics(parts) == metrics(whole)  # every metric of every chunk, as text: exact
    run_folder.assert_same_arrays(parts, whole)


def test_a_finished_run_resumes_to_itself_and_can_be_extended(tmp_path):
    scan = scan_lib.load(None, {**SMALL, "total_env_steps": 1024})
    run.run_scan(scan, tmp_path, console=QUIET)
    before = metrics(tmp_path)
    again = run.run_scan(scan, tmp_path, console=QUIET, resume=True)
    assert again["env_steps"] == 1024 and metrics(tmp_path) == before
    longer = scan_lib.load(tmp_path / "config.yaml", ["total_env_steps=2048"])
    summary = run.run_scan(longer, tmp_path, console=QUIET, resume=True)
    assert summary["env_steps"] == 2048 and len(metrics(tmp_path)) == 4


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "train.py", "--out", str(out),
               *(f"{k}={v}" for k, v in SMALL.items()), "total_env_steps=51200"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        csv_file = out / "metrics.csv"
        if csv_file.is_file() and len(csv_file.read_text().splitlines()) >= 2:
            break  # a header and one evaluation: the loop is running
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr.decode()[-2000:]
    assert "Traceback" not in stderr.decode()
    assert "stopping after the chunk under way" in stderr.decode()
    done = len(metrics(out))
    assert 1 <= done < 100
    assert sorted(int(p.name) for p in (out / "checkpoints").iterdir())[-1] == done
    longer = f"total_env_steps={512 * (done + 1)}"
    result = subprocess.run(
        [sys.executable, "train.py", "--resume", str(out), longer],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(metrics(out)) == done + 1


def snapshot(folder: Path) -> dict[str, bytes]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def resume(folder: Path, overrides=()):
    scan = scan_lib.load(folder / "config.yaml", list(overrides))
    return run.run_scan(scan, folder, console=QUIET, resume=True)


def test_a_run_stopped_before_its_first_checkpoint_resumes_from_the_start(tmp_path):
    """Nothing was saved, so nothing is lost: --resume trains it from the beginning."""
    scan = scan_lib.load(None, {**SMALL, "total_env_steps": 1024})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(scan.to_dict()))
    (tmp_path / "checkpoints").mkdir()  # the store was opened, the first save never finished
    result = resume(tmp_path)
    run.run_scan(scan, tmp_path / "fresh", console=QUIET)
    assert result["env_steps"] == 1024
    assert metrics(tmp_path) == metrics(tmp_path / "fresh")


def test_bad_checkpoints_are_clear_errors_and_change_nothing(tmp_path):
    good = tmp_path / "good"
    run.run_scan(scan_lib.load(None, {**SMALL, "total_env_steps": 1024}), good, console=QUIET)

    other_shapes = tmp_path / "other_shapes"
    shutil.copytree(good, other_shapes)
    config = yaml.safe_load((other_shapes / "config.yaml").read_text())
    (other_shapes / "config.yaml").write_text(yaml.safe_dump({**config, "hidden_sizes": [32]}))
    before = snapshot(other_shapes)
    with pytest.raises(CheckpointError, match="does not fit this config"):
        resume(other_shapes)
    assert snapshot(other_shapes) == before

    other_settings = tmp_path / "other_settings"
    shutil.copytree(good, other_settings)
    config = yaml.safe_load((other_settings / "config.yaml").read_text())
    (other_settings / "config.yaml").write_text(yaml.safe_dump({**config, "tau": 0.5}))
    before = snapshot(other_settings)
    with pytest.raises(CheckpointError, match=r"cannot resume with tau=0\.5"):
        resume(other_settings)
    assert snapshot(other_settings) == before

    corrupt = tmp_path / "corrupt"
    shutil.copytree(good, corrupt)
    for path in (corrupt / "checkpoints").rglob("*"):
        if path.is_file() and "state" in path.parts and path.stat().st_size > 100:
            path.write_bytes(os.urandom(path.stat().st_size))
    before = snapshot(corrupt)
    with pytest.raises(CheckpointError, match="cannot re"):
        resume(corrupt)
    assert snapshot(corrupt) == before


def test_train_py_refuses_an_incompatible_resume_before_compiling(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"env": "PlanarReach"}))
    result = subprocess.run(
        [sys.executable, "train.py", "--resume", str(tmp_path), "learning_rate=0.1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot resume with learning_rate=0.1" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_a_panda_reach_training_state_round_trips(tmp_path):
    """The real arm's training state comes back leaf for leaf. Empty arrays (MJX data holds
    some, e.g. actuator activations), which orbax cannot store, are left out and come back
    empty."""
    import jax
    import jax.numpy as jnp

    from jaxik import config
    from jaxik.device import trainer
    from jaxik.host import checkpoint

    cfg = config.load(
        None, {"env": "PandaReach", "num_envs": 4, "buffer_size": 64, "eval_every": 64}
    )
    parts = trainer.make_trainer(cfg)
    state = {"train": jax.jit(parts.init)(jax.random.key(3)), "act": jnp.zeros((0, 7))}
    store = checkpoint.Checkpoints(tmp_path)
    store.save(1, state, {"chunks": 1})
    like = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), state
    )
    restored, host = store.restore(like)
    assert host == {"chunks": 1}
    assert jax.tree.structure(restored) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(state), strict=True):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow  # 28 s; the default suite scans such scans (test_scan) and resumes scans
def test_a_scan_over_a_shape_setting_runs_writes_its_table_and_resumes(tmp_path):
    """A sweep over batch_size alone is two programs, each in its own folder;
    --out gets the scan's config.yaml, table and summary, and --resume extends both."""
    out = tmp_path / "scan"
    command = [sys.executable, "train.py", "env=PlanarReach", "total_env_steps=512",
               "eval_every=512", "learning_starts=0", "sweep.batch_size=[64,128]",
               "--out", str(out)]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "batch_size=64: final success" in result.stdout
    table = (out / "results.csv").read_text().splitlines()
    assert table[0].startswith("batch_size,seeds,") and len(table) == 3
    assert sorted(json.loads((out / "summary.json").read_text())["programs"]) == [
        "batch_size-128", "batch_size-64"
    ]  # fmt: skip
    assert scan_lib.load(out / "config.yaml").sweep == {"batch_size": (64, 128)}
    result = subprocess.run(
        [sys.executable, "train.py", "--resume", str(out), "total_env_steps=1024"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("batch_size-64", "batch_size-128"):
        assert [row["env_steps"] for row in metrics(out / name)] == ["512.0", "1024.0"]
