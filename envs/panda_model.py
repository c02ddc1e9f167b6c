"""The Panda MJCF (envs/assets/panda.xml): loading, options, and the numbers tasks look up.

Response tuning (the spec's "Measured responses" of panda-gym 3.0.7): the gains, damping,
armature and timestep in the MJCF, ``PandaReachConfig.n_substeps``, and the tests in
tests/test_panda_response.py.
"""

from __future__ import annotations

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


def load(timestep: float, contacts: bool = False, joint_limits: bool = False) -> mujoco.MjModel:
    """The Panda scene with the given physics timestep.

    The servo targets are always clipped to the joint ranges. ``joint_limits`` also makes MuJoCo
    enforce them as constraints (hard stops): the constraint solver then runs every substep,
    which made a control step 3.6 times slower on the CPU
    (``python -m jaxik.bench env --set joint_limits=true``), for a difference only when a
    servo overshoots a limit. With ``contacts``, the arm's geoms collide with the
    table and floor (not with each other: neighbouring capsules overlap at the joints).
    """
    model = mujoco.MjModel.from_xml_path(str(MODEL_PATH))
    model.opt.timestep = timestep
    # Constraints (limits, contacts) are solved by conjugate gradients: MJX's Newton solver
    # factors its Hessian with jaxlib's batched LAPACK kernels, which can deadlock the CPU
    # thread pool at a few thousand environments (see envs/linalg.py).
    model.opt.solver = mujoco.mjtSolver.mjSOL_CG
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
    """MuJoCo data at the neutral pose, at rest, servos holding it, positions computed."""
    data = mujoco.MjData(model)
    data.qpos[:] = NEUTRAL_QPOS
    data.ctrl[:] = NEUTRAL_QPOS
    mujoco.mj_forward(model, data)
    return data
