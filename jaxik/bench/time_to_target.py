"""Time from start to the success target of ``train.py``, with a cold and a warm compilation cache.

Each measurement is a fresh process (``python train.py --config ... stop_on_success=true``), timed
from before its start to its exit, so imports and compilation count. The first run gets an empty
compilation cache (a fresh machine); the second reuses what the first stored.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jaxik.host import executables, outputs

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class TrainTiming:
    cache: str  # "cold" or "warm"
    process_seconds: float  # process start to exit
    compile_seconds: float
    solved: bool
    solved_env_steps: float | None
    seconds_to_target: float | None  # from the start of run() to the solving evaluation
    seconds_to_target_after_compile: float | None
    eval_success: float
    settings: str = ""  # the overrides that tell this run from the others of its table


def measure(
    config: Path,
    out: Path,
    overrides: list[str],
    caches: tuple[str, ...] = ("cold", "warm"),
    settings: str = "",
) -> list[TrainTiming]:
    """One process per entry of ``caches`` ("cold", then "warm" reusing what it stored), the
    first run's time to the target; ``settings`` labels the rows (and names their folders)."""
    timings = []
    with tempfile.TemporaryDirectory() as cache_dir:
        for cache in caches:
            run_out = out / "-".join(["train", *settings.replace("=", "-").split(), cache])
            command = [sys.executable, "train.py", "--config", str(config), "--out", str(run_out)]
            command += ["stop_on_success=true", *overrides]
            start = time.perf_counter()
            result = subprocess.run(
                command,
                cwd=ROOT,
                env={**os.environ, executables.DIR_VARIABLE: cache_dir},
                capture_output=True,
                text=True,
            )
            process_seconds = time.perf_counter() - start
            if result.returncode != 0:
                raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
            summary = json.loads((run_out / "summary.json").read_text())
            result = summary["runs"][0]
            solved = result["solved_at"] or {}
            timings.append(
                TrainTiming(
                    cache=cache,
                    process_seconds=process_seconds,
                    compile_seconds=summary["compile_seconds"],
                    solved=bool(summary["solved"]),
                    solved_env_steps=solved.get("env_steps"),
                    seconds_to_target=solved.get("wall_seconds"),
                    seconds_to_target_after_compile=solved.get("train_seconds"),
                    eval_success=result["eval_success"],
                    settings=settings,
                )
            )
    return timings


def table(timings: list[TrainTiming]) -> str:
    def seconds(value):
        return "not reached" if value is None else f"{value:.1f}"

    labelled = any(t.settings for t in timings)
    lines = [
        "| " + ("settings | " if labelled else "") + "compilation cache | process start to exit "
        "(s) | compile (s) | steps to target | start to target (s) | after compilation (s) |",
        "| " + ("--- | " if labelled else "") + "--- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in timings:
        steps = "not reached" if t.solved_env_steps is None else f"{t.solved_env_steps:,.0f}"
        label = f"{t.settings} | " if labelled else ""
        lines.append(
            f"| {label}{t.cache} | {t.process_seconds:.1f} | {t.compile_seconds:.1f} | {steps} | "
            f"{seconds(t.seconds_to_target)} | {seconds(t.seconds_to_target_after_compile)} |"
        )
    return "\n".join(lines)


def plot(path, timings: list[TrainTiming]) -> None:
    names = [f"{t.settings} {t.cache}".strip() for t in timings]
    compile_s = [t.compile_seconds for t in timings]
    after = [t.seconds_to_target_after_compile or 0.0 for t in timings]
    with outputs.saved_figure(path, (5, 3.6)) as axis:
        axis.bar(names, compile_s, label="compile")
        axis.bar(names, after, bottom=compile_s, label="training to target")
        axis.set(ylabel="seconds", xlabel="compilation cache")
        axis.legend()


def comparison(timings: list[TrainTiming], sb3) -> str:
    """jaxik's runs beside Stable-Baselines3's (a vs_pandagym.Sb3Timing), with ratios: whole
    processes against SB3's whole process, training against SB3's training."""
    if not sb3.solved:
        return (
            f"Stable-Baselines3 {sb3.algo.upper()} + HER on panda-gym, same invocation: did not "
            f"reach the target in {sb3.env_steps:,} steps ({sb3.train_seconds:.1f} s of training)."
        )
    lines = [
        f"Stable-Baselines3 {sb3.algo.upper()} + HER on panda-gym (PyBullet, one environment, one "
        f"update per step), same invocation, a fresh process: {sb3.eval_success:.0%} after "
        f"{sb3.env_steps:,} steps; {sb3.train_seconds:.1f} s of training (evaluations not "
        f"counted), {sb3.process_seconds:.1f} s from process start to exit.",
        "",
        "| jaxik run | jaxik (s) | SB3 (s) | SB3 / jaxik |",
        "| --- | ---: | ---: | ---: |",
    ]
    for t in timings:
        for label, value, theirs in (
            (f"{t.cache} cache, process start to exit", t.process_seconds, sb3.process_seconds),
            (f"{t.cache} cache, training after compilation", t.seconds_to_target_after_compile,
             sb3.train_seconds),
        ):  # fmt: skip
            if value and theirs:
                lines.append(f"| {label} | {value:.1f} | {theirs:.1f} | {theirs / value:.2f}x |")
    return "\n".join(lines)
