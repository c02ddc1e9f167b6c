"""The paper's grid as one scan, and the report's findings computed from the run they describe."""

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
    plan = reproduce.grid(seeds=2, steps=4000, paper_settings=True, algos=["td3"])
    assert len(plan.programs) == 4 and plan.seeds == 2
    assert {reproduce.setting_of(p) for p in plan.programs} == {
        ("td3", reward, replay) for reward in ("sparse", "dense") for replay in ("her", "noher")
    }
    for program in plan.programs:
        cfg = program.config
        assert cfg.total_env_steps == 4000 and cfg.hidden_sizes == (512, 512, 512)
        assert (cfg.batch_size, cfg.tau, cfg.updates_per_iteration) == (2048, 0.005, 16)
    default = reproduce.grid(seeds=3, steps=70000, paper_settings=False, algos=["ddpg", "sac"])
    assert [p.config.algo for p in default.programs] == ["ddpg", "sac"] * 4
    assert default.programs[0].config.batch_size == 256
