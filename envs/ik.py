"""Damped-least-squares inverse kinematics on a site's Jacobian.

Used by the Panda's end-effector control: move the ``ee`` site to a target position while
holding a target orientation (gripper pointing down), starting from the measured joint angles,
as panda-gym asks of PyBullet's IK every control step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.chain import KinematicChain
from envs.linalg import solve_spd


def orientation_error(rotation: jax.Array, target_rotation: jax.Array) -> jax.Array:
    """Rotation vector (about world axes) that turns ``rotation`` toward the target.

    rotation, target_rotation: [3, 3] -> [3]. Equals axis * sin(angle) for the rotation between
    the two, which is the usual small-angle error of Jacobian IK.
    """
    return 0.5 * jnp.sum(jnp.cross(rotation.T, target_rotation.T), axis=0)


def dls_step(
    chain: KinematicChain,
    qpos: jax.Array,
    target_pos: jax.Array,
    target_rotation: jax.Array,
    damping: float,
) -> jax.Array:
    """One DLS step dq [nv] at joint angles ``qpos`` [nq]."""
    site_pos, site_rotation, jacp, jacr = chain.site_frame(qpos)
    jacobian = jnp.concatenate([jacp, jacr])  # [6, nv]
    error = jnp.concatenate(
        [target_pos - site_pos, orientation_error(site_rotation, target_rotation)]
    )
    gram = jacobian @ jacobian.T + damping**2 * jnp.eye(6, dtype=jacobian.dtype)
    return jacobian.T @ solve_spd(gram, error)


def solve_site_pose(
    chain: KinematicChain,
    qpos: jax.Array,
    target_pos: jax.Array,
    target_rotation: jax.Array,
    qpos_low: jax.Array,
    qpos_high: jax.Array,
    iterations: int,
    damping: float,
) -> jax.Array:
    """Joint angles [nq] from ``qpos`` [nq] that bring the chain's site to target_pos [3] with
    target_rotation [3, 3], within [qpos_low, qpos_high]."""
    for _ in range(iterations):
        step = dls_step(chain, qpos, target_pos, target_rotation, damping)
        qpos = jnp.clip(qpos + step, qpos_low, qpos_high)
    return qpos


PYBULLET_ITERATIONS = 20
PYBULLET_JOINT_DAMPING = 0.5
PYBULLET_RESIDUAL = 1e-4
PYBULLET_MAX_STEP = jnp.pi / 4


def rotation_vector(rotation: jax.Array) -> jax.Array:
    """The rotation vector (axis * angle, angle in [0, pi)) of a rotation matrix [3, 3]."""
    sine_axis = 0.5 * jnp.stack(
        [
            rotation[2, 1] - rotation[1, 2],
            rotation[0, 2] - rotation[2, 0],
            rotation[1, 0] - rotation[0, 1],
        ]
    )
    sine = jnp.linalg.norm(sine_axis)
    cosine = 0.5 * (jnp.trace(rotation) - 1.0)
    angle = jnp.arctan2(sine, cosine)
    scale = jnp.where(sine > 1e-7, angle / jnp.maximum(sine, 1e-7), 1.0)
    return sine_axis * scale


def pybullet_solve(
    chain: KinematicChain,
    qpos: jax.Array,
    target_pos: jax.Array,
    target_rotation: jax.Array,
) -> jax.Array:
    """Joint angles [nq] as PyBullet's ``calculateInverseKinematics`` returns them when called
    as panda-gym calls it (a target position and orientation, every other argument left at its
    default; bullet3's ``processCalculateInverseKinematicsCommand`` and BussIK's
    ``CalcDeltaThetasDLS2``), seeded with ``qpos`` [nq]:

    up to 20 steps dq = (J^T J + 0.5 I)^-1 J^T e, e = (position error, rotation vector of the
    orientation error) [6], J = [jacp; jacr] [6, nv] at the current angles, each step scaled so
    that no joint moves more than 45 degrees; a step is taken while the position error, measured
    before it, is at least 1e-4 m. The damping 0.5 on every joint is heavy against the Panda's
    J^T J: 20 steps from the neutral pose cover about 72 % of a move along x and 99 % along y or
    z, which is how far panda-gym's arm is asked to go. No joint limits apply (PyBullet's
    targets are then clipped by nothing; the motors' limits stop the joints)."""
    nv = qpos.shape[0]
    damping = PYBULLET_JOINT_DAMPING * jnp.eye(nv, dtype=qpos.dtype)

    def iteration(_, state):
        qpos, active = state
        site_pos, site_rotation, jacp, jacr = chain.site_frame(qpos)
        error = target_pos - site_pos
        active = active & (jnp.linalg.norm(error) >= PYBULLET_RESIDUAL)
        jacobian = jnp.concatenate([jacp, jacr])  # [6, nv]
        turn = rotation_vector(target_rotation @ site_rotation.T)
        step = solve_spd(
            jacobian.T @ jacobian + damping, jacobian.T @ jnp.concatenate([error, turn])
        )
        largest = jnp.max(jnp.abs(step))
        step = step * jnp.minimum(1.0, PYBULLET_MAX_STEP / jnp.maximum(largest, 1e-12))
        return jnp.where(active, qpos + step, qpos), active

    qpos, _ = jax.lax.fori_loop(0, PYBULLET_ITERATIONS, iteration, (qpos, jnp.bool_(True)))
    return qpos
