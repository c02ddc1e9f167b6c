"""PandaSlide: panda-gym's layout and distributions, a puck that rests where nothing touches it,
and a struck puck that slides as far as its friction (0.02) and Bullet's damping let it.

One compiled rollout serves the physics checks: in half the environments the puck is set
sliding and the arm holds still; in the other half the arm waves high above the puck.
"""

import dataclasses

import batched
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from hlo import lapack_calls

import envs
from envs import manipulation_scene, panda_manipulation, panda_model, scripted

HALF_RANGE = 0.15
PUCK_HALF_HEIGHT = 0.015
EPISODES = 16  # per half of the rollout
STEPS = 50
SPEED = 0.3  # m/s, along x, given to the puck at the first step (it stops within 40 steps)
GRAVITY = 9.81


@pytest.fixture(scope="module")
def slide():
    return envs.make("PandaSlide")


@pytest.fixture(scope="module")
def lowered(slide):
    """The rollout's program, lowered, and its arguments: the first ``EPISODES`` pucks slide off
    at ``SPEED`` from x = -0.15 (the arm still), the others rest (the arm waves)."""

    def start(key, struck):
        state = slide.reset(key)
        scene = state.pipeline_state
        qpos = jnp.where(struck, scene.qpos.at[7:9].set(jnp.array([-0.15, 0.0])), scene.qpos)
        qvel = jnp.where(struck, scene.qvel.at[7].set(SPEED), scene.qvel)
        return state.replace(pipeline_state=scene.replace(qpos=qpos, qvel=qvel))

    def step(state, key, struck):
        uniform = jax.random.uniform(key, (3,), minval=-1.0, maxval=1.0)
        wave = scripted.wave(state.obs["observation"][:3], uniform)
        after = slide.step(state, jnp.where(struck, jnp.zeros(3), wave))
        return after, after.obs["observation"][6:]

    keys = jax.random.split(jax.random.key(0), 2 * EPISODES)
    struck = jnp.arange(2 * EPISODES) < EPISODES
    return batched.rollout(start, step, keys, struck, STEPS)


@pytest.fixture(scope="module")
def rollout(lowered):
    """The puck's observation block [2 * EPISODES, STEPS, 12] (see ``lowered``)."""
    program, args = lowered
    return np.asarray(program.compile()(*args)[1])


def test_no_lapack_call_in_the_batched_rollout(lowered):
    """Reset and step, vmapped: no LAPACK kernel, which hangs at thousands of environments on
    the CPU (tests/test_no_hang.py)."""
    assert not lapack_calls(lowered[0].as_text())


def test_spaces_and_start_are_panda_gyms(slide):
    assert slide.observation_size == {
        "observation": (18,),
        "achieved_goal": (3,),
        "desired_goal": (3,),
    }
    assert slide.action_size == 3
    states = jax.jit(jax.vmap(slide.reset))(jax.random.split(jax.random.key(1), 512))
    obs = jax.tree.map(np.asarray, states.obs)
    puck, goal = obs["observation"][:, 6:9], obs["desired_goal"]
    np.testing.assert_array_equal(obs["achieved_goal"], puck)
    np.testing.assert_allclose(puck[:, 2], PUCK_HALF_HEIGHT, atol=1e-6)  # at rest on the table
    assert np.abs(puck[:, :2]).max() <= HALF_RANGE
    assert np.abs(puck[:, :2]).max() > 0.9 * HALF_RANGE
    # goals: x in [0.25, 0.55], y in [-0.15, 0.15], at panda-gym's height of 0.03
    assert 0.25 <= goal[:, 0].min() < 0.27 and 0.53 < goal[:, 0].max() <= 0.55
    assert np.abs(goal[:, 1]).max() <= HALF_RANGE and np.abs(goal[:, 1]).max() > 0.9 * HALF_RANGE
    np.testing.assert_allclose(goal[:, 2], 0.03, rtol=1e-6)
    assert np.abs(obs["observation"][:, 9:]).max() == 0.0  # upright and at rest


def test_a_puck_nothing_touches_stays_where_it_is(rollout):
    resting = rollout[EPISODES:]
    position = resting[:, :, :3]
    np.testing.assert_allclose(position[:, :, 2], PUCK_HALF_HEIGHT, atol=1.5e-3)
    assert np.abs(position - position[:, :1]).max() < 1e-3  # not moved
    # not tipped: the soft contact lets it lean by at most 0.016 rad (0.5 mm at the rim, measured)
    assert np.abs(resting[:, :, 3:5]).max() < 0.03
    # still: below 1e-4 m/s but for a momentary jolt of the soft contact (at most 0.019 m/s,
    # measured), which moved no puck by 1 mm (above)
    speed = np.linalg.norm(resting[:, :, 6:9], axis=-1)
    assert np.median(speed) < 1e-4 and speed.max() < 0.05


