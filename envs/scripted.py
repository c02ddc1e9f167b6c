"""Hand-written controllers for the manipulation tasks, from the observation alone.

They show what the physics lets an agent do, and the same function drives jaxik and panda-gym
(both give the same observation layout), so their success rates compare the two simulations.
Pure ``jnp``: vmap and jit them, or call them on NumPy arrays one step at a time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

CUBE_HALF = 0.02  # half the cube's edge
FINGER_HALF = 0.01  # half the closed fingers' thickness along a push
PUSH_HEIGHT = 0.015  # ee (fingertip) height while pushing: below the cube's centre
CLEAR_HEIGHT = 0.09  # ee height that clears the cube when moving over it
EE_STEP = 0.05  # metres of target displacement per unit action (the tasks' ee_step)
CTRL_DT = 0.04  # seconds per control step


def push(
    observation: jax.Array, desired_goal: jax.Array, speed: float = 0.5, approach: float = 0.6
) -> jax.Array:
    """Ee-control action [3] that pushes the object towards the goal, for a closed gripper.

    observation: [18] (ee position, ee velocity, object position, ...); desired_goal: [3].
    Get behind the object on the line from the goal through it (rise first, and cross over at a
    height that clears it), go down, push along the line. ``speed``: the largest action
    component while pushing (1.0 moves the target 5 cm a step); ``approach``: elsewhere.
    """
    observation, desired_goal = jnp.asarray(observation), jnp.asarray(desired_goal)
    ee, velocity, obj = observation[:3], observation[3:6], observation[6:9]
    to_goal = (desired_goal - obj).at[2].set(0.0)
    direction = to_goal / jnp.maximum(jnp.linalg.norm(to_goal), 1e-6)
    offset = (ee - obj).at[2].set(0.0)
    along = offset @ direction  # negative: behind the object
    sideways = jnp.linalg.norm(offset - along * direction)
    contact = CUBE_HALF + FINGER_HALF  # ee to object centre when the fingers touch it
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
