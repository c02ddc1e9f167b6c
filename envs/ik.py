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
