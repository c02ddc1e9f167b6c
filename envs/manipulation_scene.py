"""The Panda with an object on the table, for the manipulation tasks: the scene, the contacts it
simulates, and the solver settings those contacts need. docs/panda_manipulation_tasks.md gives the
measurements behind every number here.

Only the contacts a task needs are simulated, each as an explicit pair with the friction that
panda-gym's scene has in effect (Bullet multiplies the two surfaces' coefficients; MuJoCo would
take the larger, so each pair states its own): object-table, object-gripper, gripper-table, and
object-object where there are two (Stack). The arm's links touch nothing. The table top is a
plane at z = 0 (cheaper to collide with than the table box, which stays for the picture).

The arm is the reach task's (envs/assets/panda.xml), with two changes. Its actuators are torque
motors driven by envs/velocity_motor.py (panda-gym's velocity servos; the joints lose their
damping, which PyBullet's Panda does not have). With the gripper closed (Push, Slide) its two
welded fingers are one box, the shape they make together: half the contacts of two. Against a
cylinder (Slide's puck) they are that box where the engine collides boxes with cylinders
(MuJoCo's C engine), and a capsule in it where it does not (MJX). The shape decides where a
struck puck goes: a flat face sends it along the face's normal, as panda-gym's fingers do,
a capsule along the line from its axis to the puck's.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from envs import native_library, panda_model, velocity_motor

FRICTION_CONES = {
    "pyramidal": mujoco.mjtCone.mjCONE_PYRAMIDAL,
    "elliptic": mujoco.mjtCone.mjCONE_ELLIPTIC,
}


@dataclasses.dataclass(frozen=True)
class ObjectSpec:
    """One free rigid object. ``size``: a box's half extents [3]; a cylinder's (radius, radius,
    half height), its axis along z."""

    name: str
    shape: str  # "box" or "cylinder"
    size: tuple[float, float, float]
    mass: float
    table_friction: float  # sliding friction against the table top, as the pair has it in effect
    gripper_friction: float  # against the fingers
    damping: float  # velocity damping per second (OBJECT_DAMPING or 0)
    rgba: tuple[float, float, float, float]

    @property
    def half_height(self) -> float:
        """Height of the centre above the table when the object stands on it."""
        return self.size[2]


OBJECT_DAMPING = 0.04
"""Bullet slows every free body by 0.04 of its velocity per second (its multibodies' default
linear and angular damping): a puck sliding at 0.5 m/s on friction 0.02 stops 8 % sooner for it.
Here it is each object's joint damping (N s/m per kg; N m s per kg m^2 about each axis)."""
# panda-gym's cube: a 4 cm edge, 1 kg. Bullet's default lateral friction is 0.5 for the cube and
# the table, and the fingers have 1.0: the products are 0.25 (cube-table), 0.5 (cube-fingers).
# Undamped: against friction 0.25 Bullet's damping slows a pushed cube by under 1 %, and
# PandaPush's physics was measured without it.
CUBE = ObjectSpec("object", "box", (0.02, 0.02, 0.02), 1.0, 0.25, 0.5, 0.0, (0.1, 0.1, 0.9, 1.0))
# panda-gym's puck (Slide): radius 3 cm, 3 cm tall, 1 kg, lateral friction 0.04: 0.02 against
# the table (0.5), 0.04 against the fingers (1.0).
PUCK = ObjectSpec(
    "object", "cylinder", (0.03, 0.03, 0.015), 1.0, 0.02, 0.04, OBJECT_DAMPING, (0.1, 0.1, 0.9, 1.0)
)
# panda-gym's Stack: two such cubes, the first (blue) of 2 kg, the second (green) of 1 kg.
STACK_CUBES = (
    dataclasses.replace(CUBE, name="object1", mass=2.0),
    dataclasses.replace(CUBE, name="object2", rgba=(0.1, 0.9, 0.1, 1.0)),
)
GRIPPER_TABLE_FRICTION = 0.5  # fingers 1.0 x table 0.5
OBJECT_OBJECT_FRICTION = 0.25  # two cubes' 0.5 x 0.5 (Stack)
CLOSED_FINGERS = {"pos": (0.0, 0.0, 0.08), "size": (0.01, 0.016, 0.025), "mass": 0.03}
"""The two closed fingers as one box in the hand's frame: the union of envs/assets/panda.xml's
left_finger and right_finger boxes (each 0.01 x 0.008 x 0.025 half extents, 0.008 either side
of the hand's centre), with their mass."""
FINGER_NAMES = ("left_finger", "right_finger")
CAPSULE_FINGERS = "finger_tips"
"""The capsule inside the closed fingers' box that meets cylinders where the engine collides no
box with a cylinder (MJX)."""
FINGER_FORCE = 30.0
"""Each finger motor's force limit (N). panda-gym's are 170 N, but the soft contacts let a
finger sink into what it squeezes in proportion to its motor's force: 170 N pressed each finger
7 mm into the cube, 30 N presses it 2 mm and still holds the 1 kg cube (two contacts of
friction 0.5 give 30 N against its 9.8 N weight)."""
FINGER_TRAVEL = 0.04
"""Each finger's range (m): 0 closed (the fingers touch), 0.04 open; the width is the sum."""
GRASP_DEPTH = 0.01
"""A grasp holds the cube with the ee (the fingertips) this far below its centre."""
FINGER_ARMATURE = 1.0
"""Added mass (kg) of each finger's slide joint, for its motor and gears: a finger accelerates
at 30 m/s^2 at most (full open in about 50 ms, as panda-gym's fingers open within a 40 ms
control step), and strikes the cube slowly enough for the soft contacts to stop it."""


