"""The gymnasium ids ``import jaxik`` registers, as ``import panda_gym`` registers PandaReach-v3:

    jaxik/PandaReach-v0, jaxik/PandaReachDense-v0, jaxik/PandaReachJoints-v0,
    jaxik/PandaReachJointsDense-v0, jaxik/PandaReachPose-v0, jaxik/PandaReachPoseDense-v0,
    jaxik/PandaReachPoseEE-v0, jaxik/PandaReachPoseEEDense-v0, jaxik/PandaPush-v0,
    jaxik/PandaPushDense-v0, jaxik/PandaPushJoints-v0, jaxik/PandaPushJointsDense-v0,
    jaxik/PandaSlide-v0, jaxik/PandaSlideDense-v0, jaxik/PandaSlideJoints-v0,
    jaxik/PandaSlideJointsDense-v0,
    jaxik/PandaPickAndPlace-v0, jaxik/PandaPickAndPlaceDense-v0,
    jaxik/PandaPickAndPlaceJoints-v0, jaxik/PandaPickAndPlaceJointsDense-v0,
    jaxik/PandaStack-v0, jaxik/PandaStackDense-v0, jaxik/PandaStackJoints-v0,
    jaxik/PandaStackJointsDense-v0,
    jaxik/PandaFlip-v0, jaxik/PandaFlipDense-v0, jaxik/PandaFlipJoints-v0,
    jaxik/PandaFlipJointsDense-v0,
    jaxik/PlanarReach-v0, jaxik/PlanarReachDense-v0

``gymnasium.make(id, **env_config)`` gives a ``gymnasium.Env`` and ``gymnasium.make_vec(id,
num_envs=N)`` a ``gymnasium.vector.VectorEnv`` of one jitted, vmapped MJX batch (jaxik.gym_envs).
Each id's ``spec.max_episode_steps`` is the task's episode length, 50 (Stack: 100), as in
panda-gym; a longer ``episode_length`` needs ``max_episode_steps`` as long (``make_vec`` checks).
Registering imports neither JAX nor MuJoCo: they load when an environment is made.
"""

from __future__ import annotations

TASKS = (
    "PandaReach",
    "PandaReachDense",
    "PandaReachJoints",
    "PandaReachJointsDense",
    "PandaReachPose",
    "PandaReachPoseDense",
    "PandaReachPoseEE",
    "PandaReachPoseEEDense",
    "PandaPush",
    "PandaPushDense",
    "PandaPushJoints",
    "PandaPushJointsDense",
    "PandaSlide",
    "PandaSlideDense",
    "PandaSlideJoints",
    "PandaSlideJointsDense",
    "PandaPickAndPlace",
    "PandaPickAndPlaceDense",
    "PandaPickAndPlaceJoints",
    "PandaPickAndPlaceJointsDense",
    "PandaStack",
    "PandaStackDense",
    "PandaStackJoints",
    "PandaStackJointsDense",
    "PandaFlip",
    "PandaFlipDense",
    "PandaFlipJoints",
    "PandaFlipJointsDense",
    "PlanarReach",
    "PlanarReachDense",
)
EPISODE_STEPS = {task: 100 if task.startswith("PandaStack") else 50 for task in TASKS}
"""Each id's ``max_episode_steps``, as panda-gym registers its tasks (Stack 100, the rest 50):
the tasks' default ``episode_length`` (tests/test_gym_envs.py checks that they agree)."""
NAMESPACE = "jaxik"
VERSION = 0


def gym_id(task: str) -> str:
    return f"{NAMESPACE}/{task}-v{VERSION}"


def register() -> None:
    """Registers every task with gymnasium (again harmlessly: ids already there are kept)."""
    import gymnasium

    for task in TASKS:
        if gym_id(task) in gymnasium.registry:
            continue
        gymnasium.register(
            id=gym_id(task),
            entry_point="jaxik.gym_envs:ReachEnv",
            vector_entry_point="jaxik.gym_envs:ReachVectorEnv",
            kwargs={"task": task},
            max_episode_steps=EPISODE_STEPS[task],
        )
