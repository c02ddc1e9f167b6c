"""The host side of training: compile once, run chunks, log, checkpoint, resume.

There is one host path. Every program is a scan of one or more runs (a single run is a scan of
one): the device runs one chunk (``iterations_per_eval`` iterations, then an evaluation: two
compiled pieces, built side by side by jaxik.host.pieces and kept on disk by
jaxik.host.executables) per call for all runs of the program, and returns metrics with a
leading [runs] axis. Between calls the host hands the metrics to the program's recorder
(jaxik.host.recorder: files, aggregates, summary), updates the progress bar, saves checkpoints
with its ``HostRecord`` and decides whether to stop. Ctrl-C lets the current chunk finish, saves
a checkpoint and returns; ``train.py --resume`` continues from it exactly.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from jaxik import config as config_lib
from jaxik.host import (
    checkpoint,
    executables,
    outputs,
    pieces,
    policy_folder,
    recorder,
    scan,
    sharding,
)
from jaxik.host.checkpoint import CheckpointError

RESUMABLE = config_lib.resumable_names()
"""Settings a resumed run may change: they decide how long it runs, not what a chunk does
(marked ``host_setting(..., resumable=True)`` in jaxik.config)."""


class Interrupt:
    """Ctrl-C asks the loop to stop after the current chunk (a second Ctrl-C aborts at once).
    ``after_chunks`` stops after that many chunks of this process (tests use it)."""

    def __init__(self, after_chunks: int | None = None):
        self.requested = False
        self.after_chunks = after_chunks
        self._previous = None

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def stop(self, chunks_done_here: int) -> bool:
        return self.requested or (
            self.after_chunks is not None and chunks_done_here >= self.after_chunks
        )


def check_resumable(saved: scan.Scan, wanted: scan.Scan) -> None:
    """Resuming may change only RESUMABLE settings; anything else names the field."""
    old, new = saved.to_dict(), wanted.to_dict()
    for name in sorted(set(old) | set(new)):
        if name not in RESUMABLE and old.get(name) != new.get(name):
            raise CheckpointError(
                f"cannot resume with {name}={new.get(name)!r}: the run was started with "
                f"{name}={old.get(name)!r}; only {', '.join(RESUMABLE)} may change on resume"
            )


@dataclasses.dataclass
class HostRecord:
    """The host's side of a program's progress, saved as JSON with every checkpoint.

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


def program_dir(out: Path, program: scan.Program) -> Path:
    return out / program.name if program.name else out


def run_scan(
    plan: scan.Scan,
    out: Path,
    console: Console | None = None,
    cache: bool = True,
    resume: bool = False,
    interrupt: Interrupt | None = None,
) -> dict[str, Any]:
    """Trains every program of ``plan`` one after another into ``out`` and returns the summary
    (with "interrupted": True if it stopped early). A scan of one program writes everything into
    ``out``; with several, each has its own folder under ``out``, and ``out`` holds the scan's
    config.yaml (what --resume reads), table, plot and summary. ``resume`` continues each program
    from its newest checkpoint; a program with none starts from the beginning."""
    console = console or Console()
    out = Path(out)
    programs = plan.programs
    programs_cache = executables.cache_dir() if cache else None
    executables.limit_bytes()  # a bad $JAXIK_CACHE_LIMIT_MB is an error before anything compiles
    if is_main_process():
        outputs.check_writable(out)
        if len(programs) > 1:
            outputs.write_config(out, plan.to_dict())
    summaries = []
    with interrupt or Interrupt() as stop:
        for program in programs:
            summaries.append(
                run_program(
                    program, program_dir(out, program), console, resume, stop, programs_cache
                )
            )
            if summaries[-1]["interrupted"]:
                break
    if len(programs) == 1:
        return summaries[0]
    return recorder.finish_scan(out, plan, summaries, is_main=is_main_process())


def restore(
    program: scan.Program, out: Path, like: Any, console: Console
) -> tuple[Any, HostRecord] | None:
    """The newest checkpoint of ``program`` in ``out`` (None if it has none: nothing was saved
    before the run stopped). Errors name the problem and leave the folder as it was."""
    if not (out / "checkpoints").is_dir():
        return None
    store = checkpoint.Checkpoints(out, create=False)
    try:
        if store.latest() is None:
            return None
        state, saved = store.restore(like)
    finally:
        store.close()
    record = HostRecord.from_json(saved, store.directory)
    # the record inside the checkpoint against what is asked now
    check_resumable(scan.load(None, record.config), scan.load(None, program.to_dict()))
    record.config = program.to_dict()
    console.print(f"Resuming {out} after chunk {record.chunks}")
    return state, record


def begin(
    program: scan.Program,
    out: Path,
    console: Console,
    resume: bool,
    programs_cache: Path | None,
) -> tuple[pieces.Pieces, Callable, Any, HostRecord]:
    """``program``'s pieces compiled (or loaded from ``programs_cache``), its chunk, and its
    first state with the host's record: restored from the newest checkpoint in ``out`` when
    resuming and there is one, else initialised."""
    jitted = pieces.build(program)
    restored = restore(program, out, jitted.like, console) if resume else None
    names = ("iterations", "evaluation") if restored else ("iterations", "evaluation", "init")
    compiled = jitted.compile(names, programs_cache)
    if restored is None:
        record = HostRecord(config=program.to_dict(), solved_at=[None] * len(program.runs))
        return jitted, pieces.chunk(compiled), jitted.init_state(compiled), record
    state, record = restored
    return jitted, pieces.chunk(compiled), state, record


