"""Off-policy actor-critic learners: DDPG, TD3 and SAC, all behind the same ``Agent`` interface."""

from jaxik.agents.common import Agent
from jaxik.agents.registry import ALGOS, make

__all__ = ["ALGOS", "Agent", "make"]
