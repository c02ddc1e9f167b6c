"""PandaPickAndPlace: panda-gym's layout and goal distribution, fingers that open, close and hold
the cube, and a scripted controller that grasps the cube and carries it to the goal (the same
controller succeeds on panda-gym's own PandaPickAndPlace-v3: ``python -m jaxik.bench fidelity``).

One compiled rollout serves the physics checks: half the environments pick and place with the
scripted controller, the other half wave the arm high above the cube, opening and closing the
fingers at random; a few more start with the cube already held (``grasped_start``) and run the
scripted controller from there.
"""

import dataclasses

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
HELD = 8  # episodes that start with the cube held, after the two halves
STEPS = 50
WIDTH = 6  # the finger width's place in the observation
CUBE = slice(7, 10)  # the cube's position in the observation


@pytest.fixture(scope="module")
def pick():
    return envs.make("PandaPickAndPlace")


@pytest.fixture(scope="module")
def lowered(pick):
    """The rollout's program, lowered, and its arguments: the first ``EPISODES`` environments
    run the scripted controller, the next ``EPISODES`` wave the arm above the table, the last
    ``HELD`` start with the cube held and run the scripted controller."""
    held = envs.make("PandaPickAndPlace", grasped_start=1.0)

    def start(key, kind):
        return jax.lax.cond(kind == 2, held.reset, pick.reset, key)

    def step(state, key, kind):
        scripted_pick = kind != 1
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

    keys = jax.random.split(jax.random.key(0), 2 * EPISODES + HELD)
    kinds = jnp.repeat(jnp.arange(3), jnp.array([EPISODES, EPISODES, HELD]))
    return batched.rollout(start, step, keys, kinds, STEPS)


@pytest.fixture(scope="module")
def rollout(lowered):
    """Per environment and step: success [N, STEPS], the observation [N, STEPS, 19], and per
    environment the goal [N, 3] and the first observation [N, 19] (N = 2 * EPISODES + HELD)."""
    program, args = lowered
    start, (success, observation) = program.compile()(*args)
    first = start.obs
    return (
        np.asarray(success),
        np.asarray(observation),
        np.asarray(first["desired_goal"]),
        np.asarray(first["observation"]),
    )


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
    success, observation, goal, _ = rollout
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
    _, observation, _, _ = rollout
    waving = observation[EPISODES : 2 * EPISODES]
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


def test_a_grasped_start_holds_the_cube_and_the_controller_carries_it(rollout):
    """grasped_start=1: the arm at rest, the fingers touching the cube's sides, the ee
    GRASP_DEPTH below its centre; the scripted controller squeezes at once and carries the cube
    to every goal without setting it down first."""
    success, observation, goal, first = rollout
    held = slice(2 * EPISODES, None)
    rest = envs.make("PandaPickAndPlace").reset(jax.random.key(0)).obs["observation"]
    np.testing.assert_allclose(first[held, :3], np.broadcast_to(rest[:3], (HELD, 3)), atol=1e-6)
    np.testing.assert_allclose(first[held, WIDTH], 2 * CUBE_HALF, atol=1e-6)
    np.testing.assert_allclose(
        first[held, CUBE] - first[held, :3],
        [[0.0, 0.0, manipulation_scene.GRASP_DEPTH]] * HELD,
        atol=1e-6,
    )
    assert np.abs(first[held, 3:6]).max() == 0.0 and np.abs(first[held, 13:19]).max() == 0.0
    assert success[held].max(axis=1).all()
    carried = observation[held, :, CUBE][..., 2]
    # never set down on the way: until it reaches its goal, a cube bound for a goal in the air
    # stays at least 2 cm above the table (it dips a few centimetres where the arm moves along
    # x, whose IK lowers the hand as panda-gym's does)
    reached = success[held].argmax(axis=1)
    in_air = goal[held, 2] > CUBE_HALF + 0.03
    lowest = np.array(
        [height[:end].min() for height, end in zip(carried, reached + 1, strict=True)]
    )
    assert in_air.any() and (lowest[in_air] > CUBE_HALF + 0.02).all(), lowest


def test_grasped_start_draws_held_starts_and_is_judged_without_them(pick):
    half = envs.make("PandaPickAndPlace", grasped_start=0.5)
    obs = jax.jit(jax.vmap(half.reset))(jax.random.split(jax.random.key(2), 2000)).obs
    cube = np.asarray(obs["observation"][:, CUBE])
    held = cube[:, 2] > 0.1
    assert 0.45 < held.mean() < 0.55, held.mean()
    np.testing.assert_allclose(cube[~held, 2], CUBE_HALF, atol=1e-6)  # the others: panda-gym's
    judged = half.evaluation_env()
    assert judged.config == dataclasses.replace(half.config, grasped_start=0.0)
    assert pick.evaluation_env() is pick
    for name, value, allowed in (
        ("PandaPush", 0.5, "needs a task with the gripper"),
        ("PandaPickAndPlace", 1.5, r"\[0.0, 1.0\]"),
    ):
        with pytest.raises(ValueError, match=rf"grasped_start={value}.*{allowed}"):
            envs.make(name, grasped_start=value)


def test_the_trainer_judges_policies_without_held_starts(monkeypatch):
    """Training steps grasped_start's environment; evaluation runs on its evaluation_env()."""
    from jaxik import config
    from jaxik.device import evaluation, trainer

    judged = []
    make_evaluate = evaluation.make_evaluate

    def spy(env, *args):
        judged.append(env.unwrapped)
        return make_evaluate(env, *args)

    monkeypatch.setattr(evaluation, "make_evaluate", spy)
    overrides = {"env": "PandaPickAndPlace", "env_config": {"grasped_start": 0.5}}
    trainer.make_trainer(config.load(None, overrides))
    (env,) = judged
    assert env.config.task == "pick_and_place" and env.config.grasped_start == 0.0
