"""Reproduces published tables: the seed paper's (DDPG, SAC and TD3 on PandaReach x {sparse, dense}
x {HER, no HER}, several seeds each, within its 70,000-step budget), and panda-gym's tasks x
algorithms within the budgets Stable-Baselines3's zoo gives them.

    python -m jaxik.reproduce paper --out reports/paper [--seeds 3] [--paper-settings]
    python -m jaxik.reproduce panda-gym --out reports/panda-gym [--seeds 3] [--budget-scale 1]
                                        [--tasks ...] [--algos td3 sac tqc]

The grid is one scan, configs/paper/grid.yaml (a ``sweep`` over env, her_strategy and algo),
trained by the host loop as ``train.py`` trains any scan: each (algorithm, reward, replay)
setting is one compiled program that trains all seeds at once, its run folder under --runs.
This module adds the paper's view of the results: report.md (the paper's table layout: actor
loss, critic loss, mean reward, success rate; mean +- standard deviation over seeds),
results.json and one learning-curve PNG per reward x replay.

``panda-gym`` trains each of PandaReach, PandaPush, PandaSlide, PandaPickAndPlace and PandaStack
(sparse reward, end-effector control, HER; the zoo gives Flip no budget) with each algorithm (by
default TD3, SAC and TQC, the zoo's own; DDPG on request) from the task's recipe in
configs/recipes (the GPU recipe where JAX runs on a GPU), for the zoo's budget of environment
steps per seed times --budget-scale; one scan per task, one program per algorithm, seeds
batched. report.md is one table, task x algorithm, with the zoo's budget and published return
beside each task.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jaxik  # noqa: F401  (CPU XLA flags, before jax starts)

ALGOS = ("ddpg", "sac", "td3")  # the paper's, in its column order
PANDAGYM_ALGOS = ("td3", "sac", "tqc")  # panda-gym's tasks by default: TQC is the zoo's
SETTINGS = (("sparse", "her"), ("dense", "her"), ("sparse", "noher"), ("dense", "noher"))
CONFIGS = Path(__file__).resolve().parent.parent / "configs"
GRID = CONFIGS / "paper" / "grid.yaml"
TABLE1 = ("batch_size", "tau", "updates_per_iteration", "hidden_sizes")
"""The settings --paper-settings takes from configs/paper/table1.yaml."""
# Table 2 (sparse + HER) and Table 3 (dense + HER) of the seed paper, Stable-Baselines, Table 1.
PAPER = {
    ("sparse", "her"): {
        "actor_loss": (0.164, 0.101, 0.373),
        "critic_loss": (0.00725, 0.00476, 0.0748),
        "eval_return": (-2.09, -1.74, -1.83),
        "eval_success": (0.98, 0.99, 1.00),
    },
    ("dense", "her"): {
        "actor_loss": (0.00861, 0.182, 0.213),
        "critic_loss": (3.17e-06, 6.51e-06, 0.000113),
        "eval_return": (-0.51, -0.593, -0.496),
        "eval_success": (1.00, 1.00, 1.00),
    },
}
# rl-baselines3-zoo's TQC + HER on panda-gym v1 (hyperparams/tqc.yml, benchmark.md): environment
# steps of training, and the mean return of its deterministic evaluation (50-step episodes that
# do not end on success, so minus the steps spent off the goal).
ZOO = {
    "PandaReach": (20_000, -1.77),
    "PandaPush": (1_000_000, -6.41),
    "PandaSlide": (3_000_000, -27.50),
    "PandaPickAndPlace": (1_000_000, -8.02),
    "PandaStack": (1_000_000, -96.92),  # of -100: 100-step episodes; essentially unsolved
}  # Flip: the zoo gives no budget or figure
RECIPES = {  # task -> (CPU recipe, GPU recipe) in configs/recipes; no held starts, as the zoo
    "PandaReach": ("reach.yaml", "reach.yaml"),
    "PandaPush": ("push_fast.yaml", "push_gpu.yaml"),
    "PandaSlide": ("push_fast.yaml", "push_gpu.yaml"),
    "PandaPickAndPlace": ("push_fast.yaml", "push_gpu.yaml"),
    "PandaStack": ("push_fast.yaml", "push_gpu.yaml"),
}
TARGETS = {"PandaPickAndPlace": 0.7, "PandaStack": 0.7}  # success targets other than the recipe's
ROWS = (
    ("actor_loss", "Actor loss"),
    ("critic_loss", "Critic loss"),
    ("eval_return", "Mean reward"),
    ("eval_success", "Success rate"),
)


def grid(seeds: int, steps: int, paper_settings: bool, algos: list[str]):
    """The paper's grid (configs/paper/grid.yaml) as a scan, with the command line's seeds,
    budget and algorithms; --paper-settings takes Table 1's sizes from configs/paper/table1.yaml.
    Every program is validated here, before anything compiles."""
    from jaxik import config as config_lib
    from jaxik.host import scan as scan_lib

    overrides: dict = {"seeds": seeds, "total_env_steps": steps, "sweep.algo": list(algos)}
    if paper_settings:
        table1 = config_lib.load(CONFIGS / "paper" / "table1.yaml")
        for name in TABLE1:
            value = getattr(table1, name)
            overrides[name] = list(value) if isinstance(value, tuple) else value
    return scan_lib.load(GRID, overrides)


def pandagym_grid(
    tasks: list[str], algos: list[str], seeds: int, scale: float, gpu: bool
) -> list[tuple[str, object]]:
    """(task, scan) per task: the task's recipe (``gpu``: its GPU recipe) with the task, the
    seeds, the zoo's budget times ``scale`` and one program per algorithm. Every program is
    validated here, before anything compiles."""
    from jaxik.host import scan as scan_lib

    scans = []
    for task in tasks:
        recipe = CONFIGS / "recipes" / RECIPES[task][gpu]
        steps = max(1, round(ZOO[task][0] * scale))
        overrides = {"env": task, "seeds": seeds, "total_env_steps": steps, "sweep.algo": algos}
        if task in TARGETS:
            overrides["success_target"] = TARGETS[task]
        scans.append((task, scan_lib.load(recipe, overrides)))
    return scans


def setting_of(program) -> tuple[str, str, str]:
    """(algo, reward, replay) of one program of the grid, e.g. ("td3", "dense", "noher")."""
    import envs

    config = program.config
    reward = envs.make_config(config.env, **config.env_config).reward_type
    return config.algo, reward, "noher" if config.her_strategy == "none" else "her"


def program_results(folder: Path) -> tuple[dict, dict]:
    """A trained program's summary (as its recorder wrote it) and its metrics [seeds, num_evals]
    (NumPy), read back from its run folder."""
    from jaxik.host import recorder

    return recorder.read(folder, ["env_steps", *(name for name, _ in ROWS)])


def final_values(saved: dict) -> dict[str, list[float]]:
    """Per seed, the last evaluation's success and return and the last chunk's losses."""
    return {
        name: [float(run[name] if name in run else run["final"][name]) for run in saved["runs"]]
        for name, _ in ROWS
    }


def target_text(results: dict) -> str:
    """The success target the runs were judged by, e.g. "95 %"."""
    return f"{results['success_target'] * 100:g} %"


def format_steps(found: list[float | None]) -> str:
    import numpy as np

    reached = [s for s in found if s is not None]
    if not reached:
        return "not reached"
    text = f"{np.mean(reached):,.0f} ± {np.std(reached):,.0f}"
    if len(reached) < len(found):
        text += f" ({len(reached)} of {len(found)} seeds)"
    return text


def format_cell(values: list[float], name: str) -> str:
    import numpy as np

    mean, spread = float(np.mean(values)), float(np.std(values))
    if name == "eval_success":
        return f"{mean:.0%} ± {spread:.0%}"
    if name == "critic_loss":
        return f"{mean:.3g} ± {spread:.2g}"
    return f"{mean:.3f} ± {spread:.3f}"


def write_report(out: Path, results: dict, args: argparse.Namespace, machine: str) -> None:
    lines = [
        "# The seed paper's PandaReach tables, reproduced",
        "",
        f"Command: `python -m jaxik.reproduce paper --out {args.out} --seeds {args.seeds}"
        + (" --paper-settings" if args.paper_settings else "")
        + (f" --total-env-steps {args.total_env_steps}" if args.total_env_steps != 70000 else "")
        + "`",
        f"Machine: {machine}. Total wall time {results['wall_seconds'] / 60:.1f} min.",
        "",
        "Each cell: mean ± standard deviation over seeds of the last evaluation (100 episodes,",
        "deterministic policy, fresh goals) and of the last chunk's mean losses.",
        "",
    ]
    table_number = {("sparse", "her"): 2, ("dense", "her"): 3}
    for reward, replay in SETTINGS:
        key = f"{reward}_{replay}"
        if key not in results["settings"]:
            continue
        setting = results["settings"][key]
        title = f"{reward} reward, {'HER' if replay == 'her' else 'no HER'}"
        lines += [f"## {title[0].upper()}{title[1:]}", ""]
        algos = [a for a in ALGOS if a in setting]
        paper = PAPER.get((reward, replay))
        header = "| | " + " | ".join(a.upper() for a in algos) + " |"
        if paper:
            header += " paper: " + " / ".join(a.upper() for a in algos) + " |"
        lines += [header, "|---" * (len(algos) + 1 + bool(paper)) + "|"]
        for name, label in ROWS:
            cells = [format_cell(setting[a]["final"][name], name) for a in algos]
            row = f"| {label} | " + " | ".join(cells) + " |"
            if paper:
                values = [paper[name][ALGOS.index(a)] for a in algos]
                text = [f"{v:.0%}" if name == "eval_success" else f"{v:g}" for v in values]
                row += " " + " / ".join(text) + " |"
            lines.append(row)
        steps = [format_steps(setting[a]["steps_to_target"]) for a in algos]
        row = f"| Steps to {target_text(results)} | " + " | ".join(steps) + " |"
        lines.append(row + (" |" if paper else ""))
        timing = ", ".join(
            f"{a.upper()} {setting[a]['run_seconds']:.0f} s"
            f" (+{setting[a]['compile_seconds']:.0f} s compile)"
            for a in algos
        )
        lines += [
            "",
            f"Training time for {args.seeds} seeds together: {timing}.",
            f"Learning curves: [{key}.png]({key}.png)."
            + (f" The paper's Table {table_number[(reward, replay)]}." if paper else ""),
            "",
        ]
    lines += [*findings(results), NOTES + DIFFERENCES]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def findings(results: dict) -> list[str]:
    """What this run's numbers show, computed from them: each setting's final success per
    algorithm (mean, and the worst seed), and HER's effect on the steps to the success target."""
    import numpy as np

    lines = ["## What the runs show", ""]
    settings = results["settings"]
    for reward, replay in SETTINGS:
        key = f"{reward}_{replay}"
        if key not in settings:
            continue
        parts = []
        for algo, values in settings[key].items():
            success = values["final"]["eval_success"]
            parts.append(f"{algo.upper()} {np.mean(success):.0%} (worst seed {min(success):.0%})")
        label = f"{reward.capitalize()}, {'HER' if replay == 'her' else 'no HER'}"
        lines.append(f"- {label}: final success " + ", ".join(parts) + ".")
    for reward in ("sparse", "dense"):
        her, plain = settings.get(f"{reward}_her"), settings.get(f"{reward}_noher")
        if not her or not plain:
            continue
        parts = []
        for algo in her:
            if algo not in plain:
                continue
            with_her, without = her[algo]["steps_to_target"], plain[algo]["steps_to_target"]
            reached = [s for s in without if s is not None]
            reached_her = [s for s in with_her if s is not None]
            text = (
                f"{algo.upper()} {len(reached)}/{len(without)} seeds reach "
                f"{target_text(results)} without HER"
            )
            if reached and reached_her:
                ratio = np.mean(reached) / np.mean(reached_her)
                text += f", in {ratio:.1f}x the steps with HER"
            parts.append(text)
        lines.append(f"- {reward.capitalize()} reward, HER against none: " + "; ".join(parts) + ".")
    return [*lines, ""]


