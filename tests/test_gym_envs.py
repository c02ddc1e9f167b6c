"""The gymnasium face of the tasks: registration, gymnasium's env checker, seeding, episode ends,
the batched reward SB3's HER calls, and the vector env's next-step autoreset."""

import gymnasium as gym
import jax
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import envs
import jaxik  # noqa: F401  (registers the ids)
from jaxik import gym_registration
from jaxik.gym_envs import ReachEnv, ReachVectorEnv

IDS = [gym_registration.gym_id(task) for task in gym_registration.TASKS]
# The default suite checks PandaReach and the planar arm; the other Panda tasks and variants
# differ in the reward (checked below against the task's own), the action or the scene, and
# their checker runs (35 to 50 s of compiling each) are in the slow suite.
CHECKED = [
    pytest.param(i, marks=pytest.mark.slow) if i.startswith("jaxik/Panda") and i != IDS[0]
    else i
    for i in IDS
]  # fmt: skip


def test_every_task_is_registered():
    assert gym_registration.TASKS == envs.ENV_NAMES
    for gym_id in IDS:
        assert gym_id in gym.registry


@pytest.mark.parametrize("task", gym_registration.TASKS)
def test_each_id_limits_episodes_to_its_tasks_length(task):
    spec = gym.spec(gym_registration.gym_id(task))
    assert spec.max_episode_steps == envs.make_config(task).episode_length
    assert spec.max_episode_steps == (100 if task.startswith("PandaStack") else 50)


def test_an_episode_longer_than_the_id_needs_max_episode_steps_too():
    def truncations(env, steps):
        env.reset(seed=0)
        return [env.step(np.zeros(2, np.float32))[3] for _ in range(steps)]

    quiet = {"terminate_on_success": False}
    cut = gym.make("jaxik/PlanarReach-v0", episode_length=80, **quiet)
    assert truncations(cut, 50) == [False] * 49 + [True]  # gymnasium's TimeLimit, at 50
    whole = gym.make("jaxik/PlanarReach-v0", episode_length=80, max_episode_steps=80, **quiet)
    assert truncations(whole, 80) == [False] * 79 + [True]
    with pytest.raises(ValueError, match=r"episode_length=80 .* max_episode_steps=50"):
        gym.make_vec("jaxik/PlanarReach-v0", num_envs=2, episode_length=80)
    vec = gym.make_vec("jaxik/PlanarReach-v0", num_envs=2, episode_length=80, max_episode_steps=80)
    assert vec.num_envs == 2


@pytest.mark.parametrize("gym_id", CHECKED)
def test_gymnasium_env_checker_passes(gym_id):
    env = gym.make(gym_id, render_mode="rgb_array")
    check_env(env.unwrapped)
    assert isinstance(env.unwrapped, ReachEnv)
    obs, info = env.reset(seed=1)
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"}
    assert info == {"is_success": False}
    env.close()


def test_spaces_are_panda_gyms():
    env = gym.make("jaxik/PandaReach-v0")
    space = env.observation_space
    assert space["observation"].shape == (6,) and space["desired_goal"].shape == (3,)
    assert space["achieved_goal"].shape == (3,) and space["observation"].dtype == np.float32
    assert env.action_space.shape == (3,) and env.action_space.low.min() == -1.0
    assert gym.make("jaxik/PandaReachJoints-v0").action_space.shape == (7,)


def test_same_seed_same_episode_other_seed_other_goal():
    env = gym.make("jaxik/PlanarReach-v0")
    first, _ = env.reset(seed=7)
    again, _ = env.reset(seed=7)
    other, _ = env.reset(seed=8)
    np.testing.assert_array_equal(first["desired_goal"], again["desired_goal"])
    assert not np.array_equal(first["desired_goal"], other["desired_goal"])


def test_success_terminates_and_the_time_limit_truncates():
    env = gym.make("jaxik/PlanarReach-v0", distance_threshold=10.0)  # every state succeeds
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(np.zeros(2, np.float32))
    assert terminated and not truncated and info["is_success"] and reward == 0.0
    env = gym.make("jaxik/PlanarReach-v0", episode_length=3, terminate_on_success=False)
    env.reset(seed=0)
    ends = [env.step(np.zeros(2, np.float32))[2:4] for _ in range(3)]
    assert ends == [(False, False), (False, False), (False, True)]


