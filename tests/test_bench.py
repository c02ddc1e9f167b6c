"""The benchmark suite's plumbing: its accounting, its outputs and its input errors (the speeds
themselves are measured by running it, not asserted here)."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from envs import panda_model, warp_physics
from jaxik import config
from jaxik.bench import __main__ as bench
from jaxik.bench import budget, throughput, vs_pandagym
from jaxik.bench import seeds as seeds_bench

ROOT = Path(__file__).resolve().parents[1]


def test_throughput_counts_updates_per_environment_step():
    """The counts come from the training state (its iteration counter and the critic
    optimiser's step count), so they show what the timed program did: 2 calls of 64 iterations
    of 32 environments, each iteration followed by 3 gradient updates."""
    cfg = config.load(None, {"env": "PlanarReach", "updates_per_iteration": 3})
    result = throughput.measure(cfg, num_envs=32, batch_size=64, repeats=2)
    iterations = 2 * throughput.ITERATIONS
    assert result.env_steps == iterations * 32
    assert result.updates == iterations * 3
    assert result.seconds > 0
    assert result.updates_per_second == pytest.approx(result.updates / result.seconds)


def test_a_timed_environment_run_is_longer_on_an_accelerator():
    """About 100,000 environment steps on the CPU, 2,000,000 elsewhere (a GPU's 100,000 take
    hundredths of a second), between 20 and 1,000 control steps."""
    from jaxik.bench.env import steps_for

    assert [steps_for(n, "cpu") for n in (1, 1024, 4096, 65536)] == [1000, 97, 24, 20]
    assert [steps_for(n, "gpu") for n in (1, 1024, 4096, 65536)] == [1000, 1000, 488, 30]


def test_a_subcommand_writes_json_png_and_its_markdown_section(tmp_path):
    """Everything goes under --out; the docs change only with --update-docs (here a copy)."""
    markdown = tmp_path / "BENCHMARKS.md"
    markdown.write_text("# Benchmarks\n\nkept\n")
    args = ["compile", "--algos", "td3", "--out", str(tmp_path), "--update-docs",
            "--docs-file", str(markdown), "env=PlanarReach"]  # fmt: skip
    bench.main(args)
    record = json.loads((tmp_path / "compile.json").read_text())
    programs = [r["program"] for r in record["results"]]
    assert programs == [
        "evaluation", "HER sample", "one update", "learn (4 updates + samples)", "init",
        "iterations piece (a program)", "evaluation piece (a program)",
        "chunk as one program", "iterations piece, 8 seeds vmapped",
    ]  # fmt: skip
    for r in record["results"]:
        assert r["total_seconds"] == pytest.approx(
            r["trace_seconds"] + r["lower_seconds"] + r["compile_seconds"]
        )
    assert record["command"].endswith("env=PlanarReach")
    assert (tmp_path / "compile.png").stat().st_size > 5_000
    text = markdown.read_text()
    assert "kept" in text and "| TD3 | chunk as one program |" in text
    section = (tmp_path / "compile.md").read_text()
    assert section.startswith("## Compile time") and section in text


def test_the_gpu_command_rehearses_every_part_and_skips_a_size_that_does_not_fit(
    tmp_path, monkeypatch
):
    """``gpu --rehearse`` runs every part of the GPU measurement at tiny sizes; one size that
    runs out of memory (here the 2-seed program, made to) is named as skipped, and the other
    parts and sizes still land in the JSON, the PNGs and the section."""
    measure = seeds_bench.measure

    def two_seeds_do_not_fit(config_path, count, overrides):
        if count == 2:
            raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate")
        return measure(config_path, count, overrides)

    monkeypatch.setattr(seeds_bench, "measure", two_seeds_do_not_fit)
    markdown = tmp_path / "BENCHMARKS.md"
    markdown.write_text("# Benchmarks\n\nkept\n")
    bench.main(["gpu", "--rehearse", "--out", str(tmp_path), "--update-docs",
                "--docs-file", str(markdown)])  # fmt: skip
    record = json.loads((tmp_path / "gpu.json").read_text())
    parts = record["parts"]
    assert [r["num_envs"] for r in parts["env"]["results"]] == [1, 8]
    assert [r["num_envs"] for r in parts["train"]["results"]] == [16]
    assert parts["train"]["results"][0]["updates"] > 0
    assert [r["cache"] for r in parts["time-to-target"]["results"]] == ["cold", "warm"]
    assert [r["seeds"] for r in parts["seeds"]["results"]] == [1]
    assert [r["num_envs"] for r in parts["manipulation"]["results"]] == [4]
    assert parts["seeds"]["skipped"] == [{"size": "seeds 2", "skipped": "does not fit in memory"}]
    assert all(
        not parts[name]["skipped"] for name in ("env", "train", "time-to-target", "manipulation")
    )
    assert record["device"]["jax"] == jax.__version__
    backend = "cpu" if jax.default_backend() == "cpu" else "gpu"
    assert record["device"]["physics"] == panda_model.PHYSICS_CHOICES[backend].reason
    if warp_physics.installed():  # PandaPush on MuJoCo Warp (make test-warp installs it)
        assert [r["num_envs"] for r in parts["warp"]["results"]] == [4]
        engines = parts["engines"]["results"]
        assert [(r["settings"], r["cache"]) for r in engines] == [
            ("physics_engine=mjx", "cold"), ("physics_engine=warp", "cold")
        ]  # fmt: skip
    else:
        for name in ("warp", "engines"):
            assert parts[name]["skipped"] == [
                {"size": name, "skipped": 'MuJoCo Warp is not installed (pip install -e ".[warp]")'}
            ]
    for name in parts:
        if parts[name]["results"]:
            assert (tmp_path / f"gpu-{name}.png").stat().st_size > 5_000
    text = markdown.read_text()
    assert "kept" in text and "- seeds 2: skipped, does not fit in memory" in text
    assert (tmp_path / "gpu.md").read_text() in text


def test_a_part_whose_time_is_spent_starts_no_further_size_and_each_part_is_written(
    tmp_path, monkeypatch
):
    """With ``part_seconds=0`` each part measures its first size only and names the others
    as not started; ``finished`` sees the parts grow one by one, so a run stopped from outside
    keeps what it finished. (The measurements are stubbed: this is the bookkeeping.)"""
    from jaxik.bench import env as env_bench
    from jaxik.bench import gpu, time_to_target

    measured = []

    def stub(*args, **kwargs):
        measured.append(args[:2])
        return []

    for module in (env_bench, throughput, time_to_target, seeds_bench):
        monkeypatch.setattr(module, "measure", stub)
    seen = []
    scan = dataclasses.replace(gpu.REHEARSAL, part_seconds=0.0)
    parts = gpu.run(scan, tmp_path, log=lambda line: None,
                    finished=lambda so_far: seen.append(list(so_far)))  # fmt: skip
    assert seen == [list(gpu.TITLES)[:n] for n in range(1, len(gpu.TITLES) + 1)]
    measuring = len(gpu.TITLES) - 2 * (not warp_physics.installed())  # warp, engines: nothing
    assert len(measured) == measuring  # the first size of each part, no more
    assert parts["env"]["skipped"] == [
        {"size": "env PlanarReach x8", "skipped": "not started: the part's 0 s were spent"}
    ]
    assert parts["seeds"]["skipped"][0]["size"] == "seeds 2"
    assert not parts["time-to-target"]["skipped"] and not parts["manipulation"]["skipped"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--envs", "0"], "--envs: '0' is not a positive integer"),
        (["train", "--envs", "200000"], "buffer_size=100000 must be at least num_envs=200000"),
        (["seeds", "--seeds", "x"], "--seeds: 'x' is not a positive integer"),
        (["seeds", "gamma=2"], "gamma=2 must be a finite number in [0.0, 1.0)"),
        (["compile", "--algos", "ppo"], "--algos='ppo' is not allowed"),
        (["gpu", "--rehearse", "tau=-1"], "tau=-1 must be a finite number"),
        (["gpu", "--part-seconds", "0"], "--part-seconds: '0' is not a positive integer"),
        (["fidelity", "--episodes", "0"], "--episodes: '0' is not a positive integer"),
        (["fidelity", "--set", "solver_iterations=0"], "solver_iterations=0 must be"),
        (["fidelity", "--set", "gripper=open"], "gripper"),
        (["budget", "--minutes", "0"], "--minutes: '0' is not a number of minutes in (0, 1440]"),
        (["budget", "--minutes", "soon"], "--minutes: 'soon' is not a number of minutes"),
        (["budget", "sweep.algo=[td3,sac]"], "the config makes 2 programs; give it one"),
        (["budget", "--vs-pandagym", "seeds=3"], "give the config one run (seeds=1, no sweep)"),
        (["budget", "--vs-pandagym", "env=PandaReachPose"], "no equivalent of env='PandaReachP"),
    ],
)
def test_bad_input_stops_before_compiling(args, message):
    with pytest.raises(SystemExit) as stop:
        bench.main(args)
    assert message in str(stop.value)


def test_vs_pandagym_names_what_is_missing(monkeypatch):
    monkeypatch.setattr(vs_pandagym.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit) as stop:
        vs_pandagym.require()
    assert "missing: panda_gym, pybullet, stable_baselines3, torch" in str(stop.value)
    assert 'pip install -e ".[compare]"' in str(stop.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"env": "PandaReachJoints"}, "no equivalent of env='PandaReachJoints'"),
        ({"env_config": {"terminate_on_success": False}}, "always ends episodes on success"),
        ({"random_action_prob": 0.3}, "has no random_action_prob (set it to 0)"),
    ],
)
def test_vs_pandagym_refuses_what_panda_gym_cannot_match(overrides, message):
    with pytest.raises(SystemExit) as stop:
        vs_pandagym.env_id(config.load(None, overrides))
    assert message in str(stop.value)
    assert vs_pandagym.env_id(config.load(None, {"env": "PandaReachDense"})) == "PandaReachDense-v3"


def test_the_budget_comparison_matches_the_update_rate_and_takes_any_panda_task():
    push = config.load(ROOT / "configs" / "recipes" / "push.yaml")
    assert vs_pandagym.budget_env_id(push) == "PandaPush-v3"
    assert vs_pandagym.updates_every(push) == 32  # 8 updates per 256 environment steps
    assert vs_pandagym.budget_env_id(config.load(None, {"env": "PandaSlideJoints"})) == (
        "PandaSlideJoints-v3"
    )
    with pytest.raises(SystemExit, match="always ends episodes on success"):
        vs_pandagym.budget_env_id(
            config.load(None, {"env_config": {"terminate_on_success": False}})
        )


def test_jaxik_updates_count_the_iterations_after_learning_starts():
    """The trainer updates in every iteration that starts with learning_starts steps collected:
    with 16 environments and learning_starts 1000, iterations 63 on (of 768 in 12,288 steps)."""
    cfg = config.load(None, {"num_envs": 16, "learning_starts": 1000, "updates_per_iteration": 4})
    assert budget.updates(cfg, 12_288) == (768 - 63) * 4
    assert budget.updates(cfg, 992) == 0


def test_a_budget_curve_counts_only_evaluations_within_the_budget():
    curve = budget.Curve(
        learner="jaxik",
        budget_seconds=60.0,
        env_steps=[100.0, 200.0, 300.0, 400.0],
        seconds=[20.0, 40.0, 59.0, 75.0],
        success=[0.2, 0.95, 0.5, 1.0],
        compile_seconds=107.4,
    )
    assert curve.final_success == 0.5 and curve.final_env_steps == 300.0
    assert curve.best_success == 0.95
    assert curve.first_reached(0.9) == (200.0, 40.0)
    assert curve.first_reached(0.99) is None  # 100 % came after the budget
    # 90 of 100 episodes, as the device's float32 rate reads back from metrics.csv
    as_read = dataclasses.replace(curve, success=[0.2, float(np.float32(0.9)), 0.5, 1.0])
    assert as_read.first_reached(0.9) == (200.0, 40.0)
    assert as_read.first_reached(0.91) is None  # and 90 % is not 91 %
    late = dataclasses.replace(curve, seconds=[61.0, 62.0, 63.0, 64.0], compile_seconds=None)
    assert late.final_success is None and late.best_success is None
    assert budget.percent(late.final_success) == "-"  # printed, not a crash
    text = budget.table([curve, late], 0.9)
    assert "| evaluation success, last evaluation in budget | 50% | - |" in text
    assert "| first at 90% (from process start) | 200 steps, 0.7 min | not reached |" in text
    assert "| compiling (s, within the minutes) | 107 | - |" in text


def test_a_budget_scan_gives_each_setting_its_own_median_over_seeds():
    """Two learning rates x three seeds in one program: two curves, each the median of its own
    seeds, never a median across settings; placed at seconds from the process's start."""
    cfg = config.load(None, {"num_envs": 16, "learning_starts": 0, "updates_per_iteration": 1})
    success = {(1e-3, 0): 0.1, (1e-3, 1): 0.2, (1e-3, 2): 0.9, (2e-3, 0): 0.5, (2e-3, 1): 0.6,
               (2e-3, 2): 0.7}  # fmt: skip
    columns = ("run", "seed", "learning_rate", "env_steps", "eval_success", "wall_seconds")
    rows = [
        dict(zip(columns, (run, seed, lr, 32.0, value, 10.0), strict=True))
        for run, ((lr, seed), value) in enumerate(success.items())
    ]
    low, high = budget.curves_from_metrics(cfg, rows, 60.0, 25.0, ("learning_rate",))
    assert (low.learner, high.learner) == ("jaxik learning_rate=0.001", "jaxik learning_rate=0.002")
    assert (low.final_success, high.final_success) == (0.2, 0.6)
    assert low.seeds == high.seeds == 3 and low.updates == 2.0
    assert low.seconds == [25.0]  # 10 s of training after 15 s of start-up
    (both,) = budget.curves_from_metrics(cfg, rows, 60.0, 25.0)  # seeds only: one median
    assert both.learner == "jaxik" and both.seeds == 6 and both.final_success == 0.55


def test_ik_bench_planar_methods_solve_and_write_their_table(tmp_path, monkeypatch):
    """FABRIK solves every reachable goal to under a millimetre; the DLS controller reaches
    nearly every goal within its 50 steps; the results and their section go under --out, and
    the docs are left alone unless --update-docs asks (a second run replaces its section)."""
    written = []
    with monkeypatch.context() as patched:  # the project's BENCHMARKS.md must not be touched
        patched.setattr(bench.machine, "write_section", lambda *args: written.append(args))
        bench.main(["ik", "--arms", "planar", "--goals", "64", "--batch", "128",
                    "--out", str(tmp_path)])  # fmt: skip
    assert written == []
    section = (tmp_path / "ik.md").read_text()
    assert section.startswith("## Learned policy against classical IK")
    markdown = tmp_path / "BENCHMARKS.md"
    args = ["ik", "--arms", "planar", "--goals", "64", "--batch", "128", "--out", str(tmp_path),
            "--update-docs", "--docs-file", str(markdown)]  # fmt: skip
    bench.main(args)
    results = {r["method"]: r for r in json.loads((tmp_path / "ik.json").read_text())["results"]}
    fabrik, control = results["FABRIK solve"], results["DLS control (PlanarReach)"]
    assert fabrik["success"] == 1.0 and fabrik["error_mm_p95"] < 1.0
    assert control["success"] >= 0.95 and control["steps_median"] >= 1
    assert control["batch"] == 128 and control["us_per_goal_batch"] > 0
    assert "| Planar | FABRIK solve | 100.0% |" in markdown.read_text()
    bench.main(args)  # a second run replaces its section instead of adding one
    assert markdown.read_text().count("| Planar | FABRIK solve |") == 1


def test_panda_dls_solve_reaches_goals_within_the_joint_limits():
    import jax

    import envs
    from jaxik.bench import ik

    env = envs.make("PandaReach")
    goals = ik.held_out_goals(env, 32)
    outcome = jax.jit(jax.vmap(ik.panda_dls_solve(env)))(goals)
    assert bool(outcome.reached.all()) and float(outcome.distance.max()) < 1e-3
    assert not bool(outcome.violated.any()) and int(outcome.count.max()) < 200


def test_the_pose_controller_reaches_pose_goals_and_the_table_shows_the_angle():
    """The resolved-rate DLS pose controller inside PandaReachPose reaches held-out pose goals
    (measured: 64 of 64, in 12 control steps at the median) within the joint limits; the
    table gives the final angle of pose methods and a dash for position-only ones."""
    import jax

    import envs
    from jaxik.bench import ik

    env = envs.make("PandaReachPose")
    goals = ik.held_out_goals(env, 32)
    episode = ik.closed_loop(env, ik.pose_dls_control(env), ik.panda_limits(env))
    outcome = jax.jit(jax.vmap(episode))(goals)
    assert float(outcome.reached.mean()) >= 0.95 and not bool(outcome.violated.any())
    assert float(outcome.distance.max()) < env.config.distance_threshold
    assert float(outcome.angle.max()) < env.config.angle_threshold
    common = dict(goals=32, success=1.0, error_mm_median=1.0, error_mm_p95=2.0,
                  steps_median=None, iterations_median=4.0, limit_violations=0, ms_single=1.0,
                  us_per_goal_batch=1.0, batch=32, compile_seconds=1.0)  # fmt: skip
    rows = ik.table([
        ik.IkResult("Panda pose", "DLS pose solve", angle_deg_median=0.5, angle_deg_p95=1.25,
                    **common),
        ik.IkResult("Panda", "DLS solve", angle_deg_median=None, angle_deg_p95=None, **common),
    ]).splitlines()  # fmt: skip
    assert "| 1.0 / 2.0 | 0.50 / 1.25 | - | 4 |" in rows[2]
    assert "| 1.0 / 2.0 | - | - | 4 |" in rows[3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ik", "--goals", "0"], "--goals: '0' is not a positive integer"),
        (["ik", "--arms", "scara"], "--arms: 'scara' is not one of"),
        (["ik", "--policy", "/nonexistent"], "no config.yaml"),
        (["ik", "--arms", "pose", "--policy", "tests/fixtures/policy-v1"], "leaves it out"),
    ],
)
def test_ik_bench_bad_input_stops_before_compiling(args, message):
    with pytest.raises(SystemExit) as stop:
        bench.main(args)
    assert message in str(stop.value)


