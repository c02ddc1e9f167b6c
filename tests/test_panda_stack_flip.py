"""PandaStack and PandaFlip: panda-gym's layout, goal distributions and rewards, and their physics
on MuJoCo's C engine: Stack's second cube drops onto the table, or onto the first where the two
start one above the other; Flip's cube keeps its orientation while nothing touches it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs import panda_model, reward

HALF_RANGE = 0.15  # panda-gym's 0.3 m squares for the cubes' starts and the goals' xy
CUBE_HALF = 0.02
ZERO_STEPS = 10


@pytest.fixture(scope="module")
def stack():
    return envs.make("PandaStack")


@pytest.fixture(scope="module")
def flip():
    return envs.make("PandaFlip")


def test_layout_is_panda_gyms(stack, flip):
    """Observation 7 + 12 per cube (Stack 31; Flip 20, its rotation a quaternion), goals of 6
    (two positions) and 4 (a quaternion), the gripper's fourth action; Stack's episodes last
    100 steps and succeed within 0.1 m, Flip's within an angle distance of 0.2."""
    expected = {
        "PandaStack": ({"observation": (31,), "achieved_goal": (6,), "desired_goal": (6,)}, 4),
        "PandaFlip": ({"observation": (20,), "achieved_goal": (4,), "desired_goal": (4,)}, 4),
        "PandaStackJoints": (None, 8),
        "PandaFlipJointsDense": (None, 8),
    }
    for name, (sizes, actions) in expected.items():
        env = {"PandaStack": stack, "PandaFlip": flip}.get(name) or envs.make(name)
        assert env.action_size == actions, name
        if sizes:
            assert env.observation_size == sizes, name
    assert (stack.config.episode_length, stack.config.distance_threshold) == (100, 0.1)
    assert (flip.config.episode_length, flip.config.distance_threshold) == (50, 0.2)
    assert envs.make_config("PandaFlipDense").reward_type == "dense"


def test_stack_goals_are_a_stack_at_one_xy(stack):
    goals = np.asarray(
        jax.jit(jax.vmap(stack.sample_goal))(jax.random.split(jax.random.key(0), 2000))
    )
    first, second = goals[:, :3], goals[:, 3:]
    np.testing.assert_allclose(first[:, 2], CUBE_HALF)
    np.testing.assert_allclose(second[:, 2], 3 * CUBE_HALF, rtol=1e-6)
    np.testing.assert_array_equal(first[:, :2], second[:, :2])
    assert np.abs(first[:, :2]).max() <= HALF_RANGE and np.abs(first[:, :2]).max() > 0.14


