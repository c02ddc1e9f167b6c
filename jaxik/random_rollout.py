"""A random-policy rollout of an environment: what ``make train`` runs until the trainer exists.

Config (YAML): env, num_envs, num_steps, seed; checked on the host before anything compiles.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import yaml


@dataclasses.dataclass(frozen=True)
class RolloutConfig:
    env: str = "PandaReach"
    """Environment name (envs.ENV_NAMES)."""
    num_envs: int = 256
    """Parallel environments."""
    num_steps: int = 200
    """Control steps of every environment."""
    seed: int = 0
    """Random seed."""

    def __post_init__(self) -> None:
        import envs

        if self.env not in envs.ENV_NAMES:
            raise ValueError(f"env={self.env!r} is not allowed; choose one of {envs.ENV_NAMES}")
        for field in ("num_envs", "num_steps"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field}={value!r} must be an integer >= 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed={self.seed!r} must be an integer")


def load_config(path: Path, overrides: dict[str, Any]) -> RolloutConfig:
    """The YAML file's settings, then ``key=value`` overrides; unknown keys are errors."""
    values = yaml.safe_load(path.read_text()) or {}
    values.update(overrides)
    known = {f.name for f in dataclasses.fields(RolloutConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown configuration key(s) {unknown}; known keys: {sorted(known)}")
    return RolloutConfig(**values)


def make_rollout(env_name: str, num_envs: int, num_steps: int, **env_overrides: Any):
    """A jitted ``rollout(key) -> (episodes ended, successes, mean reward)``: ``num_envs``
    auto-resetting environments stepped ``num_steps`` times with uniform random actions, in one
    ``lax.scan`` (as training steps them)."""
    import jax

    import envs

    env = envs.AutoResetWrapper(envs.make(env_name, **env_overrides))

    def rollout(key):
        reset_key, action_key = jax.random.split(key)
        state = jax.vmap(env.reset)(jax.random.split(reset_key, num_envs))

        def one_step(state, step_key):
            shape = (num_envs, env.action_size)
            action = jax.random.uniform(step_key, shape, minval=-1.0, maxval=1.0)
            state = jax.vmap(env.step)(state, action)
            return state, (state.done, state.metrics["success"] * state.done, state.reward)

        keys = jax.random.split(action_key, num_steps)
        _, (done, success, reward) = jax.lax.scan(one_step, state, keys)
        return done.sum(), success.sum(), reward.mean()

    return jax.jit(rollout)


def run(config: RolloutConfig) -> dict[str, float]:
    """Rolls out uniform random actions; returns episodes, success rate and speed."""
    import jax

    rollout = make_rollout(config.env, config.num_envs, config.num_steps)
    start = time.perf_counter()
    compiled = rollout.lower(jax.random.key(config.seed)).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    episodes, successes, mean_reward = jax.block_until_ready(compiled(jax.random.key(config.seed)))
    run_seconds = time.perf_counter() - start
    return {
        "episodes": int(episodes),
        "success_rate": float(successes) / max(int(episodes), 1),
        "mean_reward": float(mean_reward),
        "env_steps": config.num_envs * config.num_steps,
        "steps_per_second": config.num_envs * config.num_steps / run_seconds,
        "compile_seconds": compile_seconds,
    }
