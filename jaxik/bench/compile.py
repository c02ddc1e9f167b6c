"""Where compile time goes: trace, lower and XLA-compile time of each program a training run builds,
and of each piece of them compiled alone, with the persistent compilation cache off.

Pieces (at the configuration's shapes): the batched training env step under ee and joints control,
the IK alone, one evaluation, one HER sample, one gradient update, an iteration's updates
(``learn``), then the programs a run compiles (jaxik.host.pieces): ``init`` and the two halves of a
chunk, ``iterations`` and ``evaluation`` (compiled side by side), the chunk as one program for
comparison, and the iterations piece of 8 seeds (``pieces.vmap_runs``). The pieces overlap (a chunk
holds them all), so their times do not add up; each says what that piece would cost if it were the
only one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import envs
from jaxik.config import TrainConfig
from jaxik.device import agents
from jaxik.device import trainer as trainer_lib
from jaxik.host import outputs, pieces, scan

SEEDS = 8


@dataclasses.dataclass
class CompileTiming:
    algo: str  # "all" for pieces that do not depend on the algorithm
    program: str
    trace_seconds: float  # Python to jaxpr
    lower_seconds: float  # jaxpr to StableHLO
    compile_seconds: float  # XLA: HLO passes and code generation

    @property
    def total_seconds(self) -> float:
        return self.trace_seconds + self.lower_seconds + self.compile_seconds


def time_program(
    function: Callable, *args, options: dict | None = None
) -> tuple[float, float, float]:
    """Seconds to trace, lower and compile ``jax.jit(function)`` for ``args`` (abstract or
    concrete), with XLA's compiler ``options``."""
    start = time.perf_counter()
    traced = jax.jit(function).trace(*args)
    after_trace = time.perf_counter()
    lowered = traced.lower()
    after_lower = time.perf_counter()
    lowered.compile(compiler_options=options)
    return after_trace - start, after_lower - after_trace, time.perf_counter() - after_lower


def _timing(algo: str, name: str, function: Callable, *args, piece: str = "") -> CompileTiming:
    """``name``'s timing; a ``piece`` of a run compiles with the options the run uses."""
    options = pieces.compiler_options(piece) if piece else None
    return CompileTiming(algo, name, *time_program(function, *args, options=options))


def _warm_up() -> None:
    """JAX's first trace and compile in a process pay one-off costs; keep them out of the table."""
    jax.jit(lambda x: jnp.sin(x) @ x).lower(jnp.ones((4, 4))).compile()


def env_pieces(cfg: TrainConfig) -> list[CompileTiming]:
    """The batched auto-resetting step under both control types, and the IK alone, at
    ``num_envs`` (Panda environments only)."""
    timings = []
    key = jax.random.key(0)
    keys = jax.random.split(key, cfg.num_envs)
    overrides = {k: v for k, v in cfg.env_config.items() if k != "control_type"}
    for control in ("ee", "joints"):
        env = envs.AutoResetWrapper(envs.make(cfg.env, control_type=control, **overrides))
        state = jax.eval_shape(jax.vmap(env.reset), keys)
        action = jax.ShapeDtypeStruct((cfg.num_envs, env.action_size), jnp.float32)
        step = jax.vmap(env.step)
        timings.append(_timing("all", f"env step, {control} control", step, state, action))
    env = envs.make(cfg.env, control_type="ee", **overrides)
    qpos = jax.ShapeDtypeStruct((cfg.num_envs, env.mj_model.nq), jnp.float32)
    action = jax.ShapeDtypeStruct((cfg.num_envs, 3), jnp.float32)
    timings.append(_timing("all", "IK alone", jax.vmap(env.servo_targets), qpos, action))
    return timings


def algo_pieces(cfg: TrainConfig, algo: str, with_shared: bool) -> list[CompileTiming]:
    """One update, an iteration's updates, init, chunk and the vmapped chunk of ``algo``; with
    ``with_shared`` also the evaluation and the HER sample (the same for every algorithm)."""
    cfg = scan.with_values(cfg, {"algo": algo})
    trainer, stages = trainer_lib.make_trainer(cfg), trainer_lib.make_stages(cfg)
    key = jax.random.key(0)
    state = jax.eval_shape(trainer.init, key)
    timings = []
    if with_shared:
        timings.append(_timing("all", "evaluation", stages.evaluate, state, key))
        timings.append(_timing("all", "HER sample", stages.sample, state, key))
    batch = jax.eval_shape(stages.sample, state, key)
    agent = agents.make(cfg, batch.x.shape[-1], batch.action.shape[-1])

    def one_update(state, batch, key):
        return agent.update(state.agent, batch, key, state.hp)

    keys = jax.vmap(jax.random.key)(np.arange(SEEDS))
    states = jax.eval_shape(jax.vmap(trainer.init), keys)
    for name, function, args, piece in (
        ("one update", one_update, (state, batch, key), ""),
        (
            f"learn ({cfg.updates_per_iteration} updates + samples)",
            stages.learn,
            (state, key),
            "",
        ),
        ("init", trainer.init, (key,), "init"),
        ("iterations piece (a program)", trainer.iterations, (state,), "iterations"),
        ("evaluation piece (a program)", trainer.evaluation, (state,), "evaluation"),
        ("chunk as one program", trainer.chunk, (state,), ""),
        (
            f"iterations piece, {SEEDS} seeds vmapped",
            pieces.vmap_runs(trainer.iterations),
            (states,),
            "iterations",
        ),
    ):
        timings.append(_timing(algo, name, function, *args, piece=piece))
    return timings


def measure(base: TrainConfig, algos: list[str], report: Callable[[CompileTiming], None]):
    """Every timing, in table order; ``report`` sees each as soon as it is measured."""
    _warm_up()
    timings = []
    found = env_pieces(base) if base.env.startswith("Panda") else []
    for index, algo in enumerate(algos):
        found += algo_pieces(base, algo, with_shared=index == 0)
        for timing in found:
            report(timing)
        timings += found
        found = []
    return timings


def table(timings: list[CompileTiming]) -> str:
    lines = [
        "| algorithm | program | trace (s) | lower (s) | compile (s) | total (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for t in timings:
        lines.append(
            f"| {t.algo.upper()} | {t.program} | {t.trace_seconds:.2f} | {t.lower_seconds:.2f} "
            f"| {t.compile_seconds:.2f} | {t.total_seconds:.2f} |"
        )
    return "\n".join(lines)


def plot(path, timings: list[CompileTiming]) -> None:
    with outputs.saved_figure(path, (9, 4.2)) as axis:
        labels = [f"{t.algo.upper()}\n{t.program}" for t in timings]
        x = np.arange(len(timings))
        bottom = np.zeros(len(timings))
        for name in ("trace", "lower", "compile"):
            heights = np.asarray([getattr(t, f"{name}_seconds") for t in timings])
            axis.bar(x, heights, bottom=bottom, label=name)
            bottom += heights
        axis.set_xticks(x, labels, fontsize=5, rotation=60, ha="right")
        axis.set(ylabel="seconds")
        axis.legend()