def write_pandagym_report(out: Path, results: dict, command: str) -> None:
    """report.md: task x algorithm, each with the zoo's budget and return beside it."""
    import numpy as np

    lines = [
        "# panda-gym's tasks, within Stable-Baselines3 zoo's budgets",
        "",
        f"Command: `{command}`",
        f"Machine: {results['machine']}. Total wall time {results['wall_seconds'] / 60:.1f} min. "
        f"Budgets: the zoo's times {results['budget_scale']:g}; recipes: "
        + ", ".join(f"{t} {r}" for t, r in results["recipes"].items())
        + ".",
        "",
        "Each cell is over seeds of the last evaluation (100 episodes, deterministic policy, fresh "
        "goals): success as the median (lowest-highest), return as mean ± standard deviation.",
        "",
        "| task | algorithm | success | return | steps to target | steps per seed "
        "| training (s) | zoo TQC + HER: steps, return |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for task, by_algo in results["tasks"].items():
        budget, zoo_return = ZOO[task]
        for algo, cell in by_algo.items():
            success = cell["final"]["eval_success"]
            returns = cell["final"]["eval_return"]
            target = f"{cell['success_target']:.0%}: " + format_steps(cell["steps_to_target"])
            lines.append(
                f"| {task} | {algo.upper()} | {np.median(success):.0%} "
                f"({min(success):.0%}-{max(success):.0%}) | "
                f"{np.mean(returns):.2f} ± {np.std(returns):.2f} | {target} | "
                f"{cell['env_steps']:,} | {cell['run_seconds']:.0f} "
                f"(+{cell['compile_seconds']:.0f} compile) | {budget:,}, {zoo_return:g} |"
            )
    lines += ["", PANDAGYM_NOTES]
    (out / "report.md").write_text("\n".join(lines) + "\n")


PANDAGYM_NOTES = """## Reading these numbers

- The zoo's column is TQC + HER (3 x 512 networks, batch 2,048, one update per environment step)
  on panda-gym v1, whose episodes ran all 50 steps: its return is minus the steps spent off the
  goal. Here episodes end at the first success (panda-gym v3), so a return counts the steps
  before it; a policy that reaches the goal and stays scores the same on both.
- Steps are environment steps per seed, all of a run's parallel environments together. Training
  time is for all seeds of a program together, after compilation.
- PandaPickAndPlace is judged at 70 %, the others at their recipe's target.
- The seeds of one algorithm are one program, vmapped; the programs run one after another.
"""


NOTES = """## Reading these numbers

- Dense mean reward sums the distance over every step of the episode: an arm that starts to move
  more slowly accrues more of it before reaching the goal (docs/environments.md).
- The no-HER rows use the HER rows' settings (100,000 transitions, observation normalisation, 16
  environments exploring at once), not the paper's Table 4 (a replay buffer of 128 transitions,
  batch 100); with these, noisy early episodes pass within 5 cm of a goal often enough for plain
  replay to learn from, so what HER buys shows up as samples saved.

"""

DIFFERENCES = """## Where this differs from the paper, and why

- Physics and controller: MuJoCo MJX with the project's tuned Panda model, not PyBullet; its
  one-step responses match panda-gym's within a factor of 1.5 (docs/environments.md).
- Episodes do not end on success here (`terminate_on_success: false`), as in the panda-gym
  v1/v2 that the paper used; success is being within 5 cm at the 50th step.
- Mean reward is the undiscounted return of the deterministic evaluation episodes; the paper
  reports Stable-Baselines' `ep_rew_mean` of the noisy training episodes.
- Losses are our losses: TD3's and SAC's critic losses are summed over the two critics, SAC's actor
  loss includes the entropy term, so only their order of magnitude is comparable.
- Network sizes and batch: the project's defaults (two layers of 64, batch 256, tau 0.05,
  16 environments, 4 updates per 16 steps) unless `--paper-settings` (Table 1's 3 x 512, batch
  2,048, tau 0.005, one update per environment step) was given.
- The paper's own no-HER implementation used different settings (its Table 4); the no-HER rows
  here use the same settings as the HER rows, with plain uniform replay.
"""


def make_parser() -> argparse.ArgumentParser:
    from jaxik import config as config_lib

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", choices=["paper", "panda-gym"])
    parser.add_argument("--out", type=Path, default=None, help="default reports/<which>")
    parser.add_argument(
        "--runs", type=Path, default=None,
        help="where each setting's run folder (metrics, checkpoints, policy) goes; "
        "default runs/<which>",
    )  # fmt: skip
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--total-env-steps", type=int, default=70_000, help="paper only")
    parser.add_argument("--paper-settings", action="store_true", help="paper only")
    parser.add_argument(
        "--algos", nargs="+", default=None, choices=config_lib.ALGOS,
        help=f"paper: of {' '.join(ALGOS)} (default all); panda-gym: default "
        f"{' '.join(PANDAGYM_ALGOS)}",
    )  # fmt: skip
    parser.add_argument(
        "--tasks", nargs="+", default=list(ZOO), choices=list(ZOO), help="panda-gym only"
    )
    parser.add_argument(
        "--budget-scale", type=float, default=1.0,
        help="panda-gym only: each task's budget is the zoo's times this, in (0, 10]",
    )  # fmt: skip
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked, with the defaults that depend on ``which`` filled in."""
    parser = make_parser()
    args = parser.parse_args(argv)
    args.out = args.out or Path("reports") / args.which
    args.runs = args.runs or Path("runs") / args.which
    if args.seeds < 1:
        parser.error(f"--seeds={args.seeds} must be >= 1")
    if not 0 < args.budget_scale <= 10:
        parser.error(f"--budget-scale={args.budget_scale} must be in (0, 10]")
    if args.which == "paper" and args.algos and set(args.algos) - set(ALGOS):
        parser.error(f"--algos {' '.join(args.algos)}: the paper has {', '.join(ALGOS)} only")
    args.algos = args.algos or list(ALGOS if args.which == "paper" else PANDAGYM_ALGOS)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.which == "panda-gym":
        return main_pandagym(args, argv)
    return main_paper(args)


def main_paper(args: argparse.Namespace) -> int:
    scan = grid(args.seeds, args.total_env_steps, args.paper_settings, args.algos)

    from rich.console import Console

    from jaxik.bench import machine
    from jaxik.host import outputs, run

    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    run.run_scan(scan, args.runs, console=Console())
    results: dict = {"settings": {}}
    curves: dict = {}
    for program in scan.programs:
        algo, reward, replay = setting_of(program)
        key = f"{reward}_{replay}"
        folder = run.program_dir(args.runs, program)
        saved, metrics = program_results(folder)
        final = final_values(saved)
        compile_seconds, run_seconds = saved["compile_seconds"], saved["train_seconds"]
        results["success_target"] = saved["success_target"]
        results["settings"].setdefault(key, {})[algo] = {
            "final": final,
            "steps_to_target": [run["solved_at_env_steps"] for run in saved["runs"]],
            "compile_seconds": compile_seconds,
            "run_seconds": run_seconds,
            "curve_steps": metrics["env_steps"][0].tolist(),
            "curve_success": metrics["eval_success"].tolist(),
            "curve_return": metrics["eval_return"].tolist(),
        }
        curves.setdefault(key, {})[algo.upper()] = {**metrics, "env_steps": metrics["env_steps"][0]}
        print(
            f"{algo.upper():4s} {reward:6s} {replay:5s}: success "
            f"{format_cell(final['eval_success'], 'eval_success')}, reward "
            f"{format_cell(final['eval_return'], 'eval_return')} "
            f"({run_seconds:.0f} s + {compile_seconds:.0f} s compile)",
            flush=True,
        )
    for reward, replay in SETTINGS:
        key = f"{reward}_{replay}"
        title = f"PandaReach, {reward} reward, {'HER' if replay == 'her' else 'no HER'}"
        by_algo = curves[key]
        ordered = {a.upper(): by_algo[a.upper()] for a in ALGOS if a.upper() in by_algo}
        outputs.plot_learning_curves(args.out / f"{key}.png", title, ordered)
    results["wall_seconds"] = time.perf_counter() - start
    results["machine"] = machine.describe()
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    write_report(args.out, results, args, results["machine"])
    print(f"Report: {args.out / 'report.md'}")
    return 0


def main_pandagym(args: argparse.Namespace, argv: list[str] | None) -> int:
    import sys

    import jax
    from rich.console import Console

    from jaxik.bench import machine
    from jaxik.host import outputs, run

    gpu = jax.default_backend() == "gpu"
    try:
        scans = pandagym_grid(args.tasks, args.algos, args.seeds, args.budget_scale, gpu)
    except ValueError as error:
        raise SystemExit(f"panda-gym: {error}") from None
    command = "python -m jaxik.reproduce " + " ".join(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results: dict = {"tasks": {}, "budget_scale": args.budget_scale, "recipes": {}}
    for task, scan in scans:
        results["recipes"][task] = RECIPES[task][gpu]
        run.run_scan(scan, args.runs / task, console=Console())
        curves = {}
        for program in scan.programs:
            algo = program.config.algo
            saved, metrics = program_results(run.program_dir(args.runs / task, program))
            final = final_values(saved)
            results["tasks"].setdefault(task, {})[algo] = {
                "final": final,
                "steps_to_target": [r["solved_at_env_steps"] for r in saved["runs"]],
                "success_target": saved["success_target"],
                "env_steps": saved["env_steps"],
                "compile_seconds": saved["compile_seconds"],
                "run_seconds": saved["train_seconds"],
                "curve_steps": metrics["env_steps"][0].tolist(),
                "curve_success": metrics["eval_success"].tolist(),
            }
            curves[algo.upper()] = {**metrics, "env_steps": metrics["env_steps"][0]}
            success = format_cell(final["eval_success"], "eval_success")
            print(
                f"{task} {algo.upper()}: success {success} after {saved['env_steps']:,} steps",
                flush=True,
            )
        title = f"{task}, sparse reward, HER, {args.seeds} seeds"
        outputs.plot_learning_curves(args.out / f"{task}.png", title, curves)
    results["wall_seconds"] = time.perf_counter() - start
    results["machine"] = machine.describe()
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    write_pandagym_report(args.out, results, command)
    print(f"Report: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
