"""The panda-gym + Stable-Baselines3 equivalent of a jaxik measurement, run in the same
invocation (``--vs-pandagym``). Needs the optional extra ``compare``:
``pip install -e ".[compare]"`` (panda-gym, PyBullet, Stable-Baselines3 and PyTorch).

- ``env_steps_per_second``: one PyBullet panda-gym task (PandaReach-v3, PandaPush-v3...) under
  uniform random actions, the way panda-gym runs (one environment per process).
- ``time_to_target``: SB3's DDPG / TD3 / SAC with its HerReplayBuffer on PandaReach-v3 with the
  config's settings (network sizes, batch size, learning rate, gamma, tau, buffer size,
  learning_starts, exploration noise, HER "future" with 4 sampled goals for her_future_prob 0.8)
  and SB3's usual one gradient update per environment step. Every ``eval_every`` environment
  steps the deterministic policy is evaluated on ``num_eval_envs`` episodes, success read at each
  episode's end; the training clock stops during evaluation.
- ``within_budget``: the same learner on any panda-gym task the config names, for a number of
  seconds from its process's start, with one update per ``num_envs / updates_per_iteration``
  environment steps, as the config's jaxik run makes them (``jaxik.bench budget``).
- ``time_to_target_process``: the same in a fresh process (``python -m
  jaxik.bench.vs_pandagym``), timed from before its start to its exit, imports and evaluations
  included: what ``time-to-target`` measures of ``train.py``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from jaxik.config import TrainConfig
from jaxik.host import statistics

PACKAGES = ("panda_gym", "pybullet", "stable_baselines3", "torch")


def missing(packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """The packages of the ``compare`` extra (or of ``packages``) that are not installed."""
    return [name for name in packages if importlib.util.find_spec(name) is None]


def require(packages: tuple[str, ...] = PACKAGES) -> None:
    """Stops with the install command when the extra is missing (before anything compiles)."""
    absent = missing(packages)
    if absent:
        raise SystemExit(
            f"--vs-pandagym needs the optional extra compare (missing: {', '.join(absent)}): "
            'pip install -e ".[compare]"'
        )


def env_id(cfg: TrainConfig) -> str:
    """panda-gym's id for a run's ``cfg`` in the Stable-Baselines3 comparison, which covers the
    reach tasks with ee control; stops naming what panda-gym cannot match."""
    if cfg.env not in ("PandaReach", "PandaReachDense"):
        raise SystemExit(f"--vs-pandagym: panda-gym has no equivalent of env={cfg.env!r}")
    for name in ("random_action_prob", "action_l2"):
        if getattr(cfg, name):
            raise SystemExit(f"--vs-pandagym: Stable-Baselines3 has no {name} (set it to 0)")
    return budget_env_id(cfg)


def env_id_of(name: str) -> str | None:
    """panda-gym 3's id for jaxik environment ``name`` (its Panda tasks share the names), or
    None where panda-gym has none (PlanarReach)."""
    return f"{name}-v3" if name.startswith("Panda") else None


def env_steps_per_second(env_id: str = "PandaReach-v3", steps: int = 2_000) -> float:
    """Control steps/s of one panda-gym ``env_id`` under uniform random actions."""
    import gymnasium as gym
    import panda_gym  # noqa: F401  (registers the environments)

    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    seconds = time.perf_counter() - start
    env.close()
    return steps / seconds


@dataclasses.dataclass
class Sb3Timing:
    algo: str
    solved: bool
    env_steps: int  # at the evaluation that reached the target, or when the budget ran out
    train_seconds: float  # to that evaluation, evaluations excluded
    eval_success: float
    process_seconds: float | None = None  # the whole process, start to exit (in a subprocess)


def _model(cfg: TrainConfig, env, train_freq: int = 1):
    """SB3's ``cfg.algo`` with HerReplayBuffer and the config's settings on gymnasium ``env``,
    one gradient update per ``train_freq`` environment steps."""
    import numpy as np
    from stable_baselines3 import DDPG, SAC, TD3, HerReplayBuffer
    from stable_baselines3.common.noise import NormalActionNoise

    kwargs, policy_kwargs = {}, {"net_arch": list(cfg.hidden_sizes)}
    if cfg.algo == "tqc":
        from sb3_contrib import TQC

        algo = TQC
        kwargs["top_quantiles_to_drop_per_net"] = cfg.dropped_quantiles
        policy_kwargs.update(n_quantiles=cfg.quantiles, n_critics=cfg.quantile_critics)
    else:
        algo = {"ddpg": DDPG, "td3": TD3, "sac": SAC}[cfg.algo]
    if cfg.algo in ("ddpg", "td3"):
        size = env.action_space.shape[0]
        kwargs["action_noise"] = NormalActionNoise(np.zeros(size), cfg.noise_std * np.ones(size))
    if cfg.algo == "td3":
        kwargs.update(
            policy_delay=cfg.policy_delay,
            target_policy_noise=cfg.target_noise,
            target_noise_clip=cfg.target_noise_clip,
        )
    sampled_goals = round(cfg.her_future_prob / max(1.0 - cfg.her_future_prob, 1e-6))
    return algo(
        "MultiInputPolicy",
        env,
        replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs={"n_sampled_goal": sampled_goals, "goal_selection_strategy": "future"},
        learning_rate=cfg.learning_rate,
        buffer_size=cfg.buffer_size,
        learning_starts=cfg.learning_starts,
        batch_size=cfg.batch_size,
        tau=cfg.tau,
        gamma=cfg.gamma,
        train_freq=train_freq,
        gradient_steps=1,
        policy_kwargs=policy_kwargs,
        seed=cfg.seed,
        **kwargs,
    )


def _evaluator(cfg: TrainConfig, model, eval_env):
    """Success of ``model``'s deterministic policy over ``cfg.num_eval_envs`` episodes, read
    at each episode's end (the same reset seeds every time)."""

    def evaluate() -> float:
        successes = 0
        for episode in range(cfg.num_eval_envs):
            obs, _ = eval_env.reset(seed=10_000 + episode)
            done, info = False, {}
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, _, terminated, truncated, info = eval_env.step(action)
                done = terminated or truncated
            successes += bool(info.get("is_success", False))
        return successes / cfg.num_eval_envs

    return evaluate


