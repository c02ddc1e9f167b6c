"""Evaluation success within a wall-clock budget: ``train.py`` stopped after a number of minutes,
and (``--vs-pandagym``) Stable-Baselines3 on panda-gym given the same minutes.

    python -m jaxik.bench budget --config configs/recipes/push.yaml --minutes 30 [--vs-pandagym]

jaxik: ``train.py --config ...`` in a fresh process, sent Ctrl-C once the budget has passed since
its start (the chunk under way finishes and is checkpointed; the run folder is kept as
--out/train, its output as --out/train.log). It gets an empty cache of compiled programs
(``$JAXIK_CACHE_DIR``, jaxik.host.executables), so its compiling counts as on a fresh machine:
the cache's key leaves out seeds and float hyperparameters, and a run after another of the same
shapes would otherwise load its programs and start about a hundred seconds sooner. With
``--warm-cache`` it uses the user's cache. Its curve is the evaluations of metrics.csv, each
placed at its seconds from process start: its ``wall_seconds`` (from the start of training) plus
the process's start-up, taken as the process's whole time less the last row's ``wall_seconds``,
an upper bound (it also holds the last checkpoint's save and the exit). Evaluations run inside
the compiled loop and count.

Stable-Baselines3 (jaxik.bench.vs_pandagym.within_budget): the config's algorithm + HER on the
config's panda-gym task in a fresh process, the same minutes from that process's start, its
evaluations not counted.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jaxik.host import executables, outputs, statistics

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class Curve:
    """One learner's evaluations within (and at the end of) the budget."""

    learner: str  # "jaxik" or "Stable-Baselines3"
    budget_seconds: float
    env_steps: list[float]  # per evaluation (per seed)
    seconds: list[float]  # from process start, per evaluation
    success: list[float]  # evaluation success per evaluation (median over seeds)
    seeds: int = 1
    process_seconds: float | None = None  # start to exit
    updates: float | None = None  # gradient updates per seed within the budget, where known
    compile_seconds: float | None = None  # building and compiling the programs, where known

    def _inside(self) -> list[tuple[float, float, float]]:
        """(env steps, seconds, success) of the evaluations within the budget."""
        points = zip(self.env_steps, self.seconds, self.success, strict=True)
        return [p for p in points if p[1] <= self.budget_seconds]

    @property
    def final_success(self) -> float | None:
        """Success at the last evaluation within the budget."""
        inside = self._inside()
        return inside[-1][2] if inside else None

    @property
    def final_env_steps(self) -> float | None:
        inside = self._inside()
        return inside[-1][0] if inside else None

    @property
    def best_success(self) -> float | None:
        inside = self._inside()
        return max(p[2] for p in inside) if inside else None

    def first_reached(self, target: float) -> tuple[float, float] | None:
        """(env steps, seconds from process start) of the first evaluation at ``target``."""
        for steps, seconds, success in self._inside():
            if statistics.reached(success, target):
                return steps, seconds
        return None


def updates(cfg, env_steps: float) -> float:
    """Gradient updates per seed a jaxik run of TrainConfig ``cfg`` has made after
    ``env_steps``: ``updates_per_iteration`` in every iteration that starts with at least
    ``learning_starts`` steps collected."""
    iterations = env_steps // cfg.num_envs
    first = math.ceil(cfg.learning_starts / cfg.num_envs)
    return float(max(0, iterations - first) * cfg.updates_per_iteration)