@dataclasses.dataclass(frozen=True)
class Inertial:
    """A body's mass (kg), centre of mass [3] (m) and principal moments [3] (kg m^2) about axes
    through it parallel to the body's frame."""

    mass: float
    centre: tuple[float, float, float]
    moments: tuple[float, float, float]


PANDA_GYM_LINKS = {
    "link1": Inertial(2.7, (0.0, -0.04, -0.05), (0.022971, 0.017769, 0.011484)),
    "link2": Inertial(2.73, (0.0, -0.04, 0.06), (0.023491, 0.011613, 0.018228)),
    "link3": Inertial(2.04, (0.01, 0.01, -0.05), (0.01092, 0.012581, 0.011968)),
    "link4": Inertial(2.08, (-0.03, 0.03, 0.02), (0.011335, 0.012249, 0.013057)),
    "link5": Inertial(3.0, (0.0, 0.04, -0.12), (0.035676, 0.029848, 0.012802)),
    "link6": Inertial(1.3, (0.04, 0.0, 0.0), (0.003428, 0.005117, 0.005988)),
    "link7": Inertial(0.2, (0.0, 0.0, 0.08), (0.000362, 0.000362, 0.000592)),
    "hand": Inertial(0.81, (0.0, 0.0, 0.04), (0.003719, 0.001016, 0.003388)),
}
"""panda-gym's arm as PyBullet simulates it, read with ``getDynamicsInfo`` from panda-gym 3.0.7's
PandaPush-v3 (PyBullet 3.2): the URDF's masses, and inertias that PyBullet computes from the
collision meshes (panda-gym loads the URDF without ``URDF_USE_INERTIA_FROM_FILE``), in each link's
frame (envs/assets/panda.xml's bodies have the URDF's link frames). The arm's response to an
action depends on them wherever a motor reaches its torque limit; the reach task keeps
envs/assets/panda.xml's own (tuned to the measured responses, with gravity compensated)."""
PANDA_GYM_FINGER = Inertial(0.1, (0.0, 0.01, 0.0784), (0.000042, 0.000039, 0.000017))
"""The left finger in the hand's frame, closed (the right one mirrored in y): PyBullet's
0.1 kg, 0.02 m above its joint, which is 0.0584 m along the hand's axis."""
PANDA_GYM_TORQUE_LIMITS = (87.0, 87.0, 87.0, 87.0, 12.0, 120.0, 120.0)
"""panda-gym's motor force limits (N m) on the arm's joints (``Panda.joint_forces``)."""


