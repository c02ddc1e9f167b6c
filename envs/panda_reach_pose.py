"""PandaReachPose: bring the Panda's grasp frame to a goal pose, a position and an orientation
(inverse kinematics in full, learned).

The arm, its servos, physics and time limit are PandaReach's (envs/panda_reach.py). What changes:

- goals: a position uniform in PandaReach's box, and an orientation whose pointing direction is
  uniform over the cap within ``goal_cone`` of straight down and whose yaw about the vertical is
  uniform within ``goal_yaw`` of the gripper-down frame (envs/pose.py, ``sample``). With the
  defaults (30 degrees, 90 degrees), damped-least-squares IK from the neutral pose brings
  99.8 % of 2,000 drawn goals within the success thresholds, inside the joint limits; the few
  it misses lie at the far edge of the box, tilted (tests/test_panda_reach_pose.py);
- the goal vector [9]: the position [3], then the orientation's x and z axes [6] (envs/pose.py);
- success: the position within ``distance_threshold`` (5 cm) and the orientation within
  ``angle_threshold`` (15 degrees), both strict;
- rewards: sparse, -1 unless successful, else 0; dense, -(distance + distance_threshold /
  angle_threshold x angle), so that both thresholds weigh the same;
- observation [22]: the grasp frame's position [3] and orientation [6], its linear and angular
  velocity [3 + 3], and the arm's joint angles [7];
- control: "joints", joint-angle deltas (7-D, PandaReachPose), or "ee" (6-D, PandaReachPoseEE):
  the target position moves by ``ee_step`` x action[0:3] and the target orientation turns about
  the world axes by the rotation vector ``rotation_step`` x action[3:6]; damped-least-squares IK
  then solves for both (envs/arm_control.py, ``ee_pose``).

The gripper's two fingers look the same turned half a turn about its pointing axis; the task
does not count that as the same orientation: a pose is a pose of the frame. Yaws within 90
degrees of the gripper-down frame's already cover every way the fingers can face.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from envs import panda_model, pose
from envs import validation as check
from envs.arm_control import POSE_CONTROL, ArmControl
from envs.arm_dynamics import ArmState
from envs.panda_reach import PandaReach, PandaReachConfig
from envs.reward import REWARD_TYPES

POSITION = slice(0, 3)  # of a goal
ORIENTATION = slice(3, 3 + pose.SIX)


@dataclasses.dataclass(frozen=True)
class PandaReachPoseConfig(PandaReachConfig):
    """PandaReach's settings (control_type "joints" by default) and the orientation's."""

    control_type: str = check.setting("joints", check=check.one_of(("ee", "joints")))
    """"joints": joint-angle deltas (7-D action); "ee": end-effector translation and rotation
    (6-D action)."""
    angle_threshold: float = check.setting(math.radians(15), check=check.check_positive)
    """Largest angle (radians, strict) between the achieved and the goal orientation that counts
    as success."""
    goal_cone: float = check.setting(math.radians(30), check=check.number(0.0, math.pi))
    """Largest angle (radians) between a goal's pointing direction and straight down."""
    goal_yaw: float = check.setting(math.radians(90), check=check.number(0.0, math.pi))
    """Goal yaws about the vertical are uniform in [-goal_yaw, goal_yaw] (radians) around the
    gripper-down frame's."""
    rotation_step: float = check.setting(0.1, check=check.check_positive)
    """Radians of target rotation per unit action ("ee" control)."""


class PandaReachPose(PandaReach):
    """Franka Panda pose reach on MJX. See ``PandaReachPoseConfig`` for the settings."""

    def __init__(self, config: PandaReachPoseConfig | None = None, name: str = "PandaReachPose"):
        config = config or PandaReachPoseConfig()
        super().__init__(config, name)
        if config.control_type == "ee":
            self.control = ArmControl.from_config(
                self.mj_model, config, POSE_CONTROL, config.rotation_step
            )
        self._down = jnp.asarray(panda_model.EE_DOWN_ROTATION, jnp.float32)

    def sample_goal(self, key: jax.Array) -> jax.Array:
        """A position uniform in the goal box and an orientation from the cone: [9]."""
        position_key, orientation_key = jax.random.split(key)
        position = super().sample_goal(position_key)
        rotation = pose.sample(
            orientation_key, self._down, self.config.goal_cone, self.config.goal_yaw
        )
        return jnp.concatenate([position, pose.six(rotation)])

    def compute_reward(self, achieved_goal: jax.Array, desired_goal: jax.Array) -> jax.Array:
        """Pure and batched. Goals: [..., 9] -> reward [...], float32."""
        if self.config.reward_type == "dense":
            metrics = self.goal_metrics(achieved_goal, desired_goal)
            scale = self.config.distance_threshold / self.config.angle_threshold
            return -(metrics["distance"] + scale * metrics["angle"])
        if self.config.reward_type == "sparse":
            return -(~self.is_success(achieved_goal, desired_goal)).astype(jnp.float32)
        raise ValueError(f"reward_type={self.config.reward_type!r}: one of {REWARD_TYPES}")

    def is_success(self, achieved_goal: jax.Array, desired_goal: jax.Array) -> jax.Array:
        """Both within their thresholds. Goals: [..., 9] -> [...] bool."""
        metrics = self.goal_metrics(achieved_goal, desired_goal)
        return (metrics["distance"] < self.config.distance_threshold) & (
            metrics["angle"] < self.config.angle_threshold
        )

    def goal_metrics(self, achieved_goal: jax.Array, desired_goal: jax.Array) -> dict:
        """{"distance": metres between the positions, "angle": radians between the
        orientations}, float32 [...]."""
        offset = achieved_goal[..., POSITION] - desired_goal[..., POSITION]
        turned = pose.angle(achieved_goal[..., ORIENTATION], desired_goal[..., ORIENTATION])
        return {
            "distance": jnp.linalg.norm(offset, axis=-1).astype(jnp.float32),
            "angle": turned.astype(jnp.float32),
        }

    def _observe(self, arm: ArmState, goal: jax.Array) -> dict[str, jax.Array]:
        """{"observation": [22], "achieved_goal": [9], "desired_goal": [9]}, float32 (see the
        module's docstring for the layout)."""
        ee_pos, ee_rotation, jacp, jacr = self.chain.site_frame(arm.qpos)
        achieved = jnp.concatenate([ee_pos, pose.six(ee_rotation)])
        velocity = jnp.concatenate([jacp @ arm.qvel, jacr @ arm.qvel])
        return {
            "observation": jnp.concatenate([achieved, velocity, arm.qpos]).astype(jnp.float32),
            "achieved_goal": achieved.astype(jnp.float32),
            "desired_goal": goal.astype(jnp.float32),
        }
