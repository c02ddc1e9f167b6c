"""Benchmarks that rewrite their own sections of BENCHMARKS.md.

python -m jaxik.bench env [--envs 1 64 1024 4096] [--env-names ...] [--set key=value ...]
python -m jaxik.bench train [--config configs/default.yaml] [key=value ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import yaml

import jaxik  # noqa: F401  (CPU XLA flags, before jax starts)
from jaxik.bench import env as env_bench
from jaxik.bench import machine
from jaxik.bench import train as train_bench


def _positive_ints(values: list[str]) -> list[int]:
    out = []
    for value in values:
        if not value.isdigit() or int(value) < 1:
            raise SystemExit(f"--envs: {value!r} is not a positive integer")
        out.append(int(value))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jaxik.bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    env_parser = sub.add_parser("env", help="control steps/s against the number of environments")
    env_parser.add_argument("--envs", nargs="+", default=["1", "64", "1024", "4096"])
    env_parser.add_argument("--env-names", nargs="+", default=["PandaReach", "PandaReachJoints"])
    env_parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    env_parser.add_argument("--markdown", type=Path, default=Path("BENCHMARKS.md"))
    env_parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="environment config overrides, e.g. joint_limits=true ik_iterations=1",
    )
    train_parser = sub.add_parser("train", help="train.py's time to the success target")
    train_parser.add_argument("--config", type=Path, default=Path("configs/default.yaml"))
    train_parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    train_parser.add_argument("--markdown", type=Path, default=Path("BENCHMARKS.md"))
    train_parser.add_argument("overrides", nargs="*", help="key=value settings over the config")
    args = parser.parse_args(argv)
    if args.command == "train":
        bench_train(args, argv)
    else:
        bench_env(args, argv)


def bench_train(args: argparse.Namespace, argv: list[str] | None) -> None:
    from jaxik import config as config_lib

    try:
        cfg = config_lib.load(args.config, args.overrides)
    except (ValueError, OSError) as error:
        raise SystemExit(f"{args.config}: {error}") from None
    where = machine.describe()
    print(f"machine: {where}", flush=True)
    timings = train_bench.measure(args.config, args.out, args.overrides)
    text = train_bench.table(timings)
    print(text)
    command = "python -m jaxik.bench " + " ".join(sys.argv[1:] if argv is None else argv)
    target = f"{cfg.success_target:.0%}"
    body = (
        f"## Time to {target} evaluation success, {args.config} "
        f"({cfg.algo.upper()} on {cfg.env}): {where}\n\n"
        f"Command: `{command.strip()}`\n\n{text}\n"
    )
    key = f"train {args.config} {' '.join(args.overrides)} {where}"
    machine.write_section(args.markdown, key, body)
    print(f"wrote {args.markdown}")


def bench_env(args: argparse.Namespace, argv: list[str] | None) -> None:
    import envs

    for name in args.env_names:
        if name not in envs.ENV_NAMES:
            raise SystemExit(f"--env-names: unknown environment {name!r}; known: {envs.ENV_NAMES}")
    sizes = _positive_ints(args.envs)
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set: {item!r} must look like key=value")
        overrides[key] = yaml.safe_load(value)
    for name in args.env_names:  # bad keys or values fail here, before anything compiles
        try:
            envs.make(name, **overrides)
        except ValueError as error:
            raise SystemExit(f"--set: {error}") from None
    where = machine.describe()
    print(f"machine: {where}", flush=True)
    results = []
    for name in args.env_names:
        for num_envs in sizes:
            result = env_bench.measure(name, num_envs, **overrides)
            results.append(result)
            print(
                f"{name:>18} {num_envs:>6} envs: {result.steps_per_second:>12,.0f} steps/s "
                f"(compile {result.compile_seconds:.1f} s)",
                flush=True,
            )
    text = env_bench.table(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "env.json").write_text(
        json.dumps(
            {"machine": where, "results": [dataclasses.asdict(r) for r in results]}, indent=2
        )
    )
    command = "python -m jaxik.bench env " + " ".join(sys.argv[2:] if argv is None else argv[1:])
    setting = " ".join(f"{k}={v}" for k, v in overrides.items()) or "default settings"
    body = (
        f"## Environment throughput ({setting}): {where}\n\n"
        f"Command: `{command.strip()}`\n\n{text}\n"
    )
    machine.write_section(args.markdown, f"env {setting} {where}", body)
    print(f"wrote {args.out / 'env.json'} and {args.markdown}")


if __name__ == "__main__":
    main()
