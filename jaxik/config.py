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

import envs
from envs.validation import (
    check_bool,
    check_fields,
    check_positive,
    check_positive_int,
    integer,
    number,
    one_of,
    setting,
)
from jaxik import agent_settings
from jaxik.agent_settings import TD3Settings, TQCSettings, hyperparameter

ALGOS = agent_settings.ALGOS
"""The learners (jaxik.device.agents builds each; jaxik.agent_settings declares their own
settings)."""
HER_STRATEGIES = ("future", "final", "none")
"""Hindsight goal choices (jaxik.device.her)."""
MAX_LAYERS, MAX_WIDTH = 16, 65_536


def host_setting(default: Any, check, resumable: bool = False) -> Any:
    """A setting that never reaches a compiled program: the seed (an input array) and what
    decides how long a run goes on and when it saves. It is left out of the key of a cached
    program (jaxik.host.executables). ``resumable`` ones may also change when a run resumes
    (``train.py --resume ... total_env_steps=...``), as they change no chunk's work."""
    return setting(default, check=check, host_only=True, resumable=resumable)


def _marked(mark: str) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get(mark))


def hyperparameter_names() -> tuple[str, ...]:
    """The settings marked ``hyperparameter``, in field order."""
    return _marked("traced")


def host_only_names() -> tuple[str, ...]:
    """The settings marked ``host_setting``, in field order."""
    return _marked("host_only")


def resumable_names() -> tuple[str, ...]:
    """The host settings a resumed run may change, in field order."""
    return _marked("resumable")


def _check_env_config(name: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{name}={value!r} must be a mapping of env settings")


def _check_hidden_sizes(name: str, sizes: Any) -> tuple[int, ...]:
    if (
        not isinstance(sizes, tuple | list)
        or not 1 <= len(sizes) <= MAX_LAYERS
        or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 < s <= MAX_WIDTH for s in sizes
        )
    ):
        raise ValueError(
            f"{name}={sizes!r} must be a non-empty list of at most {MAX_LAYERS} "
            f"integers in [1, {MAX_WIDTH}]"
        )
    return tuple(sizes)


