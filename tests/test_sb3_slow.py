"""Stable-Baselines3 code written for panda-gym runs unchanged on jaxik's gymnasium env.

Slow (about a minute per seed) and needs the compare extra: ``make install-compare``, then
``make test-slow``. Skipped where Stable-Baselines3 is not installed.
"""

import gymnasium as gym
import numpy as np
import pytest

import jaxik  # noqa: F401  (registers jaxik/PandaReach-v0)

pytestmark = pytest.mark.slow

SEEDS = (0, 1, 2)
BUDGET = 20_000  # env steps; SB3 reached 95 % on panda-gym's PandaReach-v3 in ~5,000-8,000
EVAL_EVERY = 2_000
TARGET = 0.95


def success_rate(model, env, episodes: int = 100) -> float:
    successes = 0
    for episode in range(episodes):
        obs, info = env.reset(seed=100_000 + episode)
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        successes += bool(info["is_success"])
    return successes / episodes


@pytest.mark.parametrize("seed", SEEDS)
def test_sb3_td3_her_learns_jaxik_panda_reach(seed):
    """TD3 + HerReplayBuffer as SB3 users run it on PandaReach-v3 (the settings of this
    project's default config, which jaxik.bench.vs_pandagym gives SB3 on panda-gym), through
    gymnasium.make: each seed reaches 95 % success on 100 fresh goals within 20,000 steps."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import TD3, HerReplayBuffer
    from stable_baselines3.common.noise import NormalActionNoise

    env = gym.make("jaxik/PandaReach-v0")
    eval_env = gym.make("jaxik/PandaReach-v0")
    model = TD3(
        "MultiInputPolicy",
        env,
        replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"},
        action_noise=NormalActionNoise(np.zeros(3), 0.1 * np.ones(3)),
        learning_rate=1e-3,
        buffer_size=100_000,
        learning_starts=1_000,
        batch_size=256,
        tau=0.05,
        gamma=0.95,
        policy_kwargs={"net_arch": [64, 64]},
        seed=seed,
    )
    history = []
    for _ in range(BUDGET // EVAL_EVERY):
        model.learn(EVAL_EVERY, reset_num_timesteps=False)
        history.append(success_rate(model, eval_env))
        if history[-1] >= TARGET:
            break
    assert history[-1] >= TARGET, history
