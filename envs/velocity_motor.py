"""The Panda's joint motors as panda-gym drives them: force-limited velocity servos.

panda-gym sets PyBullet's POSITION_CONTROL with only targets and forces, so Bullet's defaults
apply (position gain 0.1, velocity gain 1, 2 ms steps): each joint motor is a constraint row that
asks for the velocity ``0.1 * (target - q) / 2 ms`` and reaches it within the physics step
unless that takes more than the joint's force limit; Bullet solves the rows of all joints
together (through the arm's mass matrix), each row's force clamped at its own limit. With the
target re-based on the measured position every control step, a zero action asks for zero
velocity: the arm stops.

Here the same law is a torque computed every physics step from the arm's mass matrix M:

- every joint asks for the velocity change ``w = rate (target - q) - qdot``, where ``rate``
  (``servo_rate``) closes the same share of the error in one physics step of this simulation as
  Bullet's servo does over the same time in its 2 ms steps;
- the torques ``tau`` that bring every joint there in one step are ``M w / dt``; where one is
  over its joint's limit, that joint gets its limit and the others still reach theirs, the
  coupling through M included (``clamped_torques``: the box-constrained problem Bullet's motor
  rows pose, solved by a few rounds of an active set).

The torques go to MuJoCo's motors; gravity compensation is separate (the MJCF's ``gravcomp``,
counted against the same joint limit). The mass matrix is computed every physics step, for the
arm alone: with one per 40 ms control step, a wrist whose inertia halved within the step (the
arm folding) overshot, and a flailing arm left its joint ranges at 38 rad/s.

envs/native/velocity_servo.c is the same law in C, for MuJoCo's C engine.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from envs.linalg import solve_spd

ARM_DOF = 7
BULLET_GAIN = 0.1
"""Bullet's default position gain: the share of the position error a motor asks to close in
one physics step."""
BULLET_TIMESTEP = 0.002
"""panda-gym's physics step (s)."""
ACTIVE_SET_ROUNDS = 6
"""Rounds of ``clamped_torques``: each may clamp joints over their limits and free clamped
joints that would overshoot. The arm's joints mostly settle within 2 or 3; with 4, one of 400
random cases of the arm had not (tests/test_physics_engines.py), with 6 none."""


def servo_rate(timestep: float) -> float:
    """Per second: the velocity asked per unit of position error, so that a joint servoed over
    ``timestep`` closes the share of its error that Bullet's servo closes in that time (its
    0.1 per 2 ms step: 50 per second at 2 ms, 44.4 at 6.7 ms)."""
    remaining = (1.0 - BULLET_GAIN) ** (timestep / BULLET_TIMESTEP)
    return (1.0 - remaining) / timestep


def clamped_torques(
    inertia: jax.Array, wanted: jax.Array, limit: jax.Array, timestep: float
) -> jax.Array:
    """Torques [n] that change the joints' velocities by ``wanted`` [n] in one ``timestep``
    through the mass matrix ``inertia`` [n, n], each within +-``limit`` [n]: a joint whose torque
    would exceed its limit gets the limit (its velocity falls short), and the others still get
    exactly their change."""
    free_torque = inertia @ wanted / timestep
    clamped = jnp.abs(free_torque) > limit
    sign = jnp.sign(free_torque)
    eye = jnp.eye(wanted.shape[0], dtype=inertia.dtype)
    for _ in range(ACTIVE_SET_ROUNDS):
        both = clamped[:, None] & clamped[None, :]
        # the clamped joints' velocity changes, given the free joints get theirs
        free_part = inertia @ jnp.where(clamped, 0.0, wanted)
        rhs = jnp.where(clamped, timestep * sign * limit - free_part, 0.0)
        change = solve_spd(jnp.where(both, inertia, eye), rhs)
        change = jnp.where(clamped, change, wanted)
        torque = inertia @ change / timestep
        over = ~clamped & (jnp.abs(torque) > limit)
        overshoot = clamped & (sign * (change - wanted) > 0)
        sign = jnp.where(over, jnp.sign(torque), sign)
        clamped = (clamped | over) & ~overshoot
    return jnp.clip(torque, -limit, limit)


class VelocityMotor:
    """Joint torques [7] for servo targets. ``arm_model`` is the Panda alone (no objects), its
    first 7 joints the arm's."""

    def __init__(self, arm_model: mujoco.MjModel):
        self.model = mjx.put_model(arm_model)
        self.template = mjx.make_data(self.model)
        self.limit = jnp.asarray(arm_model.jnt_actfrcrange[:ARM_DOF, 1], jnp.float32)

    def inertia(self, qpos: jax.Array) -> jax.Array:
        """The arm's joint-space mass matrix [7, 7] (armature included) at joint angles [7], or
        [9] with the fingers' positions (which move a little of the hand's mass)."""
        data = self.template.replace(qpos=self.template.qpos.at[: qpos.shape[0]].set(qpos))
        data = mjx.kinematics(self.model, data)
        data = mjx.com_pos(self.model, data)
        data = mjx.crb(self.model, data)
        return mjx.full_m(self.model, data)[:ARM_DOF, :ARM_DOF]

    def torque(
        self,
        inertia: jax.Array,
        target: jax.Array,
        qpos: jax.Array,
        qvel: jax.Array,
        timestep: float,
    ) -> jax.Array:
        """Motor torques [7] at joint angles and velocities [7] for servo targets [7]."""
        wanted = servo_rate(timestep) * (target - qpos) - qvel
        return clamped_torques(inertia, wanted, self.limit, timestep)


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
    wanted = servo_rate(timestep) * (target - qpos) - qvel
    return jnp.clip(inertia * wanted / timestep, -limit, limit)
