"""How an action becomes the Panda's servo targets, as panda-gym's ``Panda.set_action`` does it.

Two control modes, shared by every Panda task (reach and manipulation):

- ``ee``: target = measured ee position + ``ee_step`` * action [3], z clipped at the table top,
  turned into joint targets by damped-least-squares IK that holds the gripper pointing down:
  ``ik_iterations`` steps of envs/ik.py's ``solve_site_pose`` (``ik_solver="dls"``), or PyBullet's
  own ``calculateInverseKinematics`` as panda-gym calls it (``ik_solver="pybullet"``,
  envs/ik.py's ``pybullet_solve``: 20 heavily damped steps, which fall short of the target);
- ``joints``: joint targets = measured joint angles + ``joint_step`` * action [7];
- ``ee_pose`` (the pose reach task's end-effector control): as ``ee`` for action[0:3], and the
  target orientation is the measured one turned about the world axes by the rotation vector
  ``rotation_step`` * action[3:6] (radians), which the IK then holds instead of pointing down.

Actions arrive clipped to [-1, 1]. Targets are always clipped to the joint ranges.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import mujoco

from envs import ik, panda_model, pose
from envs.chain import KinematicChain

CONTROL_TYPES = ("ee", "joints")
POSE_CONTROL = "ee_pose"
IK_SOLVERS = ("dls", "pybullet")


@dataclasses.dataclass(frozen=True)
class ArmControl:
    """The arm's control law. ``chain`` is the ee site's kinematic chain; the joint ranges
    ``qpos_low`` / ``qpos_high`` [7] clip every target."""

    control_type: str
    chain: KinematicChain
    qpos_low: jax.Array
    qpos_high: jax.Array
    ee_step: float
    joint_step: float
    ik_iterations: int
    ik_damping: float
    rotation_step: float = 0.0  # ee_pose only
    ik_solver: str = "dls"  # IK_SOLVERS; "pybullet" for ee control only

    @classmethod
    def from_config(
        cls,
        arm_model: mujoco.MjModel,
        config,
        control_type: str | None = None,
        rotation_step: float = 0.0,
        ik_solver: str = "dls",
    ) -> ArmControl:
        """``arm_model`` is the Panda alone (a hinge chain, envs/assets/panda.xml); ``config``
        has control_type, ee_step, joint_step, ik_iterations and ik_damping; ``control_type``,
        if given, replaces the config's (the pose task's "ee" is ``POSE_CONTROL``)."""
        joints = [arm_model.joint(name) for name in panda_model.ARM_JOINTS]
        return cls(
            control_type=control_type or config.control_type,
            chain=KinematicChain.from_model(arm_model, panda_model.EE_SITE),
            qpos_low=jnp.asarray([j.range[0] for j in joints], jnp.float32),
            qpos_high=jnp.asarray([j.range[1] for j in joints], jnp.float32),
            ee_step=config.ee_step,
            joint_step=config.joint_step,
            ik_iterations=config.ik_iterations,
            ik_damping=config.ik_damping,
            rotation_step=rotation_step,
            ik_solver=ik_solver,
        )

    @property
    def action_size(self) -> int:
        sizes = {"ee": 3, POSE_CONTROL: 6}
        return sizes.get(self.control_type, len(panda_model.ARM_JOINTS))

    def ee_target(self, site_pos: jax.Array, action: jax.Array) -> jax.Array:
        """Where ee control asks the ee site [3] to go from ``site_pos`` [3] for a clipped
        action: ``ee_step`` * action[0:3] further, no lower than the table top."""
        target_pos = site_pos + self.ee_step * action[:3]
        return target_pos.at[2].max(panda_model.TABLE_TOP_Z)

    def servo_targets(self, qpos: jax.Array, action: jax.Array) -> jax.Array:
        """Servo targets [7] at arm joint angles ``qpos`` [7] for a clipped action."""
        if self.control_type == "joints":
            target = qpos + self.joint_step * action
            return jnp.clip(target, self.qpos_low, self.qpos_high)
        site_pos, site_rotation, _, _ = self.chain.site_frame(qpos)
        target_pos = self.ee_target(site_pos, action)
        if self.control_type == POSE_CONTROL:
            target_rotation = pose.turn(self.rotation_step * action[3:]) @ site_rotation
        else:
            target_rotation = jnp.asarray(panda_model.EE_DOWN_ROTATION, jnp.float32)
        if self.ik_solver == "pybullet":
            target = ik.pybullet_solve(self.chain, qpos, target_pos, target_rotation)
            return jnp.clip(target, self.qpos_low, self.qpos_high)
        return ik.solve_site_pose(
            self.chain,
            qpos,
            target_pos,
            target_rotation,
            self.qpos_low,
            self.qpos_high,
            self.ik_iterations,
            self.ik_damping,
        )
