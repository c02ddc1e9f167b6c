"""The host side of training: compile once, run chunks, log, checkpoint, resume.

The device runs one chunk (``iterations_per_eval`` iterations and an evaluation) per call, for
one run or, vmapped, for all runs of a scan program; between calls the host writes metrics rows,
updates the progress bar, saves checkpoints and decides whether to stop. Ctrl-C lets the current
chunk finish, saves a checkpoint and returns; ``train.py --resume`` continues from it exactly.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from jaxik import checkpoint, hyperparams, outputs, platform, scan, sharding, trainer
from jaxik.checkpoint import CheckpointError

RESUMABLE = ("total_env_steps", "checkpoint_every", "stop_on_success", "success_target")
"""Settings a resumed run may change: they decide how long it runs, not what a chunk does."""
FIRST_COLUMNS = ("env_steps", "eval_success", "eval_return", "eval_length", "train_success")


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


def run_scan(
    plan: scan.Scan,
    out: Path,
    console: Console | None = None,
    cache: bool = True,
    resume: bool = False,
    interrupt: Interrupt | None = None,
) -> dict[str, Any]:
    """Trains every program of ``plan`` one after another into ``out``; returns the summary
    (with "interrupted": True if it stopped early). A scan's table, plot and summary go into
    ``out``; with several programs each has its own folder under ``out``."""
    console = console or Console()
    out = Path(out)
    programs = plan.programs
    if resume:
        dirs = [out / p.name if p.name else out for p in programs]
        if not any((d / "checkpoints").is_dir() for d in dirs):
            raise CheckpointError(f"{out} has no checkpoints/ folder: nothing to resume")
    if cache:
        platform.enable_compilation_cache()
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
    summaries = []
    with interrupt or Interrupt() as stop:
        for program in programs:
            program_dir = out / program.name if program.name else out
            summary = run_program(program, program_dir, console, resume, stop)
            summaries.append(summary)
            if summary["interrupted"]:
                return summary
    if len(programs) == 1 and not programs[0].batched:
        return summaries[0]
    table = [row for s in summaries for row in s["settings"]]
    if is_main_process():
        outputs.write_results_table(out, table, list(plan.sweep))
        outputs.plot_sweep(out / "sweep.png", table, list(plan.sweep), plan.base.success_target)
    if len(programs) == 1:
        return summaries[0]
    summary = {
        "scan": plan.to_dict(),
        "programs": [s["program"] for s in summaries],
        "settings": table,
        "wall_seconds": sum(s["wall_seconds"] for s in summaries),
        "interrupted": False,
    }
    if is_main_process():
        outputs.write_summary(out, summary)
    return summary


def run_program(
    program: scan.Program,
    out: Path,
    console: Console,
    resume: bool,
    stop: Interrupt,
) -> dict[str, Any]:
    """Trains one program (one run, or a vmapped batch of runs) into ``out``."""
    start = time.perf_counter()
    config = program.config
    batched = program.batched
    runs = program.runs if batched else (config,)
    program_trainer = trainer.make_trainer(config)
    init_fn, chunk_fn = program_trainer.init, program_trainer.chunk
    if batched:
        init_fn, chunk_fn = jax.vmap(init_fn), jax.vmap(chunk_fn)
        keys = jax.vmap(jax.random.key)(np.asarray([r.seed for r in runs]))
        hp = hyperparams.stack(runs)
    else:
        keys, hp = jax.random.key(config.seed), hyperparams.from_config(config)
    mesh = sharding.make_mesh(len(runs) if batched else None, config.num_envs)
    per_run = sharding.run_sharding(mesh, batched)
    abstract = jax.eval_shape(init_fn, keys, hp)
    shardings = sharding.state_shardings(abstract, mesh, batched)
    like = jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings
    )

    host: dict[str, Any] = {
        "chunks": 0,
        "rows": [],
        "solved_at": [None] * len(runs),
        "seconds": 0.0,
        "config": program.to_dict(),
    }
    state = None
    if resume and (out / "checkpoints").is_dir():  # nothing is written before this succeeds
        store = checkpoint.Checkpoints(out, create=False)
        state, host = store.restore(like)
        check_resumable(
            scan.load(None, host["config"]), scan.load(None, program.to_dict())
        )  # the record inside the checkpoint, against what is asked now
        host["config"] = program.to_dict()
    else:
        if is_main_process():
            out.mkdir(parents=True, exist_ok=True)
        store = checkpoint.Checkpoints(out)

    if state is None:
        init = jax.jit(init_fn, in_shardings=(per_run, per_run), out_shardings=shardings)
        state = init.lower(keys, hp).compile()(keys, hp)
    chunk = (
        jax.jit(
            chunk_fn, in_shardings=(shardings,), out_shardings=(shardings, per_run),
            donate_argnums=0,
        )
        .lower(like)
        .compile()
    )  # fmt: skip
    compile_seconds = time.perf_counter() - start
    resumed_from = host["chunks"]
    title = f"{config.algo.upper()} on {config.env}"
    console.print(
        f"{title}: {len(runs) if batched else 1} run(s) x {config.num_envs} environments, "
        f"{config.num_evals * config.eval_every:,} steps each, on {sharding.describe(mesh)}; "
        f"compiled in {compile_seconds:.1f} s"
        + (f"; resumed after chunk {resumed_from}" if resumed_from else "")
    )

    writer = outputs.RunWriter(
        out, program.to_dict(), host["rows"], tensorboard=not batched, is_main=is_main_process()
    )
    host["rows"] = writer.rows  # saved with every checkpoint
    run_columns = run_labels(program, runs) if batched else None
    run_start = time.perf_counter()
    seconds_before = host["seconds"]
    interrupted = False
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    total_steps = config.num_evals * config.eval_every
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(
                "env steps",
                total=total_steps,
                status="",
                completed=resumed_from * config.eval_every,
            )
            for done_here, _ in enumerate(range(host["chunks"], config.num_evals), start=1):
                state, metrics = chunk(state)
                metrics = to_host(metrics)
                elapsed = seconds_before + time.perf_counter() - start
                success = np.atleast_1d(metrics["eval_success"])
                steps = float(np.atleast_1d(metrics["env_steps"])[0])
                for i, value in enumerate(success):
                    if host["solved_at"][i] is None and value >= config.success_target:
                        host["solved_at"][i] = {"env_steps": steps, "wall_seconds": elapsed}
                for i in range(len(runs)):
                    row = metrics_row(metrics, i if batched else None)
                    row["wall_seconds"] = elapsed
                    writer.add({**run_columns[i], **row} if batched else row)
                host["chunks"] += 1
                host["seconds"] = elapsed
                speed = steps * len(runs) / (elapsed - compile_seconds - seconds_before + 1e-9)
                solved = sum(s is not None for s in host["solved_at"])
                status = f"success {success.mean():.0%}  " + (
                    f"{solved}/{len(runs)} solved  " if batched else ""
                )
                status += f"{speed:,.0f} steps/s"
                progress.update(task, completed=int(steps), status=status)
                all_solved = solved == len(runs)
                if config.stop_on_success and all_solved:
                    break
                if stop.stop(done_here):
                    interrupted = host["chunks"] < config.num_evals
                    break
                every = config.checkpoint_every
                if every and host["chunks"] % every == 0 and host["chunks"] < config.num_evals:
                    store.save(host["chunks"], state, host)
            if store.latest() != host["chunks"]:  # a resumed, finished run has it already
                store.save(host["chunks"], state, host)
    finally:
        writer.close()
        store.close()

    wall_seconds = host["seconds"]
    if interrupted:
        console.print(
            f"Stopped after chunk {host['chunks']} of {config.num_evals}; checkpoint saved. "
            f"Continue with: python train.py --resume {out}"
        )
    policy = to_host({"agent": state.agent, "normalizer": state.normalizer})  # every process
    if is_main_process():
        outputs.save_checkpoint(out, policy)
    summary = (
        program_summary(program, runs, writer.rows, host, compile_seconds, mesh)
        if batched
        else run_summary(config, writer.rows, host, compile_seconds)
    )
    summary.update(
        interrupted=interrupted,
        wall_seconds=wall_seconds,
        compile_seconds=compile_seconds,
        device=sharding.describe(mesh),
        policy=str((out / "policy").absolute()),
        run_seconds=time.perf_counter() - run_start,
    )
    if is_main_process():
        plot_curves(out / "learning_curve.png", program, runs, writer.rows, title)
        outputs.write_summary(out, summary)
    return summary


def run_labels(program: scan.Program, runs: tuple) -> list[dict[str, Any]]:
    """Per run: its index, seed and swept float values (the first metrics.csv columns)."""
    return [
        {"run": i, "seed": r.seed, **{name: getattr(r, name) for name in program.float_sweep}}
        for i, r in enumerate(runs)
    ]


def metrics_row(metrics: dict[str, Any], run: int | None = None) -> dict[str, float]:
    """A chunk's metrics (of run ``run`` when batched) as host floats, most read first."""
    names = [n for n in FIRST_COLUMNS if n in metrics]
    names += sorted(set(metrics) - set(names))
    pick = (lambda v: v) if run is None else (lambda v: v[run])
    return {name: float(pick(np.asarray(metrics[name]))) for name in names}


