"""The training configuration: one frozen dataclass, loaded from YAML plus ``key=value`` overrides.

Every field is checked on the host, before anything is traced, and a bad one raises ValueError
naming the field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import yaml

from envs.validation import check_bool, check_choice, check_int, check_range
from jaxik import agents, her

NOISE_TYPES = ("gaussian", "ou")
MAX_LAYERS, MAX_WIDTH = 16, 65_536


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on."""

    # --- what to train
    env: str = "PandaReach"
    """Environment name (envs.ENV_NAMES)."""
    env_config: dict = dataclasses.field(default_factory=dict)
    """Overrides of the environment's own config, e.g. {terminate_on_success: false}."""
    algo: str = "td3"
    """"ddpg", "td3" or "sac"."""
    seed: int = 0
    """Seeds the networks, the environments and the sampling."""

    # --- how much
    num_envs: int = 16
    """Parallel training environments; each iteration steps all of them once."""
    total_env_steps: int = 20_000
    """Training budget in environment steps (all environments together)."""
    learning_starts: int = 1_000
    """Environment steps of uniform random actions before the first gradient update."""
    updates_per_iteration: int = 4
    """Gradient updates after each iteration (num_envs environment steps)."""

    # --- replay and hindsight
    buffer_size: int = 100_000
    """Transitions kept (rounded down to a multiple of num_envs)."""
    batch_size: int = 256
    """Transitions per gradient update."""
    her_strategy: str = "future"
    """Hindsight goals: "future", "final", or "none" (plain replay)."""
    her_future_prob: float = 0.8
    """Fraction of sampled transitions whose goal is relabelled (0.8 = 4 hindsight goals per
    real one)."""

    # --- learning
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and of each critic."""
    learning_rate: float = 1e-3
    """Adam step size of the actor, the critics and SAC's temperature."""
    gamma: float = 0.95
    """Discount factor."""
    tau: float = 0.05
    """Soft target update rate: target <- tau * online + (1 - tau) * target."""
    normalize_observations: bool = True
    """Standardise observations and goals with running statistics."""
    observation_clip: float = 5.0
    """Normalised inputs are clipped to [-observation_clip, observation_clip]."""

    # --- DDPG and TD3
    exploration_noise: str = "gaussian"
    """Noise added to the deterministic action while collecting: "gaussian" or "ou"
    (Ornstein-Uhlenbeck)."""
    noise_std: float = 0.1
    """Scale of the exploration noise, in action units."""
    ou_theta: float = 0.15
    """Mean reversion of the Ornstein-Uhlenbeck noise per step."""
    policy_delay: int = 2
    """TD3: critic updates per actor and target update."""
    target_noise: float = 0.2
    """TD3: std of the target-policy smoothing noise."""
    target_noise_clip: float = 0.5
    """TD3: the smoothing noise is clipped to +-target_noise_clip."""

    # --- SAC
    init_alpha: float = 1.0
    """SAC: initial entropy temperature, tuned automatically toward entropy -action_size."""

    # --- evaluation
    eval_every: int = 1_024
    """Environment steps between evaluations (a multiple of num_envs)."""
    num_eval_envs: int = 100
    """Evaluation episodes, each on a fresh goal, deterministic policy."""
    success_target: float = 0.95
    """Evaluation success rate that counts as solved (reported, and used by stop_on_success)."""
    stop_on_success: bool = False
    """Stop at the first evaluation that reaches success_target (in a scan: once every run has)."""

    # --- checkpoints
    checkpoint_every: int = 10
    """Evaluations (chunks) between checkpoints of the whole training state (train.py --resume
    continues from the newest); 0 saves only at the end and on Ctrl-C."""

    def __post_init__(self) -> None:
        import envs

        check_choice("env", self.env, envs.ENV_NAMES)
        if not isinstance(self.env_config, dict):
            raise ValueError(f"env_config={self.env_config!r} must be a mapping of env settings")
        envs.make_config(self.env, **self.env_config)  # names a bad key or value, builds nothing
        check_choice("algo", self.algo, agents.ALGOS)
        check_choice("her_strategy", self.her_strategy, her.STRATEGIES)
        check_choice("exploration_noise", self.exploration_noise, NOISE_TYPES)
        check_int("seed", self.seed, minimum=0)
        for name in (
            "num_envs",
            "total_env_steps",
            "updates_per_iteration",
            "buffer_size",
            "batch_size",
            "policy_delay",
            "eval_every",
            "num_eval_envs",
        ):
            check_int(name, getattr(self, name), minimum=1)
        check_int("learning_starts", self.learning_starts, minimum=0)
        check_int("checkpoint_every", self.checkpoint_every, minimum=0)
        for name in ("her_future_prob", "success_target"):
            check_range(name, getattr(self, name), 0.0, 1.0)
        check_range("gamma", self.gamma, 0.0, 1.0, high_open=True)
        check_range("tau", self.tau, 0.0, 1.0, low_open=True)
        for name in ("learning_rate", "observation_clip", "init_alpha"):
            check_range(name, getattr(self, name), 0.0, low_open=True)
        for name in ("noise_std", "target_noise", "target_noise_clip"):
            check_range(name, getattr(self, name), 0.0)
        check_range("ou_theta", self.ou_theta, 0.0, 1.0, low_open=True)
        for name in ("normalize_observations", "stop_on_success"):
            check_bool(name, getattr(self, name))
        sizes = self.hidden_sizes
        if (
            not isinstance(sizes, tuple | list)
            or not 1 <= len(sizes) <= MAX_LAYERS
            or not all(
                isinstance(s, int) and not isinstance(s, bool) and 0 < s <= MAX_WIDTH for s in sizes
            )
        ):
            raise ValueError(
                f"hidden_sizes={sizes!r} must be a non-empty list of at most {MAX_LAYERS} "
                f"integers in [1, {MAX_WIDTH}]"
            )
        object.__setattr__(self, "hidden_sizes", tuple(sizes))
        if self.eval_every % self.num_envs:
            raise ValueError(
                f"eval_every={self.eval_every} must be a multiple of num_envs={self.num_envs}"
            )
        if self.buffer_size < self.num_envs:
            raise ValueError(
                f"buffer_size={self.buffer_size} must be at least num_envs={self.num_envs}"
            )

    # --- derived sizes
    @property
    def iterations_per_eval(self) -> int:
        return self.eval_every // self.num_envs

    @property
    def num_evals(self) -> int:
        """Evaluations (chunks) in the run; the budget is rounded up to whole chunks."""
        return max(1, math.ceil(self.total_env_steps / self.eval_every))

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["hidden_sizes"] = list(self.hidden_sizes)
        return values


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with a YAML value; ``env_config.name=value`` sets one env setting."""
    if "=" not in text:
        raise ValueError(f"override {text!r} must look like key=value")
    key, value = text.split("=", 1)
    try:
        return key.strip(), numbers_read(yaml.safe_load(value))
    except yaml.YAMLError as error:
        raise ValueError(f"override {text!r}: its value is not YAML ({error})") from None


def numbers_read(value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` (no dot) as a string; such strings become floats, in lists too."""
    if isinstance(value, list):
        return [numbers_read(v) for v in value]
    if isinstance(value, dict):
        return {k: numbers_read(v) for k, v in value.items()}
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


