"""Trace and compile time of each program a training run builds: init, one chunk, and a chunk
vmapped over 8 seeds, per algorithm. The persistent compilation cache is off."""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

from jaxik import outputs, scan, trainer
from jaxik.config import TrainConfig


@dataclasses.dataclass
class CompileTiming:
    algo: str
    program: str
    trace_seconds: float
    compile_seconds: float


def _time(function, *args) -> tuple[float, float]:
    start = time.perf_counter()
    lowered = jax.jit(function).lower(*args)
    traced = time.perf_counter() - start
    start = time.perf_counter()
    lowered.compile()
    return traced, time.perf_counter() - start


def measure(base: TrainConfig, algo: str) -> list[CompileTiming]:
    cfg = scan.with_values(base, {"algo": algo})
    program = trainer.make_trainer(cfg)
    key = jax.random.key(0)
    keys = jax.vmap(jax.random.key)(np.arange(8))
    state = jax.eval_shape(program.init, key)
    states = jax.eval_shape(jax.vmap(program.init), keys)
    timings = []
    for name, function, args in (
        ("init", program.init, (key,)),
        ("chunk", program.chunk, (state,)),
        ("chunk, 8 seeds vmapped", jax.vmap(program.chunk), (states,)),
    ):
        traced, compiled = _time(function, *args)
        timings.append(CompileTiming(algo, name, traced, compiled))
    return timings


def table(timings: list[CompileTiming]) -> str:
    lines = ["| algorithm | program | trace (s) | compile (s) |", "| --- | --- | ---: | ---: |"]
    for t in timings:
        lines.append(
            f"| {t.algo.upper()} | {t.program} | {t.trace_seconds:.1f} | {t.compile_seconds:.1f} |"
        )
    return "\n".join(lines)


def plot(path, timings: list[CompileTiming]) -> None:
    with outputs.saved_figure(path, (7, 3.6)) as axis:
        labels = [f"{t.algo.upper()}\n{t.program}" for t in timings]
        x = np.arange(len(timings))
        traced = [t.trace_seconds for t in timings]
        axis.bar(x, traced, label="trace")
        axis.bar(x, [t.compile_seconds for t in timings], bottom=traced, label="compile")
        axis.set_xticks(x, labels, fontsize=6)
        axis.set(ylabel="seconds")
        axis.legend()
