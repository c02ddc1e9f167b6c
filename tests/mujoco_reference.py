"""Independent references for the Panda tests: NumPy forward kinematics written from the spec's
chain, and the task's controllers driving plain MuJoCo (``mj_step``) instead of MJX."""

from __future__ import annotations

import mujoco
import numpy as np

from envs import panda_model

BASE = np.array([-0.6, 0.0, 0.0])
# (translation, rotation about x) of each link frame relative to its parent, from the spec.
CHAIN = [
    ((0.0, 0.0, 0.333), 0.0),
    ((0.0, 0.0, 0.0), -np.pi / 2),
    ((0.0, -0.316, 0.0), np.pi / 2),
    ((0.0825, 0.0, 0.0), np.pi / 2),
    ((-0.0825, 0.384, 0.0), -np.pi / 2),
    ((0.0, 0.0, 0.0), np.pi / 2),
    ((0.088, 0.0, 0.0), np.pi / 2),
]
FLANGE_TO_GRASP = 0.107 + 0.105


def _rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def forward_kinematics(qpos: np.ndarray) -> np.ndarray:
    """Grasp-point position [3] for joint angles [7], by chaining the spec's transforms."""
    position, rotation = BASE.copy(), np.eye(3)
    for (offset, tilt), angle in zip(CHAIN, qpos, strict=True):
        position = position + rotation @ np.array(offset)
        rotation = rotation @ _rot_x(tilt) @ _rot_z(angle)
    return position + rotation @ np.array([0.0, 0.0, FLANGE_TO_GRASP])


class MujocoPanda:
    """The PandaReach controllers on plain MuJoCo, float64, for comparison with MJX."""

    def __init__(self, env):
        self.config = env.config
        self.model = env.mj_model
        self.data = panda_model.neutral_data(self.model)
        self.site = self.model.site(panda_model.EE_SITE).id
        self.low, self.high = self.model.jnt_range[:, 0], self.model.jnt_range[:, 1]

    @property
    def ee(self) -> np.ndarray:
        return self.data.site_xpos[self.site].copy()

    def _ik(self, target: np.ndarray) -> np.ndarray:
        scratch = mujoco.MjData(self.model)
        scratch.qpos[:] = self.data.qpos
        qpos = self.data.qpos.copy()
        jacp, jacr = np.zeros((3, 7)), np.zeros((3, 7))
        for _ in range(self.config.ik_iterations):
            scratch.qpos[:] = qpos
            mujoco.mj_kinematics(self.model, scratch)
            mujoco.mj_comPos(self.model, scratch)
            mujoco.mj_jacSite(self.model, scratch, jacp, jacr, self.site)
            rotation = scratch.site_xmat[self.site].reshape(3, 3)
            rot_err = 0.5 * np.sum(np.cross(rotation.T, panda_model.EE_DOWN_ROTATION.T), axis=0)
            error = np.concatenate([target - scratch.site_xpos[self.site], rot_err])
            jac = np.concatenate([jacp, jacr])
            gram = jac @ jac.T + self.config.ik_damping**2 * np.eye(6)
            qpos = np.clip(qpos + jac.T @ np.linalg.solve(gram, error), self.low, self.high)
        return qpos

    def step(self, action: np.ndarray) -> np.ndarray:
        """Applies one control step; returns the ee position after it."""
        action = np.clip(action, -1.0, 1.0)
        if self.config.control_type == "joints":
            ctrl = np.clip(self.data.qpos + self.config.joint_step * action, self.low, self.high)
        else:
            target = self.ee + self.config.ee_step * action
            target[2] = max(target[2], panda_model.TABLE_TOP_Z)
            ctrl = self._ik(target)
        self.data.ctrl[:] = ctrl
        for _ in range(self.config.n_substeps):
            mujoco.mj_step(self.model, self.data)
        mujoco.mj_kinematics(self.model, self.data)
        return self.ee
