"""What a training run leaves in its output folder.

config.yaml (the resolved config; with ``seeds`` and ``sweep`` for a scan), metrics.csv (one row
per evaluation, and per run in a scan), tensorboard/ (single runs: the same scalars as TensorBoard
events), checkpoints/ (the whole training state, for --resume), policy/ (what acting needs:
jaxik.host.policy_folder), learning_curve.png, summary.json; for scans also results.csv,
results.md (one row per setting, aggregated over seeds) and sweep.png.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml


class OutputError(ValueError):
    """The output folder cannot be written (unwritable, or the disk is full)."""


def write_atomically(path: Path, text: str | bytes) -> None:
    """Writes ``text`` (or bytes) to a temporary file beside ``path`` and renames it over
    ``path``: a process killed at any moment leaves the old file or the new one, never a
    truncated one."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb" if isinstance(text, bytes) else "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def _summary_writer_class():
    """tensorboardX's SummaryWriter, imported without PyTorch.

    tensorboardX imports torch whenever it is installed (the ``compare`` extra installs it), which
    added 2.2 s to every run on 2 CPU cores, for scalars that need none of it. torch is hidden
    during the import only: code that imports it afterwards gets it as usual.
    """
    if "tensorboardX" in sys.modules or "torch" in sys.modules:
        from tensorboardX import SummaryWriter

        return SummaryWriter
    sys.modules["torch"] = None  # an import of torch now raises ImportError
    try:
        from tensorboardX import SummaryWriter
    finally:
        del sys.modules["torch"]
    return SummaryWriter


def check_writable(out: Path) -> None:
    """Creates ``out`` and writes a probe file into it, so that an unwritable --out is an error
    before anything compiles."""
    probe = Path(out) / ".jaxik-write-probe"
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise OutputError(f"cannot write to the output folder {out}: {error}") from None


class RunWriter:
    """Writes per-evaluation metrics to metrics.csv and TensorBoard as they arrive, so an
    interrupted run keeps every row written before it stopped. ``rows`` are those of a resumed
    run's checkpoint: metrics.csv is rewritten with them, and TensorBoard discards its events
    from later steps (rows the checkpoint did not cover). Only the main process (``is_main``)
    writes; elsewhere every call does nothing."""

    def __init__(
        self,
        out: Path,
        config: dict[str, Any],
        rows: list[dict[str, float]] = (),
        tensorboard: bool = True,
        is_main: bool = True,
    ):
        self.out = Path(out)
        self._active = is_main
        self._csv = self._csv_file = self._tensorboard = None
        if not is_main:
            return
        write_config(self.out, config)
        # metrics.csv is rewritten with the rows the checkpoint holds, atomically, then appended
        # to: at any moment it holds at least the rows of the newest checkpoint.
        text = io.StringIO(newline="")
        if rows:
            writer = csv.DictWriter(text, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        write_atomically(self.out / "metrics.csv", text.getvalue())
        self._csv_file = open(self.out / "metrics.csv", "a", newline="")
        if rows:
            self._csv = csv.DictWriter(self._csv_file, fieldnames=list(rows[0]))
        if tensorboard:
            SummaryWriter = _summary_writer_class()
            purge = int(rows[-1]["env_steps"]) + 1 if rows else None
            self._tensorboard = SummaryWriter(str(self.out / "tensorboard"), purge_step=purge)

    def _write_csv(self, row: dict[str, float]) -> None:
        if self._csv is None:
            self._csv = csv.DictWriter(self._csv_file, fieldnames=list(row))
            self._csv.writeheader()
        self._csv.writerow(row)

    def add(self, row: dict[str, float]) -> None:
        if not self._active:
            return
        self._write_csv(row)
        self._csv_file.flush()
        if self._tensorboard is not None:
            step = int(row["env_steps"])
            for name, value in row.items():
                if name != "env_steps":
                    self._tensorboard.add_scalar(name, value, step)
            self._tensorboard.flush()

    def close(self) -> None:
        if self._csv_file is not None:
            self._csv_file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()


def write_config(out: Path, config: dict[str, Any]) -> None:
    """out/config.yaml: what ``train.py --resume out`` reads back."""
    Path(out).mkdir(parents=True, exist_ok=True)
    write_atomically(Path(out) / "config.yaml", yaml.safe_dump(config, sort_keys=False))


def read_metrics(path: Path) -> list[dict[str, float]]:
    """metrics.csv's rows as floats."""
    with open(path, newline="") as file:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(file)]