def run_summary(config, rows, host, compile_seconds) -> dict[str, Any]:
    last = rows[-1]
    solved = host["solved_at"][0]
    if solved is not None:
        solved = {**solved, "seconds_after_compile": solved["wall_seconds"] - compile_seconds}
    run_seconds = max(host["seconds"] - compile_seconds, 1e-9)
    return {
        "algo": config.algo,
        "env": config.env,
        "seed": config.seed,
        "eval_success": last["eval_success"],
        "eval_return": last["eval_return"],
        "env_steps": int(last["env_steps"]),
        "steps_per_second": last["env_steps"] / run_seconds,
        "success_target": config.success_target,
        "solved": solved is not None,
        "solved_at": solved,
    }


def program_summary(program, runs, rows, host, compile_seconds, mesh) -> dict[str, Any]:
    """Each run's final results, then per setting (float values) and overall aggregates over
    seeds: mean, std, interquartile mean, 95 % bootstrap CI."""
    config = program.config
    final = {row["run"]: row for row in rows}  # the last row of each run
    per_run = []
    for i, r in enumerate(runs):
        solved = host["solved_at"][i]
        per_run.append(
            {
                "seed": r.seed,
                **{name: getattr(r, name) for name in program.float_sweep},
                "eval_success": final[i]["eval_success"],
                "eval_return": final[i]["eval_return"],
                "solved_at_env_steps": None if solved is None else solved["env_steps"],
            }
        )
    run_seconds = max(host["seconds"] - compile_seconds, 1e-9)
    steps = int(final[0]["env_steps"])
    all_solved = [s["wall_seconds"] for s in host["solved_at"] if s is not None]
    return {
        "algo": config.algo,
        "env": config.env,
        "program": program.name or None,
        "config": program.to_dict(),
        "num_runs": len(runs),
        "env_steps": steps,
        "steps_per_second": steps * len(runs) / run_seconds,
        "success_target": config.success_target,
        "all_solved_wall_seconds": max(all_solved) if len(all_solved) == len(runs) else None,
        "mesh": dict(zip(mesh.axis_names, mesh.devices.shape, strict=True)),
        "aggregate": scan.aggregate(per_run, config.success_target),
        "settings": scan.settings_table(program, per_run),
        "runs": per_run,
    }


