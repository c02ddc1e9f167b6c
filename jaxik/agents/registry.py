"""Algorithms by name."""

from __future__ import annotations

from envs.validation import check_choice
from jaxik.agents import ddpg, sac, td3
from jaxik.agents.common import Agent

ALGOS = {"ddpg": ddpg.make, "td3": td3.make, "sac": sac.make}


def make(config, in_dim: int, action_size: int) -> Agent:
    """The learner ``config.algo`` for inputs [in_dim] and actions [action_size]."""
    check_choice("algo", config.algo, ALGOS)
    return ALGOS[config.algo](config, in_dim, action_size)
