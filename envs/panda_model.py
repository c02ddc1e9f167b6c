"""The Panda MJCF (envs/assets/panda.xml): loading, options, and the numbers tasks look up.

Response tuning (the spec's "Measured responses" of panda-gym 3.0.7): the gains, damping,
armature and timestep in the MJCF, ``PandaReachConfig.n_substeps``, and the tests in
tests/test_panda_response.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mujoco
import numpy as np

MODEL_PATH = Path(__file__).parent / "assets" / "panda.xml"

ARM_JOINTS = tuple(f"joint{i}" for i in range(1, 8))
EE_SITE = "ee"
NEUTRAL_QPOS = np.array([0.00, 0.41, 0.00, -1.85, 0.00, 2.26, 0.79])
# Gripper pointing straight down: the grasp frame turned by pi about the world x axis
# (panda-gym asks PyBullet's IK for the orientation quaternion (1, 0, 0, 0), xyzw).
EE_DOWN_ROTATION = np.diag([1.0, -1.0, -1.0])
TABLE_TOP_Z = 0.0


@dataclasses.dataclass(frozen=True)
class PhysicsChoice:
    """How MJX computes the same physics on one kind of backend: the best choice differs."""

    jacobian: mujoco.mjtJacobian  # how the mass matrix and constraint Jacobians are stored
    solver: mujoco.mjtSolver  # the constraint solver (limits, contacts)
    reason: str


PHYSICS_BACKENDS = ("auto", "cpu", "gpu")
PHYSICS_CHOICES = {
    # On the CPU nothing may call LAPACK: jaxlib 0.10's batched LAPACK kernels split a large
    # batch over XLA's intra-op thread pool and wait for the pieces, and a step of a few
    # thousand environments deadlocked that way (envs/linalg.py; last seen on jaxlib 0.10).
    # MJX's dense mass matrix is factored with cho_factor (LAPACK) and its Newton solver
    # factors its Hessian the same way; the sparse factorisation and conjugate gradients are
    # plain JAX.
    "cpu": PhysicsChoice(
        jacobian=mujoco.mjtJacobian.mjJAC_SPARSE,
        solver=mujoco.mjtSolver.mjSOL_CG,
        reason="no LAPACK call: the sparse factorisation and conjugate gradients are plain JAX",
    ),
    # On a GPU those factorisations are cuSOLVER kernels, which do not share a thread pool.
    # MJX's own rule (JacobianType.AUTO) keeps models under 60 degrees of freedom dense except
    # on TPUs, as GPUs "tend to be faster with dense matrices as long as they fit"; the arm has
    # 7. Newton is MuJoCo's default solver and converges in far fewer iterations than CG.
    "gpu": PhysicsChoice(
        jacobian=mujoco.mjtJacobian.mjJAC_DENSE,
        solver=mujoco.mjtSolver.mjSOL_NEWTON,
        reason="MJX's defaults for an accelerator: dense matrices, the Newton solver",
    ),
}


def physics_choice(backend: str) -> PhysicsChoice:
    """The choice for ``backend`` ("cpu", "gpu", or "auto": the platform JAX runs on; any
    platform other than the CPU gets the GPU's choice)."""
    if backend not in PHYSICS_BACKENDS:
        raise ValueError(f"physics_backend={backend!r} must be one of {PHYSICS_BACKENDS}")
    if backend == "auto":
        import jax

        backend = "cpu" if jax.default_backend() == "cpu" else "gpu"
    return PHYSICS_CHOICES[backend]


def load(
    timestep: float, contacts: bool = False, joint_limits: bool = False, backend: str = "auto"
) -> mujoco.MjModel:
    """The Panda scene with the given physics timestep, set up for ``backend`` (see
    ``PHYSICS_CHOICES``: both choices compute the same physics; tests/test_physics_choices.py
    checks it on the CPU).

    The servo targets are always clipped to the joint ranges. ``joint_limits`` also makes MuJoCo
    enforce them as constraints (hard stops): the constraint solver then runs every substep,
    which made a control step 3.6 times slower on the CPU
    (``python -m jaxik.bench env --set joint_limits=true``), for a difference only when a
    servo overshoots a limit. With ``contacts``, the arm's geoms collide with the
    table and floor (not with each other: neighbouring capsules overlap at the joints).
    """
    model = mujoco.MjModel.from_xml_path(str(MODEL_PATH))
    model.opt.timestep = timestep
    choice = physics_choice(backend)
    model.opt.jacobian = choice.jacobian
    model.opt.solver = choice.solver
    if not joint_limits:
        model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_LIMIT)
    if contacts:
        model.opt.disableflags &= ~int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
        world = [model.geom("floor").id, model.geom("table").id]
        arm = [i for i in range(model.ngeom) if i not in world]
        model.geom_contype[world] = 1
        model.geom_conaffinity[world] = 0
        model.geom_contype[arm] = 0
        model.geom_conaffinity[arm] = 1
    return model


def neutral_data(model: mujoco.MjModel) -> mujoco.MjData:
    """MuJoCo data with the arm at the neutral pose, at rest, servos holding it (any objects at
    their places in the model), positions computed."""
    data = mujoco.MjData(model)
    data.qpos[: len(NEUTRAL_QPOS)] = NEUTRAL_QPOS
    data.ctrl[: len(NEUTRAL_QPOS)] = NEUTRAL_QPOS
    mujoco.mj_forward(model, data)
    return data
