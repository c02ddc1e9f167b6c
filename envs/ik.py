"""Damped-least-squares inverse kinematics on the MJX site Jacobian.

Used by the Panda's end-effector control: move the ``ee`` site to a target position while
holding a target orientation (gripper pointing down), starting from the measured joint angles,
as panda-gym asks of PyBullet's IK every control step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from mujoco import mjx

from envs.linalg import solve_spd


def orientation_error(rotation: jax.Array, target_rotation: jax.Array) -> jax.Array:
    """Rotation vector (about world axes) that turns ``rotation`` toward the target.

    rotation, target_rotation: [3, 3] -> [3]. Equals axis * sin(angle) for the rotation between
    the two, which is the usual small-angle error of Jacobian IK.
    """
    return 0.5 * jnp.sum(jnp.cross(rotation.T, target_rotation.T), axis=0)


def _dls_update(
    model: mjx.Model,
    data: mjx.Data,
    site_id: int,
    target_pos: jax.Array,
    target_rotation: jax.Array,
    damping: float,
) -> jax.Array:
    """One DLS step dq: [nv] from data whose kinematics and com_pos are current."""
    site_pos = data.site_xpos[site_id]
    jacp, jacr = mjx.jac(model, data, site_pos, model.site_bodyid[site_id])
    jacobian = jnp.concatenate([jacp.T, jacr.T])  # [6, nv]
    error = jnp.concatenate(
        [target_pos - site_pos, orientation_error(data.site_xmat[site_id], target_rotation)]
    )
    gram = jacobian @ jacobian.T + damping**2 * jnp.eye(6, dtype=jacobian.dtype)
    return jacobian.T @ solve_spd(gram, error)


def solve_site_pose(
    model: mjx.Model,
    data: mjx.Data,
    site_id: int,
    target_pos: jax.Array,
    target_rotation: jax.Array,
    qpos_low: jax.Array,
    qpos_high: jax.Array,
    iterations: int,
    damping: float,
) -> jax.Array:
    """Joint angles [nq] that bring the site to target_pos [3] with target_rotation [3, 3].

    ``data`` must have kinematics and com_pos computed at ``data.qpos`` (the environment keeps
    its state so), which saves the first iteration a forward pass. Angles stay within limits.
    """
    qpos = jnp.clip(
        data.qpos + _dls_update(model, data, site_id, target_pos, target_rotation, damping),
        qpos_low,
        qpos_high,
    )
    for _ in range(iterations - 1):
        trial = mjx.com_pos(model, mjx.kinematics(model, data.replace(qpos=qpos)))
        step = _dls_update(model, trial, site_id, target_pos, target_rotation, damping)
        qpos = jnp.clip(qpos + step, qpos_low, qpos_high)
    return qpos