@pytest.mark.slow
def test_the_fidelity_command_writes_every_experiment(tmp_path):
    """A few episodes of each scripted PandaPush, PandaSlide and PandaPickAndPlace experiment
    (jaxik only: panda-gym is the compare extra's); ten programs to compile."""
    bench.main(["fidelity", "--episodes", "2", "--out", str(tmp_path)])
    record = json.loads((tmp_path / "fidelity.json").read_text())
    metrics = {r["metric"]: r["jaxik"] for r in record["results"]}
    assert set(r["experiment"] for r in record["results"]) == {
        "scripted push", "untouched cube", "straight push", "stopping", "ik step",
        "scripted slide", "free slide", "scripted pick and place", "carry",
    }  # fmt: skip
    assert all(np.isfinite(value) for value in metrics.values())
    assert abs(metrics["rest height (m)"] - 0.02) < 1e-3
    assert metrics["cube travel (m)"] > 0.1  # a 0.17 m push moves it
    assert 0.2 < metrics["slide from 0.3 m/s (m)"] < metrics["slide from 0.5 m/s (m)"] < 0.7
    assert metrics["carried cube height (m)"] > 0.1  # lifted to the goal 10 cm up
    assert 0.03 < metrics["finger width around the cube (m)"] <= 0.04  # held, 4 cm wide
    for axis in "xz":  # two DLS iterations reach a 1 cm step
        assert metrics[f"IK: share of a 1 cm step along {axis}"] == pytest.approx(1.0, abs=0.02)
    assert all(r["panda_gym"] is None for r in record["results"])
    assert (tmp_path / "fidelity.png").stat().st_size > 5_000


