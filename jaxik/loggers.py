"""Loggers as training callbacks: each is called with a ``jaxik.host.run.ChunkResult`` after
every chunk (``jaxik.train(..., callbacks=[...])``), so a new logger needs no change to the
training loop.

- ``PrintLogger``: one line per chunk (env steps, success, solved runs, minutes).
- ``WandbLogger``: Weights & Biases (``pip install -e ".[wandb]"``); every metric of every run,
  keyed ``run<i>/<metric>``, and the mean over the program's runs under the metric's own name,
  at step = environment steps per run. ``mode="offline"`` writes locally for ``wandb sync``.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import numpy as np

from jaxik.host.run import ChunkResult

LABELS = ("run", "seed")  # metrics.csv columns that name a run rather than measure it


class PrintLogger:
    """Prints one line per chunk to ``stream`` (stdout)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    def __call__(self, chunk: ChunkResult) -> None:
        name = f"[{chunk.program}] " if chunk.program else ""
        print(
            f"{name}chunk {chunk.chunk}/{chunk.num_chunks}: {chunk.env_steps:,} steps per run, "
            f"success {chunk.success:.0%}, {chunk.solved}/{len(chunk.rows)} solved, "
            f"{chunk.wall_seconds / 60:.1f} min",
            file=self.stream or sys.stdout,
            flush=True,
        )


class WandbLogger:
    """Logs every chunk to one Weights & Biases run, started on the first chunk with
    ``wandb.init(**init)`` (project, name, mode, config, ...) and finished by ``close()``.
    Raises ImportError naming the extra when wandb is not installed."""

    def __init__(self, **init: Any):
        try:
            import wandb
        except ImportError:
            raise ImportError(
                'WandbLogger needs Weights & Biases: pip install -e ".[wandb]"'
            ) from None
        self.wandb = wandb
        self.init = init
        self.run = None

    def __call__(self, chunk: ChunkResult) -> None:
        if self.run is None:
            self.run = self.wandb.init(**self.init)
        self.run.log(log_values(chunk), step=chunk.env_steps)

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None


def log_values(chunk: ChunkResult) -> dict[str, float]:
    """A chunk's metrics as one flat mapping: ``run<i>/<metric>`` per run and ``<metric>``, the
    mean over runs (``<program>/`` before each key when the scan has several programs)."""
    prefix = f"{chunk.program}/" if chunk.program else ""
    values: dict[str, float] = {}
    names = [name for name in chunk.rows[0] if name not in LABELS]
    for name in names:
        column = [row[name] for row in chunk.rows]
        values[prefix + name] = float(np.mean(column))
        if len(chunk.rows) > 1:
            for i, value in enumerate(column):
                values[f"{prefix}run{i}/{name}"] = float(value)
    return values
