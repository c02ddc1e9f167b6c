"""Training from Python: ``jaxik.train`` with callbacks, a callback that stops the run, resume,
the result object, loggers, and Ctrl-C answered at once."""

import io
import os
import signal
import sys
import threading
import types

import jax
import jax.numpy as jnp
import numpy as np
import planar
import pytest

import jaxik
from jaxik import loggers, training
from jaxik.host import outputs, run

SMALL = {**planar.SMALL, "total_env_steps": 2048, "checkpoint_every": 1}


def test_train_calls_back_after_every_chunk_and_returns_the_results(tmp_path):
    seen = []
    printed = io.StringIO()
    result = jaxik.train(
        SMALL, out=tmp_path, seeds=2, callbacks=[seen.append, loggers.PrintLogger(printed)]
    )
    assert not result.interrupted
    assert [chunk.chunk for chunk in seen] == [1, 2, 3, 4]
    assert [chunk.env_steps for chunk in seen] == [512, 1024, 1536, 2048]
    assert all(chunk.num_chunks == 4 and len(chunk.rows) == 2 for chunk in seen)
    # what the callbacks saw is what metrics.csv holds, and what the result carries
    written = outputs.read_metrics(tmp_path / "metrics.csv")
    assert [row for chunk in seen for row in chunk.rows] == written == result.metrics
    assert seen[-1].success == pytest.approx(np.mean([r["eval_success"] for r in written[-2:]]))
    assert printed.getvalue().count("\n") == 4 and "chunk 4/4: 2,048 steps" in printed.getvalue()
    assert result.summary["env_steps"] == 2048
    policy = result.policy(run=1)
    layout = policy.info["layout"]
    obs = {name: np.zeros(size) for name, size in layout.items()}
    assert policy(obs).shape == (policy.action_size,)


def test_a_callback_stops_the_run_and_resume_finishes_it(tmp_path):
    def stop_after_two(chunk):
        return chunk.chunk < 2

    first = jaxik.train(SMALL, out=tmp_path, callbacks=[stop_after_two])
    assert first.interrupted and len(first.metrics) == 2
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir())[-1] == 2
    rest = []
    resumed = training.train(out=tmp_path, resume=True, callbacks=[rest.append])
    assert not resumed.interrupted
    assert [chunk.chunk for chunk in rest] == [3, 4]
    assert len(resumed.metrics) == 4 and resumed.metrics[:2] == first.metrics


def test_bad_settings_are_errors_before_anything_compiles(tmp_path):
    with pytest.raises(ValueError, match="num_envs"):
        jaxik.train(SMALL, out=tmp_path, num_envs=-1)
    with pytest.raises(ValueError, match="list of key=value"):
        jaxik.train(SMALL, out=tmp_path, overrides="seeds=2")
    with pytest.raises(ValueError, match="config="):
        jaxik.train(3, out=tmp_path)
    with pytest.raises(ValueError, match=r"no config\.yaml"):
        jaxik.train(out=tmp_path / "nothing", resume=True)
    assert not any(tmp_path.iterdir())


def test_the_config_comes_as_a_file_an_object_or_a_mapping():
    from_file = training.load_scan(
        planar_file := training.DEFAULT_CONFIG, {"env_config.episode_length": 20}
    )
    assert from_file.base.env_config["episode_length"] == 20
    scan = training.load_scan(SMALL, {"seeds": 3, "sweep.tau": [0.05, 0.01]})
    assert training.load_scan(scan, {}) == scan
    assert training.load_scan(scan.base, {}).base == scan.base
    assert training.as_mapping(["seeds=2", "sweep.lr=[1e-3, 3e-4]"]) == {
        "seeds": 2,
        "sweep.lr": [1e-3, 3e-4],
    }
    assert planar_file.is_file()


def chunk_result(rows, program=""):
    return run.ChunkResult(
        program=program, chunk=1, num_chunks=2, env_steps=512, rows=tuple(rows), success=0.5,
        solved=0, wall_seconds=3.0,
    )  # fmt: skip


def test_the_wandb_logger_logs_each_run_and_their_mean(monkeypatch):
    calls = []

    class FakeRun:
        def log(self, values, step):
            calls.append(("log", values, step))

        def finish(self):
            calls.append(("finish",))

    fake = types.SimpleNamespace(init=lambda **init: calls.append(("init", init)) or FakeRun())
    monkeypatch.setitem(sys.modules, "wandb", fake)
    logger = loggers.WandbLogger(project="p", mode="offline")
    rows = [
        {"run": 0, "seed": 5, "env_steps": 512, "eval_success": 0.25},
        {"run": 1, "seed": 6, "env_steps": 512, "eval_success": 0.75},
    ]
    logger(chunk_result(rows))
    logger(chunk_result(rows))
    logger.close()
    assert calls[0] == ("init", {"project": "p", "mode": "offline"})
    assert [c[0] for c in calls] == ["init", "log", "log", "finish"]
    assert calls[1][2] == 512
    assert calls[1][1] == {
        "env_steps": 512.0, "run0/env_steps": 512.0, "run1/env_steps": 512.0,
        "eval_success": 0.5, "run0/eval_success": 0.25, "run1/eval_success": 0.75,
    }  # fmt: skip
    named = loggers.log_values(chunk_result(rows[:1], program="batch_size-64"))
    assert named == {"batch_size-64/env_steps": 512.0, "batch_size-64/eval_success": 0.25}


def test_the_wandb_logger_names_its_extra_when_wandb_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ImportError, match=r"\.\[wandb\]"):
        loggers.WandbLogger()


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("wandb") is None, reason="wandb is not installed"
)
def test_a_wandb_offline_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    logger = loggers.WandbLogger(project="jaxik-test", mode="offline", dir=str(tmp_path))
    result = jaxik.train(SMALL, out=tmp_path / "run", callbacks=[logger])
    logger.close()
    assert not result.interrupted
    assert list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))


def test_ctrl_c_is_answered_at_once_and_a_second_stops_at_once(capsys):
    """While the device works, the host waits in Python (run.wait_for), so SIGINT is handled
    at once: the first prints what will happen, the second raises KeyboardInterrupt before the
    computation is done."""

    @jax.jit
    def slow(x, n):
        return jax.lax.fori_loop(0, n, lambda i, y: jnp.tanh(y @ y), x)

    x = jnp.eye(256) * 0.5
    slow(x, 1).block_until_ready()  # compiled; 20,000 iterations take seconds
    pid = os.getpid()

    def press_twice():
        for _ in range(2):
            threading.Event().wait(0.2)
            os.kill(pid, signal.SIGINT)

    interrupt = run.Interrupt()
    interrupt.chunk_seconds, interrupt.saved = 42.0, 3
    with interrupt, pytest.raises(KeyboardInterrupt):
        pending = slow(x, 20_000)
        threading.Thread(target=press_twice).start()
        run.wait_for(pending)
    assert not pending.is_ready()
    message = capsys.readouterr().err
    assert "stopping after the chunk under way (a chunk took 42 s)" in message
    assert "loses everything after chunk 3" in message
    pending.block_until_ready()
