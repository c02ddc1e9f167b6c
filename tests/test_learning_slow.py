"""Long learning runs on the real Panda: `make test-slow` (minutes each on the CPU)."""

from pathlib import Path

import jax
import numpy as np
import pytest

from jaxik import config, trainer

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac"])
def test_default_recipe_solves_panda_reach(algo):
    cfg = config.load(CONFIG, {"algo": algo, "total_env_steps": 20480})
    _, metrics = jax.jit(trainer.make_train(cfg))(jax.random.key(0))
    assert np.asarray(metrics["eval_success"])[-3:].min() >= 0.95


@pytest.mark.slow
def test_sparse_without_her_learns_far_worse():
    cfg = config.load(CONFIG, {"her_strategy": "none", "total_env_steps": 20480})
    _, metrics = jax.jit(trainer.make_train(cfg))(jax.random.key(0))
    assert np.asarray(metrics["eval_success"])[-1] < 0.5
