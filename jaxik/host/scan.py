"""Seed and hyperparameter scans: which runs to train, and which of them share one program.

A scan is the base config plus ``seeds`` (runs per setting, seeds ``seed .. seed + seeds - 1``)
and ``sweep`` (field -> list of values; their grid is scanned). Float hyperparameters (the
fields marked ``hyperparameter`` in ``jaxik.config``) are leaves of the training state, so every
value of them, times every seed, trains in one vmapped program. Any other swept field changes
the program (network sizes, batch size, number of environments, algorithm, ...): each of its
values is a separate program, run one after another.

From the command line: ``seeds=16``, ``sweep.learning_rate=[1e-3,3e-4]`` (``sweep.lr`` for short)
or, in a YAML file, ``seeds: 16`` and ``sweep: {learning_rate: [1e-3, 3e-4], tau: [0.05, 0.01]}``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from pathlib import Path
from typing import Any

import envs
from envs.validation import check_int
from jaxik import config as config_lib
from jaxik.config import TrainConfig
from jaxik.device import hyperparams

ALIASES = {"lr": "learning_rate"}
MAX_RUNS = 65_536  # runs vmapped in one program (seeds x float settings)
MAX_PROGRAMS = 1_000  # static settings, compiled and run one after another
NOT_SWEPT = ("seed",)  # use seeds=N


@dataclasses.dataclass(frozen=True)
class Program:
    """One compiled program: a static config and the runs it trains together.

    ``runs`` are configs differing from ``config`` only in float hyperparameters and seed; with
    ``batched`` the program is vmapped over them (leading axis [len(runs)]), else it is the one
    unbatched run ``config``.
    """

    config: TrainConfig
    runs: tuple[TrainConfig, ...]
    float_sweep: dict[str, tuple]  # the float fields swept inside this program
    seeds: int
    static: dict[str, Any]  # the swept static values that made this program
    name: str  # "" for a scan's only program

    @property
    def batched(self) -> bool:
        return self.seeds > 1 or bool(self.float_sweep)

    def to_dict(self) -> dict[str, Any]:
        """The program as a loadable config file (config fields, then seeds and sweep)."""
        values = self.config.to_dict()
        if self.batched:
            values["seeds"] = self.seeds
            values["sweep"] = as_lists(self.float_sweep)
        return values


@dataclasses.dataclass(frozen=True)
class Scan:
    base: TrainConfig
    seeds: int
    sweep: dict[str, tuple]  # field -> values, in the order given

    @property
    def programs(self) -> list[Program]:
        """The static-setting grid, one program each, floats and seeds batched inside."""
        static = {k: v for k, v in self.sweep.items() if k not in hyperparams.FIELDS}
        floats = {k: v for k, v in self.sweep.items() if k in hyperparams.FIELDS}
        programs = []
        for static_values in itertools.product(*static.values()):
            chosen = dict(zip(static, static_values, strict=True))
            config = with_values(self.base, chosen)
            runs = []
            for float_values in itertools.product(*floats.values()):
                setting = dict(zip(floats, float_values, strict=True))
                for offset in range(self.seeds):
                    runs.append(with_values(config, {**setting, "seed": config.seed + offset}))
            name = program_name(chosen) if static else ""
            programs.append(Program(config, tuple(runs), floats, self.seeds, chosen, name))
        return programs

    def to_dict(self) -> dict[str, Any]:
        values = self.base.to_dict()
        if self.seeds > 1:
            values["seeds"] = self.seeds
        if self.sweep:
            values["sweep"] = as_lists(self.sweep)
        return values


def as_lists(sweep: dict[str, tuple]) -> dict[str, list]:
    """The sweep as YAML-friendly lists (tuple values such as hidden sizes become lists)."""
    return {n: [list(v) if isinstance(v, tuple) else v for v in vs] for n, vs in sweep.items()}


def with_values(config: TrainConfig, values: dict[str, Any]) -> TrainConfig:
    """``config`` with ``values`` (validated: a bad value names its field)."""
    merged = {**config.to_dict(), **values}
    return config_lib.load(None, merged)


def program_name(values: dict[str, Any]) -> str:
    """A folder name for a static setting, e.g. ``batch_size-512_hidden_sizes-128x128``."""
    parts = []
    for name, value in values.items():
        text = "x".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        parts.append(f"{name}-{re.sub(r'[^A-Za-z0-9.+-]', '', text)}")
    return "_".join(parts)


def load(path: Path | None, overrides: list[str] | dict[str, Any] = ()) -> Scan:
    """Reads a config file and ``key=value`` overrides into a Scan. ``seeds``, ``sweep`` and
    ``sweep.NAME`` are scan settings; everything else goes to TrainConfig. Every swept value is
    validated here, before anything compiles."""
    values = config_lib.read_settings(path, overrides)
    seeds = values.pop("seeds", 1)
    sweep = values.pop("sweep", None) or {}
    if not isinstance(sweep, dict):
        raise ValueError(f"sweep={sweep!r} must be a mapping of field -> list of values")
    check_int("seeds", seeds, minimum=1, maximum=MAX_RUNS)
    base = config_lib.load(None, values)
    scan = Scan(base=base, seeds=seeds, sweep=check_sweep(base, sweep))
    floats = [len(v) for k, v in scan.sweep.items() if k in hyperparams.FIELDS]
    statics = [len(v) for k, v in scan.sweep.items() if k not in hyperparams.FIELDS]
    runs = seeds * math.prod(floats)
    if runs > MAX_RUNS or math.prod(statics) > MAX_PROGRAMS:
        raise ValueError(
            f"seeds={seeds} and sweep={as_lists(scan.sweep)} make {runs:,} runs per program and "
            f"{math.prod(statics):,} programs; at most {MAX_RUNS:,} runs per program and "
            f"{MAX_PROGRAMS:,} programs are allowed"
        )
    for program in scan.programs:
        check_warp_envs(program)
    return scan


def warp_envs_needed(program: Program) -> int:
    """The most environments one physics call of ``program`` steps: every run's training
    environments, or every run's evaluation episodes, at once."""
    config = program.config
    return max(config.num_envs, config.num_eval_envs) * len(program.runs)


