"""panda-gym's manipulation tasks in MJX: move an object to a goal with the Panda.

One environment, pure ``reset``/``step``; batch it with ``jax.vmap``. Actions become servo
targets as in the reach task (envs/arm_control.py); panda-gym's velocity servos turn them into
joint torques (envs/velocity_motor.py); the scene adds the object and the contacts
(envs/manipulation_scene.py). A task is data (``TaskSpec``): its objects, where they start, where
goals fall, the table's length. panda-gym's six: ``push`` and ``slide`` (PandaPush-v3 and
PandaSlide-v3, both with the gripper closed), ``pick_and_place``, ``stack`` and ``flip``
(PandaPickAndPlace-v3, PandaStack-v3 and PandaFlip-v3, the fingers actuated); reach is
envs/panda_reach.py.

Observation (panda-gym's layout, float32): ee position 3, ee linear velocity 3, the finger width
1 (with the gripper), then per object position 3, rotation 3 (Euler angles x-y-z, as PyBullet's
``getEulerFromQuaternion``; Flip: the quaternion (x, y, z, w) 4), linear velocity 3 and angular
velocity 3 (world frame): 18 for Push, 19 for PickAndPlace, 31 for Stack, 20 for Flip.
achieved_goal: the objects' positions [3 per object], or Flip's cube's quaternion (x, y, z, w)
[4]; desired_goal: the same of the goal. Success: within ``distance_threshold`` (Euclidean over
all the objects' positions together; Flip: ``reward.angle_distance``).
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from brax.envs.base import State
from mujoco import mjx

from envs import manipulation_scene, panda_model, velocity_motor, warp_physics
from envs import reward as reward_lib
from envs import validation as check
from envs.arm_control import CONTROL_TYPES, IK_SOLVERS, ArmControl
from envs.arm_dynamics import ArmDynamics, ArmState
from envs.goal_env import GoalEnv
from envs.manipulation_scene import ContactSettings, ObjectSpec
from envs.mujoco_step import HostIK, MujocoStep
from envs.reward import REWARD_TYPES
from envs.velocity_motor import VelocityMotor

ARM_DOF = len(panda_model.ARM_JOINTS)
PHYSICS_ENGINES = ("auto", "mujoco", "mjx", "warp")
# The fastest start of ``sliding_start`` (m/s): on Slide's table (friction 0.02 and Bullet's
# damping) a puck at 0.6 m/s slides about 0.77 m within an episode, as far as the farthest goal
# lies from the farthest start (0.76 m).
SLIDING_SPEED = 0.6


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What one manipulation task is made of (world frame, metres)."""

    objects: tuple[ObjectSpec, ...]
    object_xy_range: float  # each object starts at xy uniform in [-range/2, range/2]^2, at rest
    goal_xy_range: float  # goal xy uniform in [-range/2, range/2]^2 around (goal_x, 0)
    goal_x: float  # the x of the goal square's centre
    goal_z: float  # goal height
    table_x: tuple[float, float]  # the table's extent along x (drawn; its top has no edge)
    gripper: bool = False  # actuated fingers: one more action, the width in the observation
    goal_lift: float = 0.0  # a lifted goal is goal_z + U(0, goal_lift) high
    lift_probability: float = 0.0  # the chance that a goal is lifted (else at goal_z)
    goal: str = "position"  # "position": each object's (several: stacked at one xy, the first
    # at goal_z, each next on the one before); "orientation": the first object's (Flip)
    start_z: tuple[float, ...] = ()  # each object's starting height (default: on the table)


