"""Benchmarks. Each prints a table and writes JSON, a PNG and its markdown section (naming the
machine and the command) into --out (default runs/bench). The project's BENCHMARKS.md changes
only when asked: ``--update-docs`` rewrites that subcommand's section in it (or in
``--docs-file PATH``).

python -m jaxik.bench env [--envs 1 64 1024 4096 16384] [--patterns scan loop] [--env-names ...]
                          [--set key=value ...]
python -m jaxik.bench train [--envs 16 64 256 1024] [--batch-sizes 256 1024] [key=value ...]
python -m jaxik.bench seeds [--seeds 1 8 64] [key=value ...]
python -m jaxik.bench compile [--algos ddpg td3 sac] [key=value ...]
python -m jaxik.bench time-to-target [key=value ...]
python -m jaxik.bench budget [--minutes 30] [key=value ...]
python -m jaxik.bench ik [--policy RUN_DIR] [--run 0] [--goals 1000] [--arms panda pose planar]
python -m jaxik.bench gpu [--rehearse] [--part-seconds S] [key=value ...]
python -m jaxik.bench fidelity [--episodes 128] [--set key=value ...] [--vs-pandagym]
python -m jaxik.bench response [--set key=value ...] [--vs-pandagym]

key=value settings apply over --config (default configs/default.yaml). ``env --vs-pandagym``,
``time-to-target --vs-pandagym`` and ``budget --vs-pandagym`` also run the panda-gym +
Stable-Baselines3 equivalent in the same invocation and print the ratios, and ``fidelity
--vs-pandagym`` runs the same scripted PandaPush experiments on panda-gym (needs the optional
extra: pip install -e ".[compare]").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import yaml

import jaxik  # noqa: F401  (CPU XLA flags, before jax starts)
from jaxik.bench import machine

ROOT = Path(__file__).resolve().parents[2]
ENV_DEFAULT_NAMES = ["PandaReach", "PandaReachJoints"]


def _positive_ints(option: str, values: list[str]) -> list[int]:
    out = []
    for value in values:
        if not value.isdigit() or int(value) < 1:
            raise SystemExit(f"{option}: {value!r} is not a positive integer")
        out.append(int(value))
    return out


def recorded_command(words: list[str]) -> str:
    """The command as the reports record it, less ``--out`` and its folder: where this machine
    wrote the report is not part of what was measured."""
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == "--out":
            skip = True
        elif not word.startswith("--out="):
            kept.append(word)
    return " ".join(["python -m jaxik.bench", *kept])


def make_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per benchmark."""
    parser = argparse.ArgumentParser(
        prog="python -m jaxik.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--out", type=Path, default=Path("runs/bench"))
        command.add_argument(
            "--update-docs", action="store_true",
            help="also rewrite this benchmark's section of --docs-file",
        )  # fmt: skip
        command.add_argument("--docs-file", type=Path, default=ROOT / "BENCHMARKS.md")
        return command

    env_parser = add("env", "control steps/s against the number of environments")
    env_parser.add_argument("--envs", nargs="+", default=["1", "64", "1024", "4096", "16384"])
    env_parser.add_argument(
        "--patterns", nargs="+", default=["scan", "loop"],
        help="scan: steps inside one lax.scan (as training); loop: the documented jitted, "
        "vmapped step called from a Python loop",
    )  # fmt: skip
    env_parser.add_argument("--env-names", nargs="+", default=ENV_DEFAULT_NAMES)
    env_parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE",
        help="environment config overrides, e.g. joint_limits=true ik_iterations=1",
    )  # fmt: skip
    for name, help_text in (
        ("train", "env steps/s and gradient updates/s against environments and batch size"),
        ("seeds", "wall time of N seeds (one vmapped program) to the success target"),
        ("compile", "trace and compile time of each training program"),
        ("time-to-target", "train.py's time to the success target, cold and warm cache"),
        ("budget", "train.py's evaluation success within a wall-clock budget"),
    ):
        command = add(name, help_text)
        command.add_argument("--config", type=Path, default=ROOT / "configs" / "default.yaml")
        command.add_argument("overrides", nargs="*", help="key=value settings over the config")
    ik_parser = add("ik", "a learned policy against DLS IK and FABRIK on the same goals")
    ik_parser.add_argument(
        "--policy",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="a train.py run folder; its policy joins its arm's table",
    )
    ik_parser.add_argument("--run", type=int, default=0, help="which run of a scan folder")
    ik_parser.add_argument("--goals", default="1000", help="held-out goals per arm")
    ik_parser.add_argument("--batch", default="4096", help="goals in the batched timing")
    ik_parser.add_argument(
        "--arms",
        nargs="+",
        default=["panda", "pose", "planar"],
        help="panda: PandaReach's position goals; pose: PandaReachPose's position and "
        "orientation goals; planar: PlanarReach's",
    )
    gpu_parser = add("gpu", "everything the GPU section needs, in one command (jaxik.bench.gpu)")
    gpu_parser.add_argument(
        "--rehearse", action="store_true",
        help="the same code at tiny sizes on PlanarReach (seconds on a CPU)",
    )  # fmt: skip
    gpu_parser.add_argument(
        "--part-seconds", default=None, metavar="S",
        help="start no further size of a part once it has run S seconds (a GPU held briefly)",
    )  # fmt: skip
    gpu_parser.add_argument("overrides", nargs="*", help="key=value settings over both configs")
    fidelity_parser = add(
        "fidelity",
        "scripted PandaPush, PandaSlide and PandaPickAndPlace experiments, jaxik beside panda-gym",
    )
    fidelity_parser.add_argument("--episodes", default="128", help="episodes per experiment")
    fidelity_parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE",
        help="PandaPush config overrides, e.g. solver_iterations=10",
    )  # fmt: skip
    response_parser = add(
        "response", "the manipulation arm's answer to constant actions, beside panda-gym's"
    )
    response_parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE",
        help="PandaPush config overrides, e.g. physics_engine=mjx",
    )  # fmt: skip
    sub.choices["train"].add_argument("--envs", nargs="+", default=["16", "64", "256", "1024"])
    sub.choices["train"].add_argument("--batch-sizes", nargs="+", default=["256", "1024"])
    sub.choices["seeds"].add_argument("--seeds", nargs="+", default=["1", "8", "64"])
    sub.choices["compile"].add_argument("--algos", nargs="+", default=["ddpg", "td3", "sac"])
    sub.choices["budget"].add_argument(
        "--minutes", default="30", help="the wall-clock budget from process start, in minutes"
    )
    sub.choices["budget"].add_argument(
        "--warm-cache", action="store_true",
        help="let train.py load programs compiled by earlier runs (by default it gets an empty "
        "cache, so its compiling counts as on a fresh machine)",
    )  # fmt: skip
    for name in ("env", "time-to-target", "budget", "fidelity", "response"):
        sub.choices[name].add_argument(
            "--vs-pandagym", action="store_true",
            help="also run the panda-gym + Stable-Baselines3 equivalent and print the ratios",
        )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> None:
    args = make_parser().parse_args(argv)
    command = recorded_command(sys.argv[1:] if argv is None else argv)
    {
        "env": bench_env,
        "train": bench_train,
        "seeds": bench_seeds,
        "compile": bench_compile,
        "time-to-target": bench_time_to_target,
        "budget": bench_budget,
        "ik": bench_ik,
        "gpu": bench_gpu,
        "fidelity": bench_fidelity,
        "response": bench_response,
    }[args.command](args, command.strip())


