"""PandaReach's task rules: goals, rewards, episode ends, resets, batching, bad input."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.panda_reach import PandaReachConfig


def first_state(env):
    """A jitted reset's state: committed arrays, as a jitted step returns them. From an eager
    reset some are uncommitted, and the jitted step would compile a second time for the states
    it returns itself."""
    return jax.jit(env.reset)(jax.random.key(0))


def test_goals_fill_the_box_and_stay_in_it(panda_ee):
    goals = np.asarray(
        panda_ee.reset_batch(jax.random.split(jax.random.key(0), 4096)).obs["desired_goal"]
    )
    low, high = np.array([-0.15, -0.15, 0.0]), np.array([0.15, 0.15, 0.3])
    assert (goals >= low).all() and (goals <= high).all()
    # Uniform: every one of the 4 x 4 x 4 sub-boxes gets a share near 4096 / 64 = 64.
    cells = np.floor((goals - low) / (high - low) * 4).clip(0, 3).astype(int)
    counts = np.bincount(cells[:, 0] * 16 + cells[:, 1] * 4 + cells[:, 2], minlength=64)
    assert counts.min() > 30 and counts.max() < 110
    np.testing.assert_allclose(goals.mean(0), (low + high) / 2, atol=0.01)


def test_goals_depend_on_the_key(panda_ee):
    def goal(seed):
        return np.asarray(panda_ee.reset(jax.random.key(seed)).obs["desired_goal"])

    np.testing.assert_array_equal(goal(3), goal(3))
    assert not np.allclose(goal(3), goal(4))


@pytest.mark.parametrize("reward_type", ["sparse", "dense"])
def test_reward_and_success_at_the_threshold(reward_type):
    env = envs.make("PandaReach", reward_type=reward_type)
    goal = jnp.zeros((4, 3))
    # distances just inside, exactly at (in float32), and just outside 5 cm
    distance = jnp.asarray([0.0, 0.0499, 0.05, 0.0501], jnp.float32)
    achieved = goal.at[:, 0].set(distance)
    reward = np.asarray(env.compute_reward(achieved, goal))
    success = np.asarray(env.is_success(achieved, goal))
    if reward_type == "sparse":
        np.testing.assert_array_equal(reward, [0.0, 0.0, 0.0, -1.0])
    else:
        np.testing.assert_allclose(reward, -np.asarray(distance), rtol=1e-6)
    np.testing.assert_array_equal(success, [True, True, False, False])


def test_truncation_at_exactly_step_50(panda_joints):
    state = panda_joints.reset(jax.random.key(0))
    state = state.replace(info=dict(state.info, goal=jnp.asarray([5.0, 5.0, 5.0])))  # unreachable
    for step in range(1, 51):
        state = panda_joints.step(state, jnp.zeros(7))
        assert float(state.done) == (1.0 if step == 50 else 0.0), step
        assert float(state.info["truncation"]) == (1.0 if step == 50 else 0.0)
        assert float(state.info["terminated"]) == 0.0


def _hold_at_goal(compiled):
    """One step with the goal placed on the ee: success on the first step."""
    state = compiled.reset(jax.random.key(0))
    state = state.replace(info=dict(state.info, goal=state.obs["achieved_goal"]))
    return compiled.step(state, jnp.zeros(compiled.env.action_size))


def test_termination_on_success(panda_joints):
    state = _hold_at_goal(panda_joints)
    assert float(state.metrics["success"]) == 1.0
    assert float(state.done) == 1.0 and float(state.info["terminated"]) == 1.0
    assert float(state.info["truncation"]) == 0.0


def test_no_termination_when_off():
    env = envs.make("PandaReachJoints", terminate_on_success=False)
    compiled = jax.jit(env.step)
    state = first_state(env)
    state = state.replace(info=dict(state.info, goal=state.obs["achieved_goal"]))
    for step in range(1, 51):
        state = compiled(state, jnp.zeros(7))
        assert float(state.metrics["success"]) == 1.0
        assert float(state.info["terminated"]) == 0.0
        assert float(state.done) == (1.0 if step == 50 else 0.0)


def test_nonfinite_physics_ends_the_episode_and_resets(panda_joints):
    state = panda_joints.reset(jax.random.key(0))
    data = state.pipeline_state
    state = state.replace(pipeline_state=data.replace(qvel=data.qvel.at[3].set(jnp.nan)))
    state = panda_joints.step(state, jnp.zeros(7))
    assert float(state.metrics["nonfinite_reset"]) == 1.0
    assert float(state.info["terminated"]) == 1.0 and float(state.done) == 1.0
    for leaf in jax.tree.leaves((state.obs, state.reward, state.pipeline_state.qpos)):
        assert np.isfinite(np.asarray(leaf)).all()
    np.testing.assert_allclose(state.obs["achieved_goal"], [0.0384, 0.0, 0.1974], atol=1e-3)


def test_auto_reset_draws_a_new_goal_and_keeps_the_final_observation(panda_joints):
    env = envs.AutoResetWrapper(panda_joints.env)
    step = jax.jit(env.step)
    state = first_state(env)
    old_goal = state.info["goal"]
    state = state.replace(info=dict(state.info, goal=state.obs["achieved_goal"]))
    ended = step(state, jnp.zeros(7))  # succeeds, so the episode ends and resets
    assert float(ended.done) == 1.0 and float(ended.info["terminated"]) == 1.0
    assert int(ended.info["steps"]) == 0
    assert not np.allclose(ended.info["goal"], old_goal)
    np.testing.assert_array_equal(ended.obs["desired_goal"], ended.info["goal"])
    # The learner's next observation is the ended episode's last one, with its goal.
    np.testing.assert_array_equal(
        ended.info["final_obs"]["desired_goal"], state.obs["achieved_goal"]
    )
    again = step(ended, jnp.zeros(7))
    assert float(again.done) == 0.0 and int(again.info["steps"]) == 1
    np.testing.assert_array_equal(again.info["final_obs"]["observation"], again.obs["observation"])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: envs.make("PandaStak"), "unknown environment 'PandaStak'"),
        (lambda: envs.make("PandaReach", threshold=0.1), "unknown configuration key"),
        (lambda: envs.make("PandaReach", distance_threshold=-0.01), "distance_threshold=-0.01"),
        (lambda: envs.make("PandaReach", control_type="torque"), "control_type='torque'"),
        (lambda: envs.make("PandaReach", n_substeps=0), "n_substeps=0"),
        (lambda: envs.make("PlanarReach", episode_length=2.5), "episode_length=2.5"),
        (lambda: PandaReachConfig(goal_low=(0.2, 0.0, 0.0)), "goal_low"),
    ],
)
def test_bad_configuration_is_named(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_wrong_action_shape_fails_while_tracing(panda_ee):
    state = panda_ee.reset(jax.random.key(0))
    with pytest.raises(ValueError, match=r"action has shape \(7,\), expected \(3,\)"):
        jax.jit(panda_ee.env.step).lower(state, jnp.zeros(7))


def test_config_is_frozen_and_documented():
    config = PandaReachConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.episode_length = 10  # type: ignore[misc]
    assert envs.make("PandaReach").observation_size == {
        "achieved_goal": (3,),
        "desired_goal": (3,),
        "observation": (6,),
    }


@pytest.mark.parametrize("contacts", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_contacts_option_stops_the_arm_at_the_table(contacts, panda_joints):
    if contacts:
        env = envs.make("PandaReachJoints", contacts=True, joint_limits=True)
        step, state = jax.jit(env.step), first_state(env)
    else:  # the defaults: conftest's compiled PandaReachJoints
        step, state = panda_joints.step, panda_joints.reset(jax.random.key(0))
    for _ in range(40):  # tilt the shoulder forward: the hand goes down into the table
        state = step(state, jnp.asarray([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
    ee_height = float(state.obs["achieved_goal"][2])
    assert np.isfinite(np.asarray(state.obs["observation"])).all()
    # the fingertips end 2 mm below the grasp point; without contacts the arm passes through
    assert (ee_height > -0.01) if contacts else (ee_height < -0.1), ee_height
