"""Control steps per second of the environments against the number of parallel copies.

Each measurement compiles one program: ``num_steps`` steps of ``num_envs`` auto-resetting
environments under random actions, in a ``lax.scan`` (as training runs them). Compile time is
reported apart from the run, which is timed on a second call.
"""

from __future__ import annotations

import dataclasses
import time

import jax

import envs


@dataclasses.dataclass(frozen=True)
class EnvResult:
    env: str
    num_envs: int
    num_steps: int
    compile_seconds: float
    run_seconds: float

    @property
    def steps_per_second(self) -> float:
        return self.num_envs * self.num_steps / self.run_seconds


def make_rollout(env_name: str, num_envs: int, num_steps: int):
    """A jitted ``rollout(key) -> success count`` over num_envs x num_steps random actions."""
    env = envs.AutoResetWrapper(envs.make(env_name))

    def rollout(key: jax.Array) -> jax.Array:
        reset_key, action_key = jax.random.split(key)
        state = jax.vmap(env.reset)(jax.random.split(reset_key, num_envs))

        def one_step(state, step_key):
            action = jax.random.uniform(
                step_key, (num_envs, env.action_size), minval=-1.0, maxval=1.0
            )
            state = jax.vmap(env.step)(state, action)
            return state, state.metrics["success"].sum()

        _, successes = jax.lax.scan(one_step, state, jax.random.split(action_key, num_steps))
        return successes.sum()

    return jax.jit(rollout)


def measure(env_name: str, num_envs: int, target_env_steps: int = 100_000) -> EnvResult:
    num_steps = int(min(1000, max(20, target_env_steps // num_envs)))
    rollout = make_rollout(env_name, num_envs, num_steps)
    key = jax.random.key(0)
    start = time.perf_counter()
    compiled = rollout.lower(key).compile()
    compile_seconds = time.perf_counter() - start
    jax.block_until_ready(compiled(key))  # warm-up: first-call allocations
    start = time.perf_counter()
    jax.block_until_ready(compiled(jax.random.key(1)))
    run_seconds = time.perf_counter() - start
    return EnvResult(env_name, num_envs, num_steps, compile_seconds, run_seconds)


def table(results: list[EnvResult]) -> str:
    lines = [
        "| env | envs | control steps/s | compile (s) | timed run |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.env} | {r.num_envs:,} | {r.steps_per_second:,.0f} | "
            f"{r.compile_seconds:.1f} | {r.num_steps} steps in {r.run_seconds:.2f} s |"
        )
    return "\n".join(lines)
