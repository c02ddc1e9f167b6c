"""Configurations: every shipped file loads; bad input names the field, the value and the rule."""

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from envs.panda_reach import PandaReachConfig
from envs.planar_reach import PlanarReachConfig
from jaxik import agent_settings, config, reproduce
from jaxik.device import hyperparams
from jaxik.host import scan as scan_lib

CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"
CONFIGS = sorted(CONFIGS_DIR.rglob("*.yaml"))


def test_the_shipped_configs_are_all_there():
    names = {str(p.relative_to(p.parents[1])) for p in CONFIGS}
    assert names == {
        "configs/default.yaml",
        "configs/gpu.yaml",
        "paper/grid.yaml",
        "paper/table1.yaml",
        "recipes/push.yaml",
        "recipes/push_gpu.yaml",
        "recipes/push_moved.yaml",
        "recipes/push_more_updates.yaml",
        "recipes/push_clipped.yaml",
        "recipes/push_fast.yaml",
        "recipes/pick_and_place.yaml",
        "recipes/reach.yaml",
        "recipes/reach_pose.yaml",
    }


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_config_loads(path):
    for program in scan_lib.load(path).programs:
        cfg = program.config
        assert cfg.num_evals * cfg.eval_every >= cfg.total_env_steps


def test_the_paper_grid_is_every_setting_of_the_shared_recipe():
    """configs/paper/grid.yaml: DDPG, SAC and TD3 x sparse and dense x HER and none, each one
    program of 3 seeds, all with the recipe's settings and no early termination."""
    recipe = config.load(CONFIGS_DIR / "recipes" / "reach.yaml")
    scan = scan_lib.load(CONFIGS_DIR / "paper" / "grid.yaml")
    settings = {reproduce.setting_of(program) for program in scan.programs}
    assert settings == {
        (algo, reward, replay)
        for algo in ("ddpg", "sac", "td3")
        for reward in ("sparse", "dense")
        for replay in ("her", "noher")
    }
    for program in scan.programs:
        cfg = program.config
        assert [r.seed for r in program.runs] == [0, 1, 2]
        assert cfg.env_config == {"terminate_on_success": False}
        assert (cfg.her_strategy == "none") == (reproduce.setting_of(program)[2] == "noher")
        for name in ("total_env_steps", "batch_size", "eval_every", "hidden_sizes", "tau"):
            assert getattr(cfg, name) == getattr(recipe, name), name


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
    cfg = config.load(CONFIGS_DIR / "paper" / "table1.yaml")
    assert (cfg.gamma, cfg.tau, cfg.learning_rate, cfg.batch_size) == (0.95, 0.005, 1e-3, 2048)
    assert (cfg.total_env_steps, cfg.buffer_size, cfg.hidden_sizes) == (70000, 100000, (512,) * 3)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("algo=ppo", "algo='ppo' is not allowed; choose one of ['ddpg', 'td3', 'sac', 'tqc']"),
        ("gamma=1.5", "gamma=1.5 must be a finite number in [0.0, 1.0)"),
        ("batch_size=0", "batch_size=0 must be an integer >= 1"),
        ("her_strategy=past", "her_strategy='past' is not allowed"),
        ("hidden_sizes=[64, -1]", "hidden_sizes=[64, -1] must be a non-empty list"),
        ("eval_every=1000", "eval_every=1000 must be a multiple of num_envs=16"),
        ("env=PandaStak", "env='PandaStak' is not allowed"),
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


@pytest.mark.parametrize(
    "settings",
    [config.TrainConfig, PandaReachConfig, PlanarReachConfig, *agent_settings.SETTINGS.values()],
)
def test_every_setting_declares_its_check_on_its_field(settings):
    assert all(callable(f.metadata.get("check")) for f in dataclasses.fields(settings))


def test_the_hyperparameters_are_the_fields_marked_so():
    """Hyperparams is made from the marks on TrainConfig: the float settings marked
    ``hyperparameter`` become float32 leaves; nothing else does."""
    fields = dataclasses.fields(config.TrainConfig)
    marked = tuple(f.name for f in fields if f.metadata.get("traced"))
    assert {"learning_rate", "gamma", "tau", "weight_decay", "her_future_prob"} <= set(marked)
    assert all(isinstance(f.default, float) for f in fields if f.name in marked)
    assert set(hyperparams.FIELDS) == set(marked) and len(hyperparams.FIELDS) == len(marked)
    assert hyperparams.FIELDS == tuple(f.name for f in dataclasses.fields(hyperparams.Hyperparams))
    hp = hyperparams.from_config(config.TrainConfig(gamma=0.5, weight_decay=0.25))
    assert (float(hp.gamma), float(hp.weight_decay)) == (0.5, 0.25)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(hp))


def test_each_learner_declares_its_own_settings_and_the_flat_keys_stay():
    """TrainConfig holds every learner's settings as flat fields, declared once per learner:
    a group under its name sets them, and a group of another learner or a key the learner
    lacks is refused, naming it."""
    shared = {f.name for f in dataclasses.fields(config.TrainConfig)} - set(
        agent_settings.all_names()
    )
    assert {"gamma", "batch_size", "hidden_sizes"} <= shared
    for algo, kind in agent_settings.SETTINGS.items():
        assert not shared & set(agent_settings.names(algo))
        assert issubclass(config.TrainConfig, kind)  # a new learner's class is inherited too
    assert agent_settings.names("ddpg") == agent_settings.names("td3")[:5]
    assert agent_settings.names("sac") == ("init_alpha",)
    with pytest.raises(ValueError, match="policy_delay=0"):  # a class alone checks its fields
        agent_settings.TD3Settings(policy_delay=0)
    with pytest.raises(ValueError, match="dropped_quantiles=3 must be below quantiles=3"):
        agent_settings.TQCSettings(quantiles=3, dropped_quantiles=3)

    file = config.load(None, {"algo": "td3", "noise_std": 0.3, "td3": {"policy_delay": 3}})
    assert (file.noise_std, file.policy_delay) == (0.3, 3)
    cli = config.load(None, {"noise_std": 0.3, "td3.noise_std": 0.4})  # the group wins
    assert cli.noise_std == 0.4
    assert config.load(None, {"algo": "tqc", "tqc": {"quantiles": 9}}).quantiles == 9
    with pytest.raises(
        ValueError, match=r"sac=\{'init_alpha': 2\} sets sac's settings, but algo='td3'"
    ):
        config.load(None, ["sac.init_alpha=2"])
    with pytest.raises(ValueError, match=r"td3: \['init_alpha'\] are not settings of td3"):
        config.load(None, ["td3.init_alpha=2"])
    with pytest.raises(ValueError, match="policy_delay=0"):
        config.load(None, ["td3.policy_delay=0"])


def test_settings_the_chosen_learner_does_not_read_are_reported():
    """A file shared by a scan over ``algo`` may set TD3's noise for SAC: not an error, but
    ``unused`` names it (train.py prints it)."""
    assert agent_settings.unused(config.TrainConfig(algo="td3", noise_std=0.2)) == {}
    sac = config.TrainConfig(algo="sac", noise_std=0.2, quantiles=9, dropped_quantiles=1)
    assert agent_settings.unused(sac) == {"noise_std": 0.2, "quantiles": 9, "dropped_quantiles": 1}
    assert agent_settings.unused(config.TrainConfig(algo="ddpg", policy_delay=4)) == {
        "policy_delay": 4
    }