def check_warp_envs(program: Program) -> None:
    """MuJoCo Warp's contact buffer (``physics_engine="warp"``, envs/warp_physics.py) is sized
    for ``env_config.warp_envs`` environments per physics call; ``program`` needs
    ``warp_envs_needed``."""
    config = program.config
    env_config = envs.make_config(config.env, **config.env_config)
    if getattr(env_config, "physics_engine", None) != "warp":
        return
    needed = warp_envs_needed(program)
    if env_config.warp_envs < needed:
        raise ValueError(
            f"env_config.warp_envs={env_config.warp_envs} is fewer than the {needed:,} "
            f"environments this program steps together (max(num_envs={config.num_envs}, "
            f"num_eval_envs={config.num_eval_envs}) x {len(program.runs)} runs): MuJoCo Warp "
            f"would run out of contacts; set env_config.warp_envs={needed}"
        )


def check_sweep(base: TrainConfig, sweep: dict[str, Any]) -> dict[str, tuple]:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    checked: dict[str, tuple] = {}
    for raw_name, values in sweep.items():
        name = ALIASES.get(raw_name, raw_name)
        if name in NOT_SWEPT:
            raise ValueError(f"sweep.{raw_name} is not allowed: sweep seeds with seeds=N")
        if name not in known:
            raise ValueError(
                f"sweep.{raw_name}: unknown configuration key; known keys: {sorted(known)} "
                f"(aliases: {ALIASES})"
            )
        if name in checked:
            raise ValueError(f"sweep.{raw_name}: {name} is swept twice")
        if not isinstance(values, list) or not 1 <= len(values) <= MAX_PROGRAMS:
            raise ValueError(
                f"sweep.{raw_name}={values!r} must be a non-empty list of values "
                f"(at most {MAX_PROGRAMS:,})"
            )
        for value in values:
            try:
                with_values(base, {name: value})
            except ValueError as error:
                raise ValueError(f"sweep.{raw_name}: {error}") from None
        checked[name] = tuple(tuple(v) if isinstance(v, list) else v for v in values)
    return checked
