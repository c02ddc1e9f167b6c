"""Orientations as goals: a rotation's 6-number form, the angle between two, and the cone of
gripper orientations that pose goals are drawn from.

A goal's orientation is the first and last columns of the ee site's rotation matrix (its x axis
and its z axis, the direction the gripper points), 6 numbers. Unlike a quaternion (q and -q are
the same turn) or Euler angles (wrapping at +-pi), this form is continuous, so a network can
learn it, and any 6 numbers HER relabels with come from a real rotation, so the angle between
two of them is the angle of a rotation: ``angle`` recovers each third axis by a cross product.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.chain import axis_rotation

SIX = 6  # numbers per orientation


def six(rotation: jax.Array) -> jax.Array:
    """[..., 3, 3] (columns: the frame's axes in the world) -> [..., 6]: x axis, then z axis."""
    return jnp.concatenate([rotation[..., :, 0], rotation[..., :, 2]], axis=-1)


def rotation(six_numbers: jax.Array) -> jax.Array:
    """[..., 6] -> [..., 3, 3], the inverse of ``six`` (y = z x x)."""
    x, z = six_numbers[..., :3], six_numbers[..., 3:]
    return jnp.stack([x, jnp.cross(z, x), z], axis=-1)


def angle(six_a: jax.Array, six_b: jax.Array) -> jax.Array:
    """Angle in radians [0, pi] of the rotation that turns one orientation into the other:
    [..., 6], [..., 6] -> [...].

    From both the cosine (trace) and the sine (the skew part) of the relative rotation, with
    atan2, so it is accurate near 0 (arccos of the trace alone loses a float32 angle below about
    1e-3 rad).
    """
    a, b = rotation(six_a), rotation(six_b)
    cos = (jnp.sum(a * b, axis=(-2, -1)) - 1.0) / 2.0  # trace(a^T b) = sum of axis dot products
    sin = jnp.linalg.norm(0.5 * jnp.sum(jnp.cross(a, b, axis=-2), axis=-1), axis=-1)
    return jnp.arctan2(sin, cos)


def sample(key: jax.Array, down: jax.Array, cone: float, yaw: float) -> jax.Array:
    """An orientation [3, 3] drawn from ``down`` [3, 3] (the gripper pointing straight down):
    first turned about the vertical by a yaw uniform in [-yaw, yaw], then tilted about a
    horizontal axis of uniform heading, so that the gripper's pointing direction is uniform
    over the spherical cap within ``cone`` radians of straight down."""
    yaw_key, tilt_key, heading_key = jax.random.split(key, 3)
    turn = jax.random.uniform(yaw_key, (), minval=-yaw, maxval=yaw)
    cos_tilt = jax.random.uniform(tilt_key, (), minval=jnp.cos(cone), maxval=1.0)
    heading = jax.random.uniform(heading_key, (), minval=-jnp.pi, maxval=jnp.pi)
    vertical = jnp.array([0.0, 0.0, 1.0])
    horizontal = jnp.stack([jnp.cos(heading), jnp.sin(heading), 0.0])
    return (
        axis_rotation(horizontal, jnp.arccos(cos_tilt))
        @ axis_rotation(vertical, turn)
        @ down.astype(jnp.float32)
    )


def turn(rotation_vector: jax.Array) -> jax.Array:
    """The rotation [3, 3] about the world axis along ``rotation_vector`` [3] by its length."""
    length = jnp.linalg.norm(rotation_vector)
    safe = jnp.where(length > 1e-12, length, 1.0)
    axis = jnp.where(length > 1e-12, rotation_vector / safe, jnp.array([0.0, 0.0, 1.0]))
    return axis_rotation(axis, length)
