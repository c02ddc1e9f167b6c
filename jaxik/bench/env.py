"""Control steps per second of the environments against the number of parallel copies.

Each measurement compiles one program: ``num_steps`` steps of ``num_envs`` auto-resetting
environments under random actions, in a ``lax.scan`` (as training runs them). Compile time is
reported apart from the run, which is timed on a second call.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax

from jaxik import outputs
from jaxik.random_rollout import make_rollout


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


def measure(
    env_name: str, num_envs: int, target_env_steps: int = 100_000, **env_overrides: Any
) -> EnvResult:
    num_steps = int(min(1000, max(20, target_env_steps // num_envs)))
    rollout = make_rollout(env_name, num_envs, num_steps, **env_overrides)
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


def plot(path, results: list[EnvResult]) -> None:
    lines = {}
    for name in dict.fromkeys(r.env for r in results):
        rows = [r for r in results if r.env == name]
        lines[name] = ([r.num_envs for r in rows], [r.steps_per_second for r in rows])
    with outputs.saved_figure(path, (5, 3.6)) as axis:
        outputs.log_lines(axis, lines, "environments", "control steps/s")