@dataclasses.dataclass(frozen=True)
class TrainConfig(TD3Settings, TQCSettings):
    """Everything a training run depends on: the settings below, which every learner shares,
    and each learner's own (``jaxik.agent_settings``: DDPG's are TD3's first five, SAC's is
    TQC's first), as flat fields."""

    # --- what to train
    env: str = setting("PandaReach", check=one_of(envs.ENV_NAMES))
    """Environment name (envs.ENV_NAMES)."""
    env_config: dict = setting(default_factory=dict, check=_check_env_config)
    """Overrides of the environment's own config, e.g. {terminate_on_success: false}."""
    algo: str = setting("td3", check=one_of(ALGOS))
    """"ddpg", "td3", "sac" or "tqc"."""
    seed: int = host_setting(0, check=integer(minimum=0))
    """Seeds the networks, the environments and the sampling."""

    # --- how much
    num_envs: int = setting(16, check=check_positive_int)
    """Parallel training environments; each iteration steps all of them once."""
    total_env_steps: int = host_setting(20_000, check=check_positive_int, resumable=True)
    """Training budget in environment steps (all environments together)."""
    learning_starts: int = setting(1_000, check=integer(minimum=0))
    """Environment steps of uniform random actions before the first gradient update."""
    updates_per_iteration: int = setting(4, check=check_positive_int)
    """Gradient updates after each iteration (num_envs environment steps)."""

    # --- replay and hindsight
    buffer_size: int = setting(100_000, check=check_positive_int)
    """Transitions kept (rounded down to a multiple of num_envs)."""
    batch_size: int = setting(256, check=check_positive_int)
    """Transitions per gradient update."""
    her_strategy: str = setting("future", check=one_of(HER_STRATEGIES))
    """Hindsight goals: "future", "final", or "none" (plain replay)."""
    her_future_prob: float = hyperparameter(0.8, check=number(0.0, 1.0))
    """Fraction of sampled transitions whose goal is relabelled (0.8 = 4 hindsight goals per
    real one)."""
    her_candidates: int = setting(1, check=integer(minimum=1, maximum=64))
    """Transitions drawn per batch row; the first whose achieved goal moves more than 1 cm
    before its episode ends is kept (1: uniform sampling). Sampling costs this many times
    more."""

    # --- learning
    hidden_sizes: tuple[int, ...] = setting((64, 64), check=_check_hidden_sizes)
    """Hidden layer widths of the actor and of each critic."""
    learning_rate: float = hyperparameter(1e-3, check=check_positive)
    """Adam step size of the actor, the critics and SAC's temperature."""
    weight_decay: float = hyperparameter(0.0, check=number(0.0))
    """Decoupled weight decay (AdamW) of the actor's and critics' parameters, times
    learning_rate per update; 0 is Adam."""
    max_grad_norm: float = setting(0.0, check=number(0.0))
    """The actor's and critics' gradients are clipped to this global norm before the optimiser;
    0 does not clip. Static: a sweep over it compiles one program per value."""
    gamma: float = hyperparameter(0.95, check=number(0.0, 1.0, high_open=True))
    """Discount factor."""
    tau: float = hyperparameter(0.05, check=number(0.0, 1.0, low_open=True))
    """Soft target update rate: target <- tau * online + (1 - tau) * target."""
    clip_target: bool = setting(False, check=check_bool)
    """Clip the critics' TD target to [-1/(1-gamma), 0], the range of a discounted return of
    rewards in [-1, 0]: the sparse rewards (OpenAI Baselines' HER: clip_return). A dense reward
    can fall below -1 (the pose task's angle term), which the clip would bias. For SAC the
    entropy bonus is inside the clipped target. Static: a sweep compiles one program per value."""
    normalize_observations: bool = setting(True, check=check_bool)
    """Standardise observations and goals with running statistics."""
    observation_clip: float = setting(5.0, check=check_positive)
    """Normalised inputs are clipped to [-observation_clip, observation_clip]."""

    # --- evaluation
    eval_every: int = setting(1_024, check=check_positive_int)
    """Environment steps between evaluations (a multiple of num_envs)."""
    num_eval_envs: int = setting(100, check=check_positive_int)
    """Evaluation episodes, each on a fresh goal, deterministic policy."""
    success_target: float = host_setting(0.95, check=number(0.0, 1.0), resumable=True)
    """Evaluation success rate that counts as solved (reported, and used by stop_on_success)."""
    stop_on_success: bool = host_setting(False, check=check_bool, resumable=True)
    """Stop at the first evaluation that reaches success_target (in a scan: once every run has)."""

    # --- checkpoints
    checkpoint_every: int = host_setting(10, check=integer(minimum=0), resumable=True)
    """Evaluations (chunks) between checkpoints of the whole training state (train.py --resume
    continues from the newest); 0 saves only at the end and on Ctrl-C."""

    def __post_init__(self) -> None:
        check_fields(self)
        envs.make_config(self.env, **self.env_config)  # names a bad key or value, builds nothing
        if self.eval_every % self.num_envs:
            raise ValueError(
                f"eval_every={self.eval_every} must be a multiple of num_envs={self.num_envs}"
            )
        agent_settings.check_quantiles(self)
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
    """The YAML file's settings (or the defaults), then overrides; unknown keys are errors. The
    chosen learner's settings may be grouped under its name (``td3: {noise_std: 0.2}``,
    ``td3.noise_std=0.2``): jaxik.agent_settings.flatten."""
    values = agent_settings.flatten(read_settings(path, overrides), TrainConfig.algo)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown configuration key(s) {unknown}; known keys: {sorted(known)}")
    return TrainConfig(**values)