def test_a_struck_puck_slides_as_far_as_friction_and_damping_let_it(rollout):
    """Decelerating at mu g + c v (mu = 0.02, c = 0.04 per second), a puck at v stops after
    v / c - (mu g / c^2) ln(1 + c v / (mu g)): 0.222 m from 0.3 m/s (panda-gym's PandaSlide-v3
    slid 0.219 m, set going as here); without the damping it would be 0.229 m."""
    struck = rollout[:EPISODES]
    mu_g = manipulation_scene.PUCK.table_friction * GRAVITY
    c = manipulation_scene.OBJECT_DAMPING
    expected = SPEED / c - mu_g / c**2 * np.log1p(c * SPEED / mu_g)
    travel = struck[:, -1, 0] + 0.15
    np.testing.assert_allclose(travel, expected, rtol=0.02)
    assert np.abs(struck[:, :, 1]).max() < 0.01  # straight along x
    assert np.linalg.norm(struck[:, -1, 6:9], axis=-1).max() < 1e-3  # at rest again
    np.testing.assert_allclose(struck[:, :, 2], PUCK_HALF_HEIGHT, atol=1.5e-3)  # on the table


def test_slide_uses_elliptic_friction_cones():
    """The pyramidal cones of Push do not converge for the puck's friction in 6 iterations."""
    assert envs.make_config("PandaSlide").friction_cone == "elliptic"
    assert envs.make_config("PandaSlideJointsDense").friction_cone == "elliptic"
    assert envs.make_config("PandaPush").friction_cone == "pyramidal"


@pytest.mark.parametrize("engine", ["mujoco", "mjx"])
def test_the_fingers_push_a_puck_along_their_face_where_the_engine_collides_boxes(slide, engine):
    """A flat finger face pushes the puck along the face's normal, whatever the side it meets,
    as panda-gym's boxes do; the capsule that stands in for the fingers on MJX (which collides
    no box with a cylinder) pushes it along the line between the two axes. Where a struck puck
    goes depends on it: panda-gym's scripted striker lands 14 % of its strikes, jaxik's 9 % with
    the box (MuJoCo's C engine) and 27 % with the capsule (docs/panda_manipulation_tasks.md)."""
    model = slide.native.model if engine == "mujoco" else slide.mj_model
    data = panda_model.neutral_data(model)
    fingers = "fingers" if engine == "mujoco" else manipulation_scene.CAPSULE_FINGERS
    face = data.geom(fingers)
    axes = face.xmat.reshape(3, 3)  # columns: the finger box's axes in the world
    half_x = manipulation_scene.CLOSED_FINGERS["size"][0]
    radius, off_centre = manipulation_scene.PUCK.size[0], 0.012  # the puck 1.2 cm to one side
    apart = np.sqrt((radius + half_x - 0.001) ** 2 - off_centre**2)  # 1 mm into the capsule
    puck = face.xpos + axes @ np.array([apart, off_centre, 0.0])
    first = slide.object_index
    data.qpos[first : first + 3], data.qpos[first + 3 : first + 7] = puck, (1.0, 0.0, 0.0, 0.0)
    mujoco.mj_forward(model, data)
    touching = model.geom(fingers).id
    contacts = np.flatnonzero((data.contact.geom == touching).any(axis=1))
    assert len(contacts) > 0
    normals = data.contact.frame[contacts, :3] @ axes  # in the finger box's frame
    sideways = np.abs(normals[:, 1]) / np.linalg.norm(normals[:, :2], axis=1)
    if engine == "mujoco":
        assert sideways.max() < 0.02  # along the face's normal
    else:
        expected = off_centre / (radius + half_x)  # the line between the axes
        np.testing.assert_allclose(sideways, expected, rtol=0.05)


def test_sliding_start_sets_pucks_sliding_and_is_judged_without_them(slide):
    """sliding_start=0.5: half the pucks start at panda-gym's place moving along the table at
    up to SLIDING_SPEED in any direction; evaluation starts every puck at rest."""
    half = envs.make("PandaSlide", sliding_start=0.5)
    obs = jax.jit(jax.vmap(half.reset))(jax.random.split(jax.random.key(3), 2000)).obs
    observation = np.asarray(obs["observation"])
    velocity = observation[:, 12:15]
    speed = np.linalg.norm(velocity, axis=-1)
    sliding = speed > 0
    assert 0.45 < sliding.mean() < 0.55, sliding.mean()
    assert speed.max() <= panda_manipulation.SLIDING_SPEED
    assert speed.max() > 0.95 * panda_manipulation.SLIDING_SPEED
    assert np.abs(velocity[:, 2]).max() == 0.0  # along the table
    direction = np.arctan2(velocity[sliding, 1], velocity[sliding, 0])
    assert np.histogram(direction, bins=4, range=(-np.pi, np.pi))[0].min() > 150  # any way
    assert np.abs(observation[:, 6:8]).max() <= HALF_RANGE  # where panda-gym starts it
    np.testing.assert_allclose(observation[:, 8], PUCK_HALF_HEIGHT, atol=1e-6)
    judged = half.evaluation_env()
    assert judged.config == dataclasses.replace(half.config, sliding_start=0.0)
    assert slide.evaluation_env() is slide
    for name, settings, allowed in (
        ("PandaStack", {"sliding_start": 0.5}, "one object and a position goal"),
        ("PandaFlip", {"sliding_start": 0.5}, "one object and a position goal"),
        ("PandaSlide", {"sliding_start": -0.1}, r"\[0.0, 1.0\]"),
        ("PandaPickAndPlace", {"sliding_start": 0.5, "grasped_start": 0.5}, "set one of them"),
    ):
        with pytest.raises(
            ValueError, match=rf"sliding_start={settings['sliding_start']}.*{allowed}"
        ):
            envs.make(name, **settings)