# panda-gym's Push: the cube starts and ends on the table; the gripper stays closed.
PUSH = TaskSpec(
    objects=(manipulation_scene.CUBE,),
    object_xy_range=0.3,
    goal_xy_range=0.3,
    goal_x=0.0,
    goal_z=manipulation_scene.CUBE.half_height,
    table_x=(-0.85, 0.25),
)
# panda-gym's PickAndPlace: Push's cube and squares, the gripper free; 70 % of the goals hang up
# to 20 cm above the table, so the cube must be grasped and carried there.
PICK_AND_PLACE = dataclasses.replace(PUSH, gripper=True, goal_lift=0.2, lift_probability=0.7)
TASKS = {
    "push": PUSH,
    # panda-gym's Slide: the puck starts where Push's cube does; goals lie 0.25-0.55 m along x,
    # mostly beyond the gripper's reach, so the puck must be struck and slide there. The goal's
    # height is panda-gym's 0.03 m, twice the resting puck's centre: success needs the puck
    # within 0.0477 m of the goal in xy.
    "slide": TaskSpec(
        objects=(manipulation_scene.PUCK,),
        object_xy_range=0.3,
        goal_xy_range=0.3,
        goal_x=0.4,
        goal_z=0.03,
        table_x=(-0.8, 0.6),
    ),
    "pick_and_place": PICK_AND_PLACE,
    # panda-gym's Stack, in PickAndPlace's scene: two cubes, each starting at its own xy, the
    # second 4 cm up (it drops, onto the first where they overlap); the goal stacks the first on
    # the table and the second on it, at one xy.
    "stack": dataclasses.replace(
        PICK_AND_PLACE,
        objects=manipulation_scene.STACK_CUBES,
        goal_lift=0.0,
        lift_probability=0.0,
        start_z=(0.02, 0.06),
    ),
    # panda-gym's Flip, in PickAndPlace's scene: the goal is an orientation of the cube, uniform
    # over all rotations, wherever the cube ends up.
    "flip": dataclasses.replace(
        PICK_AND_PLACE, goal_lift=0.0, lift_probability=0.0, goal="orientation"
    ),
}


