"""Algorithms by name."""

from __future__ import annotations

from jaxik.agents import ddpg, sac, td3
from jaxik.agents.common import Agent

ALGOS = {"ddpg": ddpg.make, "td3": td3.make, "sac": sac.make}


def make(config, in_dim: int, action_size: int) -> Agent:
    """The learner ``config.algo`` for inputs [in_dim] and actions [action_size]."""
    if config.algo not in ALGOS:
        raise ValueError(f"algo={config.algo!r} is not allowed; choose one of {list(ALGOS)}")
    return ALGOS[config.algo](config, in_dim, action_size)
