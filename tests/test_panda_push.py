"""PandaPush: panda-gym's layout and distributions, a cube that stays put when nothing touches
it, and a scripted controller that pushes it to the goal (the same controller succeeds on
panda-gym's own PandaPush-v3: ``python -m jaxik.bench fidelity``).

One compiled rollout serves the physics checks: half the environments push with the scripted
controller, the other half wave the arm high above the cube.
"""

import batched
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hlo import lapack_calls

import envs
from envs import panda_manipulation, scripted
from envs.reward import compute_reward

HALF_RANGE = 0.15  # panda-gym's 0.3 m squares for the cube's start and the goal
CUBE_HALF = 0.02
EPISODES = 64  # per half of the rollout
STEPS = 50


@pytest.fixture(scope="module")
def push():
    return envs.make("PandaPush")


@pytest.fixture(scope="module")
def lowered(push):
    """The rollout's program, lowered, and its arguments: the first ``EPISODES`` environments
    push with the scripted controller, the rest wave the arm above the table."""

    def step(state, key, scripted_push):
        obs = state.obs
        # towards a new random point every step, high above the table
        uniform = jax.random.uniform(key, (3,), minval=-1.0, maxval=1.0)
        wave = scripted.wave(obs["observation"][:3], uniform)
        action = jnp.where(
            scripted_push, scripted.push(obs["observation"], obs["desired_goal"]), wave
        )
        after = push.step(state, action)
        # an episode that ended stays where it ended (success terminates it)
        after = jax.tree.map(lambda new, old: jnp.where(state.done > 0, old, new), after, state)
        return after, (after.metrics["success"], after.obs["observation"])

    keys = jax.random.split(jax.random.key(0), 2 * EPISODES)
    kinds = jnp.arange(2 * EPISODES) < EPISODES
    return batched.rollout(lambda key, _: push.reset(key), step, keys, kinds, STEPS)


@pytest.fixture(scope="module")
def rollout(lowered):
    """Per environment and step: success [2 * EPISODES, STEPS] and the observation
    [2 * EPISODES, STEPS, 18] (see ``lowered``)."""
    program, args = lowered
    _, (success, observation) = program.compile()(*args)
    return np.asarray(success), np.asarray(observation)


def test_no_lapack_call_in_the_batched_rollout(lowered):
    """Reset and step, vmapped: no LAPACK kernel, which hangs at thousands of environments on
    the CPU (tests/test_no_hang.py)."""
    assert not lapack_calls(lowered[0].as_text())


def test_spaces_and_start_are_panda_gyms(push):
    assert push.observation_size == {
        "observation": (18,),
        "achieved_goal": (3,),
        "desired_goal": (3,),
    }
    assert push.action_size == 3 and envs.make("PandaPushJoints").action_size == 7
    states = jax.jit(jax.vmap(push.reset))(jax.random.split(jax.random.key(1), 512))
    obs = jax.tree.map(np.asarray, states.obs)
    cube, goal = obs["observation"][:, 6:9], obs["desired_goal"]
    np.testing.assert_array_equal(obs["achieved_goal"], cube)
    for points in (cube, goal):
        np.testing.assert_allclose(points[:, 2], CUBE_HALF, atol=1e-6)  # on the table
        assert np.abs(points[:, :2]).max() <= HALF_RANGE
        assert np.abs(points[:, :2]).max() > 0.9 * HALF_RANGE  # the whole square is used
    assert np.abs(obs["observation"][:, 9:]).max() == 0.0  # upright and at rest
    neutral_grasp_point = np.broadcast_to([0.0384, 0.0, 0.1974], (512, 3))  # panda-gym's, by FK
    np.testing.assert_allclose(obs["observation"][:, :3], neutral_grasp_point, atol=2e-3)
    assert np.abs(cube - goal).max() > 0.1  # drawn independently


def test_reward_and_success_are_the_cubes_distance_to_the_goal(push):
    dense = envs.make("PandaPushDense")
    achieved = jnp.array([[0.0, 0.0, 0.02], [0.1, 0.0, 0.02]])
    goal = jnp.array([[0.03, 0.0, 0.02], [0.0, 0.0, 0.02]])
    np.testing.assert_array_equal(push.compute_reward(achieved, goal), [0.0, -1.0])
    np.testing.assert_allclose(dense.compute_reward(achieved, goal), [-0.03, -0.1], rtol=1e-6)
    np.testing.assert_array_equal(push.is_success(achieved, goal), [True, False])
    np.testing.assert_array_equal(
        compute_reward(achieved, goal, "sparse", 0.05), push.compute_reward(achieved, goal)
    )


def test_a_cube_nothing_touches_stays_where_it_is(rollout):
    _, observation = rollout
    waving = observation[EPISODES:]
    assert waving[:, :, 2].min() > 0.1  # the gripper stayed high above the cube
    cube = waving[:, :, 6:9]
    np.testing.assert_allclose(cube[:, :, 2], CUBE_HALF, atol=1e-3)  # resting on the table
    assert np.abs(cube - cube[:, :1]).max() < 1e-3  # not moved
    assert np.abs(waving[:, :, 9:11]).max() < 0.01  # not tipped
    assert np.linalg.norm(waving[:, :, 15:18], axis=-1).max() < 0.05  # not spinning (rad/s)


def test_the_scripted_controller_pushes_the_cube_to_the_goal(rollout):
    success, observation = rollout
    rate = success[:EPISODES].max(axis=1).mean()
    # panda-gym's PandaPush-v3 with the same controller: 0.98 (python -m jaxik.bench fidelity);
    # the two simulations should agree within 10 points
    assert rate >= 0.88, rate
    cube_height = observation[:EPISODES, :, 8]
    assert cube_height.min() > 0.01  # never pressed into the table


def test_bad_settings_are_named_before_anything_is_built():
    with pytest.raises(ValueError, match="contact_impedance"):
        envs.make("PandaPush", contact_impedance=(0.9, 0.5))
    with pytest.raises(ValueError, match="task='reach'"):
        panda_manipulation.PandaManipulationConfig(task="reach")
    with pytest.raises(ValueError, match="n_substeps"):
        envs.make_config("PandaPush", n_substeps=0)


def test_euler_angles_and_world_angular_velocity_follow_pybullets_conventions():
    quarter = np.pi / 4
    # turned 90 degrees about z (yaw), then the object's own x axis is the world's y axis
    quat = jnp.array([np.cos(quarter), 0.0, 0.0, np.sin(quarter)])
    np.testing.assert_allclose(panda_manipulation.euler_xyz(quat), [0, 0, np.pi / 2], atol=1e-6)
    np.testing.assert_allclose(
        panda_manipulation.rotate(quat, jnp.array([1.0, 0.0, 0.0])), [0, 1, 0], atol=1e-6
    )
    # roll, pitch and yaw together: scipy's Rotation.from_euler("xyz", [0.3, -0.5, 1.2])
    quat = jnp.array([0.76982268, 0.25762854, -0.12014248, 0.57145985])
    np.testing.assert_allclose(panda_manipulation.euler_xyz(quat), [0.3, -0.5, 1.2], atol=1e-5)
