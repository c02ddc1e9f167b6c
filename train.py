"""Train DDPG, TD3 or SAC with HER on a reach task.

    python train.py --config configs/default.yaml [key=value ...] [--out runs/NAME]

Overrides use the config's field names (see jaxik/config.py), e.g. ``algo=sac seed=3
env_config.terminate_on_success=false``. Everything is written into --out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jaxik  # noqa: F401  (CPU XLA flags, before jax starts)
from jaxik import config as config_lib
from jaxik import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=Path("configs/default.yaml"))
    parser.add_argument("--out", type=Path, default=None, help="default: runs/<config name>")
    parser.add_argument("overrides", nargs="*", help="key=value settings over the config file")
    args = parser.parse_args(argv)
    try:
        config = config_lib.load(args.config, args.overrides)
    except (ValueError, OSError) as error:
        print(f"{args.config}: {error}", file=sys.stderr)
        return 2
    out = args.out or Path("runs") / args.config.stem
    summary = run.run(config, out)
    print(run.describe(summary))
    print(f"Outputs in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