EXTENDS = "extends"
MAX_EXTENDS = 8


def read_file(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A YAML file's settings. ``extends: OTHER.yaml`` (relative to the file) starts from that
    file's settings, which the rest of this file overrides; so a family of configs keeps its
    shared settings in one place (configs/recipes/)."""
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} must hold a mapping of configuration keys")
    loaded = numbers_read(loaded)
    if EXTENDS not in loaded:
        return loaded
    base = loaded.pop(EXTENDS)
    if not isinstance(base, str) or not base:
        raise ValueError(f"{path}: {EXTENDS}={base!r} must be the path of another YAML file")
    base_path = (path.parent / base).resolve()
    if base_path in chain or len(chain) >= MAX_EXTENDS:
        raise ValueError(f"{path}: {EXTENDS}={base!r} makes a loop of files extending each other")
    if not base_path.is_file():
        raise ValueError(f"{path}: {EXTENDS}={base!r} is not a file ({base_path})")
    return {**read_file(base_path, (*chain, path.resolve())), **loaded}


def read_settings(path: Path | None, overrides: list[str] | dict[str, Any] = ()) -> dict:
    """The YAML file's mapping, then the overrides over it. A dotted key ``group.name`` sets one
    entry of the mapping ``group`` (``env_config.episode_length=20``, ``sweep.tau=[...]``)."""
    values = read_file(Path(path)) if path is not None else {}
    items = overrides.items() if isinstance(overrides, dict) else map(parse_override, overrides)
    for key, value in items:
        if not isinstance(key, str):
            raise ValueError(f"configuration key {key!r} must be a string")
        group, dot, name = key.partition(".")
        if not dot:
            values[key] = value
            continue
        mapping = values.get(group, {})
        if not isinstance(mapping, dict):
            raise ValueError(f"{group}={mapping!r} must be a mapping to take {key}={value!r}")
        values[group] = {**mapping, name: value}
    return values


def load(path: Path | None, overrides: list[str] | dict[str, Any] = ()) -> TrainConfig:
    """The YAML file's settings (or the defaults), then overrides; unknown keys are errors."""
    values = read_settings(path, overrides)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown configuration key(s) {unknown}; known keys: {sorted(known)}")
    return TrainConfig(**values)