@pytest.mark.slow
def test_the_budget_command_stops_train_py_and_keeps_what_it_learned(tmp_path):
    """train.py under a 1-minute budget (PlanarReach, a budget it cannot finish): sent Ctrl-C,
    it exits with its checkpoint, and the curve holds only evaluations within the minute. It
    compiled into an empty cache of its own, not the suite's (tests/conftest.py)."""
    shared = Path(os.environ["JAXIK_CACHE_DIR"])
    before = sorted(shared.glob("*")) if shared.is_dir() else []
    bench.main(["budget", "--minutes", "1", "--out", str(tmp_path), "env=PlanarReach",
                "total_env_steps=100000000", "eval_every=4096"])  # fmt: skip
    (curve,) = json.loads((tmp_path / "budget.json").read_text())["results"]
    assert (sorted(shared.glob("*")) if shared.is_dir() else []) == before
    assert curve["compile_seconds"] > 0
    assert curve["learner"] == "jaxik" and curve["process_seconds"] > 60
    # the chunk under way when the minute ended finished, and is left out of the result
    assert curve["final_env_steps"] < curve["env_steps"][-1] < 100_000_000
    assert 0 <= curve["final_success"] <= 1
    assert curve["updates"] > 0
    assert (tmp_path / "train" / "checkpoints").is_dir()


def test_a_stopped_budget_run_stops_its_training_process(tmp_path):
    """``bench budget`` trains in a child process; terminating the bench (SIGTERM, as pkill
    sends) must stop that child too, not leave it training for the rest of its budget."""
    pid_file = tmp_path / "child.pid"
    script = f"""
import subprocess, sys
from jaxik.bench import budget
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open({str(pid_file)!r}, "w").write(str(child.pid))
budget.interrupt_after(child, 120)
"""
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not pid_file.is_file() or not pid_file.read_text():
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.1)
    child = int(pid_file.read_text())
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=60) == 128 + signal.SIGTERM
    with pytest.raises(ProcessLookupError):  # the child is gone, not left sleeping
        os.kill(child, 0)
