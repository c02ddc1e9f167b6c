"""What a finished (or stopped) program reports: per-run results, aggregates over seeds, the
learning-curve plot and a paragraph for the terminal.

Every program is a scan of one or more runs, so there is one summary layout: a single run is the
case ``num_runs == 1``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from jaxik.host import outputs, scan

LABEL_COLUMNS = ("run", "seed")
FIRST_COLUMNS = ("env_steps", "eval_success", "eval_return", "eval_length", "train_success")


def run_labels(program: scan.Program) -> list[dict[str, Any]]:
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


def program_summary(program: scan.Program, record: Any) -> dict[str, Any]:
    """Each run's final results, then per setting (float values) and overall aggregates over
    seeds: mean, std, interquartile mean, 95 % bootstrap CI. ``record`` is the run's
    ``run.HostRecord``; its times are summed over every process that worked on the program."""
    config = program.config
    final = {int(row["run"]): row for row in record.rows}  # the last row of each run
    per_run = []
    for i, r in enumerate(program.runs):
        solved = record.solved_at[i]
        per_run.append(
            {
                "seed": r.seed,
                **{name: getattr(r, name) for name in program.float_sweep},
                "eval_success": final[i]["eval_success"],
                "eval_return": final[i]["eval_return"],
                "solved_at": solved,
                "solved_at_env_steps": None if solved is None else solved["env_steps"],
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
        "aggregate": scan.aggregate(per_run, config.success_target),
        "settings": scan.settings_table(program, per_run),
        "runs": per_run,
    }


def plot_curves(path: Path, program: scan.Program, rows: list[dict[str, float]]) -> None:
    """One line per setting (the mean over its seeds, their range as a band)."""
    config = program.config
    title = f"{config.algo.upper()} on {config.env}"
    groups: dict[str, list[int]] = {}
    for i, run in enumerate(program.runs):
        label = scan.setting_label(program, run) or config.algo.upper()
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