@dataclasses.dataclass(frozen=True)
class PandaManipulationConfig:
    """Settings of a manipulation task. Defaults are panda-gym's PandaPush-v3, and the physics
    settings docs/panda_manipulation_tasks.md chose."""

    task: str = check.setting("push", check=check.one_of(tuple(TASKS)))
    """Which task (``TASKS``)."""
    control_type: str = check.setting("ee", check=check.one_of(CONTROL_TYPES))
    """"ee": Cartesian end-effector deltas (3-D action); "joints": joint-angle deltas (7-D)."""
    reward_type: str = check.setting("sparse", check=check.one_of(REWARD_TYPES))
    """"sparse": -1 unless the object is within distance_threshold, else 0; "dense": -distance."""
    distance_threshold: float = check.setting(0.05, check=check.check_positive)
    """Success radius in metres (strict: distance < threshold); Flip's is of
    ``reward.angle_distance`` (0.2: within 53 degrees)."""
    episode_length: int = check.setting(50, check=check.check_positive_int)
    """Control steps before the episode is truncated."""
    terminate_on_success: bool = check.setting(True, check=check.check_bool)
    """End the episode on success (panda-gym v3); False keeps going to the time limit."""
    ctrl_dt: float = check.setting(0.04, check=check.check_positive)
    """Control period in seconds (25 Hz)."""
    n_substeps: int = check.setting(6, check=check.check_positive_int)
    """Physics steps per control step. Contacts need a shorter step than reaching: at 3 (13.3
    ms) a pushed cube flew off at up to three times the gripper's speed."""
    solver_iterations: int = check.setting(6, check=check.check_positive_int)
    """Constraint-solver iterations per physics step."""
    ls_iterations: int = check.setting(6, check=check.check_positive_int)
    """Line-search iterations per solver iteration."""
    contact_impedance: tuple[float, float] = check.setting((0.3, 0.6), check=check.vector(2))
    """MuJoCo's solimp (dmin, dmax) of every contact: in (0, 1), dmin <= dmax; softer contacts
    let the few solver iterations converge."""
    warmstart: bool = check.setting(False, check=check.check_bool)
    """Start the constraint solver from the last physics step's accelerations. Off, it starts
    from the unconstrained ones: the arm's are then exact, and the few iterations go to the
    contacts (warm-started, an untouched cube picked up spin from the arm's changing torques)."""
    friction_cone: str = check.setting(
        "pyramidal", check=check.one_of(tuple(manipulation_scene.FRICTION_CONES))
    )
    """The shape of every contact's friction cone: "pyramidal" (MuJoCo's default, 4 rows per
    contact) or "elliptic" (3 rows, a nonlinear cone). The few solver iterations converge on a
    pyramid of friction 0.25 (Push), but not on the narrow one of Slide's 0.02: the resting puck
    rocked and jumped until 20 iterations; on an elliptic cone it rests at 4."""
    ee_step: float = check.setting(0.05, check=check.check_positive)
    """Metres of ee target displacement per unit action (ee control)."""
    joint_step: float = check.setting(0.05, check=check.check_positive)
    """Radians of joint target displacement per unit action (joints control)."""
    finger_step: float = check.setting(0.2, check=check.check_positive)
    """Metres of finger-width target change per unit of the last action (tasks with the
    gripper: panda-gym's 0.2, so |action| > 0.4 asks for fully open or closed at once)."""
    grasped_start: float = check.setting(0.0, check=check.number(0.0, 1.0))
    """The chance that an episode starts with the object already held (tasks with the gripper):
    the arm at its neutral pose, the object between the fingers, which touch it, the ee
    ``GRASP_DEPTH`` below its centre. An aid to exploration for training (the HER paper started
    half of its pick-and-place training episodes from a grasp); an episode starting so still
    needs the fingers squeezed at once, or the object drops. Evaluation runs on
    ``evaluation_env()``, which starts every episode as panda-gym does."""
    sliding_start: float = check.setting(0.0, check=check.number(0.0, 1.0))
    """The chance that an episode starts with the object already sliding along the table (tasks
    with one object and a position goal): at its usual start, at a speed uniform in [0,
    ``SLIDING_SPEED``] m/s in a direction uniform in the plane. An aid to exploration for
    training Slide, whose puck only reaches a goal once struck: such episodes show where a
    sliding puck stops (tried with push_fast.yaml, it did not help:
    docs/panda_manipulation_tasks.md, PandaSlide). Evaluation runs on ``evaluation_env()``,
    which starts every episode at rest as panda-gym does."""
    ik_solver: str = check.setting("pybullet", check=check.one_of(IK_SOLVERS))
    """How ee control turns its target into joint targets: "pybullet" (PyBullet's
    calculateInverseKinematics as panda-gym calls it, reproduced: 20 damped steps that fall
    short of the target, about 72 % of a move along x; envs/ik.py) or "dls" (ik_iterations
    steps of damped least squares that reach it, as the reach task's)."""
    ik_iterations: int = check.setting(2, check=check.check_positive_int)
    """Damped-least-squares iterations per control step (ee control, ik_solver "dls")."""
    ik_damping: float = check.setting(0.05, check=check.check_positive)
    """Damping of the least-squares IK (ik_solver "dls")."""
    physics_backend: str = check.setting("auto", check=check.one_of(panda_model.PHYSICS_BACKENDS))
    """Whose MJX choices the physics uses (envs/panda_model.py): "auto", "cpu" or "gpu"."""
    physics_engine: str = check.setting("auto", check=check.one_of(PHYSICS_ENGINES))
    """What steps the physics: "mujoco" (MuJoCo's C engine, called from the compiled program:
    the CPU's fastest, envs/mujoco_step.py), "mjx" (MJX, inside the program: a GPU's), "warp"
    (MuJoCo Warp through MJX, for NVIDIA GPUs; needs the warp extra: envs/warp_physics.py), or
    "auto" (mujoco where JAX runs on the CPU, mjx elsewhere)."""
    warp_envs: int = check.setting(16_384, check=check.check_positive_int)
    """physics_engine "warp": the most environments one physics call steps (all of a program's:
    num_envs times its runs, or the evaluation's), for which MuJoCo Warp's contact buffer is
    sized (the scene's most contacts per environment times this). A step with more sets the
    metric ``physics_overflow`` and training stops with an error naming this setting."""

    def __post_init__(self) -> None:
        check.check_fields(self)
        object.__setattr__(self, "contact_impedance", tuple(self.contact_impedance))  # from YAML
        low, high = self.contact_impedance
        if not 0 < low <= high < 1:
            raise ValueError(
                f"contact_impedance={self.contact_impedance!r} must be (dmin, dmax) with "
                "0 < dmin <= dmax < 1"
            )
        if self.grasped_start and not TASKS[self.task].gripper:
            with_gripper = [name for name, task in TASKS.items() if task.gripper]
            raise ValueError(
                f"grasped_start={self.grasped_start!r} needs a task with the gripper "
                f"({with_gripper}); task={self.task!r} keeps it closed: set grasped_start=0"
            )

        if self.sliding_start and self.grasped_start:
            raise ValueError(
                f"sliding_start={self.sliding_start!r} and grasped_start={self.grasped_start!r}: "
                "an episode starts one way or the other; set one of them to 0"
            )
        task = TASKS[self.task]
        if self.sliding_start and (len(task.objects) != 1 or task.goal != "position"):
            with_one = [
                name for name, t in TASKS.items() if len(t.objects) == 1 and t.goal == "position"
            ]
            raise ValueError(
                f"sliding_start={self.sliding_start!r} needs a task with one object and a "
                f"position goal ({with_one}); task={self.task!r}: set sliding_start=0"
            )

    @property
    def contact(self) -> ContactSettings:
        return ContactSettings(
            self.solver_iterations,
            self.ls_iterations,
            self.contact_impedance,
            self.warmstart,
            self.friction_cone,
        )


