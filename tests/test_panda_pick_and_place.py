"""PandaPickAndPlace: panda-gym's layout and goal distribution, fingers that open, close and hold
the cube, and a scripted controller that grasps the cube and carries it to the goal (the same
controller succeeds on panda-gym's own PandaPickAndPlace-v3: ``python -m jaxik.bench fidelity``).

One compiled rollout serves the physics checks: half the environments pick and place with the
scripted controller, the other half wave the arm high above the cube, opening and closing the
fingers at random.
"""

import batched
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hlo import lapack_calls

import envs
from envs import manipulation_scene, scripted

HALF_RANGE = 0.15  # panda-gym's 0.3 m squares for the cube's start and the goal's xy
CUBE_HALF = 0.02
LIFT = 0.2  # a lifted goal is up to this far above the table-top goal height
EPISODES = 32  # per half of the rollout
STEPS = 50
WIDTH = 6  # the finger width's place in the observation
CUBE = slice(7, 10)  # the cube's position in the observation


@pytest.fixture(scope="module")
def pick():
    return envs.make("PandaPickAndPlace")


@pytest.fixture(scope="module")
def lowered(pick):
    """The rollout's program, lowered, and its arguments: the first ``EPISODES`` environments
    run the scripted controller, the rest wave the arm above the table."""

    def step(state, key, scripted_pick):
        obs = state.obs
        uniform = jax.random.uniform(key, (4,), minval=-1.0, maxval=1.0)
        fingers = uniform[3:]  # open or close, at random
        wave = jnp.concatenate([scripted.wave(obs["observation"][:3], uniform[:3]), fingers])
        placing = scripted.pick_and_place(obs["observation"], obs["desired_goal"])
        action = jnp.where(scripted_pick, placing, wave)
        after = pick.step(state, action)
        # an episode that ended stays where it ended (success terminates it)
        after = jax.tree.map(lambda new, old: jnp.where(state.done > 0, old, new), after, state)
        return after, (after.metrics["success"], after.obs["observation"])

    keys = jax.random.split(jax.random.key(0), 2 * EPISODES)
    kinds = jnp.arange(2 * EPISODES) < EPISODES
    return batched.rollout(lambda key, _: pick.reset(key), step, keys, kinds, STEPS)


@pytest.fixture(scope="module")
def rollout(lowered):
    """Per environment and step: success [2 * EPISODES, STEPS], the observation
    [2 * EPISODES, STEPS, 19], and per environment the goal [2 * EPISODES, 3]."""
    program, args = lowered
    start, (success, observation) = program.compile()(*args)
    return np.asarray(success), np.asarray(observation), np.asarray(start.obs["desired_goal"])


def test_no_lapack_call_in_the_batched_rollout(lowered):
    """Reset and step, vmapped: no LAPACK kernel, which hangs at thousands of environments on
    the CPU (tests/test_no_hang.py)."""
    assert not lapack_calls(lowered[0].as_text())


def test_spaces_and_start_are_panda_gyms(pick):
    assert pick.observation_size == {
        "observation": (19,),
        "achieved_goal": (3,),
        "desired_goal": (3,),
    }
    assert pick.action_size == 4 and envs.make("PandaPickAndPlaceJoints").action_size == 8
    states = jax.jit(jax.vmap(pick.reset))(jax.random.split(jax.random.key(1), 2000))
    obs = jax.tree.map(np.asarray, states.obs)
    cube, goal = obs["observation"][:, CUBE], obs["desired_goal"]
    np.testing.assert_array_equal(obs["achieved_goal"], cube)
    np.testing.assert_allclose(cube[:, 2], CUBE_HALF, atol=1e-6)  # on the table
    assert obs["observation"][:, WIDTH].max() == 0.0  # the fingers start closed
    for points in (cube, goal):
        assert np.abs(points[:, :2]).max() <= HALF_RANGE
        assert np.abs(points[:, :2]).max() > 0.9 * HALF_RANGE  # the whole square is used
    # goals: 30 % on the table, the rest up to 20 cm above it, uniformly
    on_table = goal[:, 2] == CUBE_HALF
    assert 0.26 < on_table.mean() < 0.34, on_table.mean()
    lifted = goal[~on_table, 2] - CUBE_HALF
    assert lifted.min() >= 0.0 and lifted.max() <= LIFT and lifted.max() > 0.95 * LIFT
    assert abs(np.median(lifted) - LIFT / 2) < 0.01


def test_the_scripted_controller_picks_and_places_the_cube(rollout):
    success, observation, goal = rollout
    reached = success[:EPISODES].max(axis=1)
    # panda-gym's PandaPickAndPlace-v3 with the same controller: 1.00 over 128 episodes
    # (python -m jaxik.bench fidelity); the two simulations should agree within 10 points
    assert reached.mean() >= 0.9, reached.mean()
    lifted_goals = goal[:EPISODES, 2] > CUBE_HALF + 0.03
    assert lifted_goals.sum() >= 10 and reached[lifted_goals].mean() >= 0.9  # carried up there
    # held, the cube sits between the fingers: pressed in by millimetres, not squeezed through
    held = observation[:EPISODES, :, CUBE][..., 2] > CUBE_HALF + 0.02
    width = observation[:EPISODES, :, WIDTH][held]
    assert held.sum() > 100 and 0.03 < np.median(width) <= 2 * CUBE_HALF, np.median(width)
    assert observation[:EPISODES, :, CUBE][..., 2].min() > 0.01  # never pressed into the table


def test_fingers_open_and_close_and_an_untouched_cube_stays_put(rollout):
    _, observation, _ = rollout
    waving = observation[EPISODES:]
    assert waving[:, :, 2].min() > 0.1  # the gripper stayed high above the cube
    width = waving[:, :, WIDTH]
    travel = 2 * manipulation_scene.FINGER_TRAVEL
    # within the joints' range, give or take the millimetre that a finger slamming into its
    # (soft) limit overshoots it
    assert width.min() >= -4e-3 and width.max() <= travel + 4e-3, (width.min(), width.max())
    assert width.max() > 0.9 * travel and width[:, 10:].min() < 0.1 * travel  # open and closed
    cube = waving[:, :, CUBE]
    np.testing.assert_allclose(cube[:, :, 2], CUBE_HALF, atol=1e-3)  # resting on the table
    assert np.abs(cube - cube[:, :1]).max() < 1e-3  # not moved


def test_the_finger_action_sets_the_width_target_as_panda_gym_does(pick):
    """width target = width + 0.2 action, half to each finger, within each finger's range."""
    state = pick.reset(jax.random.key(0))
    scene = state.pipeline_state
    opened = scene.replace(qpos=scene.qpos.at[7:9].set(0.01))  # width 0.02
    for action, expected in ((0.1, 0.02), (-0.05, 0.005), (1.0, 0.04), (-1.0, 0.0)):
        targets = pick.finger_targets(opened, jnp.array([0.0, 0.0, 0.0, action]))
        np.testing.assert_allclose(targets, [expected, expected], atol=1e-7)
