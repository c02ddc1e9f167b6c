"""Each learner's own settings, declared by learner: what DDPG, TD3, SAC and TQC take beyond the
settings every run shares (``jaxik.config.TrainConfig``'s own fields).

A learner *is* its settings class (``SETTINGS[algo]``): its fields, defaults and checks are
declared here once, and ``TrainConfig`` is built from all of them so that the flat keys users
type (``noise_std: 0.2``, ``policy_delay=3``) keep working. A config file may also group them
under the learner's name::

    algo: td3
    td3: {noise_std: 0.2, policy_delay: 3}

which ``flatten`` turns into the flat keys (the grouped value winning), naming a key the learner
does not take, or a group that is not the chosen learner's. ``unused(config)`` gives the
settings of other learners set away from their defaults (a scan over ``algo`` keeps one file for
all learners, so these are reported, not refused). Plain Python: nothing here imports JAX.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from envs.validation import (
    check_fields,
    check_positive,
    check_positive_int,
    integer,
    number,
    one_of,
    setting,
)

NOISE_TYPES = ("gaussian", "ou")


def hyperparameter(default: float, check) -> float:
    """A float setting that is a leaf of the training state, not a constant of the compiled
    program (``jaxik.device.hyperparams``): one program serves all its values, and a scan over
    it does not recompile. Every other setting shapes the program."""
    return setting(default, check=check, traced=True)


@dataclasses.dataclass(frozen=True)
class DDPGSettings:
    """DDPG (``jaxik/device/agents/ddpg.py``): a deterministic actor explored with noise."""

    exploration_noise: str = setting("gaussian", check=one_of(NOISE_TYPES))
    """Noise added to the deterministic action while collecting: "gaussian" or "ou"
    (Ornstein-Uhlenbeck)."""
    noise_std: float = hyperparameter(0.1, check=number(0.0))
    """Scale of the exploration noise, in action units."""
    ou_theta: float = hyperparameter(0.15, check=number(0.0, 1.0, low_open=True))
    """Mean reversion of the Ornstein-Uhlenbeck noise per step."""
    random_action_prob: float = hyperparameter(0.0, check=number(0.0, 1.0))
    """The chance that a collected action is drawn uniformly from [-1, 1] instead of being the
    actor's plus noise (OpenAI Baselines' HER: random_eps, 0.3 on its Fetch robot tasks)."""
    action_l2: float = hyperparameter(0.0, check=number(0.0))
    """Weight of the mean squared action in the actor's loss, which keeps actions off the
    bounds of [-1, 1] (OpenAI Baselines' HER: action_l2, 1.0 on the same tasks)."""

    def __post_init__(self) -> None:
        check_fields(self)


@dataclasses.dataclass(frozen=True)
class TD3Settings(DDPGSettings):
    """TD3 (``jaxik/device/agents/td3.py``): DDPG's exploration, twin critics, a delayed actor
    and a smoothed target."""

    policy_delay: int = setting(2, check=check_positive_int)
    """Critic updates per actor and target update."""
    target_noise: float = hyperparameter(0.2, check=number(0.0))
    """Std of the target-policy smoothing noise."""
    target_noise_clip: float = hyperparameter(0.5, check=number(0.0))
    """The smoothing noise is clipped to +-target_noise_clip."""


@dataclasses.dataclass(frozen=True)
class SACSettings:
    """SAC (``jaxik/device/agents/sac.py``): a stochastic actor with a tuned temperature."""

    init_alpha: float = hyperparameter(1.0, check=check_positive)
    """Initial entropy temperature, tuned automatically toward entropy -action_size."""

    def __post_init__(self) -> None:
        check_fields(self)


@dataclasses.dataclass(frozen=True)
class TQCSettings(SACSettings):
    """TQC (``jaxik/device/agents/tqc.py``): SAC's actor and temperature with quantile critics."""

    quantile_critics: int = setting(2, check=integer(minimum=1, maximum=16))
    """Critics, each estimating the return's quantiles (sb3-contrib's default 2; the TQC
    paper 5)."""
    quantiles: int = setting(25, check=integer(minimum=1, maximum=256))
    """Quantiles each critic estimates."""
    dropped_quantiles: int = setting(2, check=integer(minimum=0))
    """The largest quantiles per critic left out of the pooled target (fewer than quantiles);
    the more dropped, the less the critics overestimate."""

    def __post_init__(self) -> None:
        check_fields(self)
        check_quantiles(self)


def check_quantiles(settings: TQCSettings) -> None:
    if settings.dropped_quantiles >= settings.quantiles:
        raise ValueError(
            f"dropped_quantiles={settings.dropped_quantiles} must be below "
            f"quantiles={settings.quantiles}: the target keeps the rest"
        )


SETTINGS: dict[str, type] = {
    "ddpg": DDPGSettings,
    "td3": TD3Settings,
    "sac": SACSettings,
    "tqc": TQCSettings,
}
"""Each learner's settings class, by the ``algo`` name that chooses it."""

ALGOS = tuple(SETTINGS)


def names(algo: str) -> tuple[str, ...]:
    """The settings learner ``algo`` takes, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(SETTINGS[algo]))


def all_names() -> tuple[str, ...]:
    """Every learner's settings, each once."""
    return tuple(dict.fromkeys(name for algo in ALGOS for name in names(algo)))


def unused(config: Any) -> dict[str, Any]:
    """Settings of other learners that ``config`` sets away from their defaults, which
    ``config.algo`` does not read: {name: value}."""
    taken = set(names(config.algo))
    defaults = {f.name: f.default for algo in ALGOS for f in dataclasses.fields(SETTINGS[algo])}
    return {
        name: getattr(config, name)
        for name in all_names()
        if name not in taken and getattr(config, name) != defaults[name]
    }


def flatten(values: dict[str, Any], default_algo: str) -> dict[str, Any]:
    """``values`` (a config file's mapping) with a group named after the chosen learner
    (``td3: {noise_std: 0.2}``) turned into its flat keys; a grouped value wins over the same
    key given flat (so ``td3.noise_std=0.3`` on the command line overrides a file's flat
    ``noise_std``). A group of another learner, or a key the learner does not take, is an
    error naming it."""
    groups = [algo for algo in ALGOS if algo in values]
    if not groups:
        return values
    algo = values.get("algo", default_algo)
    out = {k: v for k, v in values.items() if k not in groups}
    for group in groups:
        mapping = values[group]
        if group != algo:
            raise ValueError(
                f"{group}={mapping!r} sets {group}'s settings, but algo={algo!r}; "
                f"group them under {algo!r} (its settings: {list(names(algo))}) "
                f"or choose algo: {group}"
            )
        if not isinstance(mapping, dict):
            raise ValueError(f"{group}={mapping!r} must be a mapping of {group}'s settings")
        unknown = sorted(set(mapping) - set(names(group)))
        if unknown:
            raise ValueError(
                f"{group}: {unknown} are not settings of {group}; its settings: "
                f"{list(names(group))}"
            )
        out.update(mapping)
    return out
