"""Everything the GPU section of BENCHMARKS.md needs, in one command that runs the other
benchmarks' measurements one after another:

- env: control steps/s of PandaReach and PandaReachJoints inside one ``lax.scan``, from 1 to
  65,536 environments, compile time apart (jaxik.bench.env);
- train: environment steps/s and gradient updates/s of ``configs/gpu.yaml`` at 2,048, 8,192 and
  16,384 environments (jaxik.bench.throughput);
- time-to-target: ``train.py --config configs/gpu.yaml`` to the success target, the whole
  process, with a cold and then a warm cache of compiled programs (jaxik.bench.time_to_target);
- seeds: 1, 64 and 1,024 seeds of ``configs/default.yaml`` (16 environments each) in one program
  to the success target: wall time and cost per seed (jaxik.bench.seeds);
- manipulation: the same as env for PandaPush and PandaPickAndPlace (contacts), last because
  their programs take longest to compile;
- warp: the same tasks and sizes with MuJoCo Warp's physics (``physics_engine="warp"``,
  envs/warp_physics.py) beside the manipulation part's MJX;
- engines: ``train.py --config configs/recipes/push_gpu.yaml`` to its success target, the whole
  process with a cold cache, once on MJX's physics and once on MuJoCo Warp's (time_to_target);
  this part and the warp part are named as skipped where the warp extra is not installed, with
  the command that installs it.

A size that does not fit in the device's memory is skipped and named as such; any other failure
of one size or part is recorded with its error and the others still run. A GPU is often
available for minutes only, so each part may be given a time (``part_seconds``): once it is
spent, the part starts no further size (its first always runs) and names those it left out; and
the files are rewritten after every part, so a run stopped from outside keeps the parts it
finished.
``--rehearse`` runs the same code at tiny sizes on PlanarReach (seconds on a CPU): the default
suite runs it, so the command works the first time it meets a GPU.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from jaxik.bench import machine

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to measure: the sizes of each part and the settings it trains with."""

    env_names: tuple[str, ...]
    env_sizes: tuple[int, ...]
    train_config: Path
    train_sizes: tuple[int, ...]
    seeds_config: Path
    seed_counts: tuple[int, ...]
    manipulation_names: tuple[str, ...]
    manipulation_sizes: tuple[int, ...]
    warp_names: tuple[str, ...]  # stepped with physics_engine="warp"
    warp_sizes: tuple[int, ...]
    engines_config: Path  # trained to its target on each physics engine
    engines_overrides: tuple[str, ...] = ()  # key=value over engines_config only
    overrides: tuple[str, ...] = ()  # key=value over train_config and seeds_config
    part_seconds: float | None = None  # no further size of a part starts after this; None: no limit


FULL = Plan(
    env_names=("PandaReach", "PandaReachJoints"),
    env_sizes=(1, 64, 1024, 4096, 16384, 65536),
    train_config=ROOT / "configs" / "gpu.yaml",
    train_sizes=(2048, 8192, 16384),
    seeds_config=ROOT / "configs" / "default.yaml",
    seed_counts=(1, 64, 1024),
    manipulation_names=("PandaPush", "PandaPickAndPlace"),
    manipulation_sizes=(1, 1024, 4096, 16384, 65536),
    warp_names=("PandaPush", "PandaPickAndPlace"),
    warp_sizes=(4096, 16384, 65536),
    engines_config=ROOT / "configs" / "recipes" / "push_gpu.yaml",
)
REHEARSAL = Plan(
    env_names=("PlanarReach",),
    env_sizes=(1, 8),
    train_config=ROOT / "configs" / "gpu.yaml",
    train_sizes=(16,),
    seeds_config=ROOT / "configs" / "default.yaml",
    seed_counts=(1, 2),
    manipulation_names=("PlanarReach",),  # the same code; a contact task compiles for a minute
    manipulation_sizes=(4,),
    warp_names=("PandaPush",),  # a contact task: Warp's engine is theirs (minutes on a CPU)
    warp_sizes=(4,),
    engines_config=ROOT / "configs" / "recipes" / "push_gpu.yaml",
    engines_overrides=(
        "num_envs=4", "total_env_steps=16", "eval_every=8", "learning_starts=8",
        "batch_size=8", "buffer_size=64", "hidden_sizes=[8]", "num_eval_envs=2",
        "updates_per_iteration=1",
    ),
    overrides=(
        "env=PlanarReach", "num_envs=16", "total_env_steps=1024", "eval_every=512",
        "learning_starts=128", "batch_size=64", "buffer_size=4096", "hidden_sizes=[32,32]",
        "num_eval_envs=10", "updates_per_iteration=2",
    ),
)  # fmt: skip


