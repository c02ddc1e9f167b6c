"""The policy folder a run leaves: what acting needs, as plain arrays and JSON.

A run's ``policy/`` holds the deterministic policy of each of its runs, and nothing of the
training state (no critics, no optimiser), so a folder outlives changes to how training is built:

- ``policy.json``: ``format`` ("jaxik-policy") and ``version`` (``VERSION``); ``algo``, ``env``
  and ``env_config`` (the task it was trained on); ``runs`` (how many policies, one per run of a
  scan, in metrics.csv's order) with each run's ``seed``; the network's input ``layout``
  (``observation`` then ``desired_goal``, with their sizes), ``action_size``, ``hidden_sizes``;
  ``normalize`` and ``observation_clip``, ``normalizer_eps``; and ``action``, the formula below
  in words.
- ``params.npz``: ``layer_{i}_kernel`` [runs, in, out] and ``layer_{i}_bias`` [runs, out] for
  i = 0 … len(hidden_sizes), and ``normalizer_mean``, ``normalizer_variance`` [runs, in],
  ``normalizer_count`` [runs].

The action of run r for x = concat(observation, desired_goal), [..., in]:

    x = clip((x - mean) / sqrt(variance + eps), -clip, clip)     # if normalize
    h = relu(h @ kernel_i + bias_i)                               # hidden layers
    action = tanh((h @ kernel_last + bias_last)[..., :action_size])

which is DDPG's and TD3's actor, and tanh of the mean of SAC's Gaussian (its network's first
``action_size`` outputs): what evaluation measured. ``jaxik.policy`` reads the folder.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from jaxik.config import TrainConfig
from jaxik.device import normalizer as normalizer_lib

FORMAT = "jaxik-policy"
VERSION = 1
META = "policy.json"
PARAMS = "params.npz"
ACTION = (
    "tanh((MLP(x))[..., :action_size]), x = clip((concat(observation, desired_goal) - mean) / "
    "sqrt(variance + eps), -clip, clip) when normalize; MLP: relu hidden layers, linear output"
)


def layers(actor_params: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """The actor's dense layers in order, (kernel [..., in, out], bias [..., out]) each: the
    ``MLP_0`` inside DDPG's, TD3's and SAC's actor (jaxik.device.networks)."""
    mlp = actor_params["params"]["MLP_0"]
    count = len(mlp)
    return [
        (np.asarray(mlp[f"Dense_{i}"]["kernel"]), np.asarray(mlp[f"Dense_{i}"]["bias"]))
        for i in range(count)
    ]


def arrays(actor_params: Any, normalizer: dict[str, Any], batched: bool) -> dict[str, np.ndarray]:
    """params.npz's arrays from an actor's parameters and the normaliser's "mean", "variance"
    and "count" (host arrays, with a leading [runs] axis when ``batched``, which is added when
    not)."""
    out: dict[str, np.ndarray] = {}
    for i, (kernel, bias) in enumerate(layers(actor_params)):
        out[f"layer_{i}_kernel"], out[f"layer_{i}_bias"] = kernel, bias
    for name in ("mean", "variance", "count"):
        out[f"normalizer_{name}"] = np.asarray(normalizer[name])
    if not batched:
        out = {name: value[None] for name, value in out.items()}
    return {name: np.asarray(value, np.float32) for name, value in out.items()}


def meta(config: TrainConfig, seeds: list[int], observation_size: int, goal_size: int,
         action_size: int) -> dict[str, Any]:  # fmt: skip
    """policy.json's contents for ``config``'s runs (their ``seeds``)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "algo": config.algo,
        "env": config.env,
        "env_config": dict(config.env_config),
        "runs": len(seeds),
        "seeds": list(seeds),
        "layout": {"observation": observation_size, "desired_goal": goal_size},
        "action_size": action_size,
        "hidden_sizes": list(config.hidden_sizes),
        "normalize": bool(config.normalize_observations),
        "observation_clip": float(config.observation_clip),
        "normalizer_eps": normalizer_lib.EPS,
        "action": ACTION,
    }


def meta_for(config: TrainConfig, seeds: list[int]) -> dict[str, Any]:
    """``meta`` with the sizes read from ``config``'s environment."""
    import envs

    env = envs.make(config.env, **config.env_config)
    sizes = env.observation_size
    return meta(config, seeds, sizes["observation"][0], sizes["desired_goal"][0], env.action_size)


def write(folder: Path, info: dict[str, Any], params: dict[str, np.ndarray]) -> Path:
    """Writes ``info`` (policy.json) and ``params`` (params.npz) as ``folder``, replacing what was
    there: written beside it first and then renamed, so a folder is whole or absent."""
    folder = Path(folder).absolute()
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with open(partial / PARAMS, "wb") as file:
        np.savez(file, **params)
        file.flush()
        os.fsync(file.fileno())
    (partial / META).write_text(json.dumps(info, indent=2) + "\n")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(partial, folder)
    return folder


def read(folder: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """policy.json and params.npz of a folder of this format (``is_current``)."""
    folder = Path(folder)
    info = json.loads((folder / META).read_text())
    if info.get("format") != FORMAT or info.get("version") != VERSION:
        raise ValueError(
            f"{folder / META} is format {info.get('format')!r} version {info.get('version')!r}; "
            f"this jaxik reads {FORMAT!r} version {VERSION}"
        )
    with np.load(folder / PARAMS) as loaded:
        params = {name: loaded[name] for name in loaded.files}
    return info, params


def is_current(folder: Path) -> bool:
    return (Path(folder) / META).is_file()
