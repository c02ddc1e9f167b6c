"""The paper's grid and panda-gym's task grid as scans, and the reports computed from the runs they
describe."""

import json

import pytest

from jaxik import reproduce


def setting(success: list[float], first_hit: list[float | None]) -> dict:
    return {"final": {"eval_success": success}, "steps_to_target": first_hit}


def test_findings_follow_the_numbers():
    results = {
        "success_target": 0.95,
        "settings": {
            "sparse_her": {"td3": setting([1.0, 0.96], [1000, 1000])},
            "sparse_noher": {"td3": setting([0.5, 0.97], [None, 3000])},
        },
    }
    text = "\n".join(reproduce.findings(results))
    assert "Sparse, HER: final success TD3 98% (worst seed 96%)" in text
    assert "Sparse, no HER: final success TD3 74% (worst seed 50%)" in text
    assert "TD3 1/2 seeds reach 95 % without HER, in 3.0x the steps with HER" in text


def test_the_grid_takes_the_command_lines_seeds_budget_algorithms_and_table1():
    scan = reproduce.grid(seeds=2, steps=4000, paper_settings=True, algos=["td3"])
    assert len(scan.programs) == 4 and scan.seeds == 2
    assert {reproduce.setting_of(p) for p in scan.programs} == {
        ("td3", reward, replay) for reward in ("sparse", "dense") for replay in ("her", "noher")
    }
    for program in scan.programs:
        cfg = program.config
        assert cfg.total_env_steps == 4000 and cfg.hidden_sizes == (512, 512, 512)
        assert (cfg.batch_size, cfg.tau, cfg.updates_per_iteration) == (2048, 0.005, 16)
    default = reproduce.grid(seeds=3, steps=70000, paper_settings=False, algos=["ddpg", "sac"])
    assert [p.config.algo for p in default.programs] == ["ddpg", "sac"] * 4
    assert default.programs[0].config.batch_size == 256


def test_the_panda_gym_grid_takes_each_tasks_recipe_and_the_zoos_budget():
    algos = list(reproduce.PANDAGYM_ALGOS)
    scans = dict(reproduce.pandagym_grid(list(reproduce.ZOO), algos, 2, 0.5, gpu=False))
    assert list(scans) == [
        "PandaReach", "PandaPush", "PandaSlide", "PandaPickAndPlace", "PandaStack"
    ]  # fmt: skip
    for task, scan in scans.items():
        assert scan.seeds == 2
        assert [p.config.algo for p in scan.programs] == ["td3", "sac", "tqc"]
        for program in scan.programs:
            cfg = program.config
            assert cfg.env == task and cfg.total_env_steps == reproduce.ZOO[task][0] // 2
    push = scans["PandaPush"].programs[0].config
    assert (push.batch_size, push.num_envs) == (1024, 512)  # the CPU recipe, push_fast.yaml
    pick = scans["PandaPickAndPlace"].programs[0].config
    assert pick.env_config.get("grasped_start", 0.0) == 0.0  # the zoo has no held starts
    assert scans["PandaReach"].programs[0].config.batch_size == 256
    assert scans["PandaPickAndPlace"].programs[0].config.success_target == 0.7
    assert scans["PandaSlide"].programs[0].config.success_target == 0.9
    (gpu,) = reproduce.pandagym_grid(["PandaPush"], ["ddpg"], 3, 1.0, gpu=True)
    assert gpu[1].programs[0].config.batch_size == 4096  # the GPU recipe
    assert gpu[1].programs[0].config.total_env_steps == 1_000_000


def test_the_panda_gym_report_puts_the_zoo_beside_each_task(tmp_path):
    cell = {
        "final": {"eval_success": [0.9, 0.5, 1.0], "eval_return": [-5.0, -20.0, -4.0]},
        "steps_to_target": [40_960, None, 20_480],
        "success_target": 0.9,
        "env_steps": 819_200,
        "compile_seconds": 75.0,
        "run_seconds": 1500.0,
    }
    results = {
        "tasks": {"PandaPush": {"td3": cell}},
        "machine": "CPU: test",
        "wall_seconds": 1600.0,
        "budget_scale": 0.8192,
        "recipes": {"PandaPush": "push.yaml"},
    }
    reproduce.write_pandagym_report(tmp_path, results, "python -m jaxik.reproduce panda-gym")
    text = (tmp_path / "report.md").read_text()
    assert (
        "| PandaPush | TD3 | 90% (50%-100%) | -9.67 ± 7.32 | 90%: 30,720 ± 10,240 (2 of 3 seeds) "
        "| 819,200 | 1500 (+75 compile) | 1,000,000, -6.41 |"
    ) in text
    assert "Budgets: the zoo's times 0.8192; recipes: PandaPush push.yaml." in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["panda-gym", "--budget-scale", "0"], "--budget-scale=0.0 must be in (0, 10]"),
        (["panda-gym", "--tasks", "PandaFlip"], "invalid choice: 'PandaFlip'"),  # no zoo budget
        (["panda-gym", "--seeds", "0"], "--seeds=0 must be >= 1"),
        (["paper", "--algos", "td3", "tqc"], "--algos td3 tqc: the paper has ddpg, sac, td3 only"),
    ],
)
def test_bad_input_stops_before_compiling(args, message, capsys):
    with pytest.raises(SystemExit):
        reproduce.main(args)
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_the_panda_gym_table_rehearses_on_a_small_budget(tmp_path):
    """PandaReach with TD3 at a tenth of the zoo's budget (2,000 steps per seed, 2 seeds):
    one program trained, its row and curve written."""
    reproduce.main(["panda-gym", "--tasks", "PandaReach", "--algos", "td3", "--seeds", "2",
                    "--budget-scale", "0.1", "--out", str(tmp_path / "report"),
                    "--runs", str(tmp_path / "runs")])  # fmt: skip
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| PandaReach | TD3 |" in text and "| 20,000, -1.77 |" in text
    assert (tmp_path / "report" / "PandaReach.png").stat().st_size > 5_000
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    cell = results["tasks"]["PandaReach"]["td3"]
    assert cell["env_steps"] >= 2_000 and len(cell["final"]["eval_success"]) == 2