def out_of_memory(error: BaseException) -> bool:
    text = f"{type(error).__name__}: {error}"
    return "RESOURCE_EXHAUSTED" in text or "Out of memory" in text or "out of memory" in text


def attempt(label: str, measure: Callable[[], Any], log: Callable[[str], None]):
    """``measure()``, or a record of why it gave nothing (out of memory, or another error)."""
    try:
        return measure(), None
    except (Exception, SystemExit) as error:
        reason = "does not fit in memory" if out_of_memory(error) else repr(error)[:500]
        log(f"{label}: skipped, {reason}")
        if not out_of_memory(error):
            log(traceback.format_exc(limit=3))
        return None, {"size": label, "skipped": reason}


def device() -> dict[str, str]:
    """The device the numbers come from: its name, the backend's version string (on a GPU it
    names the CUDA version the backend reports), jax's version, and how the Panda's physics is
    set up on this backend (envs/panda_model.py, PHYSICS_CHOICES)."""
    from envs import panda_model

    first = jax.devices()[0]
    return {
        "name": machine.describe(),
        "kind": str(getattr(first, "device_kind", "")),
        "platform_version": str(first.client.platform_version),
        "jax": jax.__version__,
        "devices": str(len(jax.devices())),
        "physics": panda_model.physics_choice("auto").reason,
    }


def run(
    plan: Plan,
    out: Path,
    log: Callable[[str], None] = print,
    finished: Callable[[dict[str, Any]], None] = lambda parts: None,
) -> dict[str, Any]:
    """Measures every part of ``plan``; writes nothing itself, but calls ``finished(parts)``
    after each part with the parts so far. Returns, per part, its results (the other
    benchmarks' records), what was skipped and why, and its markdown table."""
    from envs import warp_physics
    from jaxik import config as config_lib
    from jaxik.bench import env as env_bench
    from jaxik.bench import seeds as seeds_bench
    from jaxik.bench import throughput, time_to_target
    from jaxik.host import scan as scan_lib

    overrides = list(plan.overrides)
    train_cfg = config_lib.load(plan.train_config, overrides)  # bad settings fail here, first
    config_lib.load(plan.seeds_config, overrides)
    engines_overrides = list(plan.engines_overrides)
    engines_scan = scan_lib.load(plan.engines_config, engines_overrides)
    parts: dict[str, dict[str, Any]] = {}

    def part(name: str, sizes, measure_one, table, plot_fn) -> None:
        results, skipped = [], []
        start = time.perf_counter()
        for index, size in enumerate(sizes):
            spent = time.perf_counter() - start
            if plan.part_seconds is not None and index > 0 and spent > plan.part_seconds:
                reason = f"not started: the part's {plan.part_seconds:g} s were spent"
                log(f"{name} {size}: {reason}")
                skipped.append({"size": f"{name} {size}", "skipped": reason})
                continue
            result, why = attempt(f"{name} {size}", lambda s=size: measure_one(s), log)
            if result is None:
                skipped.append(why)
            else:
                results.extend(result if isinstance(result, list) else [result])
                log(f"{name} {size}: done")
        parts[name] = {"results": results, "skipped": skipped,
                       "table": table(results) if results else "", "plot": plot_fn}  # fmt: skip
        finished(parts)

    def env_size(label: str):
        name, count = label.rsplit(" x", 1)
        return env_bench.measure(name, int(count), "scan")

    def labels(names, sizes) -> list[str]:
        return [f"{name} x{n}" for name in names for n in sizes]

    part("env", labels(plan.env_names, plan.env_sizes), env_size, env_bench.table,
         env_bench.plot)  # fmt: skip
    part("train", plan.train_sizes,
         lambda n: throughput.measure(train_cfg, n, train_cfg.batch_size), throughput.table,
         throughput.plot)  # fmt: skip
    part("time-to-target", [plan.train_config.name],
         lambda _: time_to_target.measure(plan.train_config, out, overrides),
         time_to_target.table, time_to_target.plot)  # fmt: skip
    part("seeds", plan.seed_counts,
         lambda n: seeds_bench.measure(plan.seeds_config, n, overrides), seeds_bench.table,
         seeds_bench.plot)  # fmt: skip
    part("manipulation", labels(plan.manipulation_names, plan.manipulation_sizes), env_size,
         env_bench.table, env_bench.plot)  # fmt: skip

    def warp_size(label: str):
        name, count = label.rsplit(" x", 1)
        return env_bench.measure(name, int(count), "scan", physics_engine="warp",
                                 warp_envs=int(count))  # fmt: skip

    def engine_to_target(engine: str):
        warp_envs = max(scan_lib.warp_envs_needed(p) for p in engines_scan.programs)
        on_engine = [f"env_config.physics_engine={engine}", f"env_config.warp_envs={warp_envs}"]
        settings = f"physics_engine={engine}"
        return time_to_target.measure(
            plan.engines_config, out, engines_overrides + on_engine, ("cold",), settings
        )

    if warp_physics.installed():
        part("warp", labels(plan.warp_names, plan.warp_sizes), warp_size, env_bench.table,
             env_bench.plot)  # fmt: skip
        part("engines", ["mjx", "warp"], engine_to_target, time_to_target.table,
             time_to_target.plot)  # fmt: skip
    else:
        reason = f"MuJoCo Warp is not installed ({warp_physics.EXTRA})"
        for name, plot_fn in (("warp", env_bench.plot), ("engines", time_to_target.plot)):
            log(f"{name}: skipped, {reason}")
            parts[name] = {"results": [], "skipped": [{"size": name, "skipped": reason}],
                           "table": "", "plot": plot_fn}  # fmt: skip
            finished(parts)
    return parts