def combined(parts: list[Inertial]) -> Inertial:
    """One rigid body made of ``parts`` (each with principal axes parallel to the body's)."""
    mass = sum(part.mass for part in parts)
    centre = sum(part.mass * np.asarray(part.centre) for part in parts) / mass
    moments = np.zeros(3)
    for part in parts:
        offset = np.asarray(part.centre) - centre
        moments += np.asarray(part.moments) + part.mass * (offset @ offset - offset**2)
    return Inertial(mass, tuple(centre), tuple(moments))


def _set_inertial(body, inertial: Inertial) -> None:
    body.explicitinertial = True
    body.mass = inertial.mass
    body.ipos = list(inertial.centre)
    body.iquat = [1.0, 0.0, 0.0, 0.0]
    body.inertia = list(inertial.moments)


@dataclasses.dataclass(frozen=True)
class ContactSettings:
    """How the constraint solver treats the scene's contacts."""

    iterations: int  # constraint-solver iterations per physics step
    ls_iterations: int  # line-search iterations per solver iteration
    impedance: tuple[float, float]  # MuJoCo's solimp dmin, dmax (the contact's softness)
    warmstart: bool  # start the solver from the last step's accelerations
    cone: str  # FRICTION_CONES: the friction cone's shape


def build(
    objects: tuple[ObjectSpec, ...],
    table_x: tuple[float, float],
    timestep: float,
    contact: ContactSettings,
    backend: str = "auto",
    gripper: bool = False,
    servo_plugin: bool = False,
    boxes_meet_cylinders: bool = False,
) -> mujoco.MjModel:
    """The Panda scene with ``objects`` (each with a free joint after the arm's 7 hinges, so
    qpos = [arm 7, then per object position 3 and quaternion (w, x, y, z) 4] and qvel = [arm 7,
    then per object linear velocity (world frame) 3 and angular velocity (object frame) 3]) on
    a table drawn from x = ``table_x[0]`` to ``table_x[1]`` (its top, a plane, has no edge).

    With ``gripper`` the two fingers are bodies on slide joints (``FINGER_NAMES``, after the
    arm's hinges in qpos and qvel, each 0 closed to ``FINGER_TRAVEL`` open) driven by force
    motors (actuators 8 and 9); without, they are one welded box.

    The motors take torques (forces) from envs/velocity_motor.py, computed in JAX for MJX; with
    ``servo_plugin`` they are that law's C plugin (envs/native_library.py) and take the servo
    targets, for MuJoCo's C engine. ``boxes_meet_cylinders``: the engine collides boxes with
    cylinders (MuJoCo's C engine; MJX does not), so the fingers meet a cylinder as their box."""
    spec = mujoco.MjSpec.from_file(str(panda_model.MODEL_PATH))
    _set_options(spec, timestep, contact, panda_model.physics_choice(backend))
    rate = _set_arm(spec, timestep, servo_plugin)
    table = _add_table(spec, table_x)
    capsule = not boxes_meet_cylinders and any(obj.shape == "cylinder" for obj in objects)
    fingers = _set_hand(spec, gripper, servo_plugin, rate, capsule)
    pairs = [(table.name, finger, GRIPPER_TABLE_FRICTION) for finger in fingers]
    pairs += _add_objects(spec, objects, table.name, fingers, capsule)
    for first, second, friction in pairs:
        pair = spec.add_pair(geomname1=first, geomname2=second)
        pair.condim = 3  # sliding friction; panda-gym's spinning and rolling friction are ~0
        pair.friction = [friction, friction, 0.0, 0.0, 0.0]
        pair.solimp = [*contact.impedance, 0.001, 0.5, 2.0]
    model = spec.compile()
    _set_object_damping(model, objects)
    return model


