"""A trained policy, loaded from a run folder, as a function from observations to actions.

    import jaxik.policy
    act = jaxik.policy.load("runs/default")
    action = act(obs)            # obs: panda-gym's dict, single or batched, NumPy or JAX

The action is the deterministic one evaluation uses (DDPG, TD3: the actor; SAC: tanh of its
Gaussian's mean), in [-1, 1], computed by one jitted function with the run's own observation
normaliser. NumPy in gives NumPy out, JAX in gives JAX out. A run folder of a scan (seeds or a
float sweep trained as one program) holds every run's policy: pick one with ``run=``.

What is read is the run's ``policy/`` folder (jaxik.host.policy_folder: the actor's layers and
the normaliser as arrays, the task and the network's layout as JSON), which needs neither the
training code's version nor its config classes. Folders written before that format (orbax
checkpoints of the whole final training state) still load: their actor and normaliser are picked
out of the checkpoint.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxik.host import policy_folder, scan

OBS_KEYS = ("observation", "desired_goal")


@dataclasses.dataclass(frozen=True)
class Policy:
    """``policy(obs) -> action``: one run's deterministic policy. ``env`` and ``env_config``
    name the task it was trained on, ``algo`` the algorithm; ``info`` is the folder's
    policy.json."""

    algo: str
    env: str
    env_config: dict[str, Any]
    action_size: int
    info: dict[str, Any]
    params: dict[str, Any]  # this run's arrays: "layers" [(kernel, bias)], "mean", "variance"
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
    """The final policy of the run in ``run_dir`` (train.py's --out, or its policy/ folder).
    ``run`` picks one run of a scan folder (0 to seeds x settings - 1, in metrics.csv's order).
    Raises ValueError naming what is missing."""
    run_dir = Path(run_dir)
    folder = run_dir if policy_folder.is_current(run_dir) else run_dir / "policy"
    if policy_folder.is_current(folder):
        info, arrays = policy_folder.read(folder)
    else:
        check_run_folder(run_dir)
        info, arrays = from_orbax(run_dir)
    count = info["runs"]
    if not (isinstance(run, int) and 0 <= run < count):
        raise ValueError(f"run={run!r} is not one of the folder's runs: 0 to {count - 1}")
    depth = len(info["hidden_sizes"]) + 1
    params = {
        "layers": [
            (jnp.asarray(arrays[f"layer_{i}_kernel"][run]),
             jnp.asarray(arrays[f"layer_{i}_bias"][run]))
            for i in range(depth)
        ],
        "mean": jnp.asarray(arrays["normalizer_mean"][run]),
        "variance": jnp.asarray(arrays["normalizer_variance"][run]),
    }  # fmt: skip
    act = jax.jit(lambda params, observation, goal: action(info, params, observation, goal))
    return Policy(
        algo=info["algo"], env=info["env"], env_config=dict(info["env_config"]),
        action_size=info["action_size"], info=info, params=params, _act=act,
    )  # fmt: skip


def action(info: dict[str, Any], params: dict[str, Any], observation, goal) -> jax.Array:
    """The formula of jaxik.host.policy_folder: [n, obs], [n, goal] -> [n, action_size]."""
    x = jnp.concatenate([observation, goal], axis=-1)
    if info["normalize"]:
        std = jnp.sqrt(params["variance"] + info["normalizer_eps"])
        clip = info["observation_clip"]
        x = jnp.clip((x - params["mean"]) / std, -clip, clip)
    *hidden, (kernel, bias) = params["layers"]
    for hidden_kernel, hidden_bias in hidden:
        x = jax.nn.relu(jnp.dot(x, hidden_kernel) + hidden_bias)
    return jnp.tanh((jnp.dot(x, kernel) + bias)[..., : info["action_size"]])


def check_run_folder(run_dir: Path) -> None:
    """A clear error for a folder that is not a finished run of a single program."""
    if not (run_dir / "config.yaml").is_file():
        raise ValueError(
            f"{run_dir} has no config.yaml and no {policy_folder.META}: not a run folder of "
            "train.py nor a policy folder"
        )
    programs = scan.load(run_dir / "config.yaml").programs
    if len(programs) > 1:
        names = ", ".join(str(run_dir / p.name) for p in programs[:4])
        raise ValueError(
            f"{run_dir} holds a scan of {len(programs)} programs (static settings); load one "
            f"of their folders: {names}{', ...' if len(programs) > 4 else ''}"
        )
    if not (run_dir / "policy").is_dir():
        raise ValueError(
            f"{run_dir} has no policy/ folder: the run has not finished (continue it with "
            f"python train.py --resume {run_dir})"
        )


def from_orbax(run_dir: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A policy/ folder of jaxik before the policy format (an orbax checkpoint of the final
    {"agent", "normalizer"} state), as policy.json's information and params.npz's arrays."""
    import orbax.checkpoint as ocp

    folder = (run_dir / "policy").absolute()
    program = scan.load(run_dir / "config.yaml").programs[0]
    config = program.config
    try:
        with ocp.StandardCheckpointer() as checkpointer:
            stored = checkpointer.restore(folder)
        arrays = policy_folder.arrays(
            stored["agent"]["actor_params"],
            stored["normalizer"],
            batched=program.batched,
        )
    except Exception as error:  # any unreadable layout gets the same advice
        raise ValueError(
            f"{folder} is neither a {policy_folder.FORMAT!r} folder (no "
            f"{policy_folder.META}) nor an orbax policy checkpoint this jaxik can read "
            f"({type(error).__name__}: {str(error)[:200]}). Load it with the jaxik version "
            "that wrote it, or train the run again."
        ) from None
    return policy_folder.meta_for(config, [r.seed for r in program.runs]), arrays
