"""MuJoCo's own C step inside a compiled JAX program: the contact tasks' physics on the CPU.

MJX on the CPU steps the contact scenes at about a tenth of what MuJoCo's C engine does on the
same model with the same two cores (docs/physics_engines.md has the comparison). Here the
compiled program hands the physics to MuJoCo: a ``jax.pure_callback`` gives the batch's
positions, velocities and servo targets to ``mujoco.rollout``, which steps every environment
``n_substeps`` times on a thread pool (one thread per core), and the next positions and
velocities come back. Everything else (resets, goals, actions to servo targets, observations,
rewards) stays the same JAX code for both engines.

What carries from one control step to the next is (qpos, qvel): the motor is MuJoCo's own
actuators (servo targets are constant over a control step, so an open-loop rollout of the
substeps is exact), and the constraint solver starts cold every physics step (warm start off,
as the scene sets it), so no solver state needs carrying and a resumed run steps as the
uninterrupted one did.

Under ``jax.vmap`` (environments, runs) the callback gets the whole batch at once
(``vmap_method="broadcast_all"``); the C engine runs in float64 and the state returns as the
float32 the rest of the program uses.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import rollout

from envs import native_library
from envs.arm_dynamics import ArmState


def cpu_cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class HostIK:
    """PyBullet's IK on the host (envs/native_library.py's ``pybullet_ik``), for end-effector
    control: the first ``dofs`` actuators' controls become the joint angles that bring ``site``
    toward its target with the orientation ``rotation`` [3, 3], clipped to [low, high] [dofs]."""

    site: int
    dofs: int
    rotation: np.ndarray
    low: np.ndarray
    high: np.ndarray


class MujocoStep:
    """``step(state, ctrl)``: ``n_substeps`` physics steps of ``model`` by MuJoCo's C engine,
    with the actuators' controls ``ctrl`` [nu] held over them. ``state.qacc_warmstart`` passes
    through unchanged (the model must have warm start disabled). With ``ik``, ``step`` takes a
    site target [3] too, and the first ``ik.dofs`` controls are computed from it on the host."""

    def __init__(
        self,
        model: mujoco.MjModel,
        n_substeps: int,
        threads: int | None = None,
        ik: HostIK | None = None,
    ):
        if not model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_WARMSTART:
            raise ValueError(
                "MujocoStep needs the constraint solver's warm start disabled: the state it "
                "carries is (qpos, qvel), and a warm-started solver would depend on more"
            )
        if model.na:
            raise ValueError(
                f"MujocoStep carries no actuator activations: the model has {model.na}"
            )
        self.model = model
        self.n_substeps = n_substeps
        self.ik = ik
        self.threads = threads or cpu_cores()
        self.spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self.state_size = mujoco.mj_stateSize(model, self.spec)
        time_size = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_TIME)
        self.qpos_slice = slice(time_size, time_size + model.nq)
        self.qvel_slice = slice(self.qpos_slice.stop, self.qpos_slice.stop + model.nv)
        self._pool: rollout.Rollout | None = None  # made on first use (not pickled, not copied)
        self._data: list[mujoco.MjData] = []
        self._lock = threading.Lock()  # one rollout at a time: the pool and data are shared

    def step(
        self, state: ArmState, ctrl: jax.Array, site_target: jax.Array | None = None
    ) -> ArmState:
        """state: ArmState of one environment (batch it with ``jax.vmap``), ctrl [nu] (with
        ``ik``: its first ``ik.dofs`` are ignored) and, with ``ik``, the site's target [3] ->
        the ArmState ``n_substeps`` physics steps later."""
        if (site_target is None) != (self.ik is None):
            raise ValueError("MujocoStep.step takes a site target exactly when it has an ik")
        shapes = (
            jax.ShapeDtypeStruct(state.qpos.shape, jnp.float32),
            jax.ShapeDtypeStruct(state.qvel.shape, jnp.float32),
        )
        if site_target is None:
            site_target = jnp.zeros(3, jnp.float32)
        qpos, qvel = jax.pure_callback(
            self._host_step,
            shapes,
            state.qpos,
            state.qvel,
            ctrl,
            site_target,
            vmap_method="broadcast_all",
        )
        return state.replace(qpos=qpos, qvel=qvel)

    def _host_step(
        self, qpos: np.ndarray, qvel: np.ndarray, ctrl: np.ndarray, site_target: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """qpos [..., nq], qvel [..., nv], ctrl [..., nu], site_target [..., 3] (any leading
        batch shape) -> the next qpos and qvel, float32."""
        batch_shape = qpos.shape[:-1]
        batch = math.prod(batch_shape)
        initial = np.zeros((batch, self.state_size))
        initial[:, self.qpos_slice] = qpos.reshape(batch, self.model.nq)
        initial[:, self.qvel_slice] = qvel.reshape(batch, self.model.nv)
        control = np.array(ctrl, np.float64).reshape(batch, 1, self.model.nu)
        with self._lock:
            if self._pool is None:
                self._pool = rollout.Rollout(nthread=self.threads)
                self._data = [mujoco.MjData(self.model) for _ in range(self.threads)]
            if self.ik is not None:
                angles = native_library.pybullet_ik(
                    self.model,
                    self._data,
                    self.ik.site,
                    self.ik.dofs,
                    initial[:, self.qpos_slice],
                    site_target.reshape(batch, 3),
                    self.ik.rotation,
                )
                control[:, 0, : self.ik.dofs] = np.clip(angles, self.ik.low, self.ik.high)
            states, _ = self._pool.rollout(
                self.model, self._data, initial, control, nstep=self.n_substeps
            )
        final = states[:, -1]
        next_qpos = final[:, self.qpos_slice].reshape(*batch_shape, self.model.nq)
        next_qvel = final[:, self.qvel_slice].reshape(*batch_shape, self.model.nv)
        return next_qpos.astype(np.float32), next_qvel.astype(np.float32)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_pool=None, _data=[], _lock=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock())