@contextlib.contextmanager
def saved_figure(path: Path, size: tuple[float, float], panels: int = 1) -> Iterator[Any]:
    """A figure of ``panels`` axes side by side (an array of them, or one Axes when panels is
    1), written to ``path`` as a 120 dpi PNG when the block ends, and closed either way."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, panels, figsize=size)
    try:
        yield axes
        figure.tight_layout()
        figure.savefig(path, dpi=120)
    finally:
        plt.close(figure)


def log_lines(
    axis: Any, lines: dict[str, tuple[Sequence[float], Sequence[float]]], xlabel: str, ylabel: str
) -> None:
    """One marked line per label, ``lines[label] = (x, y)``, on log-log axes with a legend."""
    for label, (x, y) in lines.items():
        axis.plot(x, y, marker="o", label=label)
    axis.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=ylabel)
    axis.grid(alpha=0.3, which="both")
    axis.legend()


def plot_learning_curves(
    path: Path, title: str, curves: dict[str, dict[str, Any]], target: float | None = None
) -> None:
    """Evaluation return and success against environment steps, one line per label.

    ``curves[label]`` holds "env_steps" [evals] and "eval_return", "eval_success" [seeds, evals];
    with several seeds the line is their mean and the band their range.
    """
    import numpy as np

    with saved_figure(path, (10, 3.6), panels=2) as axes:
        for label, curve in curves.items():
            for axis, name in zip(axes, ("eval_return", "eval_success"), strict=True):
                values = np.atleast_2d(np.asarray(curve[name]))
                axis.plot(curve["env_steps"], values.mean(0), marker=".", label=label)
                if len(values) > 1:
                    axis.fill_between(curve["env_steps"], values.min(0), values.max(0), alpha=0.2)
        if target is not None:
            axes[1].axhline(target, color="grey", linestyle=":", linewidth=1)
        axes[0].set(xlabel="environment steps", ylabel="evaluation return")
        axes[1].set(xlabel="environment steps", ylabel="evaluation success", ylim=(-0.02, 1.02))
        for axis in axes:
            axis.grid(alpha=0.3)
            if len(curves) > 1:
                axis.legend()
        axes[0].figure.suptitle(title)


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    write_atomically(Path(out) / "summary.json", json.dumps(summary, indent=2) + "\n")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "x".join(map(str, value))
    return str(value)


def write_results_table(out: Path, settings: list[dict[str, Any]], swept: list[str]) -> None:
    """results.csv and results.md: one row per setting, final success and return aggregated
    over its seeds (mean, std, interquartile mean, 95 % bootstrap CI)."""
    header = [*swept, "seeds", "success_mean", "success_std", "success_iqm", "success_ci95_low",
              "success_ci95_high", "return_mean", "return_std", "solved",
              "steps_to_target_median"]  # fmt: skip
    rows = []
    for setting in settings:
        success, ret = setting["eval_success"], setting["eval_return"]
        rows.append(
            [*(setting["values"].get(name, "") for name in swept), success["n"], success["mean"],
             success["std"], success["iqm"], success["ci95_low"], success["ci95_high"],
             ret["mean"], ret["std"], setting["solved"], setting["steps_to_target_median"]]
        )  # fmt: skip
    with open(Path(out) / "results.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(
            [[_cell(v) if isinstance(v, list | tuple) else v for v in r] for r in rows]
        )
    lines = [
        "| " + " | ".join([*swept, "seeds", "final success: mean ± std", "IQM", "95 % CI",
                           "return", "reached target", "median steps to target"]) + " |",
        "|" + "---|" * (len(swept) + 7),
    ]  # fmt: skip
    for setting in settings:
        success, ret = setting["eval_success"], setting["eval_return"]
        steps = setting["steps_to_target_median"]
        cells = [_cell(setting["values"].get(name, "")) for name in swept] + [
            str(success["n"]),
            f"{success['mean']:.1%} ± {success['std']:.1%}",
            f"{success['iqm']:.1%}",
            f"{success['ci95_low']:.1%} – {success['ci95_high']:.1%}",
            f"{ret['mean']:.2f} ± {ret['std']:.2f}",
            f"{setting['solved']}/{success['n']}",
            "—" if steps is None else f"{steps:,.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    (Path(out) / "results.md").write_text("\n".join(lines) + "\n")


def plot_sweep(
    path: Path, settings: list[dict[str, Any]], swept: list[str], target: float | None
) -> None:
    """Final success (mean over seeds, 95 % CI bars) against each swept value, one panel per
    swept field; settings sharing a value (other fields differ) sit side by side. Seed-only
    scans get one bar."""
    import numpy as np

    panels = swept or ["all runs"]
    with saved_figure(path, (4.2 * len(panels), 3.4), panels=len(panels)) as axes:
        for axis, name in zip(np.atleast_1d(axes), panels, strict=True):
            values = [s["values"].get(name, "all") for s in settings]
            distinct = list(dict.fromkeys(map(_cell, values)))
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
            spread = np.linspace(-0.15, 0.15, len(settings)) if len(settings) > 1 else [0.0]
            for offset, setting, value in zip(spread, settings, values, strict=True):
                success = setting["eval_success"]
                x = distinct.index(_cell(value)) + offset
                error = [
                    [success["mean"] - success["ci95_low"]],
                    [success["ci95_high"] - success["mean"]],
                ]
                axis.errorbar(
                    x, success["mean"], yerr=error, fmt="o", capsize=3, label=setting["setting"]
                )
            axis.set_xticks(range(len(distinct)), distinct)
            if numeric and len(distinct) > 1:
                axis.set_xlabel(f"{name} (settings in the order given)")
            else:
                axis.set_xlabel(name)
            if target is not None:
                axis.axhline(target, color="grey", linestyle=":", linewidth=1)
            axis.set(ylabel="final evaluation success", ylim=(-0.02, 1.02))
            axis.grid(alpha=0.3)
        if 1 < len(settings) <= 12:
            np.atleast_1d(axes)[0].legend(fontsize=7)
