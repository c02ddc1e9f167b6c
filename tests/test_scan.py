"""Seed and hyperparameter scans: parsing, one program per static setting, vmapped runs equal to
runs trained alone, aggregates, and the scan's outputs."""

import json

import jax
import numpy as np
import planar
import pytest
from rich.console import Console

from jaxik import config
from jaxik.device import hyperparams, trainer
from jaxik.host import executables, pieces, recorder, run, statistics
from jaxik.host import scan as scan_lib

SMALL = {**planar.SMALL, "total_env_steps": 1536}


def test_floats_share_a_program_and_static_settings_split_it():
    sweep = {"sweep.lr": [1e-3, 3e-4], "sweep.batch_size": [128, 256]}
    scan = scan_lib.load(None, {**SMALL, "seeds": 3, **sweep})
    programs = scan.programs
    assert [p.config.batch_size for p in programs] == [128, 256]
    for program in programs:
        assert program.batched and len(program.runs) == 2 * 3
        assert [r.seed for r in program.runs] == [0, 1, 2, 0, 1, 2]
        assert [r.learning_rate for r in program.runs] == [1e-3] * 3 + [3e-4] * 3
        assert {r.batch_size for r in program.runs} == {program.config.batch_size}
    single = scan_lib.load(None, SMALL).programs
    assert len(single) == 1 and not single[0].batched
    optimiser = {"sweep.weight_decay": [0.0, 1e-4], "sweep.max_grad_norm": [0.0, 1.0]}
    programs = scan_lib.load(None, {**SMALL, **optimiser}).programs
    assert [p.config.max_grad_norm for p in programs] == [0.0, 1.0]
    assert all([r.weight_decay for r in p.runs] == [0.0, 1e-4] for p in programs)


def test_command_line_numbers_and_yaml_sweeps(tmp_path):
    """``1e-3`` (a string to YAML 1.1) is read as a number; a YAML file can hold the sweep."""
    path = tmp_path / "sweep.yaml"
    path.write_text("env: PlanarReach\nseeds: 2\nsweep:\n  tau: [0.05, 0.01]\n  lr: [1e-3]\n")
    scan = scan_lib.load(path, ["sweep.gamma=[0.9,0.98]"])
    assert scan.seeds == 2
    assert scan.sweep == {"tau": (0.05, 0.01), "learning_rate": (1e-3,), "gamma": (0.9, 0.98)}
    assert len(scan.programs) == 1 and len(scan.programs[0].runs) == 2 * 2 * 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["seeds=0"], "seeds=0 must be an integer >= 1"),
        (
            ["sweep.lr=[1e-3,-1]"],
            "sweep.lr: learning_rate=-1 must be a finite number",
        ),
        (["sweep.tau=0.1"], "sweep.tau=0.1 must be a non-empty list of values"),
        (["sweep.learning_rat=[0.1]"], "sweep.learning_rat: unknown configuration key"),
        (["sweep.seed=[1,2]"], "sweep seeds with seeds=N"),
        (["sweep.num_envs=[16,10]"], "sweep.num_envs: eval_every=1024 must be a multiple"),
        (["sweep.lr=[1e-3]", "sweep.learning_rate=[1e-4]"], "learning_rate is swept twice"),
    ],
)
def test_bad_scans_are_named_before_compiling(overrides, message):
    with pytest.raises(ValueError) as error:
        scan_lib.load(None, overrides)
    assert message in str(error.value)


def test_statistics():
    values = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 10.0]
    assert statistics.interquartile_mean(values) == pytest.approx(np.mean([0.2, 0.3, 0.4, 0.5]))
    # n = 5: the middle 2.5 values; the 2nd and 4th count a quarter each.
    assert statistics.interquartile_mean([1, 2, 3, 4, 100]) == pytest.approx(3.0)
    summary = statistics.summarize(values)
    assert summary["ci95_low"] < summary["mean"] < summary["ci95_high"]
    assert summary["n"] == 8 and summary["std"] == pytest.approx(np.std(values))
    assert statistics.bootstrap_ci([0.5] * 4) == (0.5, 0.5)


def test_a_success_rate_of_k_in_n_episodes_reaches_k_over_n():
    """The device's float32 rates: 90 of 100 and 95 of 100 reach 90 % and 95 %, read back as
    float64 or not; one episode fewer does not."""
    for k, n in ((90, 100), (95, 100), (7, 8)):
        rate = np.mean(np.arange(n) < k, dtype=np.float32)
        assert statistics.reached(rate, k / n) and statistics.reached(float(rate), k / n)
        fewer = np.mean(np.arange(n) < k - 1, dtype=np.float32)
        assert not statistics.reached(float(fewer), k / n)


