"""Forward kinematics and the Jacobian of one site on a serial chain of hinge joints, read out of
an MJCF model when the environment is built.

The reach task needs, every control step, the ee site's position, orientation and Jacobian (for
the observation and the IK). ``mjx.kinematics`` computes every body of any tree with any joint
type, and its graph costs seconds of XLA compile time per call site; this is the same arithmetic
for the one chain from the world to the site (each body's offset and rotation, then its hinge
about its axis), a few dozen operations. It is checked against MuJoCo in
tests/test_panda_kinematics.py. The physics itself stays MJX (envs/arm_dynamics.py).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import mujoco
import numpy as np


def _rotation(quat: np.ndarray) -> np.ndarray:
    """[4] (w, x, y, z) -> [3, 3]."""
    matrix = np.zeros(9)
    mujoco.mju_quat2Mat(matrix, np.asarray(quat, np.float64))
    return matrix.reshape(3, 3)


def axis_rotation(axis: jax.Array, angle: jax.Array) -> jax.Array:
    """Rotation by ``angle`` about the unit ``axis`` [3] (Rodrigues): [3, 3]."""
    x, y, z = axis
    cross = jnp.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]], axis.dtype)
    return (
        jnp.eye(3, dtype=axis.dtype)
        + jnp.sin(angle) * cross
        + (1 - jnp.cos(angle)) * (cross @ cross)
    )


@dataclasses.dataclass(frozen=True)
class KinematicChain:
    """The bodies from the world to a site, each with at most one hinge joint.

    Per body i (world-most first): ``offset`` [n, 3] and ``rotation`` [n, 3, 3] place it in its
    parent's frame; ``joint`` [n] is its hinge's index in qpos (-1: welded), turning it about
    ``axis`` [n, 3] (body frame) through ``anchor`` [n, 3] by qpos - ``qpos_ref`` [n]. The site
    sits at ``site_offset`` [3] with ``site_rotation`` [3, 3] in the last body's frame.
    """

    offset: np.ndarray
    rotation: np.ndarray
    joint: tuple[int, ...]
    axis: np.ndarray
    anchor: np.ndarray
    qpos_ref: np.ndarray
    site_offset: np.ndarray
    site_rotation: np.ndarray
    nv: int

    @classmethod
    def from_model(cls, model: mujoco.MjModel, site: str) -> KinematicChain:
        """The chain of ``site`` in ``model``. Raises ValueError if a body on it has a joint other
        than one hinge, or if the model has degrees of freedom whose qpos and qvel indices differ
        (a free or ball joint anywhere)."""
        if model.nq != model.nv:
            raise ValueError(f"model has nq={model.nq} != nv={model.nv}: only hinge chains")
        site_id = model.site(site).id
        bodies = []
        body = int(model.site_bodyid[site_id])
        while body != 0:
            bodies.append(body)
            body = int(model.body_parentid[body])
        bodies.reverse()
        offset, rotation, joint, axis, anchor, ref = [], [], [], [], [], []
        for body in bodies:
            offset.append(model.body_pos[body])
            rotation.append(_rotation(model.body_quat[body]))
            count, first = int(model.body_jntnum[body]), int(model.body_jntadr[body])
            if count > 1 or (count == 1 and model.jnt_type[first] != mujoco.mjtJoint.mjJNT_HINGE):
                raise ValueError(f"body {model.body(body).name!r}: only one hinge joint per body")
            joint.append(int(model.jnt_qposadr[first]) if count else -1)
            axis.append(model.jnt_axis[first] if count else np.zeros(3))
            anchor.append(model.jnt_pos[first] if count else np.zeros(3))
            ref.append(model.qpos0[model.jnt_qposadr[first]] if count else 0.0)
        return cls(
            offset=np.asarray(offset),
            rotation=np.asarray(rotation),
            joint=tuple(joint),
            axis=np.asarray(axis),
            anchor=np.asarray(anchor),
            qpos_ref=np.asarray(ref),
            site_offset=np.array(model.site_pos[site_id]),
            site_rotation=_rotation(model.site_quat[site_id]),
            nv=model.nv,
        )

    def site_frame(self, qpos: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """At joint angles ``qpos`` [nq]: the site's position [3] and rotation [3, 3] (columns:
        its axes in the world frame), and its translational and rotational Jacobians [3, nv]."""
        dtype = qpos.dtype
        position = jnp.zeros(3, dtype)
        rotation = jnp.eye(3, dtype=dtype)
        anchors, axes, dofs = [], [], []
        for i, joint in enumerate(self.joint):
            position = position + rotation @ jnp.asarray(self.offset[i], dtype)
            rotation = rotation @ jnp.asarray(self.rotation[i], dtype)
            if joint < 0:
                continue
            axis = jnp.asarray(self.axis[i], dtype)
            anchor_local = jnp.asarray(self.anchor[i], dtype)
            anchor = position + rotation @ anchor_local
            turn = axis_rotation(axis, qpos[joint] - self.qpos_ref[i])
            rotation = rotation @ turn
            position = anchor - rotation @ anchor_local
            anchors.append(anchor)
            axes.append(rotation @ axis)
            dofs.append(joint)
        site = position + rotation @ jnp.asarray(self.site_offset, dtype)
        site_rotation = rotation @ jnp.asarray(self.site_rotation, dtype)
        axes, anchors = jnp.stack(axes, axis=1), jnp.stack(anchors, axis=1)  # [3, joints]
        jacr = jnp.zeros((3, self.nv), dtype).at[:, jnp.asarray(dofs)].set(axes)
        moment = jnp.cross(axes.T, (site[:, None] - anchors).T).T
        jacp = jnp.zeros((3, self.nv), dtype).at[:, jnp.asarray(dofs)].set(moment)
        return site, site_rotation, jacp, jacr
