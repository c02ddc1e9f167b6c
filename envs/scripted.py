"""Hand-written controllers for the manipulation tasks, from the observation alone.

They show what the physics lets an agent do, and the same function drives jaxik and panda-gym
(both give the same observation layout), so their success rates compare the two simulations.
Pure ``jnp``: vmap and jit them, or call them on NumPy arrays one step at a time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.manipulation_scene import CUBE, GRASP_DEPTH, PUCK

CUBE_HALF = CUBE.size[0]  # half the cube's edge
PUCK_RADIUS = PUCK.size[0]
PUCK_FRICTION = PUCK.table_friction  # the puck's sliding friction on the table
GRAVITY = 9.81
FINGER_HALF = 0.01  # half the closed fingers' thickness along a push
PUSH_HEIGHT = 0.015  # ee (fingertip) height while pushing: below the cube's centre
CLEAR_HEIGHT = 0.09  # ee height that clears the cube when moving over it
EE_STEP = 0.05  # metres of target displacement per unit action (the tasks' ee_step)
CTRL_DT = 0.04  # seconds per control step


def push(
    observation: jax.Array,
    desired_goal: jax.Array,
    speed: float = 0.5,
    approach: float = 0.6,
    half: float = CUBE_HALF,
) -> jax.Array:
    """Ee-control action [3] that pushes the object towards the goal, for a closed gripper.

    observation: [18] (ee position, ee velocity, object position, ...); desired_goal: [3].
    Get behind the object on the line from the goal through it (rise first, and cross over at a
    height that clears it), go down, push along the line. ``speed``: the largest action
    component while pushing (1.0 moves the target 5 cm a step); ``approach``: elsewhere;
    ``half``: the object's half width along the push.
    """
    observation, desired_goal = jnp.asarray(observation), jnp.asarray(desired_goal)
    ee, velocity, obj = observation[:3], observation[3:6], observation[6:9]
    to_goal = (desired_goal - obj).at[2].set(0.0)
    direction = to_goal / jnp.maximum(jnp.linalg.norm(to_goal), 1e-6)
    offset = (ee - obj).at[2].set(0.0)
    along = offset @ direction  # negative: behind the object
    sideways = jnp.linalg.norm(offset - along * direction)
    contact = half + FINGER_HALF  # ee to object centre when the fingers touch it
    behind = (obj - (contact + 0.03) * direction).at[2].set(PUSH_HEIGHT)
    low = ee[2] < PUSH_HEIGHT + 0.015
    pushing = low & (along < -contact + 0.015) & (sideways < 0.025)
    descending = (along < -contact - 0.01) & (sideways < 0.015)
    target = jnp.where(
        pushing,
        (obj + (EE_STEP - contact) * direction).at[2].set(PUSH_HEIGHT),
        jnp.where(
            descending,
            behind,
            jnp.where(low, ee.at[2].set(CLEAR_HEIGHT), behind.at[2].set(CLEAR_HEIGHT)),
        ),
    )
    limit = jnp.where(pushing, speed, approach)
    ahead = ee + velocity * CTRL_DT  # where the arm's own motion takes it over the next step
    return jnp.clip((target - ahead) / EE_STEP, -limit, limit)


def slide(observation: jax.Array, desired_goal: jax.Array, approach: float = 0.6) -> jax.Array:
    """Ee-control action [3] that strikes the puck so that it slides to the goal (Slide).

    observation: [18]; desired_goal: [3]. Line up behind the puck as ``push`` does, then push it
    along the line at the speed v from which friction stops it at the goal (v^2 = 2 mu g d, d the
    distance left), and stand still once it moves that fast: the puck slides on alone.
    """
    observation, desired_goal = jnp.asarray(observation), jnp.asarray(desired_goal)
    ee, velocity, puck, puck_velocity = (observation[i : i + 3] for i in (0, 3, 6, 12))
    to_goal = (desired_goal - puck).at[2].set(0.0)
    distance = jnp.linalg.norm(to_goal)
    direction = to_goal / jnp.maximum(distance, 1e-6)
    needed = jnp.sqrt(2 * PUCK_FRICTION * GRAVITY * distance)  # m/s
    sliding = jnp.linalg.norm(puck_velocity[:2]) > 0.02
    striking = puck_velocity[:2] @ direction[:2] < 0.9 * needed  # not yet fast enough
    lined_up = push(observation, desired_goal, speed=0.0, approach=approach, half=PUCK_RADIUS)
    offset = (ee - puck).at[2].set(0.0)
    along = offset @ direction
    sideways = jnp.linalg.norm(offset - along * direction)
    ready = (ee[2] < PUSH_HEIGHT + 0.015) & (along < 0.0) & (sideways < 0.025)
    strike = (
        direction * needed * CTRL_DT / EE_STEP + (PUSH_HEIGHT - ee[2]) / EE_STEP * jnp.eye(3)[2]
    )
    hold = -velocity * CTRL_DT / EE_STEP  # brake: the target where the ee is now
    action = jnp.where(sliding & ~striking, hold, jnp.where(ready & striking, strike, lined_up))
    return jnp.clip(action, -1.0, 1.0)


WAVE_CENTRE = (-0.15, 0.0, 0.25)  # the centre of the box the wave aims into (world frame, m)
WAVE_HALF = (0.1, 0.15, 0.05)  # its half extents: well inside reach, 20-30 cm above the table


def wave(ee_position: jax.Array, uniform: jax.Array) -> jax.Array:
    """An ee action [3] towards a random point high above the table, which moves the arm
    without touching the objects: the control for checks that an object nothing touches stays
    put. ``ee_position`` [3]; ``uniform`` [3] in [-1, 1] picks the point in the box
    ``WAVE_CENTRE`` +- ``WAVE_HALF``."""
    point = uniform * jnp.array(WAVE_HALF) + jnp.array(WAVE_CENTRE)
    return jnp.clip((point - ee_position) / EE_STEP, -1.0, 1.0)


HOVER = 0.06  # ee height above the cube's centre from which the gripper descends onto it


def pick_and_place(
    observation: jax.Array, desired_goal: jax.Array, approach: float = 0.6
) -> jax.Array:
    """Ee-control action [4] (3 for the ee, 1 for the fingers) that grasps the cube, carries it
    to the goal and holds it there (PickAndPlace).

    observation: [19] (ee position, ee velocity, finger width, cube position, ...);
    desired_goal: [3]. Holding the cube (it sits between the fingers, closed on it): carry it
    to the goal. At the grasp point: close. Above the cube: open and descend. Elsewhere: rise
    clear of the cube, then move above it. ``approach``: the largest ee action component.
    """
    observation, desired_goal = jnp.asarray(observation), jnp.asarray(desired_goal)
    ee, velocity, width, cube = observation[:3], observation[3:6], observation[6], observation[7:10]
    grasp = cube - jnp.array([0.0, 0.0, GRASP_DEPTH])
    to_grasp = grasp - ee
    # closed on the cube: near the grasp point (the two fingers need not centre it), the
    # fingers apart by about its width
    near = jnp.linalg.norm(to_grasp) < 0.03
    holding = near & (width > 1.2 * CUBE_HALF) & (width < 2.3 * CUBE_HALF)
    at_grasp = jnp.linalg.norm(to_grasp) < 0.01
    above = jnp.linalg.norm(to_grasp[:2]) < 0.01
    low = ee[2] < cube[2] + HOVER - 0.02
    hover = cube.at[2].add(HOVER)
    target = jnp.where(
        holding,
        desired_goal - jnp.array([0.0, 0.0, GRASP_DEPTH]),
        jnp.where(
            at_grasp | above,
            grasp,
            jnp.where(low, ee.at[2].set(hover[2]), hover),
        ),
    )
    fingers = jnp.where(holding | at_grasp, -1.0, 1.0)
    ahead = ee + velocity * CTRL_DT
    move = jnp.clip((target - ahead) / EE_STEP, -approach, approach)
    return jnp.concatenate([move, fingers[None]])


PLACED = 0.015  # a cube this close to its goal counts as placed (Stack)


def stack(observation: jax.Array, desired_goal: jax.Array, approach: float = 0.6) -> jax.Array:
    """Ee-control action [4] that stacks two cubes (PandaStack): ``pick_and_place`` the first
    cube onto its goal; once it is there, the same for the second, carried to above its goal
    and then lowered onto the first. Leaving the first cube, the fingers open and rise by
    themselves (``pick_and_place`` of a cube not held).

    observation: [31] (ee position, ee velocity, finger width, then position, rotation,
    velocity, angular velocity of each cube: the first's position at 7:10, the second's at
    19:22); desired_goal: [6], the first cube's goal and the second's (on it)."""
    observation, desired_goal = jnp.asarray(observation), jnp.asarray(desired_goal)
    robot, first, second = observation[:7], observation[7:19], observation[19:31]
    first_goal, second_goal = desired_goal[:3], desired_goal[3:]
    placed = jnp.linalg.norm(first[:3] - first_goal) < PLACED
    over = jnp.linalg.norm(second[:2] - second_goal[:2]) < 0.01
    carry_to = jnp.where(over, second_goal, second_goal.at[2].add(2 * CUBE_HALF + 0.01))
    place_first = pick_and_place(jnp.concatenate([robot, first]), first_goal, approach)
    place_second = pick_and_place(jnp.concatenate([robot, second]), carry_to, approach)
    return jnp.where(placed, place_second, place_first)
