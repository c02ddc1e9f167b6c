"""The Panda's joint motors as panda-gym drives them: force-limited velocity servos.

panda-gym sets PyBullet's POSITION_CONTROL with only targets and forces, so Bullet's defaults
apply (position gain 0.1, velocity gain 1, 2 ms steps): each joint motor asks for the velocity
``RATE * (target - q)`` with ``RATE`` = 0.1 / 0.002 s = 50 per second, and reaches it within one
physics step unless that takes more than the joint's force limit. With the target re-based on
the measured position every control step, a zero action asks for zero velocity: the arm stops.

Here the same law is a torque computed every physics step from the arm's mass matrix:
``tau = clip(M (RATE (target - q) - qdot) / dt, -limit, limit)``. It is the torque that would
bring every joint to its asked velocity in one step, coupling between the joints included, and
it goes to MuJoCo's motors (gravity compensation is separate: the MJCF's ``gravcomp``, counted
against the same limit). The mass matrix is computed every physics step, by MJX, for the arm
alone: with one per 40 ms control step, a wrist whose inertia halved within the step (the arm
folding) overshot, and a flailing arm left its joint ranges at 38 rad/s.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

RATE = 50.0
"""Per second: Bullet's default position gain 0.1 over panda-gym's 2 ms physics step."""


class VelocityMotor:
    """Joint torques [7] for servo targets. ``arm_model`` is the Panda alone (no objects)."""

    def __init__(self, arm_model: mujoco.MjModel):
        self.model = mjx.put_model(arm_model)
        self.template = mjx.make_data(self.model)
        self.limit = jnp.asarray(arm_model.jnt_actfrcrange[:, 1], jnp.float32)

    def inertia(self, qpos: jax.Array) -> jax.Array:
        """The arm's joint-space mass matrix [7, 7] (armature included) at joint angles [7]."""
        data = self.template.replace(qpos=qpos)
        data = mjx.kinematics(self.model, data)
        data = mjx.com_pos(self.model, data)
        data = mjx.crb(self.model, data)
        return mjx.full_m(self.model, data)

    def torque(
        self,
        inertia: jax.Array,
        target: jax.Array,
        qpos: jax.Array,
        qvel: jax.Array,
        timestep: float,
    ) -> jax.Array:
        """Motor torques [7] at joint angles and velocities [7] for servo targets [7]."""
        wanted = RATE * (target - qpos)
        torque = inertia @ (wanted - qvel) / timestep
        # Over a limit, every joint's change of velocity shrinks by the same factor: the arm
        # keeps its direction (clipping joints one by one would leave the coupling terms of the
        # clipped joints in the others' torques, and spun a light wrist up to 95 rad/s).
        scale = jnp.minimum(1.0, jnp.min(self.limit / jnp.maximum(jnp.abs(torque), 1e-9)))
        return scale * torque


def finger_force(
    inertia: float,
    limit: float,
    target: jax.Array,
    qpos: jax.Array,
    qvel: jax.Array,
    timestep: float,
) -> jax.Array:
    """Forces [2] of the two finger motors, each its own velocity servo (the same law as the
    arm's, on a joint whose mass matrix is the constant ``inertia``): targets, positions and
    velocities [2], each finger's force within +-``limit``."""
    force = inertia * (RATE * (target - qpos) - qvel) / timestep
    return jnp.clip(force, -limit, limit)
