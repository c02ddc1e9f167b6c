"""The host side of a training run: compile once, run chunks, log, save.

The device runs one chunk (``iterations_per_eval`` iterations and an evaluation) per call; between
calls the host writes the metrics row, updates the progress bar and decides whether to stop.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from jaxik import outputs, platform, trainer
from jaxik.config import TrainConfig


def run(
    config: TrainConfig, out: Path, console: Console | None = None, cache: bool = True
) -> dict[str, Any]:
    """Trains ``config``, writes everything into ``out``, returns the summary."""
    console = console or Console()
    if cache:
        platform.enable_compilation_cache()
    start = time.perf_counter()
    writer = outputs.RunWriter(out, config.to_dict())
    program = trainer.make_trainer(config)
    key = jax.random.key(config.seed)
    state = jax.jit(program.init).lower(key).compile()(key)
    chunk = jax.jit(program.chunk, donate_argnums=0).lower(state).compile()
    compile_seconds = time.perf_counter() - start
    console.print(
        f"{config.algo.upper()} on {config.env}: {config.num_envs} environments, "
        f"{config.num_evals * config.eval_every:,} steps; compiled in {compile_seconds:.1f} s"
    )

    solved_at: dict[str, float] | None = None
    run_start = time.perf_counter()
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(
                "env steps", total=config.num_evals * config.eval_every, status=""
            )
            for _ in range(config.num_evals):
                state, metrics = chunk(state)
                row = metrics_row(metrics)
                row["wall_seconds"] = time.perf_counter() - start
                writer.add(row)
                speed = row["env_steps"] / (time.perf_counter() - run_start)
                status = (
                    f"success {row['eval_success']:.0%}  return {row['eval_return']:.2f}  "
                    f"{speed:,.0f} steps/s"
                )
                progress.update(task, completed=int(row["env_steps"]), status=status)
                if solved_at is None and row["eval_success"] >= config.success_target:
                    solved_at = {
                        "env_steps": row["env_steps"],
                        "wall_seconds": row["wall_seconds"],
                        "seconds_after_compile": row["wall_seconds"] - compile_seconds,
                    }
                    if config.stop_on_success:
                        break
    finally:
        writer.close()
    wall_seconds = time.perf_counter() - start

    params = {"agent": state.agent, "normalizer": state.normalizer}
    checkpoint = outputs.save_checkpoint(out, jax.device_get(params))
    title = f"{config.algo.upper()} on {config.env}, seed {config.seed}"
    curve = {name: [row[name] for row in writer.rows] for name in FIRST_COLUMNS[:3]}
    outputs.plot_learning_curves(
        Path(out) / "learning_curve.png", title, {config.algo.upper(): curve}, config.success_target
    )
    last = writer.rows[-1]
    summary = {
        "algo": config.algo,
        "env": config.env,
        "seed": config.seed,
        "eval_success": last["eval_success"],
        "eval_return": last["eval_return"],
        "env_steps": int(last["env_steps"]),
        "wall_seconds": wall_seconds,
        "compile_seconds": compile_seconds,
        "steps_per_second": last["env_steps"] / (wall_seconds - compile_seconds),
        "success_target": config.success_target,
        "solved": solved_at is not None,
        "solved_at": solved_at,
        "checkpoint": str(checkpoint),
        "device": str(jax.devices()[0].device_kind),
    }
    outputs.write_summary(out, summary)
    return summary


FIRST_COLUMNS = ("env_steps", "eval_success", "eval_return", "eval_length", "train_success")


def metrics_row(metrics: dict[str, Any]) -> dict[str, float]:
    """A chunk's metrics as host floats, the most read columns first."""
    names = [n for n in FIRST_COLUMNS if n in metrics]
    names += sorted(set(metrics) - set(names))
    return {name: float(np.asarray(metrics[name])) for name in names}


def describe(summary: dict[str, Any]) -> str:
    """One paragraph for the terminal."""
    text = (
        f"Last evaluation: {summary['eval_success']:.0%} success, return "
        f"{summary['eval_return']:.2f}, after {summary['env_steps']:,} environment steps in "
        f"{summary['wall_seconds']:.1f} s ({summary['compile_seconds']:.1f} s of it compiling)."
    )
    solved = summary["solved_at"]
    target = f"{summary['success_target']:.0%}"
    if solved:
        text += (
            f" Reached {target} evaluation success after {int(solved['env_steps']):,} steps, "
            f"{solved['wall_seconds']:.1f} s from the start "
            f"({solved['seconds_after_compile']:.1f} s after compilation)."
        )
    else:
        text += f" Did not reach {target} evaluation success."
    if not math.isfinite(summary["eval_return"]):
        text += " The return is not finite: the run diverged."
    return text
