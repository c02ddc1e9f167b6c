"""Does a refactor keep the numbers? Trains short PlanarReach runs (TD3 with Gaussian noise, DDPG
with Ornstein-Uhlenbeck noise, SAC, and a vmapped SAC scan over learning_rate and tau) and saves
every metric and every leaf of the final agent state; ``compare`` says which differ, bit for bit.

    python tools/same_numbers.py record OUT.pkl         # with the code of this checkout
    python tools/same_numbers.py compare OLD.pkl NEW.pkl

To compare two commits: ``git worktree add ../jaxik-old REV`` and run ``record`` there too (the
script imports the checkout it lives in, not an installed copy).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import numpy as np

import jaxik
from jaxik import config

if (Path(jaxik.__file__).parent / "device").is_dir():  # the layout since the device/host split
    from jaxik.device import hyperparams, trainer
else:  # a checkout from before it, recorded to compare against
    from jaxik import hyperparams, trainer

SHORT = {"env": "PlanarReach", "total_env_steps": 2048, "eval_every": 512, "learning_starts": 256}


def record(out: str) -> None:
    print("jaxik from", Path(jaxik.__file__).parent)
    results = {}
    for algo, noise in (("td3", "gaussian"), ("ddpg", "ou"), ("sac", "gaussian")):
        cfg = config.load(None, {**SHORT, "algo": algo, "exploration_noise": noise})
        state, metrics = jax.jit(trainer.make_train(cfg))(jax.random.key(0))
        results[algo] = {k: np.asarray(v) for k, v in metrics.items()}
        results[algo]["agent"] = [np.asarray(x) for x in jax.tree.leaves(state.agent)]
    base = config.load(None, {**SHORT, "algo": "sac", "total_env_steps": 1024})
    runs = [
        config.load(None, {**base.to_dict(), "learning_rate": lr, "tau": tau})
        for lr, tau in ((1e-3, 0.05), (3e-4, 0.01))
    ]
    keys = jax.random.split(jax.random.key(1), 2)
    state, metrics = jax.jit(jax.vmap(trainer.make_train(base)))(keys, hyperparams.stack(runs))
    results["sac scan"] = {k: np.asarray(v) for k, v in metrics.items()}
    results["sac scan"]["agent"] = [np.asarray(x) for x in jax.tree.leaves(state.agent)]
    Path(out).write_bytes(pickle.dumps(results))


def compare(old_path: str, new_path: str) -> int:
    old = pickle.loads(Path(old_path).read_bytes())
    new = pickle.loads(Path(new_path).read_bytes())
    differing = 0
    for run, values in old.items():
        bad = []
        for name, a in values.items():
            b = new[run].get(name)
            if isinstance(a, list):
                same = b is not None and len(a) == len(b)
                same = same and all(
                    np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b, strict=True)
                )
            else:
                same = b is not None and np.array_equal(a, b, equal_nan=True)
            if not same:
                bad.append(name)
        differing += len(bad)
        print(f"{run}: " + ("identical" if not bad else f"differ in {bad}"))
    return 1 if differing else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "record":
        record(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
