"""Control steps per second of the environments against the number of parallel copies, in the two
ways they are stepped:

- ``scan``: ``num_steps`` steps of ``num_envs`` auto-resetting environments under random actions,
  inside one ``lax.scan`` (as training runs them; ``make_rollout``);
- ``loop``: the pattern docs/environments.md shows,
  ``jax.jit(jax.vmap(AutoResetWrapper(env).step))`` called from a Python loop, one dispatch per
  step (as a user's own code would).

Compile time is reported apart from the run, which is timed after a warm-up call.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax

import envs
from jaxik.host import outputs

PATTERNS = ("scan", "loop")


def make_rollout(env_name: str, num_envs: int, num_steps: int, **env_overrides: Any):
    """A jitted ``rollout(key) -> (episodes ended, successes, mean reward)``: ``num_envs``
    auto-resetting environments stepped ``num_steps`` times with uniform random actions, in one
    ``lax.scan`` (as training steps them)."""
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


@dataclasses.dataclass(frozen=True)
class EnvResult:
    env: str
    pattern: str  # "scan" or "loop"
    num_envs: int
    num_steps: int
    compile_seconds: float
    run_seconds: float

    @property
    def steps_per_second(self) -> float:
        return self.num_envs * self.num_steps / self.run_seconds


TARGET_ENV_STEPS = {"cpu": 100_000}
"""Environment steps a timed run aims at, per backend (others: ``ACCELERATOR_ENV_STEPS``)."""
ACCELERATOR_ENV_STEPS = 2_000_000
"""On a GPU 100,000 steps of PandaReach take 0.02 s at 4,096 environments (NVIDIA H100):
too short to time well, so accelerators run 20 times as many."""


def steps_for(num_envs: int, backend: str | None = None) -> int:
    """Control steps of one timed run of ``num_envs`` environments: about the backend's target
    of environment steps, between 20 and 1,000 steps."""
    backend = backend or jax.default_backend()
    target = TARGET_ENV_STEPS.get(backend, ACCELERATOR_ENV_STEPS)
    return int(min(1000, max(20, target // num_envs)))


def measure(env_name: str, num_envs: int, pattern: str = "scan", **env_overrides: Any) -> EnvResult:
    num_steps = steps_for(num_envs)
    measure_pattern = {"scan": _measure_scan, "loop": _measure_loop}[pattern]
    compile_seconds, run_seconds = measure_pattern(env_name, num_envs, num_steps, env_overrides)
    return EnvResult(env_name, pattern, num_envs, num_steps, compile_seconds, run_seconds)


def _measure_scan(env_name, num_envs, num_steps, overrides) -> tuple[float, float]:
    rollout = make_rollout(env_name, num_envs, num_steps, **overrides)
    key = jax.random.key(0)
    start = time.perf_counter()
    compiled = rollout.lower(key).compile()
    compile_seconds = time.perf_counter() - start
    jax.block_until_ready(compiled(key))  # warm-up: first-call allocations
    start = time.perf_counter()
    jax.block_until_ready(compiled(jax.random.key(1)))
    return compile_seconds, time.perf_counter() - start


def _measure_loop(env_name, num_envs, num_steps, overrides) -> tuple[float, float]:
    env = envs.AutoResetWrapper(envs.make(env_name, **overrides))
    reset_key, action_key = jax.random.split(jax.random.key(0))
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(reset_key, num_envs))
    shape = (num_steps + 1, num_envs, env.action_size)
    actions = jax.random.uniform(action_key, shape, minval=-1.0, maxval=1.0)
    start = time.perf_counter()
    step = jax.jit(jax.vmap(env.step)).lower(state, actions[0]).compile()
    compile_seconds = time.perf_counter() - start
    state = jax.block_until_ready(step(state, actions[0]))  # warm-up
    start = time.perf_counter()
    for t in range(1, num_steps + 1):
        state = step(state, actions[t])
    jax.block_until_ready(state)
    return compile_seconds, time.perf_counter() - start


def table(results: list[EnvResult]) -> str:
    lines = [
        "| env | pattern | envs | control steps/s | compile (s) | timed run |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.env} | {r.pattern} | {r.num_envs:,} | {r.steps_per_second:,.0f} | "
            f"{r.compile_seconds:.1f} | {r.num_steps} steps in {r.run_seconds:.2f} s |"
        )
    return "\n".join(lines)


def plot(path, results: list[EnvResult]) -> None:
    lines = {}
    for name in dict.fromkeys((r.env, r.pattern) for r in results):
        rows = [r for r in results if (r.env, r.pattern) == name]
        lines[f"{name[0]} ({name[1]})"] = (
            [r.num_envs for r in rows],
            [r.steps_per_second for r in rows],
        )
    with outputs.saved_figure(path, (5.5, 3.8)) as axis:
        outputs.log_lines(axis, lines, "environments", "control steps/s")
