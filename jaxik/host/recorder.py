"""Where a program's results go: the host loop hands each chunk's metrics to one ``Recorder``.

The recorder is the only reader of the metrics. Per chunk (``add``) it turns the [runs] leaves
into one row per run, writes the rows to metrics.csv and TensorBoard as they arrive (an
interrupted run keeps every row written before it stopped) and notes the first evaluation at
which each run reached ``success_target``. At the end (``finish``) it aggregates the runs per
setting over their seeds (``statistics``) and writes learning_curve.png, results.csv,
results.md, sweep.png and summary.json, and returns the summary. A scan of several programs
ends with ``finish_scan``, which writes the scan's table, plot and summary from the programs'
summaries. ``describe`` is the summary as a paragraph for the terminal; ``read`` gives a
finished program's summary and curves back from its folder (for reports built on top, such as
jaxik.reproduce).

Every program is a scan of one or more runs, so there is one layout: a single run is the case
``num_runs == 1``. The file formats themselves are jaxik.host.outputs.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from jaxik.host import outputs, statistics
from jaxik.host import scan as scan_lib
from jaxik.host.checkpoint import CheckpointError

FIRST_COLUMNS = ("env_steps", "eval_success", "eval_return", "eval_length", "train_success")


@dataclasses.dataclass
class HostRecord:
    """The host's side of a program's progress, saved as JSON with every checkpoint; its one
    writer is the program's ``Recorder``.

    The seconds are summed over every process that worked on the program, so a resumed run's
    rates and times to target count all of its work: ``compile_seconds`` (building, restoring
    and compiling), ``train_seconds`` (running chunks and logging them) and ``wall_seconds``
    (everything, checkpoint writes included).
    """

    config: dict[str, Any]  # the program's configuration (scan.Program.to_dict)
    chunks: int = 0  # chunks (evaluations) done
    rows: list[dict[str, float]] = dataclasses.field(default_factory=list)  # metrics.csv rows
    solved_at: list[dict[str, float] | None] = dataclasses.field(default_factory=list)
    """Per run: env_steps, wall_seconds and train_seconds at its first evaluation that reached
    success_target, or None."""
    compile_seconds: float = 0.0
    train_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def env_steps(self) -> int:
        """Environment steps per run so far: the newest row's, as the device counted them."""
        return int(self.rows[-1]["env_steps"]) if self.rows else 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any], where: Path) -> HostRecord:
        names = {field.name for field in dataclasses.fields(cls)}
        if not isinstance(values, dict) or set(values) != names:
            keys = sorted(values) if isinstance(values, dict) else values
            raise CheckpointError(
                f"the checkpoint {where} holds a host record with keys {keys}, expected "
                f"{sorted(names)}: it was written by another version of jaxik"
            )
        return cls(**values)


class Recorder:
    """One program's results, from its first chunk to its summary.

    It owns the program's ``HostRecord`` (``record``; restored from a checkpoint when resuming)
    and is its only writer: ``add`` counts the chunk, its time and its rows in it, so that the
    record saved with a checkpoint always matches the rows written. Only the main process
    writes files (``is_main``).
    """

    def __init__(
        self,
        out: Path,
        program: scan_lib.Program,
        record: HostRecord,
        compile_seconds: float,
        is_main: bool = True,
    ):
        self.out = Path(out)
        self.program = program
        self.record = record
        self.record.compile_seconds += compile_seconds
        self.is_main = is_main
        self.labels = run_labels(program)
        self.writer = outputs.RunWriter(
            out, program.to_dict(), record.rows, tensorboard=len(program.runs) == 1,
            is_main=is_main,
        )  # fmt: skip

    def add(
        self, metrics: dict[str, Any], chunk_seconds: float, wall_seconds: float
    ) -> tuple[float, int]:
        """Records one chunk: its ``metrics`` (host arrays, leaves [runs]), the seconds it took
        and the program's wall-clock seconds so far (all processes). Returns the mean evaluation
        success over runs and how many runs have reached the target so far."""
        record = self.record
        record.chunks += 1
        record.train_seconds += chunk_seconds
        record.wall_seconds = wall_seconds
        for i, labels in enumerate(self.labels):
            row = {**labels, **metrics_row(metrics, i), "wall_seconds": wall_seconds}
            record.rows.append(row)
            self.writer.add(row)
        success = np.asarray(metrics["eval_success"])
        target = self.program.config.success_target
        for i, value in enumerate(success):
            if record.solved_at[i] is None and statistics.reached(value, target):
                record.solved_at[i] = {
                    "env_steps": float(record.env_steps),
                    "wall_seconds": wall_seconds,
                    "train_seconds": record.train_seconds,
                }
        return float(success.mean()), sum(s is not None for s in record.solved_at)

    def close(self) -> None:
        self.writer.close()

    def finish(self, **extra: Any) -> dict[str, Any]:
        """The program's summary (``extra`` added to it); the main process writes it with the
        learning curves, the per-setting table and the sweep plot."""
        result = {**program_summary(self.program, self.record), **extra}
        if self.is_main:
            plot_curves(self.out / "learning_curve.png", self.program, self.record.rows)
            swept = list(self.program.static) + list(self.program.float_sweep)
            target = self.program.config.success_target
            outputs.write_results_table(self.out, result["settings"], swept)
            outputs.plot_sweep(self.out / "sweep.png", result["settings"], swept, target)
            outputs.write_summary(self.out, result)
        return result