def _set_options(spec: mujoco.MjSpec, timestep: float, contact: ContactSettings, choice) -> None:
    """The solver and the contacts: ``contact``'s settings, ``choice``'s Jacobian and solver."""
    spec.option.timestep = timestep
    spec.option.jacobian = choice.jacobian
    spec.option.solver = choice.solver
    spec.option.iterations = contact.iterations
    spec.option.ls_iterations = contact.ls_iterations
    spec.option.cone = FRICTION_CONES[contact.cone]
    # Contacts need the constraint solver every step anyway, so the joints' limits come at
    # little extra cost (7 rows beside the contacts' 48): a flailing arm stays in its ranges.
    spec.option.disableflags &= ~int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
    spec.option.disableflags &= ~int(mujoco.mjtDisableBit.mjDSBL_LIMIT)
    if not contact.warmstart:
        spec.option.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_WARMSTART)


def _set_arm(spec: mujoco.MjSpec, timestep: float, servo_plugin: bool) -> float:
    """panda-gym's arm: no joint damping, its torque limits and link inertias, and force motors
    (``servo_plugin``: the velocity servos' C plugin). Returns the servo rate per second."""
    for joint in spec.joints:
        joint.damping = np.zeros_like(joint.damping)
    for joint, limit in zip(panda_model.ARM_JOINTS, PANDA_GYM_TORQUE_LIMITS, strict=True):
        spec.joint(joint).actfrcrange = [-limit, limit]
    for name, inertial in PANDA_GYM_LINKS.items():
        _set_inertial(spec.body(name), inertial)
    rate = velocity_motor.servo_rate(timestep)
    for actuator in spec.actuators:  # force = ctrl, within the joint's torque limit
        limit = spec.joint(actuator.target).actfrcrange[1]
        actuator.gainprm[0] = 1.0
        actuator.biasprm[:3] = 0.0
        actuator.ctrlrange = [-limit, limit]
        if servo_plugin:
            native_library.attach_servo(spec, actuator, "arm", rate, limit)
    return rate


def _add_table(spec: mujoco.MjSpec, table_x: tuple[float, float]):
    """The drawn table from x = table_x[0] to table_x[1], and the plane its top collides as."""
    drawn = spec.geom("table")
    drawn.pos[0], drawn.size[0] = sum(table_x) / 2, (table_x[1] - table_x[0]) / 2
    return spec.worldbody.add_geom(
        name="table_top",
        type=mujoco.mjtGeom.mjGEOM_PLANE,
        pos=[-0.3, 0.0, panda_model.TABLE_TOP_Z],
        size=[0.55, 0.35, 0.01],
        rgba=[0, 0, 0, 0],  # the table box draws it
    )


def _set_hand(
    spec: mujoco.MjSpec, gripper: bool, servo_plugin: bool, rate: float, capsule: bool
) -> tuple[str, ...]:
    """The hand's fingers: two on slide joints (``gripper``) or one welded box, and with
    ``capsule`` the capsule that stands for them against cylinders (``CAPSULE_FINGERS``).
    Returns the finger geoms' names."""
    hand = spec.body("hand")
    for geom in list(hand.geoms):
        if geom.name in ("left_finger", "right_finger"):
            spec.delete(geom)
    if gripper:
        fingers = _add_fingers(spec, hand, servo_plugin, rate)
    else:
        right = dataclasses.replace(
            PANDA_GYM_FINGER, centre=(0.0, -PANDA_GYM_FINGER.centre[1], PANDA_GYM_FINGER.centre[2])
        )
        _set_inertial(hand, combined([PANDA_GYM_LINKS["hand"], PANDA_GYM_FINGER, right]))
        hand.add_geom(
            name="fingers",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=list(CLOSED_FINGERS["pos"]),
            size=list(CLOSED_FINGERS["size"]),
            mass=CLOSED_FINGERS["mass"],
        )
        fingers = ("fingers",)
    if capsule:
        # MJX collides a cylinder with capsules, not boxes: against cylinders the fingers are
        # the capsule inside their box, as wide (2 cm) along x and as long.
        half_x, _, half_z = CLOSED_FINGERS["size"]
        hand.add_geom(
            name=CAPSULE_FINGERS,
            type=mujoco.mjtGeom.mjGEOM_CAPSULE,
            pos=list(CLOSED_FINGERS["pos"]),
            size=[half_x, half_z - half_x, 0.0],
            contype=0,
            conaffinity=0,
            mass=0.0,
            rgba=[0, 0, 0, 0],
        )
    return fingers


