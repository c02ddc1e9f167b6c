"""Configurations: every shipped file loads; bad input names the field, the value and the rule."""

from pathlib import Path

import pytest

from jaxik import config

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").rglob("*.yaml"))


def test_the_shipped_configs_are_all_there():
    names = {str(p.relative_to(p.parents[1])) for p in CONFIGS if p.parent.name != "configs"}
    for env in ("panda_reach", "panda_reach_joints"):
        for algo in ("ddpg", "td3", "sac"):
            for reward in ("sparse", "dense"):
                for her in ("her", "noher"):
                    assert f"{env}/{algo}_{reward}_{her}.yaml" in names
    assert "paper/table1.yaml" in names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_config_loads(path):
    cfg = config.load(path)
    assert cfg.num_evals * cfg.eval_every >= cfg.total_env_steps
    if "noher" in path.name:
        assert cfg.her_strategy == "none"


def test_paper_table1_settings():
    cfg = config.load(Path(CONFIGS[0]).parents[0] / "paper" / "table1.yaml")
    assert (cfg.gamma, cfg.tau, cfg.learning_rate, cfg.batch_size) == (0.95, 0.005, 1e-3, 2048)
    assert (cfg.total_env_steps, cfg.buffer_size, cfg.hidden_sizes) == (70000, 100000, (512,) * 3)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("algo=ppo", "algo='ppo' is not allowed; choose one of ['ddpg', 'td3', 'sac']"),
        ("gamma=1.5", "gamma=1.5 must be a finite number in [0.0, 1.0)"),
        ("batch_size=0", "batch_size=0 must be an integer >= 1"),
        ("her_strategy=past", "her_strategy='past' is not allowed"),
        ("hidden_sizes=[64, -1]", "hidden_sizes=[64, -1] must be a non-empty list"),
        ("eval_every=1000", "eval_every=1000 must be a multiple of num_envs=16"),
        ("env=PandaPush", "env='PandaPush' is not allowed"),
        ("env_config.episode_length=0", "episode_length=0 must be an integer >= 1"),
        ("env_config.gravity=1", "unknown configuration key(s) ['gravity'] for PandaReach"),
        ("learning_rat=0.1", "unknown configuration key(s) ['learning_rat']"),
        ("normalize_observations=maybe", "normalize_observations='maybe' must be true or false"),
    ],
)
def test_bad_values_are_named(override, message):
    with pytest.raises(ValueError) as error:
        config.load(None, [override])
    assert message in str(error.value)
