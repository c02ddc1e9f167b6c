"""Configurations: every shipped file loads; bad input names the field, the value and the rule."""

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from envs.panda_reach import PandaReachConfig
from envs.planar_reach import PlanarReachConfig
from jaxik import config
from jaxik.device import hyperparams

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


def test_a_config_names_what_differs_and_extends_the_shared_recipe():
    """The 24 panda_reach* files each set env, algo and her_strategy over configs/recipes/."""
    name_to_env = {"panda_reach": "PandaReach", "panda_reach_joints": "PandaReachJoints"}
    for path in CONFIGS:
        if path.parent.name not in name_to_env:
            continue
        algo, reward, replay = path.stem.split("_")
        cfg = config.load(path)
        suffix = "Dense" if reward == "dense" else ""
        assert cfg.env == name_to_env[path.parent.name] + suffix and cfg.algo == algo
        assert (cfg.her_strategy == "none") == (replay == "noher")
        assert (cfg.total_env_steps, cfg.batch_size, cfg.eval_every) == (70000, 256, 2000)


def test_extends_starts_from_another_file_and_names_what_is_wrong(tmp_path):
    (tmp_path / "base.yaml").write_text("algo: sac\ngamma: 0.9\nnum_envs: 8\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\ngamma: 0.97\n")
    cfg = config.load(tmp_path / "child.yaml", ["num_envs=4"])
    assert (cfg.algo, cfg.gamma, cfg.num_envs) == ("sac", 0.97, 4)
    (tmp_path / "loop.yaml").write_text("extends: loop.yaml\n")
    with pytest.raises(ValueError, match="loop"):
        config.load(tmp_path / "loop.yaml")
    (tmp_path / "missing.yaml").write_text("extends: nowhere.yaml\n")
    with pytest.raises(ValueError, match=r"extends='nowhere.yaml' is not a file"):
        config.load(tmp_path / "missing.yaml")
    (tmp_path / "number.yaml").write_text("extends: 3\n")
    with pytest.raises(ValueError, match="must be the path of another YAML file"):
        config.load(tmp_path / "number.yaml")


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
        ("weight_decay=-0.1", "weight_decay=-0.1 must be a finite number in [0.0, inf)"),
        ("max_grad_norm=.nan", "max_grad_norm=nan must be a finite number in [0.0, inf)"),
        ("env_config.goal_low=[0, 0]", "goal_low=[0, 0] must be a list of 3 finite numbers"),
    ],
)
def test_bad_values_are_named(override, message):
    with pytest.raises(ValueError) as error:
        config.load(None, [override])
    assert message in str(error.value)


@pytest.mark.parametrize("settings", [config.TrainConfig, PandaReachConfig, PlanarReachConfig])
def test_every_setting_declares_its_check_on_its_field(settings):
    assert all(callable(f.metadata.get("check")) for f in dataclasses.fields(settings))


def test_the_hyperparameters_are_the_fields_marked_so():
    """Hyperparams is made from the marks on TrainConfig: the float settings marked
    ``hyperparameter``, in field order, become float32 leaves; nothing else does."""
    fields = dataclasses.fields(config.TrainConfig)
    marked = tuple(f.name for f in fields if f.metadata.get("traced"))
    assert {"learning_rate", "gamma", "tau", "weight_decay", "her_future_prob"} <= set(marked)
    assert all(isinstance(f.default, float) for f in fields if f.name in marked)
    assert hyperparams.FIELDS == marked
    assert tuple(f.name for f in dataclasses.fields(hyperparams.Hyperparams)) == marked
    hp = hyperparams.from_config(config.TrainConfig(gamma=0.5, weight_decay=0.25))
    assert (float(hp.gamma), float(hp.weight_decay)) == (0.5, 0.25)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(hp))