def _add_objects(
    spec: mujoco.MjSpec,
    objects: tuple[ObjectSpec, ...],
    table: str,
    fingers: tuple[str, ...],
    capsule: bool,
) -> list[tuple[str, str, float]]:
    """Each object on a free joint; returns the contact pairs they make (first geom, second,
    friction): with the table, the fingers (a cylinder with ``CAPSULE_FINGERS`` where
    ``capsule``) and each other."""
    pairs = []
    for obj in objects:
        body = spec.worldbody.add_body(name=obj.name, pos=[0.0, 0.0, obj.half_height])
        body.add_freejoint(name=obj.name)
        geom = body.add_geom(name=obj.name, mass=obj.mass, rgba=list(obj.rgba))
        pairs += [(obj.name, table, obj.table_friction)]
        if obj.shape == "box":
            geom.type, geom.size = mujoco.mjtGeom.mjGEOM_BOX, list(obj.size)
            pairs += [(obj.name, finger, obj.gripper_friction) for finger in fingers]
        else:
            geom.type = mujoco.mjtGeom.mjGEOM_CYLINDER
            geom.size = [obj.size[0], obj.half_height, 0.0]
            touching = (CAPSULE_FINGERS,) if capsule else fingers
            pairs += [(obj.name, finger, obj.gripper_friction) for finger in touching]
    for i, first in enumerate(objects):
        for second in objects[i + 1 :]:
            if first.shape != "box" or second.shape != "box":
                raise ValueError(f"{first.name} and {second.name}: only cubes touch each other")
            pairs.append((first.name, second.name, OBJECT_OBJECT_FRICTION))
    return pairs


def _set_object_damping(model: mujoco.MjModel, objects: tuple[ObjectSpec, ...]) -> None:
    """Each object's free joint damped by ``obj.damping`` times its mass and inertia."""
    for obj in objects:
        dofs = model.jnt_dofadr[model.joint(obj.name).id] + np.arange(6)
        body = model.body(obj.name)
        model.dof_damping[dofs] = obj.damping * np.concatenate(
            [np.repeat(body.mass, 3), body.inertia]
        )


def _add_fingers(spec: mujoco.MjSpec, hand, servo_plugin: bool, rate: float) -> tuple[str, str]:
    """Two fingers on slide joints in ``hand``, each where envs/assets/panda.xml welds it when
    closed, moving apart along the hand's y axis, with a force motor each (``FINGER_FORCE``;
    with ``servo_plugin``, velocity servos of one group: two sibling slides share no mass, so
    each is clamped alone, as ``velocity_motor.finger_force`` clamps it). Returns the finger
    geoms' names."""
    half_x, both_y, half_z = CLOSED_FINGERS["size"]
    half_y = both_y / 2  # each finger is half the closed pair
    for name, side in zip(FINGER_NAMES, (1.0, -1.0), strict=True):
        body = hand.add_body(name=name)
        body.add_joint(
            name=name,
            type=mujoco.mjtJoint.mjJNT_SLIDE,
            axis=[0.0, side, 0.0],
            range=[0.0, FINGER_TRAVEL],
            armature=FINGER_ARMATURE,
        )
        body.add_geom(
            name=name,
            type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=[0.0, side * half_y, CLOSED_FINGERS["pos"][2]],
            size=[half_x, half_y, half_z],
        )
        centre = PANDA_GYM_FINGER.centre
        _set_inertial(
            body, dataclasses.replace(PANDA_GYM_FINGER, centre=(0.0, side * centre[1], centre[2]))
        )
        actuator = spec.add_actuator(name=name, target=name)
        actuator.trntype = mujoco.mjtTrn.mjTRN_JOINT
        actuator.gainprm[0] = 1.0
        actuator.ctrlrange = [-FINGER_FORCE, FINGER_FORCE]
        if servo_plugin:
            native_library.attach_servo(spec, actuator, "fingers", rate, FINGER_FORCE)
    return FINGER_NAMES