def _settings(items: list[str]) -> dict:
    """--set key=value ... as a dict of YAML values."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set: {item!r} must look like key=value")
        overrides[key] = yaml.safe_load(value)
    return overrides


def load_config(args: argparse.Namespace):
    """The config and overrides, validated before anything compiles."""
    from jaxik import config as config_lib

    try:
        return config_lib.load(args.config, args.overrides)
    except (ValueError, OSError) as error:
        raise SystemExit(f"{args.config}: {error}") from None


def record(result) -> dict:
    """A result's fields and its derived figures (properties such as steps_per_second)."""
    derived = [n for n in dir(type(result)) if isinstance(getattr(type(result), n), property)]
    return {**dataclasses.asdict(result), **{n: getattr(result, n) for n in derived}}


def report(args, name: str, title: str, command: str, text: str, results, plot, extra=None) -> None:
    """Prints the table; writes <out>/<name>.json, .png and .md (the markdown section), and
    the section into the docs only with --update-docs. ``extra`` (a JSON-able dict) is stored
    beside the results, e.g. the panda-gym comparison."""
    where = machine.describe()
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    records = [record(r) for r in results]
    payload = {"machine": where, "command": command, "results": records, **(extra or {})}
    (args.out / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    plot(args.out / f"{name}.png", results)
    body = f"## {title}: {where}\n\nCommand: `{command}`\n\n{text}\n"
    (args.out / f"{name}.md").write_text(body)
    written = f"wrote {args.out / name}.json, .png and .md"
    if args.update_docs:
        machine.write_section(args.docs_file, f"{name} {title} {where}", body)
        written += f", and its section of {args.docs_file}"
    print(written)


def bench_env(args: argparse.Namespace, command: str) -> None:
    import envs
    from envs.validation import check_choice
    from jaxik.bench import env as env_bench

    for name in args.env_names:
        if name not in envs.ENV_NAMES:
            raise SystemExit(f"--env-names: unknown environment {name!r}; known: {envs.ENV_NAMES}")
    sizes = _positive_ints("--envs", args.envs)
    overrides = _settings(args.set)
    for name in args.env_names:  # bad keys or values fail here, before anything compiles
        try:
            envs.make(name, **overrides)
        except ValueError as error:
            raise SystemExit(f"--set: {error}") from None
    if args.vs_pandagym:
        from jaxik.bench import vs_pandagym

        vs_pandagym.require(("panda_gym", "pybullet"))  # no learning here: SB3 not needed
    print(f"machine: {machine.describe()}", flush=True)
    results = []
    for pattern in args.patterns:
        try:
            check_choice("--patterns", pattern, env_bench.PATTERNS)
        except ValueError as error:
            raise SystemExit(str(error)) from None
    for name in args.env_names:
        for pattern in args.patterns:
            for num_envs in sizes:
                result = env_bench.measure(name, num_envs, pattern, **overrides)
                results.append(result)
                print(f"{name:>18} {pattern:>4} {num_envs:>6} envs: "
                      f"{result.steps_per_second:>12,.0f} steps/s "
                      f"(compile {result.compile_seconds:.1f} s)", flush=True)  # fmt: skip
    setting = " ".join(f"{k}={v}" for k, v in overrides.items()) or "default settings"
    named = "" if args.env_names == ENV_DEFAULT_NAMES else f", {', '.join(args.env_names)}"
    title = f"Environment throughput{named} ({setting})"
    text, extra = env_bench.table(results), None
    if args.vs_pandagym:
        # each task beside panda-gym's own (PyBullet, one environment, random actions)
        pybullet = {}
        for name in args.env_names:
            env_id = vs_pandagym.env_id_of(name)
            if env_id is not None:
                pybullet[name] = vs_pandagym.env_steps_per_second(env_id)
                print(f"{env_id:>18} panda-gym: {pybullet[name]:>12,.0f} steps/s", flush=True)
        extra = {"panda_gym_steps_per_second": pybullet}
        text += (
            "\n\npanda-gym 3 (PyBullet, one environment, random actions), same invocation: "
            + ", ".join(f"{vs_pandagym.env_id_of(n)} {v:,.0f} steps/s" for n, v in pybullet.items())
            + ". Ratios, each task against its panda-gym counterpart:\n\n"
            "| env | pattern | envs | jaxik / panda-gym |\n| --- | --- | ---: | ---: |\n"
            + "\n".join(
                f"| {r.env} | {r.pattern} | {r.num_envs:,} | "
                + (
                    f"{r.steps_per_second / pybullet[r.env]:,.1f}x |"
                    if r.env in pybullet
                    else "- |"
                )
                for r in results
            )
        )
    report(args, "env", title, command, text, results, env_bench.plot, extra)


def bench_train(args: argparse.Namespace, command: str) -> None:
    from jaxik.bench import throughput
    from jaxik.host import scan

    cfg = load_config(args)
    sizes = _positive_ints("--envs", args.envs)
    batches = _positive_ints("--batch-sizes", args.batch_sizes)
    for num_envs in sizes:
        for batch in batches:  # every combination is a valid config before the first compile
            try:
                scan.with_values(cfg, {"num_envs": num_envs, "batch_size": batch,
                                       "eval_every": throughput.ITERATIONS * num_envs})  # fmt: skip
            except ValueError as error:
                raise SystemExit(f"--envs {num_envs} --batch-sizes {batch}: {error}") from None
    print(f"machine: {machine.describe()}", flush=True)
    results = []
    for num_envs in sizes:
        for batch in batches:
            result = throughput.measure(cfg, num_envs, batch)
            results.append(result)
            steps, updates = result.env_steps_per_second, result.updates_per_second
            print(f"{num_envs:>6} envs, batch {batch:>5}: {steps:>12,.0f} env steps/s, "
                  f"{updates:>8,.0f} updates/s", flush=True)  # fmt: skip
    title = f"Training throughput, {cfg.algo.upper()} on {cfg.env}"
    report(args, "train", title, command, throughput.table(results), results, throughput.plot)


def bench_seeds(args: argparse.Namespace, command: str) -> None:
    from jaxik.bench import seeds as seeds_bench

    cfg = load_config(args)
    counts = _positive_ints("--seeds", args.seeds)
    print(f"machine: {machine.describe()}", flush=True)
    results = []
    for count in counts:
        result = seeds_bench.measure(args.config, count, args.overrides)
        results.append(result)
        print(f"{count:>5} seeds: {result.solved}/{count} reached the target, "
              f"{result.wall_seconds:.1f} s ({result.compile_seconds:.1f} s compiling)",
              flush=True)  # fmt: skip
    title = f"Seeds to {cfg.success_target:.0%} success, {cfg.algo.upper()} on {cfg.env}"
    report(args, "seeds", title, command, seeds_bench.table(results), results, seeds_bench.plot)


def bench_compile(args: argparse.Namespace, command: str) -> None:
    from envs.validation import check_choice
    from jaxik.bench import compile as compile_bench
    from jaxik.device import agents

    cfg = load_config(args)
    for algo in args.algos:
        try:
            check_choice("--algos", algo, agents.ALGOS)
        except ValueError as error:
            raise SystemExit(str(error)) from None
    print(f"machine: {machine.describe()}", flush=True)

    def show(t):
        print(
            f"{t.algo:>5} {t.program:<32} trace {t.trace_seconds:5.2f} s, lower "
            f"{t.lower_seconds:5.2f} s, compile {t.compile_seconds:5.2f} s",
            flush=True,
        )

    results = compile_bench.measure(cfg, args.algos, show)
    title = f"Compile time, {cfg.env}"
    report(args, "compile", title, command, compile_bench.table(results), results,
           compile_bench.plot)  # fmt: skip


def bench_time_to_target(args: argparse.Namespace, command: str) -> None:
    from jaxik.bench import time_to_target

    cfg = load_config(args)
    if args.vs_pandagym:
        from jaxik.bench import vs_pandagym

        vs_pandagym.require()
        vs_pandagym.env_id(cfg)  # an env panda-gym has, before anything runs
    print(f"machine: {machine.describe()}", flush=True)
    timings = time_to_target.measure(args.config, args.out, args.overrides)
    title = (
        f"Time to {cfg.success_target:.0%} evaluation success, {args.config.name} "
        f"({cfg.algo.upper()} on {cfg.env})"
    )
    text, extra = time_to_target.table(timings), None
    if args.vs_pandagym:
        sb3 = vs_pandagym.time_to_target_process(args.config, args.overrides)
        extra = {"stable_baselines3": dataclasses.asdict(sb3)}
        text += "\n\n" + time_to_target.comparison(timings, sb3)
    report(args, "time-to-target", title, command, text, timings, time_to_target.plot, extra)


def bench_budget(args: argparse.Namespace, command: str) -> None:
    from jaxik.bench import budget, vs_pandagym
    from jaxik.host import scan as scan_lib

    try:
        minutes = float(args.minutes)
    except ValueError:
        minutes = -1.0
    if not 0 < minutes <= 24 * 60:
        raise SystemExit(f"--minutes: {args.minutes!r} is not a number of minutes in (0, 1440]")
    try:
        scan = scan_lib.load(args.config, args.overrides)  # seeds and sweeps are welcome here
    except (ValueError, OSError) as error:
        raise SystemExit(f"{args.config}: {error}") from None
    if len(scan.programs) != 1:
        raise SystemExit(f"budget: the config makes {len(scan.programs)} programs; give it one")
    cfg = scan.programs[0].config
    if args.vs_pandagym:
        if len(scan.programs[0].runs) != 1:
            raise SystemExit(
                "budget --vs-pandagym: Stable-Baselines3 trains one run per process; give the "
                f"config one run (seeds=1, no sweep), not {len(scan.programs[0].runs)}"
            )
        vs_pandagym.budget_env_id(cfg)  # a task panda-gym has, before anything runs
        vs_pandagym.require()
    print(f"machine: {machine.describe()}", flush=True)
    seconds = minutes * 60
    args.out.mkdir(parents=True, exist_ok=True)
    swept = tuple(scan.programs[0].float_sweep)  # one curve per setting, median over seeds
    curves = budget.run_jaxik(
        cfg, args.config, args.overrides, seconds, args.out, swept, args.warm_cache
    )
    for curve in curves:
        final = budget.percent(curve.final_success)
        print(f"{curve.learner}: {final} at the budget's end", flush=True)
    ignored = ""
    if args.vs_pandagym:
        curves.append(budget.run_sb3(args.config, args.overrides, seconds))
        final = budget.percent(curves[-1].final_success)
        print(f"Stable-Baselines3: {final} at the budget's end", flush=True)
        missing = [n for n in ("random_action_prob", "action_l2") if getattr(cfg, n)]
        if missing:
            ignored = f" Stable-Baselines3 has no {' or '.join(missing)}: it ran without them."
    setting = f"{args.config.name} ({cfg.algo.upper()} on {cfg.env})"
    title = f"Success within {minutes:g} minutes, {setting}"
    text = budget.table(curves, cfg.success_target)
    if args.vs_pandagym:
        text += (
            f"\n\nStable-Baselines3 {cfg.algo.upper()} + HerReplayBuffer on panda-gym's "
            f"{vs_pandagym.budget_env_id(cfg)} (PyBullet, one environment), the config's "
            f"network, batch, learning rate, gamma, tau, noise, buffer and HER settings, one "
            f"gradient update per {vs_pandagym.updates_every(cfg)} environment steps as in the "
            f"jaxik run; its evaluations ({cfg.num_eval_envs} episodes every "
            f"{cfg.eval_every:,} steps) are not counted in its minutes, jaxik's are.{ignored}"
        )
    report(args, "budget", title, command, text, curves, budget.plot)


def bench_ik(args: argparse.Namespace, command: str) -> None:
    import envs
    from jaxik import policy as policy_lib
    from jaxik.bench import ik as ik_bench

    (count,) = _positive_ints("--goals", [args.goals])
    (batch,) = _positive_ints("--batch", [args.batch])
    for arm in args.arms:
        if arm not in ik_bench.ARMS:
            raise SystemExit(f"--arms: {arm!r} is not one of {list(ik_bench.ARMS)}")
    policy = None
    if args.policy is not None:
        try:
            policy = policy_lib.load(args.policy, run=args.run)
            arm = ik_bench.arm_of(envs.make(policy.env, **policy.env_config))
        except ValueError as error:
            raise SystemExit(f"--policy {args.policy}: {error}") from None
        if arm not in args.arms:
            raise SystemExit(
                f"--policy {args.policy}: trained on {policy.env}, which the {arm!r} arm "
                f"compares; --arms {' '.join(args.arms)} leaves it out"
            )
    print(f"machine: {machine.describe()}", flush=True)

    def show(r):
        angle = "" if r.angle_deg_median is None else f", angle {r.angle_deg_median:5.2f} deg"
        print(
            f"{r.task:>10} {r.method:<36} success {r.success:6.1%}, error median "
            f"{r.error_mm_median:7.1f} mm{angle}, one goal {r.ms_single:8.2f} ms, "
            f"{r.us_per_goal_batch:8.1f} us/goal at {batch}",
            flush=True,
        )

    results = ik_bench.measure(policy, count, show, args.arms, batch)
    arms = " ".join(arm for arm in ik_bench.ARMS if arm in args.arms)
    title = f"Learned policy against classical IK ({arms}), {count:,} held-out goals"
    report(args, "ik", title, command, ik_bench.table(results), results, ik_bench.plot)


def bench_gpu(args: argparse.Namespace, command: str) -> None:
    from jaxik.bench import gpu

    plan = gpu.REHEARSAL if args.rehearse else gpu.FULL
    part_seconds = None
    if args.part_seconds is not None:
        (part_seconds,) = _positive_ints("--part-seconds", [args.part_seconds])
    plan = dataclasses.replace(
        plan, overrides=(*plan.overrides, *args.overrides), part_seconds=part_seconds
    )
    print(f"machine: {machine.describe()}", flush=True)
    try:
        parts = gpu.run(
            plan, args.out, log=lambda line: print(line, flush=True),
            finished=lambda so_far: gpu.write(so_far, args.out, command, record),
        )  # fmt: skip
    except (ValueError, OSError) as error:
        raise SystemExit(f"gpu: {error}") from None
    section = gpu.write(parts, args.out, command, record)
    print(section)
    written = f"wrote {args.out / 'gpu'}.json, .md and the PNGs"
    if args.update_docs:
        machine.write_section(args.docs_file, "gpu", section)
        written += f", and the GPU section of {args.docs_file}"
    print(written)


def bench_fidelity(args: argparse.Namespace, command: str) -> None:
    from jaxik.bench import fidelity

    (episodes,) = _positive_ints("--episodes", [args.episodes])
    overrides = _push_settings(args)
    rows = fidelity.measure(episodes, overrides, args.vs_pandagym)
    setting = " ".join(f"{k}={v}" for k, v in overrides.items()) or "default settings"
    title = f"Manipulation tasks beside panda-gym ({setting})"
    report(args, "fidelity", title, command, fidelity.table(rows, episodes), rows,
           fidelity.plot)  # fmt: skip


def _push_settings(args: argparse.Namespace) -> dict:
    """--set's PandaPush overrides, checked before anything compiles; with --vs-pandagym,
    panda-gym and PyBullet required (no learning: SB3 not needed). Prints the machine."""
    import envs

    overrides = _settings(args.set)
    try:
        envs.make_config("PandaPush", **overrides)
    except ValueError as error:
        raise SystemExit(f"--set: {error}") from None
    if args.vs_pandagym:
        from jaxik.bench import vs_pandagym

        vs_pandagym.require(("panda_gym", "pybullet"))
    print(f"machine: {machine.describe()}", flush=True)
    return overrides


def bench_response(args: argparse.Namespace, command: str) -> None:
    from jaxik.bench import response

    overrides = _push_settings(args)
    rows = response.measure(overrides, args.vs_pandagym)
    setting = " ".join(f"{k}={v}" for k, v in overrides.items()) or "default settings"
    title = f"The manipulation arm's response beside panda-gym's ({setting})"
    report(args, "response", title, command, response.table(rows), rows, response.plot)


if __name__ == "__main__":
    main()
