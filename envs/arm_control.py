"""How an action becomes the Panda's servo targets, as panda-gym's ``Panda.set_action`` does it.

Two control modes, shared by every Panda task (reach and manipulation):

- ``ee``: target = measured ee position + ``ee_step`` * action [3], z clipped at the table top,
  turned into joint targets by damped-least-squares IK that holds the gripper pointing down;
- ``joints``: joint targets = measured joint angles + ``joint_step`` * action [7].

Actions arrive clipped to [-1, 1]. Targets are always clipped to the joint ranges.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import mujoco

from envs import ik, panda_model
from envs.chain import KinematicChain

CONTROL_TYPES = ("ee", "joints")


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

    @classmethod
    def from_config(cls, arm_model: mujoco.MjModel, config) -> ArmControl:
        """``arm_model`` is the Panda alone (a hinge chain, envs/assets/panda.xml); ``config``
        has control_type, ee_step, joint_step, ik_iterations and ik_damping."""
        joints = [arm_model.joint(name) for name in panda_model.ARM_JOINTS]
        return cls(
            control_type=config.control_type,
            chain=KinematicChain.from_model(arm_model, panda_model.EE_SITE),
            qpos_low=jnp.asarray([j.range[0] for j in joints], jnp.float32),
            qpos_high=jnp.asarray([j.range[1] for j in joints], jnp.float32),
            ee_step=config.ee_step,
            joint_step=config.joint_step,
            ik_iterations=config.ik_iterations,
            ik_damping=config.ik_damping,
        )

    @property
    def action_size(self) -> int:
        return 3 if self.control_type == "ee" else len(panda_model.ARM_JOINTS)

    def servo_targets(self, qpos: jax.Array, action: jax.Array) -> jax.Array:
        """Servo targets [7] at arm joint angles ``qpos`` [7] for a clipped action."""
        if self.control_type == "joints":
            target = qpos + self.joint_step * action
            return jnp.clip(target, self.qpos_low, self.qpos_high)
        site_pos, _, _, _ = self.chain.site_frame(qpos)
        target_pos = site_pos + self.ee_step * action
        target_pos = target_pos.at[2].max(panda_model.TABLE_TOP_Z)
        return ik.solve_site_pose(
            self.chain,
            qpos,
            target_pos,
            jnp.asarray(panda_model.EE_DOWN_ROTATION, jnp.float32),
            self.qpos_low,
            self.qpos_high,
            self.ik_iterations,
            self.ik_damping,
        )
