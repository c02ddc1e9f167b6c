"""DDPG (Lillicrap et al. 2015): one critic, a deterministic actor updated every step, soft
targets. It is TD3's update with one critic, no target smoothing and no delay, and TD3's
exploration: Gaussian or Ornstein-Uhlenbeck noise on the actor's action."""

from __future__ import annotations

from jaxik.config import TrainConfig
from jaxik.device.agents.common import Agent
from jaxik.device.agents.td3 import make_deterministic


def make(config: TrainConfig, in_dim: int, action_size: int) -> Agent:
    return make_deterministic(
        config,
        in_dim,
        action_size,
        num_critics=1,
        policy_delay=1,
        smoothing=False,
    )