TITLES = {
    "env": "Environment steps/s inside one lax.scan",
    "train": "Training throughput, configs/gpu.yaml",
    "time-to-target": "Time to the success target, configs/gpu.yaml, whole process",
    "seeds": "Seeds in one program to the success target, configs/default.yaml",
    "manipulation": "Manipulation tasks' environment steps/s inside one lax.scan",
    "warp": "The same with MuJoCo Warp's physics (physics_engine=warp)",
    "engines": "Time to the success target, recipes/push_gpu.yaml on MJX and on MuJoCo Warp, "
    "whole process, cold cache",
}


def write(parts: dict[str, Any], out: Path, command: str, record: Callable[[Any], dict]) -> str:
    """gpu.json, one PNG per part that has results, and gpu.md (the section); returns the
    section. ``record`` turns one result into its JSON record."""
    out.mkdir(parents=True, exist_ok=True)
    about = device()
    payload = {"machine": about["name"], "device": about, "command": command, "parts": {}}
    lines = [f"## GPU benchmarks: {about['name']}", "", f"Command: `{command}`", "",
             f"Device: {about['kind']}; backend {about['platform_version']}; "
             f"jax {about['jax']}; {about['devices']} device(s). Physics: {about['physics']}.",
             ""]  # fmt: skip
    for name, found in parts.items():
        payload["parts"][name] = {
            "results": [record(r) for r in found["results"]],
            "skipped": found["skipped"],
        }
        lines += [f"### {TITLES[name]}", ""]
        if found["results"]:
            found["plot"](out / f"gpu-{name}.png", found["results"])
            lines += [found["table"], "", f"![{name}](gpu-{name}.png)", ""]
        for skip in found["skipped"]:
            lines += [f"- {skip['size']}: skipped, {skip['skipped']}"]
        if found["skipped"]:
            lines.append("")
    (out / "gpu.json").write_text(json.dumps(payload, indent=2) + "\n")
    section = "\n".join(lines).rstrip() + "\n"
    (out / "gpu.md").write_text(section)
    return section