def finish_scan(
    out: Path, scan: scan_lib.Scan, summaries: list[dict[str, Any]], is_main: bool = True
) -> dict[str, Any]:
    """The summary of a scan of several programs, from theirs; unless it was interrupted, the
    main process writes the scan's table, plot and summary into ``out``."""
    interrupted = summaries[-1]["interrupted"]
    table = [row for s in summaries for row in s["settings"]]
    combined = {
        "scan": scan.to_dict(),
        "programs": [s["program"] for s in summaries],
        "settings": table,
        "wall_seconds": sum(s["wall_seconds"] for s in summaries),
        "interrupted": interrupted,
    }
    if is_main and not interrupted:
        outputs.write_results_table(out, table, list(scan.sweep))
        outputs.plot_sweep(out / "sweep.png", table, list(scan.sweep), scan.base.success_target)
        outputs.write_summary(out, combined)
    return combined


def read(folder: Path, names: list[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A finished program's summary.json and its metrics ``names`` as arrays [runs, chunks],
    read back from its folder."""
    saved = json.loads((Path(folder) / "summary.json").read_text())
    rows = outputs.read_metrics(Path(folder) / "metrics.csv")
    return saved, curves(rows, saved["num_runs"], names)


def run_labels(program: scan_lib.Program) -> list[dict[str, Any]]:
    """Per run: its index, seed and swept float values (the first metrics.csv columns)."""
    return [
        {"run": i, "seed": r.seed, **{name: getattr(r, name) for name in program.float_sweep}}
        for i, r in enumerate(program.runs)
    ]


def metrics_row(metrics: dict[str, Any], run: int) -> dict[str, float]:
    """Run ``run``'s metrics of one chunk (leaves [runs]) as host floats, most read first."""
    names = [n for n in FIRST_COLUMNS if n in metrics]
    names += sorted(set(metrics) - set(names))
    return {name: float(np.asarray(metrics[name])[run]) for name in names}


def curves(rows: list[dict[str, float]], num_runs: int, names: list[str]) -> dict[str, np.ndarray]:
    """Metrics rows (per run and chunk, as metrics.csv holds them) as arrays [runs, chunks]."""
    per_run: list[list[dict[str, float]]] = [[] for _ in range(num_runs)]
    for row in rows:
        per_run[int(row["run"])].append(row)
    return {name: np.asarray([[row[name] for row in run] for run in per_run]) for name in names}


def program_summary(program: scan_lib.Program, record: HostRecord) -> dict[str, Any]:
    """Each run's final results (every metric of its last chunk), then per setting (float
    values) and overall aggregates over seeds: mean, std, interquartile mean, 95 % bootstrap CI.
    ``record`` is the program's ``HostRecord``; its times are summed over every process that
    worked on the program."""
    config = program.config
    final = {int(row["run"]): row for row in record.rows}  # the last row of each run
    per_run = []
    for i, r in enumerate(program.runs):
        solved = record.solved_at[i]
        last = {k: v for k, v in final[i].items() if k not in ("run", "seed", "wall_seconds")}
        per_run.append(
            {
                "seed": r.seed,
                **{name: getattr(r, name) for name in program.float_sweep},
                "eval_success": last.pop("eval_success"),
                "eval_return": last.pop("eval_return"),
                "solved_at": solved,
                "solved_at_env_steps": None if solved is None else solved["env_steps"],
                "final": {k: v for k, v in last.items() if k not in program.float_sweep},
            }
        )
    steps = int(final[0]["env_steps"])
    reached = [s["wall_seconds"] for s in record.solved_at if s is not None]
    return {
        "algo": config.algo,
        "env": config.env,
        "program": program.name or None,
        "config": program.to_dict(),
        "num_runs": len(program.runs),
        "env_steps": steps,
        "steps_per_second": steps * len(program.runs) / max(record.train_seconds, 1e-9),
        "success_target": config.success_target,
        "solved": len(reached),
        "all_solved_wall_seconds": max(reached) if len(reached) == len(program.runs) else None,
        "compile_seconds": record.compile_seconds,
        "train_seconds": record.train_seconds,
        "wall_seconds": record.wall_seconds,
        "aggregate": aggregate(per_run, config.success_target),
        "settings": settings_table(program, per_run),
        "runs": per_run,
    }


def setting_label(program: scan_lib.Program, run: Any) -> str:
    """The swept values that tell this run's setting apart, e.g. "batch_size=128 lr=0.001"."""
    values = {**program.static, **{name: getattr(run, name) for name in program.float_sweep}}
    return " ".join(f"{name}={value}" for name, value in values.items())


def aggregate(per_run: list[dict[str, Any]], target: float) -> dict[str, Any]:
    """Final success and return over runs (statistics.summarize each), how many runs reached
    ``target``, and the median environment steps at which they did."""
    reached = [r["solved_at_env_steps"] for r in per_run if r["solved_at_env_steps"] is not None]
    return {
        "eval_success": statistics.summarize([r["eval_success"] for r in per_run]),
        "eval_return": statistics.summarize([r["eval_return"] for r in per_run]),
        "solved": len(reached),
        "steps_to_target_median": float(sorted(reached)[len(reached) // 2]) if reached else None,
        "success_target": target,
    }


def settings_table(
    program: scan_lib.Program, per_run: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per setting of ``program`` (its static values and float values), aggregated over
    its seeds. ``per_run`` is in the order of ``program.runs``."""
    rows: dict[str, dict[str, Any]] = {}
    members: dict[str, list[dict[str, Any]]] = {}
    for run, result in zip(program.runs, per_run, strict=True):
        label = setting_label(program, run)
        values = {**program.static, **{n: getattr(run, n) for n in program.float_sweep}}
        rows.setdefault(label, {"setting": label, "values": values})
        members.setdefault(label, []).append(result)
    target = program.config.success_target
    return [{**row, **aggregate(members[label], target)} for label, row in rows.items()]


def plot_curves(path: Path, program: scan_lib.Program, rows: list[dict[str, float]]) -> None:
    """One line per setting (the mean over its seeds, their range as a band)."""
    config = program.config
    title = f"{config.algo.upper()} on {config.env}"
    groups: dict[str, list[int]] = {}
    for i, run in enumerate(program.runs):
        label = setting_label(program, run) or config.algo.upper()
        groups.setdefault(label, []).append(i)
    arrays = curves(rows, len(program.runs), ["env_steps", "eval_return", "eval_success"])
    lines = {
        label: {
            "env_steps": arrays["env_steps"][members[0]],
            "eval_return": arrays["eval_return"][members],
            "eval_success": arrays["eval_success"][members],
        }
        for label, members in groups.items()
    }
    seeds = f", {program.seeds} seeds" if program.seeds > 1 else ""
    outputs.plot_learning_curves(path, title + seeds, lines, config.success_target)


def describe(summary: dict[str, Any]) -> str:
    """A paragraph for the terminal: the run's outcome, or one line per setting of a scan."""
    if "programs" in summary or summary["num_runs"] > 1:
        return describe_scan(summary)
    result = summary["runs"][0]
    text = (
        f"Last evaluation: {result['eval_success']:.0%} success, return "
        f"{result['eval_return']:.2f}, after {summary['env_steps']:,} environment steps in "
        f"{summary['wall_seconds']:.1f} s ({summary['compile_seconds']:.1f} s of it compiling)."
    )
    solved = result["solved_at"]
    target = f"{summary['success_target']:.0%}"
    if solved:
        text += (
            f" Reached {target} evaluation success after {int(solved['env_steps']):,} steps, "
            f"{solved['wall_seconds']:.1f} s from the start "
            f"({solved['train_seconds']:.1f} s of training after compilation)."
        )
    else:
        text += f" Did not reach {target} evaluation success."
    if not math.isfinite(result["eval_return"]):
        text += " The return is not finite: the run diverged."
    return text


def describe_scan(summary: dict[str, Any]) -> str:
    lines = []
    for row in summary["settings"]:
        s = row["eval_success"]
        lines.append(
            f"{row['setting'] or 'all runs'}: final success {s['mean']:.0%} ± {s['std']:.0%} "
            f"(IQM {s['iqm']:.0%}, 95% CI {s['ci95_low']:.0%}-{s['ci95_high']:.0%}, "
            f"{s['n']} seeds), {row['solved']}/{s['n']} reached the target"
        )
    lines.append(f"Wall time {summary['wall_seconds']:.1f} s.")
    return "\n".join(lines)
