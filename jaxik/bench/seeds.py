"""Wall time for N seeds of one configuration to reach the success target, trained as one
vmapped program (``train.py seeds=N stop_on_success=true``), and the cost per seed."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from rich.console import Console

from jaxik.host import outputs, run
from jaxik.host import scan as scan_lib


@dataclasses.dataclass
class SeedsTiming:
    seeds: int
    compile_seconds: float
    wall_seconds: float  # start to stop (all seeds solved, or the budget spent), compile included
    solved: int  # seeds that reached the target
    env_steps: int  # per seed, when it stopped

    @property
    def seconds_per_seed(self) -> float:
        return self.wall_seconds / self.seeds

    @property
    def train_seconds(self) -> float:
        """Wall time after compilation."""
        return self.wall_seconds - self.compile_seconds


def measure(config: Path, seeds: int, overrides: list[str]) -> SeedsTiming:
    scan = scan_lib.load(config, [*overrides, f"seeds={seeds}", "stop_on_success=true"])
    with tempfile.TemporaryDirectory() as out:
        summary = run.run_scan(scan, Path(out), console=Console(quiet=True), cache=False)
    return SeedsTiming(
        seeds=seeds,
        compile_seconds=summary["compile_seconds"],
        wall_seconds=summary["wall_seconds"],
        solved=summary["solved"],
        env_steps=summary["env_steps"],
    )


def table(timings: list[SeedsTiming]) -> str:
    one = timings[0] if timings and timings[0].seeds == 1 else None
    lines = [
        "| seeds | reached target | env steps per seed | compile (s) | after compile (s) "
        "| wall time (s) | per seed (s) | wall time / 1 seed's | after compile / 1 seed's |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in timings:
        ratio = "" if one is None else f"{t.wall_seconds / one.wall_seconds:.2f}x"
        train_ratio = "" if one is None else f"{t.train_seconds / one.train_seconds:.2f}x"
        lines.append(
            f"| {t.seeds:,} | {t.solved}/{t.seeds} | {t.env_steps:,} | {t.compile_seconds:.1f} | "
            f"{t.train_seconds:.1f} | {t.wall_seconds:.1f} | {t.seconds_per_seed:.2f} | {ratio} "
            f"| {train_ratio} |"
        )
    return "\n".join(lines)


def plot(path, timings: list[SeedsTiming]) -> None:
    seeds = [t.seeds for t in timings]
    lines = {
        "wall time": (seeds, [t.wall_seconds for t in timings]),
        "per seed": (seeds, [t.seconds_per_seed for t in timings]),
    }
    with outputs.saved_figure(path, (5, 3.6)) as axis:
        outputs.log_lines(axis, lines, "seeds", "seconds")
