"""Command-line entry: ``python train.py --config configs/default.yaml [key=value ...]``.

Until the trainer lands (issue 3), this runs a random-policy rollout of the configured
environment and prints what it did.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jaxik  # noqa: F401  (CPU XLA flags, before jax starts)
from jaxik import random_rollout


def parse_override(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise SystemExit(f"override {text!r} must look like key=value")
    key, value = text.split("=", 1)
    import yaml

    return key, yaml.safe_load(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=Path("configs/default.yaml"))
    parser.add_argument("overrides", nargs="*", help="key=value settings over the config file")
    args = parser.parse_args()
    try:
        config = random_rollout.load_config(args.config, dict(map(parse_override, args.overrides)))
    except ValueError as error:
        raise SystemExit(f"{args.config}: {error}") from None
    print(f"random-policy rollout: {config}")
    result = random_rollout.run(config)
    print(
        f"{config.env}: {result['env_steps']:,} control steps in {config.num_envs} environments, "
        f"{result['episodes']:,} episodes ended, random-policy success "
        f"{result['success_rate']:.1%}, mean reward {result['mean_reward']:.3f}; "
        f"{result['steps_per_second']:,.0f} steps/s after {result['compile_seconds']:.1f} s "
        "of compilation"
    )


if __name__ == "__main__":
    main()
