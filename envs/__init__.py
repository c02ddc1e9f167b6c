"""MJX environments: the Franka Panda of panda-gym's PandaReach, PandaPush, PandaSlide and
PandaPickAndPlace, and a 2-D arm.

import envs
env = envs.make("PandaReach")                 # or PandaReachDense, PandaReachJoints,
                                              # PandaReachJointsDense, PandaPush, PandaSlide,
                                              # PandaPickAndPlace (and their Dense / Joints
                                              # variants), PlanarReach
env = envs.make("PandaReach", terminate_on_success=False)
train_env = envs.AutoResetWrapper(env)        # new goal at every reset, final obs kept
"""

from envs import platform as _platform

_platform.configure_xla_flags()
_platform.configure_mujoco_gl()
_platform.import_mujoco()
_platform.patch_mjx_quaternion()

from envs.registry import ENV_NAMES, make, make_config  # noqa: E402
from envs.wrappers import AutoResetWrapper, FlatObservation, TraceOnce  # noqa: E402

__all__ = ["ENV_NAMES", "AutoResetWrapper", "FlatObservation", "TraceOnce", "make", "make_config"]
