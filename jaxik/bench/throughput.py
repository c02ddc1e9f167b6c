"""Training throughput: environment steps/s and gradient updates/s of the compiled training
iterations (collection, buffer insert, updates; no evaluation), against the number of
environments and the batch size."""

from __future__ import annotations

import dataclasses
import time

import jax

from jaxik.config import TrainConfig
from jaxik.device import trainer as trainer_lib
from jaxik.host import outputs, scan

ITERATIONS = 64  # per timed call


@dataclasses.dataclass
class Throughput:
    num_envs: int
    batch_size: int
    env_steps: int  # counted on the device over the timed calls (the iteration counter)
    updates: int  # counted on the device: steps of the critic's optimiser
    seconds: float  # the timed calls
    compile_seconds: float

    @property
    def env_steps_per_second(self) -> float:
        return self.env_steps / self.seconds

    @property
    def updates_per_second(self) -> float:
        return self.updates / self.seconds


def counters(state) -> tuple[int, int]:
    """(environment steps, gradient updates) the training state has done."""
    num_envs = jax.tree.leaves(state.env_state.obs)[0].shape[0]
    return int(state.iteration) * num_envs, int(state.agent.updates)


def measure(base: TrainConfig, num_envs: int, batch_size: int, repeats: int = 3) -> Throughput:
    """Times ``repeats`` calls of ITERATIONS iterations each, after one untimed call, with
    learning on from the first step (learning_starts=0)."""
    cfg = scan.with_values(
        base,
        {"num_envs": num_envs, "batch_size": batch_size, "learning_starts": 0,
         "eval_every": ITERATIONS * num_envs},
    )  # fmt: skip
    trainer, stages = trainer_lib.make_trainer(cfg), trainer_lib.make_stages(cfg)
    key = jax.random.key(cfg.seed)
    start = time.perf_counter()
    state = jax.jit(trainer.init)(key)
    iterate = jax.jit(stages.iterate, donate_argnums=0).lower(state).compile()
    compile_seconds = time.perf_counter() - start
    state, _ = jax.block_until_ready(iterate(state))
    steps_before, updates_before = counters(state)
    start = time.perf_counter()
    for _ in range(repeats):
        state, _ = iterate(state)
    jax.block_until_ready(state)
    seconds = time.perf_counter() - start
    steps_after, updates_after = counters(state)
    return Throughput(
        num_envs=num_envs,
        batch_size=batch_size,
        env_steps=steps_after - steps_before,
        updates=updates_after - updates_before,
        seconds=seconds,
        compile_seconds=compile_seconds,
    )


def table(results: list[Throughput]) -> str:
    lines = [
        "| environments | batch size | env steps/s | gradient updates/s | compile (s) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.num_envs:,} | {r.batch_size:,} | {r.env_steps_per_second:,.0f} | "
            f"{r.updates_per_second:,.0f} | {r.compile_seconds:.1f} |"
        )
    return "\n".join(lines)


def plot(path, results: list[Throughput]) -> None:
    steps, updates = {}, {}
    for batch in sorted({r.batch_size for r in results}):
        rows = [r for r in results if r.batch_size == batch]
        envs = [r.num_envs for r in rows]
        steps[f"batch {batch}"] = (envs, [r.env_steps_per_second for r in rows])
        updates[f"batch {batch}"] = (envs, [r.updates_per_second for r in rows])
    with outputs.saved_figure(path, (10, 3.6), panels=2) as axes:
        outputs.log_lines(axes[0], steps, "environments", "environment steps/s")
        outputs.log_lines(axes[1], updates, "environments", "gradient updates/s")