def time_to_target(cfg: TrainConfig, eval_every: int = 1_000) -> Sb3Timing:
    import gymnasium as gym
    import panda_gym  # noqa: F401
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    env = gym.make(env_id(cfg))
    model = _model(cfg, env)
    evaluate = _evaluator(cfg, model, gym.make(env_id(cfg)))
    train_seconds, steps, success = 0.0, 0, 0.0
    while steps < cfg.total_env_steps:
        start = time.perf_counter()
        model.learn(eval_every, reset_num_timesteps=False)
        train_seconds += time.perf_counter() - start
        steps += eval_every
        success = evaluate()
        if statistics.reached(success, cfg.success_target):
            return Sb3Timing(cfg.algo, True, steps, train_seconds, success)
    return Sb3Timing(cfg.algo, False, steps, train_seconds, success)


def budget_env_id(cfg: TrainConfig) -> str:
    """panda-gym's id for ``jaxik.bench budget --vs-pandagym``: any Panda task panda-gym has, its
    episodes ending on success as panda-gym's do. Stops naming what it cannot match."""
    name = env_id_of(cfg.env)
    if name is None or cfg.env.startswith("PandaReachPose"):
        raise SystemExit(f"--vs-pandagym: panda-gym has no equivalent of env={cfg.env!r}")
    if not cfg.env_config.get("terminate_on_success", True):
        raise SystemExit("--vs-pandagym: panda-gym v3 always ends episodes on success")
    return name


def updates_every(cfg: TrainConfig) -> int:
    """Environment steps per gradient update in ``cfg`` (num_envs / updates_per_iteration,
    rounded), which SB3 is given as its train_freq so that both learn from as many updates per
    step."""
    return max(1, round(cfg.num_envs / cfg.updates_per_iteration))


def within_budget(cfg: TrainConfig, seconds: float, started: float) -> dict:
    """SB3 on ``cfg``'s panda-gym task until ``seconds`` have passed since the epoch time
    ``started`` (the parent's clock at this process's launch), not counting evaluations, which
    run every ``cfg.eval_every`` steps and once more when the budget ends. One update every
    ``updates_every(cfg)`` steps. Returns the fields of a jaxik.bench.budget.Curve."""
    import gymnasium as gym
    import panda_gym  # noqa: F401
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(os.cpu_count() or 1)
    env = gym.make(budget_env_id(cfg))
    model = _model(cfg, env, train_freq=updates_every(cfg))
    evaluate = _evaluator(cfg, model, gym.make(budget_env_id(cfg)))
    evaluating = 0.0  # seconds spent evaluating, which the budget does not count

    class Deadline(BaseCallback):
        def _on_step(self) -> bool:
            return time.time() - started - evaluating < seconds

    steps, times, success = [], [], []
    while time.time() - started - evaluating < seconds:
        model.learn(cfg.eval_every, reset_num_timesteps=False, callback=Deadline())
        clock = time.time() - started - evaluating
        before = time.time()
        success.append(evaluate())
        evaluating += time.time() - before
        steps.append(float(model.num_timesteps))
        times.append(min(clock, seconds))  # learning stops within one step of the deadline
    return {"env_steps": steps, "seconds": times, "success": success,
            "updates": float(model._n_updates)}  # fmt: skip


def time_to_target_process(config: Path, overrides: list[str]) -> Sb3Timing:
    """``time_to_target`` in a fresh Python process, with its start-to-exit time."""
    command = [sys.executable, "-m", "jaxik.bench.vs_pandagym", str(config), *overrides]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    values = json.loads(result.stdout.strip().splitlines()[-1])
    return Sb3Timing(**{**values, "process_seconds": seconds})


if __name__ == "__main__":
    import argparse

    from jaxik import config as config_lib

    parser = argparse.ArgumentParser(prog="python -m jaxik.bench.vs_pandagym")
    parser.add_argument("--budget", type=float, default=None, help="seconds (within_budget)")
    parser.add_argument("--started", type=float, default=None, help="epoch time of the launch")
    parser.add_argument("config", type=Path)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    cfg = config_lib.load(args.config, args.overrides)
    if args.budget is None:
        print(json.dumps(dataclasses.asdict(time_to_target(cfg))))
    else:
        started = time.time() if args.started is None else args.started
        print(json.dumps(within_budget(cfg, args.budget, started)))