def run_program(
    program: scan.Program,
    out: Path,
    console: Console,
    resume: bool,
    stop: Interrupt,
    programs_cache: Path | None = None,
) -> dict[str, Any]:
    """Trains one program (one run, or a vmapped batch of runs) into ``out``; compiled pieces
    come from and go to ``programs_cache`` (jaxik.host.executables) when given."""
    start = time.perf_counter()
    config, runs = program.config, program.runs
    jitted, chunk, state, record = begin(program, out, console, resume, programs_cache)
    store = checkpoint.Checkpoints(out)  # nothing is written before the restore succeeded
    compile_here = time.perf_counter() - start
    record.compile_seconds += compile_here
    wall_before = record.wall_seconds
    title = f"{config.algo.upper()} on {config.env}"
    console.print(
        f"{title}: {len(runs)} run(s) x {config.num_envs} environments, "
        f"{config.num_evals * config.eval_every:,} steps each, on {sharding.describe(jitted.mesh)}"
        f"; compiled in {compile_here:.1f} s"
    )

    results = recorder.Recorder(out, program, record, is_main=is_main_process())
    interrupted = False
    steps_before, train_here = record.chunks * config.eval_every, 0.0
    try:
        with Progress(*progress_columns(), console=console, transient=False) as progress:
            task = progress.add_task(
                "env steps", total=config.num_evals * config.eval_every, status="",
                completed=steps_before,
            )  # fmt: skip
            done_here = 0
            while record.chunks < config.num_evals:
                chunk_start = time.perf_counter()
                state, metrics = chunk(state)
                metrics = to_host(metrics)
                record.chunks += 1
                done_here += 1
                chunk_seconds = time.perf_counter() - chunk_start
                train_here += chunk_seconds
                record.train_seconds += chunk_seconds
                record.wall_seconds = wall_before + time.perf_counter() - start
                success, solved = results.add(metrics)
                steps = float(np.asarray(metrics["env_steps"])[0])
                speed = (steps - steps_before) * len(runs) / max(train_here, 1e-9)
                status = f"success {success:.0%}  " + (
                    f"{solved}/{len(runs)} solved  " if len(runs) > 1 else ""
                )
                progress.update(task, completed=int(steps), status=status + f"{speed:,.0f} steps/s")
                if config.stop_on_success and solved == len(runs):
                    break
                if stop.stop(done_here):
                    interrupted = record.chunks < config.num_evals
                    break
                every = config.checkpoint_every
                if every and record.chunks % every == 0 and record.chunks < config.num_evals:
                    store.save(record.chunks, state, record.to_json())
            if store.latest() != record.chunks:  # a resumed, finished run has it already
                store.save(record.chunks, state, record.to_json())
    except OSError as error:  # metrics.csv or TensorBoard on a full or vanished disk
        raise outputs.OutputError(
            f"could not write into {out} after chunk {record.chunks}: {error}. Checkpoints "
            f"already complete are kept; continue with: python train.py --resume {out}"
        ) from None
    finally:
        close_all(results.close, store.close)

    if interrupted:
        console.print(
            f"Stopped after chunk {record.chunks} of {config.num_evals}; checkpoint saved. "
            f"Continue with: python train.py --resume {out}"
        )
    normalizer = {name: getattr(state.normalizer, name) for name in ("mean", "variance", "count")}
    save_policy(out / "policy", program, to_host(state.agent.actor_params), to_host(normalizer))
    return results.finish(
        interrupted=interrupted,
        device=sharding.describe(jitted.mesh),
        mesh=dict(zip(jitted.mesh.axis_names, jitted.mesh.devices.shape, strict=True)),
        policy=str((out / "policy").absolute()),
    )


def progress_columns() -> tuple:
    """The progress bar: env steps done of all, then success, solved runs and speed."""
    return (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )


def close_all(*closers: Callable[[], None]) -> None:
    """Calls every closer; while an error is already on its way out (a full disk, say), a
    closer's own failure must not replace it."""
    failing = sys.exc_info()[1] is not None
    for close in closers:
        try:
            close()
        except Exception:
            if not failing:
                raise


def save_policy(
    folder: Path, program: scan.Program, actor_params: Any, normalizer: dict[str, Any]
) -> None:
    """Writes the runs' final policies (host arrays, [runs] leading when batched) as the policy
    folder (jaxik.host.policy_folder); one process writes."""
    if not is_main_process():
        return
    info = policy_folder.meta_for(program.config, [run.seed for run in program.runs])
    params = policy_folder.arrays(actor_params, normalizer, program.batched)
    policy_folder.write(folder, info, params)


def to_host(tree: Any) -> Any:
    """Device arrays as NumPy, gathered from every process when running on several hosts."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def is_main_process() -> bool:
    return jax.process_index() == 0
