"""Long learning runs on the real Panda: `make test-slow` (minutes each on the CPU). Several seeds
in one vmapped program, judged by the median over seeds."""

from pathlib import Path

import jax
import numpy as np
import pytest

from jaxik import config
from jaxik.device import hyperparams, trainer

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"
SEEDS = 4


def train_seeds(overrides: dict) -> np.ndarray:
    """Evaluation success [seeds, evaluations] of the default recipe with ``overrides``."""
    base = config.load(CONFIG, {**overrides, "total_env_steps": 20480})
    runs = [config.load(None, {**base.to_dict(), "seed": seed}) for seed in range(SEEDS)]
    keys = jax.vmap(jax.random.key)(np.arange(SEEDS))
    _, metrics = jax.jit(jax.vmap(trainer.make_train(base)))(keys, hyperparams.stack(runs))
    return np.asarray(metrics["eval_success"])


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac", "tqc"])
def test_default_recipe_solves_panda_reach(algo):
    """The median over 4 seeds of each seed's mean success over its last 3 of 20 evaluations is
    at least the success target, 0.95. Measured on the 2-core CPU (jax 0.10.2): every seed of
    every algorithm was at 1.00 over its last 3 evaluations (untrained: at most 0.11), ~90 s
    per algorithm (TQC: 177 s, its 25 quantiles per critic)."""
    success = train_seeds({"algo": algo})
    assert np.median(success[:, 0]) < 0.3, "the untrained policy should not already solve it"
    final = success[:, -3:].mean(axis=1)
    assert np.median(final) >= 0.95, np.round(success, 2)


@pytest.mark.slow
def test_sparse_without_her_learns_far_worse():
    """TD3 without HER, same budget: the last evaluation of its 4 seeds was 0.23-0.38 where every
    seed with HER reached 1.00. The median must stay below 0.6."""
    success = train_seeds({"her_strategy": "none"})
    assert np.median(success[:, -1]) < 0.6, np.round(success, 2)
