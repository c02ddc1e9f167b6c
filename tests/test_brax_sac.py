"""The environments fit the ecosystem's trainers: Brax's own SAC trains on PandaReachDense."""

import functools

import numpy as np

import envs
from jaxik import compat


def test_brax_sac_trains_on_panda_reach_dense():
    compat.brax_trainers()
    from brax.training.agents.sac import networks as sac_networks
    from brax.training.agents.sac import train as sac

    # Brax keeps the time limit itself (its EpisodeWrapper), so the env's own is lifted.
    env = envs.FlatObservation(envs.make("PandaReachDense", episode_length=10**6))
    assert env.observation_size == 9
    progress = []
    make_policy, params, metrics = sac.train(
        environment=env,
        num_timesteps=2_048,
        episode_length=50,
        num_envs=16,
        num_eval_envs=16,
        num_evals=2,
        batch_size=64,
        min_replay_size=256,
        max_replay_size=4_096,
        grad_updates_per_step=1,
        normalize_observations=True,
        discounting=0.95,
        learning_rate=1e-3,
        network_factory=functools.partial(
            sac_networks.make_sac_networks, hidden_layer_sizes=(32, 32)
        ),
        progress_fn=lambda steps, m: progress.append((steps, m)),
        seed=0,
    )
    assert [steps for steps, _ in progress][-1] >= 2_048
    episode_reward = metrics["eval/episode_reward"]
    # dense reward is -distance per step: finite, negative, at most 50 steps of at most ~2 m
    assert np.isfinite(episode_reward) and -100.0 < episode_reward < 0.0
    policy = make_policy(params, deterministic=True)
    action, _ = policy(np.zeros((1, 9), np.float32), None)
    assert action.shape == (1, 3)