def plot_curves(path: Path, program, runs, rows, title: str) -> None:
    """One line per float setting (band over seeds), or the single run's curve."""
    if not program.batched:
        curve = {name: [row[name] for row in rows] for name in FIRST_COLUMNS[:3]}
        outputs.plot_learning_curves(
            path, title, {program.config.algo.upper(): curve}, program.config.success_target
        )
        return
    groups: dict[str, dict[int, list[dict]]] = {}
    for row in rows:
        run = runs[int(row["run"])]
        label = scan.setting_label(program, run) or program.config.algo.upper()
        groups.setdefault(label, {}).setdefault(int(row["run"]), []).append(row)
    curves = {}
    for label, by_run in groups.items():
        series = list(by_run.values())
        curves[label] = {
            "env_steps": [row["env_steps"] for row in series[0]],
            **{n: [[row[n] for row in s] for s in series] for n in ("eval_return", "eval_success")},
        }
    seeds = f"{program.seeds} seeds" if program.seeds > 1 else "1 seed"
    outputs.plot_learning_curves(path, f"{title}, {seeds}", curves, program.config.success_target)


def to_host(tree: Any) -> Any:
    """Device arrays as NumPy, gathered from every process when running on several hosts."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def is_main_process() -> bool:
    return jax.process_index() == 0


def describe(summary: dict[str, Any]) -> str:
    """One paragraph for the terminal."""
    if "aggregate" in summary or "programs" in summary:
        return describe_scan(summary)
    text = (
        f"Last evaluation: {summary['eval_success']:.0%} success, return "
        f"{summary['eval_return']:.2f}, after {summary['env_steps']:,} environment steps in "
        f"{summary['wall_seconds']:.1f} s ({summary['compile_seconds']:.1f} s of it compiling)."
    )
    solved = summary["solved_at"]
    target = f"{summary['success_target']:.0%}"
    if solved:
        text += (
            f" Reached {target} evaluation success after {int(solved['env_steps']):,} steps, "
            f"{solved['wall_seconds']:.1f} s from the start "
            f"({solved['seconds_after_compile']:.1f} s after compilation)."
        )
    else:
        text += f" Did not reach {target} evaluation success."
    if not math.isfinite(summary["eval_return"]):
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
