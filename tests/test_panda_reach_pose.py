"""PandaReachPose: pose goals from the stated cone, the angle between orientations, success
only when both position and orientation are within their thresholds, rewards HER can recompute,
and end-effector control that turns the gripper."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import envs
from envs import panda_model, pose
from jaxik.bench import ik as ik_bench


@pytest.fixture(scope="module")
def pose_ee():
    env = envs.make("PandaReachPoseEE")
    return env, jax.jit(env.reset), jax.jit(env.step)


def test_six_numbers_round_trip_and_the_angle_is_the_rotations():
    rng = np.random.default_rng(0)
    a = Rotation.random(200, random_state=rng)
    b = Rotation.random(200, random_state=rng)
    six_a = pose.six(jnp.asarray(a.as_matrix(), jnp.float32))
    np.testing.assert_allclose(pose.rotation(six_a), a.as_matrix(), atol=1e-6)
    expected = (a.inv() * b).magnitude()
    got = pose.angle(six_a, pose.six(jnp.asarray(b.as_matrix(), jnp.float32)))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # small angles stay accurate (arccos of the trace alone would give 0 here)
    small = a * Rotation.from_rotvec(np.tile([2e-4, 0.0, 0.0], (200, 1)))
    got = pose.angle(six_a, pose.six(jnp.asarray(small.as_matrix(), jnp.float32)))
    np.testing.assert_allclose(got, 2e-4, rtol=0.05)


def test_goals_fill_the_box_and_the_cone():
    env = envs.make("PandaReachPose")
    goals = np.asarray(jax.vmap(env.sample_goal)(jax.random.split(jax.random.key(0), 4000)))
    position, orientation = goals[:, :3], goals[:, 3:]
    low, high = np.asarray(env.config.goal_low), np.asarray(env.config.goal_high)
    assert (position >= low).all() and (position <= high).all()
    rotation = np.asarray(pose.rotation(jnp.asarray(orientation)))
    np.testing.assert_allclose(
        rotation @ rotation.transpose(0, 2, 1), np.tile(np.eye(3), (4000, 1, 1)), atol=1e-5
    )
    tilt = np.degrees(np.arccos(np.clip(-rotation[:, 2, 2], -1, 1)))  # pointing axis vs down
    assert tilt.max() <= 30.01 and tilt.max() > 29.0
    # uniform over the cap: the share within 15 degrees is (1 - cos 15) / (1 - cos 30)
    share = (1 - math.cos(math.radians(15))) / (1 - math.cos(math.radians(30)))
    assert abs((tilt < 15).mean() - share) < 0.03
    # yaw: the heading of the x axis, measured on the goals tilted least
    upright = tilt < 3
    yaw = np.degrees(np.arctan2(rotation[upright, 1, 0], rotation[upright, 0, 0]))
    assert np.abs(yaw).max() <= 93 and np.abs(yaw).max() > 85
    assert (yaw < -45).mean() > 0.15 and (yaw > 45).mean() > 0.15


def test_success_needs_both_the_position_and_the_orientation():
    env = envs.make("PandaReachPose")
    dense = envs.make("PandaReachPoseDense")
    down = pose.six(jnp.asarray(panda_model.EE_DOWN_ROTATION, jnp.float32))
    goal = jnp.concatenate([jnp.zeros(3), down])

    def achieved(offset, degrees):
        turned = Rotation.from_rotvec([0.0, 0.0, math.radians(degrees)]).as_matrix()
        rotation = jnp.asarray(turned @ panda_model.EE_DOWN_ROTATION, jnp.float32)
        return jnp.concatenate([jnp.array([offset, 0.0, 0.0]), pose.six(rotation)])

    cases = [(0.04, 14.0, True), (0.06, 0.0, False), (0.0, 16.0, False), (0.06, 20.0, False)]
    batch = jnp.stack([achieved(d, a) for d, a, _ in cases])
    goals = jnp.broadcast_to(goal, batch.shape)
    expected = np.array([ok for _, _, ok in cases])
    np.testing.assert_array_equal(env.is_success(batch, goals), expected)
    np.testing.assert_array_equal(env.compute_reward(batch, goals), np.where(expected, 0.0, -1.0))
    metrics = env.goal_metrics(batch, goals)
    np.testing.assert_allclose(metrics["distance"], [d for d, _, _ in cases], atol=1e-6)
    np.testing.assert_allclose(np.degrees(metrics["angle"]), [a for _, a, _ in cases], atol=1e-3)
    # dense: metres plus radians weighed by 0.05 m / 15 degrees
    scale = 0.05 / math.radians(15)
    expected_dense = -(
        np.array([d for d, _, _ in cases]) + scale * np.radians([a for _, a, _ in cases])
    )
    np.testing.assert_allclose(dense.compute_reward(batch, goals), expected_dense, rtol=1e-5)


def test_reset_and_step_layouts_and_her_rewards(pose_ee):
    env, reset, step = pose_ee
    assert env.action_size == 6 and envs.make("PandaReachPose").action_size == 7
    assert env.observation_size == {
        "observation": (22,),
        "achieved_goal": (9,),
        "desired_goal": (9,),
    }
    state = reset(jax.random.key(3))
    obs = state.obs
    np.testing.assert_array_equal(obs["observation"][:9], obs["achieved_goal"])
    np.testing.assert_allclose(obs["observation"][15:], panda_model.NEUTRAL_QPOS, atol=1e-5)
    # a goal relabelled with the achieved one is a success (what HER's relabelling relies on)
    assert float(env.compute_reward(obs["achieved_goal"], obs["achieved_goal"])) == 0.0
    assert float(state.metrics["angle"]) == pytest.approx(
        float(pose.angle(obs["achieved_goal"][3:], obs["desired_goal"][3:])), abs=1e-6
    )
    after = step(state, jnp.zeros(6))
    assert after.reward == env.compute_reward(after.obs["achieved_goal"], after.obs["desired_goal"])


def test_the_rotation_action_turns_the_gripper_about_the_world_axis(pose_ee):
    """Full yaw action for 5 steps asks the gripper to turn 5 x 0.1 rad about the vertical;
    like the position (whose servos cover about half of 3 full steps' 0.15 m in 3 steps, as
    panda-gym's do), it turns by part of that (0.29 rad measured), and the grasp point moves
    by under a centimetre. Full position action alone turns the gripper little: 6 degrees in 3
    steps (measured; each step holds the measured orientation, which the servos' lag tilts while
    the arm accelerates), where a yaw action turns it 16."""
    _, reset, step = pose_ee
    state = reset(jax.random.key(0))
    start = state.obs["achieved_goal"]
    for _ in range(5):
        state = step(state, jnp.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0]))
    now = state.obs["achieved_goal"]
    turned = float(pose.angle(start[3:], now[3:]))
    assert 0.2 < turned < 0.5, turned
    x_axis = np.asarray(now[3:6])
    heading = np.arctan2(x_axis[1], x_axis[0])  # the whole turn is positive, about +z
    assert abs(heading - turned) < 0.02, (heading, turned)
    assert float(jnp.linalg.norm(now[:3] - start[:3])) < 0.01
    state = reset(jax.random.key(0))
    for _ in range(3):
        state = step(state, jnp.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
    assert float(pose.angle(start[3:], state.obs["achieved_goal"][3:])) < math.radians(10)
    assert float(state.obs["achieved_goal"][0] - start[0]) > 0.05


def test_damped_least_squares_reaches_the_goals():
    """The goal set is reachable: the IK bench's DLS pose solve (from the neutral pose, at most
    200 iterations, inside the joint limits) brings 99.8 % of 2,000 goals within the success
    thresholds (measured; the few it misses lie at the far edge of the box, tilted, where the
    wrist runs out of reach). 97.6 % converge to the solve's own tolerances (0.1 mm, 1 mrad)
    before the 200 iterations end."""
    env = envs.make("PandaReachPose")
    goals = jax.vmap(env.sample_goal)(jax.random.split(jax.random.key(5), 2000))
    outcome = jax.jit(jax.vmap(ik_bench.pose_dls_solve(env)))(goals)
    assert float(outcome.reached.mean()) >= 0.99
    assert not bool(outcome.violated.any())
    converged = (outcome.distance <= ik_bench.TOLERANCE) & (
        outcome.angle <= ik_bench.ANGLE_TOLERANCE
    )
    assert float(converged.mean()) >= 0.97
    assert int(outcome.count[converged].max()) < 200


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="goal_cone"):
        envs.make_config("PandaReachPose", goal_cone=4.0)
    with pytest.raises(ValueError, match="control_type"):
        envs.make_config("PandaReachPose", control_type="ee_pose")
    with pytest.raises(ValueError, match="angle_threshold"):
        envs.make_config("PandaReachPoseEE", angle_threshold=0.0)
