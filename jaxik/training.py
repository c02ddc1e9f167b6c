"""Training from Python: ``jaxik.train`` does what ``train.py`` does and returns the results.

    import jaxik

    def show(chunk):  # called on the host after every chunk
        print(f"{chunk.env_steps:,} steps: success {chunk.success:.0%}")

    result = jaxik.train("configs/recipes/push_fast.yaml", out="runs/push", seeds=3,
                         callbacks=[show])
    result.summary["settings"][0]["final_success_mean"], result.metrics[-1]
    policy = result.policy()  # run 0's policy, as jaxik.policy.load gives it

The configuration is a YAML file, a ``TrainConfig``, a ``jaxik.host.scan.Scan`` or a mapping of
settings (None: configs/default.yaml's settings), and then overrides: keyword arguments
(``seeds=3, algo="sac"``) and ``overrides`` (``["env_config.grasped_start=0"]`` or a mapping with
dotted keys), validated before anything compiles. A callback receives a
``jaxik.host.run.ChunkResult`` and may return False to stop the run after that chunk, with a
checkpoint saved (``resume=True`` continues it). Loggers are callbacks (jaxik.loggers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jaxik import config as config_lib
from jaxik import policy as policy_lib
from jaxik.config import TrainConfig
from jaxik.host import outputs, run
from jaxik.host import scan as scan_lib

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What a training call leaves: its folder, its summary (summary.json), every metrics row
    (metrics.csv's, each program's; a scan of several programs adds ``program``), and whether it
    stopped before its budget (Ctrl-C or a callback)."""

    out: Path
    summary: dict[str, Any]
    metrics: list[dict[str, Any]]
    interrupted: bool

    def policy(self, run: int = 0, program: str = "") -> policy_lib.Policy:
        """Run ``run``'s final policy (of the scan's program ``program``, named as its folder,
        when the scan has several)."""
        return policy_lib.load(self.out / program if program else self.out, run)


def train(
    config: str | Path | TrainConfig | scan_lib.Scan | Mapping[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    resume: bool = False,
    callbacks: Sequence[run.Callback] = (),
    **settings: Any,
) -> TrainResult:
    """Trains ``config`` with ``overrides`` and ``settings`` over it into ``out`` (default
    runs/<config file's name>, or runs/train). ``resume`` continues the run in ``out`` from its
    newest checkpoint, as ``train.py --resume`` does: ``config`` None takes the run's own
    config.yaml, and only the resumable settings (jaxik.host.run.RESUMABLE) may differ from it.
    Raises ValueError naming a bad setting before anything compiles."""
    changes = {**as_mapping(overrides), **settings}
    if out is None:
        if resume:
            raise ValueError("resume=True needs out=, the folder of the run to continue")
        name = Path(config).stem if isinstance(config, (str, Path)) else "train"
        out = Path("runs") / name
    out = Path(out)
    if resume:
        saved = out / "config.yaml"
        if not saved.is_file():
            raise ValueError(f"resume=True: {out} has no config.yaml, so it holds no run")
        scan = load_scan(saved if config is None else config, changes)
        run.check_resumable(scan_lib.load(saved), scan)
    else:
        scan = load_scan(config, changes)
    summary = run.run_scan(scan, out, resume=resume, callbacks=tuple(callbacks))
    return TrainResult(
        out=out,
        summary=summary,
        metrics=read_metrics(out, scan),
        interrupted=bool(summary["interrupted"]),
    )


def as_mapping(overrides: Sequence[str] | Mapping[str, Any]) -> dict[str, Any]:
    """``["key=value", ...]`` (train.py's form) or a mapping, as a dict."""
    if isinstance(overrides, Mapping):
        return dict(overrides)
    if isinstance(overrides, str):
        raise ValueError(f"overrides={overrides!r} must be a list of key=value strings")
    return dict(config_lib.parse_override(text) for text in overrides)


def load_scan(
    config: str | Path | TrainConfig | scan_lib.Scan | Mapping[str, Any] | None,
    overrides: dict[str, Any],
) -> scan_lib.Scan:
    """The scan that ``config`` and ``overrides`` describe (see the module docstring)."""
    if config is None:
        config = DEFAULT_CONFIG
    if isinstance(config, (str, Path)):
        return scan_lib.load(Path(config), overrides)
    if isinstance(config, (TrainConfig, scan_lib.Scan)):
        return scan_lib.load(None, {**config.to_dict(), **overrides})
    if isinstance(config, Mapping):
        return scan_lib.load(None, {**config, **overrides})
    raise ValueError(
        f"config={config!r} must be a YAML file's path, a TrainConfig, a Scan, a mapping of "
        "settings or None"
    )


def read_metrics(out: Path, scan: scan_lib.Scan) -> list[dict[str, Any]]:
    """Every program's metrics.csv rows, in order; with several programs each row names its
    program."""
    programs = scan.programs
    if len(programs) == 1:
        return read_rows(out / "metrics.csv")
    rows: list[dict[str, Any]] = []
    for program in programs:
        rows += [
            {"program": program.name, **row}
            for row in read_rows(out / program.name / "metrics.csv")
        ]
    return rows


def read_rows(path: Path) -> list[dict[str, Any]]:
    """metrics.csv's rows (none if the run stopped before its first chunk)."""
    return outputs.read_metrics(path) if path.is_file() else []
