"""What a training run leaves in its output folder.

config.yaml (the resolved config), metrics.csv (one row per evaluation), tensorboard/ (the same
scalars as TensorBoard events), checkpoint/ (final parameters and input statistics, orbax),
learning_curve.png, summary.json.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import yaml


class RunWriter:
    """Appends per-evaluation metrics to metrics.csv and TensorBoard as they arrive, so an
    interrupted run keeps every row written before it stopped."""

    def __init__(self, out: Path, config: dict[str, Any]):
        from tensorboardX import SummaryWriter

        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        self.rows: list[dict[str, float]] = []
        self._csv_file = open(self.out / "metrics.csv", "w", newline="")
        self._csv: csv.DictWriter | None = None
        self._tensorboard = SummaryWriter(str(self.out / "tensorboard"))

    def add(self, row: dict[str, float]) -> None:
        if self._csv is None:
            self._csv = csv.DictWriter(self._csv_file, fieldnames=list(row))
            self._csv.writeheader()
        self._csv.writerow(row)
        self._csv_file.flush()
        step = int(row["env_steps"])
        for name, value in row.items():
            if name != "env_steps":
                self._tensorboard.add_scalar(name, value, step)
        self._tensorboard.flush()
        self.rows.append(row)

    def close(self) -> None:
        self._csv_file.close()
        self._tensorboard.close()


def save_checkpoint(out: Path, params: Any) -> Path:
    """Writes ``params`` (a pytree of arrays) to out/checkpoint with orbax."""
    import orbax.checkpoint as ocp

    path = (Path(out) / "checkpoint").absolute()
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(path, params, force=True)
    return path


def load_checkpoint(path: Path, like: Any) -> Any:
    """The pytree saved at ``path``, shaped like ``like``."""
    import orbax.checkpoint as ocp

    with ocp.StandardCheckpointer() as checkpointer:
        return checkpointer.restore(Path(path).absolute(), like)


def plot_learning_curves(
    path: Path, title: str, curves: dict[str, dict[str, Any]], target: float | None = None
) -> None:
    """Evaluation return and success against environment steps, one line per label.

    ``curves[label]`` holds "env_steps" [evals] and "eval_return", "eval_success" [seeds, evals];
    with several seeds the line is their mean and the band their range.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6))
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
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    (Path(out) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
