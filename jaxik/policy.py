"""A trained policy, loaded from a run folder, as a function from observations to actions.

    import jaxik.policy
    act = jaxik.policy.load("runs/default")
    action = act(obs)            # obs: panda-gym's dict, single or batched, NumPy or JAX

The action is the deterministic one evaluation uses (DDPG, TD3: the actor; SAC: tanh of its
Gaussian's mean), in [-1, 1], computed by one jitted function with the run's own observation
normaliser. NumPy in gives NumPy out, JAX in gives JAX out. A run folder of a scan (seeds or a
float sweep trained as one program) holds every run's policy: pick one with ``run=``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import envs
from jaxik.config import TrainConfig
from jaxik.device import agents, trainer
from jaxik.device import hyperparams as hyperparams_lib
from jaxik.device import normalizer as normalizer_lib
from jaxik.host import outputs, scan

OBS_KEYS = ("observation", "desired_goal")


@dataclasses.dataclass(frozen=True)
class Policy:
    """``policy(obs) -> action``. ``config`` is the run's TrainConfig (``config.env`` and
    ``config.env_config`` name the environment it was trained on)."""

    config: TrainConfig
    params: Any  # {"agent": the algorithm's state, "normalizer": Normalizer}, one run's
    action_size: int
    _act: Any = dataclasses.field(repr=False)

    def __call__(self, obs: dict) -> Any:
        """obs: {"observation": [obs_dim] or [n, obs_dim], "desired_goal": [goal_dim] or
        [n, goal_dim], ...} -> action [action_size] or [n, action_size] in [-1, 1]."""
        if not isinstance(obs, dict) or any(key not in obs for key in OBS_KEYS):
            keys = list(obs) if isinstance(obs, dict) else type(obs).__name__
            raise ValueError(f"obs must be a dict with keys {list(OBS_KEYS)}; got {keys}")
        is_jax = isinstance(obs["observation"], jax.Array)
        observation = jnp.asarray(obs["observation"], jnp.float32)
        goal = jnp.asarray(obs["desired_goal"], jnp.float32)
        single = observation.ndim == 1
        if single:
            observation, goal = observation[None], goal[None]
        action = self._act(self.params, observation, goal)
        if single:
            action = action[0]
        return action if is_jax else np.asarray(action)


def load(run_dir: str | Path, run: int = 0) -> Policy:
    """The final policy of the run in ``run_dir`` (train.py's --out). ``run`` picks one run of a
    scan folder (0 to seeds x settings - 1, in metrics.csv's order). Raises ValueError naming
    what is missing."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ValueError(f"{run_dir} has no config.yaml: not a run folder of train.py")
    plan = scan.load(run_dir / "config.yaml")
    programs = plan.programs
    if len(programs) > 1:
        names = ", ".join(str(run_dir / p.name) for p in programs[:4])
        raise ValueError(
            f"{run_dir} holds a scan of {len(programs)} programs (static settings); load one "
            f"of their folders: {names}{', ...' if len(programs) > 4 else ''}"
        )
    program = programs[0]
    if not (run_dir / "policy").is_dir():
        raise ValueError(
            f"{run_dir} has no policy/ folder: the run has not finished (continue it with "
            f"python train.py --resume {run_dir})"
        )
    count = len(program.runs) if program.batched else 1
    if not (isinstance(run, int) and 0 <= run < count):
        raise ValueError(f"run={run!r} is not one of the folder's runs: 0 to {count - 1}")
    config = program.config
    env = envs.make(config.env, **config.env_config)
    sizes = env.observation_size
    in_dim = sizes["observation"][0] + sizes["desired_goal"][0]
    agent = agents.make(config, in_dim, env.action_size)
    abstract = jax.eval_shape(
        lambda: {
            "agent": agent.init(jax.random.key(0), hyperparams_lib.from_config(config)),
            "normalizer": normalizer_lib.init(in_dim),
        }
    )
    if program.batched:
        abstract = jax.tree.map(
            lambda a: jax.ShapeDtypeStruct((count, *a.shape), a.dtype), abstract
        )
    params = outputs.load_checkpoint(run_dir / "policy", abstract)
    if program.batched:
        params = jax.tree.map(lambda a: a[run], params)

    @jax.jit
    def act(params, observation, goal):
        obs = {"observation": observation, "desired_goal": goal}
        return trainer.greedy_action(config, agent, params["agent"], params["normalizer"], obs)

    return Policy(config=config, params=params, action_size=env.action_size, _act=act)