def test_a_run_inside_a_vmapped_scan_equals_it_trained_alone():
    """Seeds 0 and 1 at one learning rate and seed 0 at another, in one vmapped program, against
    each trained by itself: unbatched, its hyperparameters given as the host loop gives a
    single run's (one program compiled for the three). make_train's ``train`` is pure: it runs
    whole under jit and vmap, one program for every run."""
    base = config.load(None, SMALL)
    runs = [
        config.load(None, {**SMALL, "seed": seed, "learning_rate": lr})
        for seed, lr in ((0, 1e-3), (1, 1e-3), (0, 3e-4))
    ]
    keys = jax.vmap(jax.random.key)(np.asarray([r.seed for r in runs]))
    _, scanned = jax.jit(jax.vmap(trainer.make_train(base)))(keys, hyperparams.stack(runs))
    assert scanned["eval_success"].shape == (3, 3)  # [runs, evaluations]
    assert (scanned["env_steps"][:, -1] == 3 * 512).all()
    train_alone = jax.jit(trainer.make_train(base))
    for i, cfg in enumerate(runs):
        _, alone = train_alone(jax.random.key(cfg.seed), hyperparams.from_config(cfg))
        for name in ("eval_success", "eval_return", "critic_loss", "actor_loss", "q_mean"):
            np.testing.assert_allclose(scanned[name][i], alone[name], rtol=1e-5, err_msg=name)
    for name in ("critic_loss", "eval_return"):
        assert not np.allclose(scanned[name][0], scanned[name][1]), "seeds should differ"
        assert not np.allclose(scanned[name][0], scanned[name][2]), "learning rates should differ"


def _host_path_chunks(program, chunks: int) -> list[dict]:
    jitted = pieces.build(program)
    compiled = jitted.compile(cache=executables.cache_dir())
    chunk, state, out = pieces.chunk(compiled), jitted.init_state(compiled), []
    for _ in range(chunks):
        state, metrics = chunk(state)
        out.append(jax.device_get(metrics))
    return out


def test_the_host_paths_vmapped_program_equals_each_run_alone():
    """pieces.build's batched program (lockstep counters shared, vmap_runs) against each
    of its runs built alone, over 3 chunks: warm-up, then learning with TD3's delayed actor.
    Batched and unbatched programs round differently (different fusions) and learning amplifies
    it: the first chunk agrees to 1e-5, the later ones' losses to 0.5 % (measured: at most
    0.06 %)."""
    scan = scan_lib.load(None, {**SMALL, "algo": "td3", "seeds": 2, "sweep.lr": [1e-3, 3e-4]})
    (program,) = scan.programs
    scanned = _host_path_chunks(program, 3)
    for i, cfg in enumerate(program.runs):
        alone = _host_path_chunks(scan_lib.load(None, cfg.to_dict()).programs[0], 3)
        for c in range(3):
            assert scanned[c]["env_steps"][i] == alone[c]["env_steps"][0]
            for name in ("critic_loss", "actor_loss", "q_mean", "eval_success", "eval_return"):
                if c > 0 and name.startswith("eval"):
                    continue  # one episode flipping by rounding moves these by a step
                np.testing.assert_allclose(
                    scanned[c][name][i],
                    alone[c][name][0],
                    rtol=1e-5 if c == 0 else 5e-3,
                    err_msg=f"run {i}, chunk {c}: {name}",
                )


def test_conds_stay_conds_in_a_vmapped_program():
    """Warm-up and TD3's policy delay are lax.conds; vmapped with batched counters they would
    become selects that run both branches."""
    scan = scan_lib.load(None, {**SMALL, "algo": "td3", "seeds": 4})
    jitted = pieces.build(scan.programs[0])
    function, args = jitted.functions["iterations"]
    text = function.lower(*args).as_text()
    assert text.count("stablehlo.case") >= 2


def test_scan_writes_table_plot_and_aggregates(tmp_path):
    scan = scan_lib.load(None, {**SMALL, "seeds": 2, "sweep.tau": [0.05, 0.01]})
    result = run.run_scan(scan, tmp_path, console=Console(quiet=True))
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["num_runs"] == 4 and len(saved["runs"]) == 4
    finals = [r["eval_success"] for r in saved["runs"]]
    assert saved["aggregate"]["eval_success"]["mean"] == pytest.approx(np.mean(finals))
    assert [s["values"] for s in saved["settings"]] == [{"tau": 0.05}, {"tau": 0.01}]
    for setting in saved["settings"]:
        stats = setting["eval_success"]
        assert stats["n"] == 2 and stats["ci95_low"] <= stats["mean"] <= stats["ci95_high"]
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("run,seed,tau,env_steps,") and len(lines) == 1 + 4 * 3
    table = (tmp_path / "results.csv").read_text().splitlines()
    assert table[0].startswith("tau,seeds,success_mean") and len(table) == 3
    assert "| tau | seeds |" in (tmp_path / "results.md").read_text()
    for png in ("sweep.png", "learning_curve.png"):
        assert (tmp_path / png).stat().st_size > 10_000
    assert scan_lib.load(tmp_path / "config.yaml").to_dict() == scan.to_dict()
    assert "tau=0.05: final success" in recorder.describe(result)
