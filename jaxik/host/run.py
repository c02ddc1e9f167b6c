"""The host side of training: compile once, run chunks, log, checkpoint, resume.

There is one host path. Every program is a scan of one or more runs (a single run is a scan of
one): the device runs one chunk (``iterations_per_eval`` iterations, then an evaluation: two
compiled pieces, built side by side by jaxik.host.pieces and kept on disk by
jaxik.host.executables) per call for all runs of the program, and returns metrics with a
leading [runs] axis. Between calls the host hands the metrics to the program's recorder
(jaxik.host.recorder: files, aggregates, summary, and the ``HostRecord`` it alone writes),
calls the callbacks, updates the progress bar, saves checkpoints with the record and decides
whether to stop. Ctrl-C lets the current chunk finish, saves a checkpoint and returns;
``train.py --resume`` continues from it exactly.
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
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import envs
from jaxik import agent_settings
from jaxik import config as config_lib
from jaxik.host import (
    checkpoint,
    executables,
    outputs,
    pieces,
    policy_folder,
    recorder,
    sharding,
)
from jaxik.host import scan as scan_lib
from jaxik.host.checkpoint import CheckpointError
from jaxik.host.recorder import HostRecord

Callback = Callable[["ChunkResult"], "bool | None"]
"""Called on the host after each chunk; returning False stops the run after that chunk, with a
checkpoint saved, as Ctrl-C does (``train.py --resume`` continues it)."""

RESUMABLE = config_lib.resumable_names()
"""Settings a resumed run may change: they decide how long it runs, not what a chunk does
(marked ``host_setting(..., resumable=True)`` in jaxik.config)."""


class Interrupt:
    """Ctrl-C asks the loop to stop after the current chunk, and says so at once; a second
    Ctrl-C raises KeyboardInterrupt at once, losing what was done since the last checkpoint.
    ``after_chunks`` stops after that many chunks of this process (tests use it).

    The loop tells it where the run stands (``chunk_seconds``: the last chunk's duration;
    ``saved``: the newest checkpoint's chunk) so that the message can say how long the wait may
    be and what a second Ctrl-C loses."""

    def __init__(self, after_chunks: int | None = None):
        self.requested = False
        self.after_chunks = after_chunks
        self.chunk_seconds: float | None = None
        self.saved: int | None = None
        self._previous = None

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(self.message(), file=sys.stderr, flush=True)

    def message(self) -> str:
        """What the first Ctrl-C answers."""
        wait = (
            f" (a chunk took {self.chunk_seconds:.0f} s)"
            if self.chunk_seconds is not None
            else " (after compiling)"
        )
        saved = "the start" if self.saved is None else f"chunk {self.saved}"
        return (
            f"\nCtrl-C: stopping after the chunk under way{wait}, then saving a checkpoint. "
            f"Ctrl-C again stops now and loses everything after {saved}."
        )

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def stop(self, chunks_done_here: int) -> bool:
        return self.requested or (
            self.after_chunks is not None and chunks_done_here >= self.after_chunks
        )


def wait_for(tree: Any, poll_seconds: float = 0.05) -> None:
    """Blocks until every array of ``tree`` is computed, sleeping in Python between checks so
    that a Ctrl-C is answered at once rather than when the device is done."""
    leaves = [leaf for leaf in jax.tree.leaves(tree) if isinstance(leaf, jax.Array)]
    while not all(leaf.is_ready() for leaf in leaves):
        time.sleep(poll_seconds)


@dataclasses.dataclass(frozen=True)
class ChunkResult:
    """What a callback is given after each chunk: the chunk's metrics.csv rows (one per run of
    the program: run, seed, swept values, env_steps, eval_success, eval_return, ...,
    wall_seconds) and where the program stands. Under ``jax.distributed`` every process calls
    its callbacks with the same values."""

    program: str  # the program's name in its scan ("" for a scan's only program)
    chunk: int  # chunks done, counting those before a resume (1 after the first)
    num_chunks: int  # chunks in the program (config.num_evals)
    env_steps: int  # environment steps per run so far
    rows: tuple[dict[str, float], ...]  # this chunk's metrics, one row per run
    success: float  # mean evaluation success over the runs
    solved: int  # runs that have reached success_target so far
    wall_seconds: float  # since the program started, compiling included (all processes)


def check_resumable(saved: scan_lib.Scan, wanted: scan_lib.Scan) -> None:
    """Resuming may change only RESUMABLE settings; anything else names the field."""
    old, new = saved.to_dict(), wanted.to_dict()
    for name in sorted(set(old) | set(new)):
        if name not in RESUMABLE and old.get(name) != new.get(name):
            raise CheckpointError(
                f"cannot resume with {name}={new.get(name)!r}: the run was started with "
                f"{name}={old.get(name)!r}; only {', '.join(RESUMABLE)} may change on resume"
            )


def program_dir(out: Path, program: scan_lib.Program) -> Path:
    return out / program.name if program.name else out


def run_scan(
    scan: scan_lib.Scan,
    out: Path,
    console: Console | None = None,
    cache: bool = True,
    resume: bool = False,
    interrupt: Interrupt | None = None,
    callbacks: tuple[Callback, ...] = (),
) -> dict[str, Any]:
    """Trains every program of ``scan`` one after another into ``out`` and returns the summary
    (with "interrupted": True if it stopped early). A scan of one program writes everything into
    ``out``; with several, each has its own folder under ``out``, and ``out`` holds the scan's
    config.yaml (what --resume reads), table, plot and summary. ``resume`` continues each program
    from its newest checkpoint; a program with none starts from the beginning. ``callbacks`` are
    called after every chunk of every program (``ChunkResult``)."""
    console = console or Console()
    out = Path(out)
    programs = scan.programs
    programs_cache = executables.cache_dir() if cache else None
    executables.limit_bytes()  # a bad $JAXIK_CACHE_LIMIT_MB is an error before anything compiles
    if is_main_process():
        outputs.check_writable(out)
        if len(programs) > 1:
            outputs.write_config(out, scan.to_dict())
    summaries = []
    with interrupt or Interrupt() as stop:
        for program in programs:
            summaries.append(
                run_program(
                    program,
                    program_dir(out, program),
                    console,
                    resume,
                    stop,
                    programs_cache,
                    callbacks,
                )
            )
            if summaries[-1]["interrupted"]:
                break
    if len(programs) == 1:
        return summaries[0]
    return recorder.finish_scan(out, scan, summaries, is_main=is_main_process())


def restore(
    program: scan_lib.Program, out: Path, like: Any, console: Console
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
    check_resumable(scan_lib.load(None, record.config), scan_lib.load(None, program.to_dict()))
    record.config = program.to_dict()
    console.print(f"Resuming {out} after chunk {record.chunks}")
    return state, record


def begin(
    program: scan_lib.Program,
    out: Path,
    console: Console,
    resume: bool,
    programs_cache: Path | None,
) -> tuple[pieces.Pieces, Callable, Any, HostRecord]:
    """``program``'s pieces compiled (or loaded from ``programs_cache``), its chunk, and its
    first state with the host's record: restored from the newest checkpoint in ``out`` when
    resuming and there is one, else initialised."""
    program_pieces = pieces.build(program)
    restored = restore(program, out, program_pieces.like, console) if resume else None
    names = ("iterations", "evaluation") if restored else ("iterations", "evaluation", "init")
    compiled = program_pieces.compile(names, programs_cache)
    if restored is None:
        record = HostRecord(config=program.to_dict(), solved_at=[None] * len(program.runs))
        return program_pieces, pieces.chunk(compiled), program_pieces.init_state(compiled), record
    state, record = restored
    return program_pieces, pieces.chunk(compiled), state, record


def check_physics_overflow(program: scan_lib.Program, metrics: dict[str, Any]) -> None:
    """After a chunk: stops, naming the setting, if MuJoCo Warp ran out of a buffer in it
    (metrics ``physics_overflow`` and ``eval_physics_overflow``, environment steps [runs]);
    the checkpoints before the chunk stay as they were. Removes both from ``metrics``."""
    steps = sum(float(sum(metrics.pop(name, [0.0]))) for name in OVERFLOW_METRICS)
    if steps:
        env_config = envs.make_config(program.config.env, **program.config.env_config)
        raise PhysicsOverflowError(
            f"MuJoCo Warp ran out of a contact or constraint buffer in {steps:,.0f} "
            f"environment steps of this chunk (env_config.warp_envs={env_config.warp_envs}, "
            f"this program needs {scan_lib.warp_envs_needed(program):,}; envs/warp_physics.py "
            "sizes the buffers from the scene): raise env_config.warp_envs; nothing of this "
            "chunk was saved"
        )


OVERFLOW_METRICS = ("physics_overflow", "eval_physics_overflow")


class PhysicsOverflowError(RuntimeError):
    """The physics ran out of a preallocated buffer (MuJoCo Warp's contacts or constraints)."""


def run_program(
    program: scan_lib.Program,
    out: Path,
    console: Console,
    resume: bool,
    stop: Interrupt,
    programs_cache: Path | None = None,
    callbacks: tuple[Callback, ...] = (),
) -> dict[str, Any]:
    """Trains one program (one run, or a vmapped batch of runs) into ``out``; compiled pieces
    come from and go to ``programs_cache`` (jaxik.host.executables) when given."""
    start = time.perf_counter()
    config = program.config
    unused = agent_settings.unused(config)
    if unused:
        given = ", ".join(f"{name}={value}" for name, value in unused.items())
        own = ", ".join(agent_settings.names(config.algo))
        console.print(
            f"{config.algo} does not read {given} (other learners' settings; its own: {own})"
        )
    program_pieces, chunk, state, record = begin(program, out, console, resume, programs_cache)
    store = checkpoint.Checkpoints(out)  # nothing is written before the restore succeeded
    stop.saved = store.latest()
    compile_here = time.perf_counter() - start
    console.print(
        f"{config.algo.upper()} on {config.env}: {len(program.runs)} run(s) x "
        f"{config.num_envs} environments, {config.num_evals * config.eval_every:,} steps each, "
        f"on {sharding.describe(program_pieces.mesh)}; compiled in {compile_here:.1f} s"
    )
    results = recorder.Recorder(out, program, record, compile_here, is_main=is_main_process())
    try:
        state, interrupted = train_chunks(
            program, chunk, state, results, store, stop, callbacks, console, start
        )
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
        device=sharding.describe(program_pieces.mesh),
        mesh=sharding.axes(program_pieces.mesh),
        policy="policy",  # the policy folder, relative to the run folder
    )