def test_flip_goals_are_uniform_over_rotations(flip):
    """Unit quaternions; uniform over rotations, each component's square averages 1/4, and the
    angle distance from the start's orientation 3/4 (both within three standard errors)."""
    keys = jax.random.split(jax.random.key(1), 4000)
    goals = np.asarray(jax.jit(jax.vmap(flip.sample_goal))(keys), np.float64)
    np.testing.assert_allclose(np.linalg.norm(goals, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose((goals**2).mean(axis=0), 0.25, atol=0.015)
    upright = np.array([0.0, 0.0, 0.0, 1.0])
    distance = np.asarray(reward.angle_distance(jnp.asarray(goals), jnp.asarray(upright)))
    assert abs(distance.mean() - 0.75) < 3 * distance.std() / np.sqrt(len(distance))


def test_flip_reward_is_panda_gyms_angle_distance(flip):
    """Sign-invariant (q and -q are one orientation), 1 at half a turn, sparse below 0.2 (53
    degrees). With panda-gym installed, equal to its own ``angle_distance`` on random pairs."""
    identity, half_turn = jnp.array([0.0, 0.0, 0.0, 1.0]), jnp.array([1.0, 0.0, 0.0, 0.0])
    assert float(flip.goal_distance(identity, -identity)) == 0.0
    assert float(flip.goal_distance(identity, half_turn)) == 1.0
    turned = lambda degrees: jnp.array([np.sin(np.radians(degrees) / 2), 0, 0,  # noqa: E731
                                        np.cos(np.radians(degrees) / 2)])  # fmt: skip
    assert float(flip.compute_reward(turned(50.0), identity)) == 0.0
    assert float(flip.compute_reward(turned(56.0), identity)) == -1.0
    assert bool(flip.is_success(turned(50.0), identity))
    utils = pytest.importorskip("panda_gym.utils")
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = (q / np.linalg.norm(q) for q in rng.normal(size=(2, 4)))
        expected = utils.angle_distance(a, b)
        np.testing.assert_allclose(float(flip.goal_distance(jnp.asarray(a), jnp.asarray(b))),
                                   expected, rtol=1e-5, atol=1e-6)  # fmt: skip


def test_stack_succeeds_on_the_joint_distance_as_panda_gym(stack):
    """panda-gym judges the two cubes' positions as one 6-D vector against 0.1 m: the first cube
    on its goal and the second on the table beside it (4 cm aside, 4 cm low) counts, 0.057 m."""
    goal = jnp.array([0.0, 0.0, 0.02, 0.0, 0.0, 0.06])
    beside = jnp.array([0.0, 0.0, 0.02, 0.04, 0.0, 0.02])
    assert bool(stack.is_success(beside, goal))
    assert float(stack.compute_reward(beside, goal)) == 0.0
    apart = jnp.array([0.0, 0.0, 0.02, 0.1, 0.0, 0.02])
    assert float(stack.compute_reward(apart, goal)) == -1.0


@pytest.fixture(scope="module")
def rested(stack, flip):
    """Observations after ``ZERO_STEPS`` zero actions: Stack with the second cube starting 4 cm
    above the first, and 4 cm up beside it; Flip's cube from a reset."""
    arm = jnp.asarray(panda_model.NEUTRAL_QPOS, jnp.float32)
    goal = jnp.array([0.0, 0.0, 0.02, 0.0, 0.0, 0.06])
    stacked = jnp.array([[0.05, 0.05, 0.02], [0.05, 0.05, 0.06]])
    beside = jnp.array([[0.05, 0.05, 0.02], [-0.08, -0.1, 0.06]])

    def run(env, state):
        def step(state, _):
            state = env.step(state, jnp.zeros(env.action_size))
            return state, None

        return jax.lax.scan(step, state, None, length=ZERO_STEPS)[0].obs

    @jax.jit
    def both():
        starts = [stack.state_at(arm, positions, goal) for positions in (stacked, beside)]
        return [run(stack, s) for s in starts], run(flip, flip.reset(jax.random.key(3)))

    return jax.tree.map(np.asarray, both())


def test_the_second_cube_drops_onto_the_first_or_the_table(rested):
    (on_top, beside), _ = rested
    for obs in (on_top, beside):
        assert np.isfinite(obs["observation"]).all()
        np.testing.assert_allclose(obs["achieved_goal"][2], CUBE_HALF, atol=0.003)
    np.testing.assert_allclose(on_top["achieved_goal"][3:], [0.05, 0.05, 3 * CUBE_HALF], atol=0.004)
    np.testing.assert_allclose(beside["achieved_goal"][5], CUBE_HALF, atol=0.003)
    cube2 = slice(7 + 12, 7 + 15)  # the second cube's position in the observation
    np.testing.assert_array_equal(beside["observation"][cube2], beside["achieved_goal"][3:])


def test_flips_cube_keeps_its_orientation_at_rest(rested):
    _, obs = rested
    np.testing.assert_allclose(obs["achieved_goal"], [0.0, 0.0, 0.0, 1.0], atol=1e-3)
    np.testing.assert_array_equal(obs["observation"][10:14], obs["achieved_goal"])
    np.testing.assert_allclose(obs["observation"][9], CUBE_HALF, atol=0.003)
