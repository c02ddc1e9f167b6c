"""Off-policy actor-critic learners: DDPG, TD3, SAC and TQC, all behind the same ``Agent``
interface, by name."""

from __future__ import annotations

from envs.validation import check_choice
from jaxik import config as config_lib
from jaxik.config import TrainConfig
from jaxik.device.agents import ddpg, sac, td3, tqc
from jaxik.device.agents.common import Agent

MAKERS = {"ddpg": ddpg.make, "td3": td3.make, "sac": sac.make, "tqc": tqc.make}
assert tuple(MAKERS) == config_lib.ALGOS, "every algorithm the config allows has a maker"
ALGOS = config_lib.ALGOS


def make(config: TrainConfig, in_dim: int, action_size: int) -> Agent:
    """The learner ``config.algo`` for inputs [in_dim] and actions [action_size]."""
    check_choice("algo", config.algo, MAKERS)
    return MAKERS[config.algo](config, in_dim, action_size)


__all__ = ["ALGOS", "Agent", "make"]