def train_chunks(
    program: scan_lib.Program,
    chunk: Callable,
    state: Any,
    results: recorder.Recorder,
    store: checkpoint.Checkpoints,
    stop: Interrupt,
    callbacks: tuple[Callback, ...],
    console: Console,
    start: float,
) -> tuple[Any, bool]:
    """Runs chunks until the budget is spent, every run succeeded (``stop_on_success``), Ctrl-C
    or a callback says stop; checkpoints every ``checkpoint_every`` chunks and at the end.
    Returns the last state and whether the program stopped before its budget. ``start`` is
    when this process began the program (its wall-clock time counts from there)."""
    config, record = program.config, results.record
    wall_before, steps_before, train_here = record.wall_seconds, record.env_steps, 0.0
    interrupted = False
    with Progress(*progress_columns(), console=console, transient=False) as progress:
        task = progress.add_task(
            "env steps", total=config.num_evals * config.eval_every, status="",
            completed=steps_before,
        )  # fmt: skip
        done_here = 0
        while record.chunks < config.num_evals:
            chunk_start = time.perf_counter()
            state, metrics = chunk(state)
            wait_for(metrics)
            metrics = to_host(metrics)
            check_physics_overflow(program, metrics)
            done_here += 1
            stop.chunk_seconds = time.perf_counter() - chunk_start
            train_here += stop.chunk_seconds
            wall = wall_before + time.perf_counter() - start
            success, solved = results.add(metrics, stop.chunk_seconds, wall)
            speed = (record.env_steps - steps_before) * len(program.runs) / max(train_here, 1e-9)
            status = f"success {success:.0%}  " + (
                f"{solved}/{len(program.runs)} solved  " if len(program.runs) > 1 else ""
            )
            progress.update(
                task, completed=record.env_steps, status=f"{status}{speed:,.0f} steps/s"
            )
            report = ChunkResult(
                program=program.name, chunk=record.chunks, num_chunks=config.num_evals,
                env_steps=record.env_steps, rows=tuple(record.rows[-len(program.runs):]),
                success=success, solved=solved, wall_seconds=record.wall_seconds,
            )  # fmt: skip
            answers = [callback(report) for callback in callbacks]
            if config.stop_on_success and solved == len(program.runs):
                break
            if stop.stop(done_here) or any(answer is False for answer in answers):
                interrupted = record.chunks < config.num_evals
                break
            every = config.checkpoint_every
            if every and record.chunks % every == 0 and record.chunks < config.num_evals:
                store.save(record.chunks, state, record.to_json())
                stop.saved = record.chunks
        if store.latest() != record.chunks:  # a resumed, finished run has it already
            store.save(record.chunks, state, record.to_json())
    return state, interrupted


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
    folder: Path, program: scan_lib.Program, actor_params: Any, normalizer: dict[str, Any]
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