def interrupt_after(process: subprocess.Popen, seconds: float) -> None:
    """Waits for ``process`` up to ``seconds``, then sends it Ctrl-C (the chunk under way
    finishes and is saved) and waits for it to end. Should this process stop first (SIGTERM,
    Ctrl-C, an error), ``process`` is stopped too, rather than training on alone for the rest of
    its budget."""
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _exit_on_signal(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def run_jaxik(
    cfg, config: Path, overrides: list[str], seconds: float, out: Path, swept: tuple[str, ...] = (),
    warm_cache: bool = False,
) -> list[Curve]:  # fmt: skip
    """``train.py`` in a fresh process, Ctrl-C after ``seconds``; its evaluations as Curves, one
    per setting of the float fields ``swept`` (``cfg``: the TrainConfig that ``config`` and
    ``overrides`` make). Unless ``warm_cache``, its cache of compiled programs starts empty."""
    run_out = out / "train"
    command = [sys.executable, "train.py", "--config", str(config), "--out", str(run_out)]
    command += [*overrides]
    out.mkdir(parents=True, exist_ok=True)
    log = out / "train.log"  # a file, not a pipe: a full pipe would stall the run
    with tempfile.TemporaryDirectory(prefix="jaxik-budget-programs-") as empty:
        environment = dict(os.environ)
        if not warm_cache:
            environment[executables.DIR_VARIABLE] = empty
        start = time.perf_counter()
        with open(log, "w") as output:
            process = subprocess.Popen(
                command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
            )
            interrupt_after(process, seconds)
        process_seconds = time.perf_counter() - start
    if process.returncode not in (0, 130, -signal.SIGINT):
        raise SystemExit(f"{' '.join(command)} failed:\n{log.read_text()[-3000:]}")
    rows = outputs.read_metrics(run_out / "metrics.csv")
    if not rows:
        raise SystemExit(f"{' '.join(command)} finished no evaluation in {seconds:.0f} s")
    curves = curves_from_metrics(cfg, rows, seconds, process_seconds, swept)
    summary = run_out / "summary.json"
    if summary.is_file():
        compile_seconds = json.loads(summary.read_text())["compile_seconds"]
        curves = [dataclasses.replace(c, compile_seconds=compile_seconds) for c in curves]
    return curves


def curves_from_metrics(
    cfg, rows: list[dict[str, float]], seconds: float, process_seconds: float,
    swept: tuple[str, ...] = (),
) -> list[Curve]:  # fmt: skip
    """metrics.csv's ``rows`` as one Curve per setting of the float fields ``swept`` (their
    columns), each the median over that setting's seeds per evaluation, placed at seconds from
    process start: ``wall_seconds`` plus the start-up, the process's whole time less the last
    row's ``wall_seconds`` (an upper bound: it also holds the last save and the exit)."""
    start_up = process_seconds - rows[-1]["wall_seconds"]
    settings: dict[tuple[float, ...], dict[float, list[dict[str, float]]]] = {}
    for row in rows:
        setting = settings.setdefault(tuple(row[name] for name in swept), {})
        setting.setdefault(row["env_steps"], []).append(row)
    curves = []
    for values, chunks in settings.items():
        steps = sorted(chunks)
        label = ", ".join(f"{name}={value:g}" for name, value in zip(swept, values, strict=True))
        curve = Curve(
            learner=f"jaxik {label}" if label else "jaxik",
            budget_seconds=seconds,
            env_steps=steps,
            seconds=[chunks[n][0]["wall_seconds"] + start_up for n in steps],
            success=[float(np.median([r["eval_success"] for r in chunks[n]])) for n in steps],
            seeds=len(chunks[steps[0]]),
            process_seconds=process_seconds,
        )
        if curve.final_env_steps is not None:
            curve.updates = updates(cfg, curve.final_env_steps)
        curves.append(curve)
    return curves


def run_sb3(config: Path, overrides: list[str], seconds: float) -> Curve:
    """Stable-Baselines3 in a fresh process given ``seconds`` from its start."""
    command = [sys.executable, "-m", "jaxik.bench.vs_pandagym", "--budget", str(seconds)]
    command += ["--started", repr(time.time()), str(config), *overrides]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    process_seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    values = json.loads(result.stdout.strip().splitlines()[-1])
    return Curve(learner="Stable-Baselines3", budget_seconds=seconds,
                 process_seconds=process_seconds, **values)  # fmt: skip


def percent(value: float | None) -> str:
    """A success as "86%", or "-" where no evaluation finished within the budget."""
    return "-" if value is None else f"{value:.0%}"


def table(curves: list[Curve], target: float) -> str:
    def reached(curve):
        found = curve.first_reached(target)
        if found is None:
            return "not reached"
        return f"{found[0]:,.0f} steps, {found[1] / 60:.1f} min"

    def steps(value):
        return "-" if value is None else f"{value:,.0f}"

    def seconds(value):
        return "-" if value is None else f"{value:.0f}"

    header = " | ".join(c.learner for c in curves)
    lines = [f"| | {header} |", "| --- |" + " ---: |" * len(curves)]
    rows = (
        ("seeds (median shown)", lambda c: str(c.seeds)),
        ("env steps per seed, last evaluation in budget", lambda c: steps(c.final_env_steps)),
        ("evaluation success, last evaluation in budget", lambda c: percent(c.final_success)),
        ("best evaluation success in the budget", lambda c: percent(c.best_success)),
        (f"first at {target:.0%} (from process start)", reached),
        ("gradient updates per seed", lambda c: steps(c.updates)),
        ("compiling (s, within the minutes)", lambda c: seconds(c.compile_seconds)),
    )  # fmt: skip
    for name, cell in rows:
        lines.append(f"| {name} | " + " | ".join(cell(c) for c in curves) + " |")
    return "\n".join(lines)


def plot(path: Path, curves: list[Curve]) -> None:
    with outputs.saved_figure(path, (5.5, 3.6)) as axis:
        for curve in curves:
            minutes = np.asarray(curve.seconds) / 60
            axis.plot(minutes, np.asarray(curve.success) * 100, marker=".", label=curve.learner)
        if curves:
            budget = curves[0].budget_seconds / 60
            axis.axvline(budget, color="grey", linestyle=":", label="budget")
        axis.set(xlabel="minutes from process start", ylabel="evaluation success (%)")
        axis.set_ylim(0, 100)
        axis.legend()
