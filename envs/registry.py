"""Environments by name, with keyword overrides of their configuration."""

from __future__ import annotations

from typing import Any

from envs import validation
from envs.goal_env import GoalEnv
from envs.panda_manipulation import PandaManipulation, PandaManipulationConfig
from envs.panda_reach import PandaReach, PandaReachConfig
from envs.panda_reach_pose import PandaReachPose, PandaReachPoseConfig
from envs.planar_reach import PlanarReach, PlanarReachConfig

_PANDA_VARIANTS = {
    "PandaReach": {"control_type": "ee", "reward_type": "sparse"},
    "PandaReachDense": {"control_type": "ee", "reward_type": "dense"},
    "PandaReachJoints": {"control_type": "joints", "reward_type": "sparse"},
    "PandaReachJointsDense": {"control_type": "joints", "reward_type": "dense"},
}
_POSE_VARIANTS = {
    "PandaReachPose": {"control_type": "joints", "reward_type": "sparse"},
    "PandaReachPoseDense": {"control_type": "joints", "reward_type": "dense"},
    "PandaReachPoseEE": {"control_type": "ee", "reward_type": "sparse"},
    "PandaReachPoseEEDense": {"control_type": "ee", "reward_type": "dense"},
}
# Each manipulation task's own settings. Elliptic friction cones: the puck's friction (0.02)
# needs them, and a grasp holds on them (envs/panda_manipulation.py, friction_cone).
_MANIPULATION_TASKS = {
    "Push": {"task": "push"},
    "Slide": {"task": "slide", "friction_cone": "elliptic"},
    "PickAndPlace": {"task": "pick_and_place", "friction_cone": "elliptic"},
    "Stack": {
        "task": "stack", "friction_cone": "elliptic", "distance_threshold": 0.1,
        "episode_length": 100,
    },
    "Flip": {"task": "flip", "friction_cone": "elliptic", "distance_threshold": 0.2},
}  # fmt: skip
_MANIPULATION_VARIANTS = {
    f"Panda{task}{joints}{dense}": {
        **settings,
        "control_type": "joints" if joints else "ee",
        "reward_type": "dense" if dense else "sparse",
    }
    for task, settings in _MANIPULATION_TASKS.items()
    for joints in ("", "Joints")
    for dense in ("", "Dense")
}
ENV_NAMES = (
    *_PANDA_VARIANTS,
    *_POSE_VARIANTS,
    *_MANIPULATION_VARIANTS,
    "PlanarReach",
    "PlanarReachDense",
)


def make_config(name: str, **overrides: Any) -> Any:
    """The validated config dataclass of environment ``name`` with ``overrides``, without
    building the environment (no model load, no device work). Raises ValueError naming the bad
    name, key or value."""
    if name in _PANDA_VARIANTS:
        config = PandaReachConfig(**_PANDA_VARIANTS[name])
    elif name in _POSE_VARIANTS:
        config = PandaReachPoseConfig(**_POSE_VARIANTS[name])
    elif name in _MANIPULATION_VARIANTS:
        config = PandaManipulationConfig(**_MANIPULATION_VARIANTS[name])
    elif name in ("PlanarReach", "PlanarReachDense"):
        reward_type = "dense" if name.endswith("Dense") else "sparse"
        config = PlanarReachConfig(reward_type=reward_type)
    else:
        raise ValueError(f"unknown environment {name!r}; known environments: {list(ENV_NAMES)}")
    return validation.replace_fields(config, overrides, name)


def make(name: str, **overrides: Any) -> GoalEnv:
    """The environment called ``name``, its config changed by ``overrides``.

    Raises ValueError naming the bad name or key, before anything is compiled.
    """
    config = make_config(name, **overrides)
    if name in _PANDA_VARIANTS:
        return PandaReach(config, name=name)
    if name in _POSE_VARIANTS:
        return PandaReachPose(config, name=name)
    if name in _MANIPULATION_VARIANTS:
        return PandaManipulation(config, name=name)
    return PlanarReach(config, name=name)