def physics_engine(config: PandaManipulationConfig) -> str:
    """The engine ``config.physics_engine`` names; "auto" is "mujoco" where JAX runs on the
    CPU, "mjx" on any other platform."""
    if config.physics_engine != "auto":
        return config.physics_engine
    return "mujoco" if jax.default_backend() == "cpu" else "mjx"


def euler_xyz(quat: jax.Array) -> jax.Array:
    """Roll, pitch, yaw [3] (extrinsic x-y-z, PyBullet's convention) of a unit quaternion
    (w, x, y, z) [4]."""
    w, x, y, z = quat
    roll = jnp.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = jnp.arcsin(jnp.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = jnp.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return jnp.stack([roll, pitch, yaw])


def xyzw(quat: jax.Array) -> jax.Array:
    """MuJoCo's quaternion (w, x, y, z) [4] in PyBullet's order (x, y, z, w)."""
    return jnp.concatenate([quat[1:], quat[:1]])


def rotate(quat: jax.Array, vector: jax.Array) -> jax.Array:
    """``vector`` [3] turned by the unit quaternion (w, x, y, z) [4]."""
    w, axis = quat[0], quat[1:]
    twice = 2 * jnp.cross(axis, vector)
    return vector + w * twice + jnp.cross(axis, twice)


class PandaManipulation(GoalEnv):
    """A Panda manipulation task on MJX. See ``PandaManipulationConfig`` for the settings."""

    def __init__(self, config: PandaManipulationConfig | None = None, name: str = "PandaPush"):
        self.config = config = config or PandaManipulationConfig()
        self.name = name
        self.task = TASKS[config.task]
        if self.task.goal == "orientation":
            self.goal_distance = reward_lib.angle_distance
        timestep = config.ctrl_dt / config.n_substeps
        self.mj_model = manipulation_scene.build(
            self.task.objects,
            self.task.table_x,
            timestep,
            config.contact,
            config.physics_backend,
            gripper=self.task.gripper,
        )
        # qpos: arm 7, fingers 2 (with the gripper), then 7 per object; qvel: 7, 2, 6 per object
        self.fingers = len(manipulation_scene.FINGER_NAMES) if self.task.gripper else 0
        self.object_index = ARM_DOF + self.fingers  # the first object's place in qpos
        self._finger_inertia = 0.0  # a finger's mass plus its joint's armature (kg)
        if self.fingers:
            finger = self.mj_model.joint(manipulation_scene.FINGER_NAMES[0])
            self._finger_inertia = float(
                self.mj_model.dof_armature[finger.dofadr[0]]
                + self.mj_model.body_mass[finger.bodyid[0]]
            )
        self.model = mjx.put_model(self.mj_model)
        arm_model = panda_model.load(timestep, backend=config.physics_backend)
        self.control = ArmControl.from_config(arm_model, config, ik_solver=config.ik_solver)
        arm_alone = manipulation_scene.build(
            (),
            self.task.table_x,
            timestep,
            config.contact,
            config.physics_backend,
            gripper=self.task.gripper,
        )
        self.motor = VelocityMotor(arm_alone)
        rest = mjx.put_data(self.mj_model, panda_model.neutral_data(self.mj_model))
        self.engine = physics_engine(config)
        if self.engine == "warp":
            warp_physics.require(f"physics_engine={config.physics_engine!r}")
            self.warp_sizes = warp_physics.sizes(self.mj_model, config.warp_envs)
            model, template = warp_physics.put(
                self.mj_model, panda_model.neutral_data(self.mj_model), self.warp_sizes
            )
            self.dynamics = ArmDynamics(self.mj_model, model, template)
        else:
            self.dynamics = ArmDynamics(self.mj_model, self.model, rest)
        self._rest = self.dynamics.state(rest)
        if self.engine == "mujoco":
            if config.warmstart:
                raise ValueError(
                    f"warmstart=True needs physics_engine='mjx' (physics_engine="
                    f"{config.physics_engine!r} runs MuJoCo's C engine here, whose solver starts "
                    "cold every physics step: envs/mujoco_step.py); set warmstart=False"
                )
            native = self._native_model()
            host_ik = None
            if self.control.control_type == "ee" and config.ik_solver == "pybullet":
                host_ik = HostIK(
                    site=native.site(panda_model.EE_SITE).id,
                    dofs=ARM_DOF,
                    rotation=panda_model.EE_DOWN_ROTATION,
                    low=np.asarray(self.control.qpos_low, np.float64),
                    high=np.asarray(self.control.qpos_high, np.float64),
                )
            self.native = MujocoStep(native, config.n_substeps, ik=host_ik)
        self._grasped = self._grasp_at_rest() if config.grasped_start else None

    def _native_model(self) -> mujoco.MjModel:
        """The scene as MuJoCo's C engine steps it: the same scene, its motors the velocity
        servos' C plugin (the same law as the MJX path's), the closed fingers meeting a cylinder
        as the box they are (MJX needs a capsule there), and MuJoCo's default solver run to
        convergence (Newton on dense matrices; no JAX is involved, so no LAPACK rule applies,
        and a few Newton iterations converge where MJX's budget of CG iterations stops)."""
        config = self.config
        model = manipulation_scene.build(
            self.task.objects,
            self.task.table_x,
            config.ctrl_dt / config.n_substeps,
            config.contact,
            config.physics_backend,
            gripper=self.task.gripper,
            servo_plugin=True,
            boxes_meet_cylinders=True,
        )
        model.opt.jacobian = mujoco.mjtJacobian.mjJAC_DENSE
        model.opt.solver = mujoco.mjtSolver.mjSOL_NEWTON
        model.opt.iterations = 100
        model.opt.ls_iterations = 50
        return model

    def evaluation_env(self) -> PandaManipulation:
        """The task as panda-gym defines it, for judging a policy: this environment, or, where
        episodes may start with the object held or sliding (``grasped_start``,
        ``sliding_start``), one where every episode starts at rest."""
        if not (self.config.grasped_start or self.config.sliding_start):
            return self
        judged = dataclasses.replace(self.config, grasped_start=0.0, sliding_start=0.0)
        return PandaManipulation(judged, self.name)

    @property
    def action_size(self) -> int:
        return self.control.action_size + (1 if self.fingers else 0)

    @property
    def backend(self) -> str:
        return self.engine

    @property
    def dt(self) -> float:
        return self.config.ctrl_dt

    def sample_goal(self, key: jax.Array) -> jax.Array:
        """[3 per object]: xy uniform in the goal square, z the task's goal height (plus, with
        probability ``lift_probability``, a lift uniform in [0, goal_lift]); a second object's
        at the same xy, on the first. An orientation goal: a quaternion [4] uniform over all
        rotations (a normalised 4-D Gaussian)."""
        if self.task.goal == "orientation":
            quat = jax.random.normal(key, (4,))
            return quat / jnp.linalg.norm(quat)
        z = jnp.full((1,), self.task.goal_z)
        if self.task.goal_lift:
            key, lift_key, lifted_key = jax.random.split(key, 3)
            lift = jax.random.uniform(lift_key, (1,), maxval=self.task.goal_lift)
            lifted = jax.random.uniform(lifted_key) < self.task.lift_probability
            z = z + jnp.where(lifted, lift, 0.0)
        half = self.task.goal_xy_range / 2
        xy = jax.random.uniform(key, (2,), minval=-half, maxval=half)
        goals = [jnp.concatenate([xy.at[0].add(self.task.goal_x), z])]
        for below, above in itertools.pairwise(self.task.objects):
            goals.append(goals[-1].at[2].add(below.half_height + above.half_height))
        return jnp.concatenate(goals)

    def sample_start(self, key: jax.Array) -> ArmState:
        """The arm at its neutral pose and the objects at rest, upright, on the table; with
        probability ``grasped_start``, the first object held instead (``_grasp_at_rest``), with
        probability ``sliding_start`` sliding (``_slide``)."""
        if self.config.sliding_start:
            key, slide_key = jax.random.split(key)
            return self._slide(self._place_objects(key), slide_key)
        if self.config.grasped_start:
            key, grasp_key = jax.random.split(key)
            free = self._place_objects(key)
            held = jax.random.uniform(grasp_key) < self.config.grasped_start
            qpos = free.qpos.at[: self.object_index + 7].set(
                self._grasped.qpos[: self.object_index + 7]
            )
            return free.replace(qpos=jnp.where(held, qpos, free.qpos))
        return self._place_objects(key)

    def _place_objects(self, key: jax.Array) -> ArmState:
        """The arm at its neutral pose, each object at rest, upright, at a uniform xy, on the
        table or at the task's ``start_z``."""
        half = self.task.object_xy_range / 2
        qpos = self._rest.qpos
        heights = self.task.start_z or tuple(obj.half_height for obj in self.task.objects)
        for i, (height, obj_key) in enumerate(
            zip(heights, jax.random.split(key, len(self.task.objects)), strict=True)
        ):
            xy = jax.random.uniform(obj_key, (2,), minval=-half, maxval=half)
            start = self.object_index + 7 * i
            pose = jnp.concatenate([xy, jnp.array([height, 1.0, 0.0, 0.0, 0.0])])
            qpos = qpos.at[start : start + 7].set(pose)
        return self._rest.replace(qpos=qpos)

    def _slide(self, scene: ArmState, key: jax.Array) -> ArmState:
        """``scene`` with, at probability ``sliding_start``, the first object moving along the
        table at a speed uniform in [0, SLIDING_SPEED] in a uniform direction."""
        sliding_key, speed_key, angle_key = jax.random.split(key, 3)
        sliding = jax.random.uniform(sliding_key) < self.config.sliding_start
        speed = jax.random.uniform(speed_key, maxval=SLIDING_SPEED)
        angle = jax.random.uniform(angle_key, minval=-jnp.pi, maxval=jnp.pi)
        velocity = jnp.where(sliding, speed, 0.0) * jnp.stack([jnp.cos(angle), jnp.sin(angle)])
        # a free joint's qvel: linear velocity in the world frame [3], then angular [3]
        qvel = scene.qvel.at[self.object_index : self.object_index + 2].set(velocity)
        return scene.replace(qvel=qvel)

    def _grasp_at_rest(self) -> ArmState:
        """The arm at its neutral pose, the fingers apart by the first object's width, the
        object between them, turned with the hand, its centre ``GRASP_DEPTH`` above the ee,
        all at rest."""
        obj = self.task.objects[0]
        ee, rotation = self.ee_frame(self._rest)
        yaw = jnp.arctan2(rotation[1, 0], rotation[0, 0])
        quat = jnp.array([jnp.cos(yaw / 2), 0.0, 0.0, jnp.sin(yaw / 2)])
        centre = ee + jnp.array([0.0, 0.0, manipulation_scene.GRASP_DEPTH])
        qpos = self._rest.qpos.at[ARM_DOF : self.object_index].set(obj.size[1])
        qpos = qpos.at[self.object_index : self.object_index + 7].set(
            jnp.concatenate([centre, quat])
        )
        return self._rest.replace(qpos=qpos)

    def state_at(self, arm_qpos: jax.Array, object_position: jax.Array, goal: jax.Array) -> State:
        """A first state with the arm at joint angles [7] and the objects upright at positions
        [3] (the first object) or [objects, 3], all at rest: for scripted experiments
        (jaxik.bench.fidelity) and tests."""
        qpos = self._rest.qpos.at[:ARM_DOF].set(arm_qpos)
        for i, position in enumerate(jnp.reshape(object_position, (-1, 3))):
            start = self.object_index + 7 * i
            qpos = qpos.at[start : start + 7].set(
                jnp.concatenate([position, jnp.array([1.0, 0.0, 0.0, 0.0])])
            )
        scene = self._rest.replace(qpos=qpos)
        return self._initial_state(scene, self._observe(scene, goal), goal)

    def reset(self, rng: jax.Array) -> State:
        goal_key, start_key = jax.random.split(rng)  # goal first, then the object: panda-gym
        goal = self.sample_goal(goal_key)
        scene = self.sample_start(start_key)
        return self._initial_state(scene, self._observe(scene, goal), goal)

    def _initial_state(self, pipeline_state: ArmState, obs: dict, goal: jax.Array) -> State:
        """GoalEnv's first state; on MuJoCo Warp with the metric ``physics_overflow`` (0)."""
        state = super()._initial_state(pipeline_state, obs, goal)
        if self.engine != "warp":
            return state
        zero = jnp.zeros((), jnp.float32)
        return state.replace(metrics={**state.metrics, "physics_overflow": zero})

    def step(self, state: State, action: jax.Array) -> State:
        self._check_action(action)
        action = jnp.clip(action, -1.0, 1.0)
        scene = state.pipeline_state
        arm_action = action[: self.control.action_size]
        finger_target = self.finger_targets(scene, action)
        if self.engine == "mujoco" and self.native.ik is not None:
            # PyBullet's IK costs more than the physics in JAX: the host runs it, in C
            site_target = self.control.ee_target(self.ee_frame(scene)[0], arm_action)
            unused = jnp.zeros(ARM_DOF, finger_target.dtype)
            ctrl = jnp.concatenate([unused, finger_target])
            scene = self.native.step(scene, ctrl, site_target)
        elif self.engine == "mujoco":
            target = self.control.servo_targets(scene.qpos[:ARM_DOF], arm_action)
            scene = self.native.step(scene, jnp.concatenate([target, finger_target]))
        else:
            target = self.control.servo_targets(scene.qpos[:ARM_DOF], arm_action)
            scene, overflow = self._mjx_control_step(scene, target, finger_target)
        finite = jnp.isfinite(scene.qpos).all() & jnp.isfinite(scene.qvel).all()
        scene = jax.tree.map(lambda now, rest: jnp.where(finite, now, rest), scene, self._rest)
        obs = self._observe(scene, state.info["goal"])
        stepped = self._transition(state, scene, obs, nonfinite=~finite)
        if self.engine == "warp":
            metrics = {**stepped.metrics, "physics_overflow": overflow.astype(jnp.float32)}
            stepped = stepped.replace(metrics=metrics)
        return stepped

    def _mjx_control_step(
        self, scene: ArmState, target: jax.Array, finger_target: jax.Array
    ) -> tuple[ArmState, jax.Array]:
        """``n_substeps`` MJX (or MuJoCo Warp) physics steps, the motor's torques computed
        before each; and whether any ran out of a MuJoCo Warp buffer [] bool."""
        timestep = float(self.mj_model.opt.timestep)

        def substep(scene: ArmState, _):
            arm_qpos, arm_qvel = scene.qpos[:ARM_DOF], scene.qvel[:ARM_DOF]
            inertia = self.motor.inertia(scene.qpos[: self.object_index])
            ctrl = self.motor.torque(inertia, target, arm_qpos, arm_qvel, timestep)
            if self.fingers:
                fingers = slice(ARM_DOF, self.object_index)
                force = velocity_motor.finger_force(
                    self._finger_inertia,
                    manipulation_scene.FINGER_FORCE,
                    finger_target,
                    scene.qpos[fingers],
                    scene.qvel[fingers],
                    timestep,
                )
                ctrl = jnp.concatenate([ctrl, force])
            return self.dynamics.checked_step(scene, ctrl)

        scene, overflows = jax.lax.scan(substep, scene, None, length=self.config.n_substeps)
        return scene, overflows.any()

    def finger_targets(self, scene: ArmState, action: jax.Array) -> jax.Array:
        """Each finger's target [2] (none without the gripper) for a clipped action: half of
        the width now plus ``finger_step`` times the action's last component, as panda-gym
        asks its finger motors, clipped to the finger's range (panda-gym's hard joint limits
        stop its fingers; MuJoCo's soft ones would let a finger driven past them sink through)."""
        if not self.fingers:
            return jnp.zeros((0,))
        width = self.finger_width(scene) + self.config.finger_step * action[-1]
        return jnp.full((self.fingers,), jnp.clip(width / 2, 0.0, manipulation_scene.FINGER_TRAVEL))

    def finger_width(self, scene: ArmState) -> jax.Array:
        """The distance between the fingers [] (0 closed; 0 without the gripper)."""
        return jnp.sum(scene.qpos[ARM_DOF : self.object_index])

    def ee_frame(self, scene: ArmState) -> tuple[jax.Array, jax.Array]:
        """The ee site's position [3] and rotation [3, 3] (its axes as columns, world frame)."""
        position, rotation, _, _ = self.control.chain.site_frame(scene.qpos[:ARM_DOF])
        return position, rotation

    def object_pose(self, scene: ArmState, index: int = 0) -> tuple[jax.Array, jax.Array]:
        """Object ``index``'s position [3] and quaternion (w, x, y, z) [4]."""
        start = self.object_index + 7 * index
        return scene.qpos[start : start + 3], scene.qpos[start + 3 : start + 7]

    def _observe(self, scene: ArmState, goal: jax.Array) -> dict[str, jax.Array]:
        """{"observation": [6 (+1 with the gripper) + 12 per object (Flip: 13)],
        "achieved_goal" and "desired_goal": [3 per object] (Flip: [4])}."""
        orientation = self.task.goal == "orientation"
        ee_pos, _, jacp, _ = self.control.chain.site_frame(scene.qpos[:ARM_DOF])
        parts = [ee_pos, jacp @ scene.qvel[:ARM_DOF]]
        if self.fingers:
            parts.append(self.finger_width(scene)[None])
        for i in range(len(self.task.objects)):
            position, quat = self.object_pose(scene, i)
            start = self.object_index + 6 * i
            velocity = scene.qvel[start : start + 6]
            rotation = xyzw(quat) if orientation else euler_xyz(quat)
            parts += [position, rotation, velocity[:3], rotate(quat, velocity[3:])]
        if orientation:
            achieved = xyzw(self.object_pose(scene, 0)[1])
        else:
            positions = [self.object_pose(scene, i)[0] for i in range(len(self.task.objects))]
            achieved = jnp.concatenate(positions)
        return {
            "observation": jnp.concatenate(parts).astype(jnp.float32),
            "achieved_goal": achieved.astype(jnp.float32),
            "desired_goal": goal.astype(jnp.float32),
        }
