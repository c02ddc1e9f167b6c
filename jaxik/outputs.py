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


def plot_learning_curve(
    path: Path, rows: list[dict[str, float]], title: str, target: float | None = None
) -> None:
    """Evaluation success and return against environment steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [row["env_steps"] for row in rows]
    figure, (success_axis, return_axis) = plt.subplots(1, 2, figsize=(10, 3.6))
    success_axis.plot(steps, [row["eval_success"] for row in rows], marker=".")
    if target is not None:
        success_axis.axhline(target, color="grey", linestyle=":", linewidth=1)
    success_axis.set(xlabel="environment steps", ylabel="evaluation success", ylim=(-0.02, 1.02))
    return_axis.plot(steps, [row["eval_return"] for row in rows], marker=".")
    return_axis.set(xlabel="environment steps", ylabel="evaluation return")
    for axis in (success_axis, return_axis):
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    (Path(out) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
