"""Train DDPG, TD3, SAC or TQC with HER on a task: one run, or a scan of seeds and settings.

    python train.py --config configs/default.yaml [key=value ...] [--out runs/NAME]
    python train.py --config configs/default.yaml seeds=16             # 16 seeds, one program
    python train.py seeds=4 "sweep.lr=[1e-3,3e-4]" "sweep.tau=[0.05,0.01]"  # 2x2 grid x 4 seeds
    python train.py --resume runs/NAME                                 # continue a stopped run

Overrides use the config's field names (see jaxik/config.py), e.g. ``algo=sac seed=3
env_config.terminate_on_success=false``; ``seeds`` and ``sweep.NAME=[...]`` make a scan (see
jaxik/host/scan.py). Everything is written into --out. Ctrl-C finishes the current chunk, saves a
checkpoint and exits with status 130; --resume continues exactly where it stopped. From Python,
``jaxik.train`` (jaxik/training.py) does the same and returns the results.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import threading
from pathlib import Path

import jaxik  # noqa: F401  (CPU XLA flags, before jax starts)
from jaxik import training
from jaxik.host import executables, recorder, run
from jaxik.host import scan as scan_lib
from jaxik.host.checkpoint import CheckpointError
from jaxik.host.outputs import OutputError

DEFAULT_CONFIG = training.DEFAULT_CONFIG


def settle_background_writes() -> None:
    """Lets orbax's failed background writes report before our error, so that it is the last
    line: their threads print tracebacks when they end (the interpreter would wait for them at
    exit anyway), and their asyncio tasks log "exception was never retrieved" when collected
    (now; any left at exit stay unlogged, since our message carries the error)."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            try:
                thread.join(timeout=60)
            except Exception:  # orbax's threads re-raise their own failure from join()
                pass
    gc.collect()
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=None, help="default: configs/default.yaml")
    parser.add_argument("--out", type=Path, default=None, help="default: runs/<config name>")
    parser.add_argument(
        "--resume", type=Path, default=None, metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its newest checkpoint (its config.yaml, plus "
        f"overrides of {', '.join(run.RESUMABLE)})",
    )  # fmt: skip
    parser.add_argument(
        "--distributed", action="store_true",
        help="call jax.distributed.initialize() first (one process per host; see docs/training.md)",
    )  # fmt: skip
    parser.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="with --distributed: process 0's address (else detected)",
    )
    parser.add_argument(
        "--num-processes",
        type=int,
        metavar="N",
        help="with --distributed: how many processes (else detected)",
    )
    parser.add_argument(
        "--process-id",
        type=int,
        metavar="I",
        help="with --distributed: this process's id, 0 to N-1 (else detected)",
    )
    parser.add_argument("overrides", nargs="*", help="key=value settings over the config file")
    return parser


def config_source(args: argparse.Namespace) -> Path:
    """The config file the arguments name: the run's own with --resume, else --config."""
    return args.resume / "config.yaml" if args.resume else args.config or DEFAULT_CONFIG


def load_scan(args: argparse.Namespace) -> scan_lib.Scan:
    """The scan the arguments ask for, validated (ValueError or OSError naming the problem;
    CheckpointError for a --resume folder that holds no run)."""
    source = config_source(args)
    if args.resume is not None and not source.is_file():
        raise CheckpointError(f"{args.resume} has no config.yaml: not a run folder")
    scan = scan_lib.load(source, args.overrides)
    if args.resume is not None:
        run.check_resumable(scan_lib.load(source), scan)
    return scan


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.resume is not None and (args.config is not None or args.out is not None):
        parser.error("--resume RUN_DIR takes its config and output folder from RUN_DIR")
    source = config_source(args)
    try:
        scan = load_scan(args)
    except (ValueError, OSError) as error:
        print(f"{source}: {error}", file=sys.stderr)
        return 2
    try:
        executables.limit_bytes()  # the cache's size cap, from the environment
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    given = [args.coordinator, args.num_processes, args.process_id]
    if any(v is not None for v in given) and not args.distributed:
        parser.error("--coordinator, --num-processes and --process-id need --distributed")
    if args.distributed:
        import jax

        jax.distributed.initialize(
            coordinator_address=args.coordinator,
            num_processes=args.num_processes,
            process_id=args.process_id,
        )
    out = args.resume or args.out or Path("runs") / source.stem
    try:
        result = training.train(scan, out=out, resume=args.resume is not None)
    except (CheckpointError, OutputError, run.PhysicsOverflowError) as error:
        settle_background_writes()
        print(f"{out}: {error}", file=sys.stderr)
        return 2
    if result.interrupted:
        return 130
    print(recorder.describe(result.summary))
    print(f"Outputs in {out}/")
    return 0


if __name__ == "__main__":
    status = main()
    if status == 2:
        # An error was printed last; end here, before interpreter shutdown lets orbax's failed
        # background threads print their tracebacks after it. Files are closed, and a
        # checkpoint is complete or absent (orbax renames it into place when done).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