def test_step_reward_is_compute_reward_of_its_goals():
    for gym_id in ("jaxik/PandaReach-v0", "jaxik/PandaReachDense-v0"):
        env = gym.make(gym_id)
        env.reset(seed=3)
        for _ in range(5):
            obs, reward, *_ = env.step(env.action_space.sample())
            expected = env.unwrapped.compute_reward(obs["achieved_goal"], obs["desired_goal"], {})
            assert reward == pytest.approx(float(expected), abs=1e-6)


goals = hnp.arrays(np.float32, (5, 3), elements=st.floats(-1, 1, width=32))


@settings(max_examples=40, deadline=None)
@given(achieved=goals, desired=goals, dense=st.booleans())
def test_batched_compute_reward_is_the_tasks_reward(achieved, desired, dense):
    """The NumPy reward SB3's HerReplayBuffer calls on batches equals the JAX one that training
    and the environment use."""
    task = "PlanarReachDense" if dense else "PlanarReach"
    env = ReachEnv(task)
    got = env.compute_reward(achieved[:, :2], desired[:, :2], [{}] * 5)
    expected = np.asarray(env.task.compute_reward(achieved[:, :2], desired[:, :2]))
    assert got.shape == (5,) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_bad_settings_and_actions_name_the_problem():
    with pytest.raises(ValueError, match="ee_stepp"):
        gym.make("jaxik/PandaReach-v0", ee_stepp=0.1)
    with pytest.raises(ValueError, match="render_mode"):
        ReachEnv("PlanarReach", render_mode="human")
    env = gym.make("jaxik/PlanarReach-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"expected \(2,\)"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="num_envs"):
        gym.make_vec("jaxik/PlanarReach-v0", num_envs=0)


@pytest.mark.parametrize(
    "task", ["PlanarReach", pytest.param("PandaReach", marks=pytest.mark.slow)]
)
def test_make_vec_is_one_batch_with_next_step_autoreset(task):
    vec = gym.make_vec(gym_registration.gym_id(task), num_envs=4, episode_length=3)
    assert isinstance(vec, ReachVectorEnv) and isinstance(vec, gym.vector.VectorEnv)
    assert vec.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    assert vec.observation_space["observation"].shape == (4, 6)
    obs, _ = vec.reset(seed=0)
    goals = obs["desired_goal"].copy()
    zeros = np.zeros(vec.action_space.shape, np.float32)
    for _ in range(2):
        _, _, terminated, truncated, _ = vec.step(zeros)
        assert not terminated.any() and not truncated.any()
    obs, reward, terminated, truncated, info = vec.step(zeros)
    assert truncated.all() and not terminated.any()
    np.testing.assert_array_equal(obs["desired_goal"], goals)  # still the ended episodes
    obs, reward, terminated, truncated, info = vec.step(np.ones(vec.action_space.shape))
    assert not truncated.any() and not terminated.any() and (reward == 0).all()
    assert not (obs["desired_goal"] == goals).all(axis=1).any(), "every copy has a new goal"
    reset_tip = np.asarray(vec.task.reset(jax.random.key(0)).obs["achieved_goal"])
    np.testing.assert_allclose(obs["achieved_goal"], np.tile(reset_tip, (4, 1)), atol=1e-6)
    assert info["is_success"].shape == (4,) and info["_is_success"].all()


def test_vector_copy_i_is_the_single_env_seeded_seed_plus_i():
    vec = gym.make_vec("jaxik/PlanarReach-v0", num_envs=3)
    single = gym.make("jaxik/PlanarReach-v0")
    vec_obs, _ = vec.reset(seed=10)
    actions = np.random.default_rng(0).uniform(-1, 1, (4, 3, 2)).astype(np.float32)
    for i in range(3):
        obs, _ = single.reset(seed=10 + i)
        np.testing.assert_array_equal(obs["desired_goal"], vec_obs["desired_goal"][i])
    vec_steps = [vec.step(a)[:2] for a in actions]
    for i in range(3):
        single.reset(seed=10 + i)
        for t, a in enumerate(actions):
            obs, reward, *_ = single.step(a[i])
            assert reward == vec_steps[t][1][i]
            np.testing.assert_allclose(obs["observation"], vec_steps[t][0]["observation"][i],
                                       atol=1e-4)  # fmt: skip
    vec.close()
