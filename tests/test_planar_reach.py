"""PlanarReach: the 2-D arm fixture for the learning tests."""

import jax
import jax.numpy as jnp
import numpy as np

import envs


def test_goals_fill_the_reachable_annulus():
    env = envs.make("PlanarReach")
    goals = np.asarray(
        jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.key(0), 4096)).obs["desired_goal"]
    )
    radius = np.linalg.norm(goals, axis=1)
    assert radius.min() >= 0.2 - 1e-6 and radius.max() <= 1.0 + 1e-6
    # uniform by area: half the goals lie beyond the radius that halves the annulus' area
    median_radius = np.sqrt((0.2**2 + 1.0**2) / 2)
    assert abs((radius > median_radius).mean() - 0.5) < 0.03
    angle = np.arctan2(goals[:, 1], goals[:, 0])
    assert np.histogram(angle, bins=8, range=(-np.pi, np.pi))[0].min() > 400


def test_step_moves_the_joints_and_observes_the_tip():
    env = envs.make("PlanarReach")
    state = env.reset(jax.random.key(1))
    np.testing.assert_allclose(state.obs["achieved_goal"], [0.6, 0.4], atol=1e-6)  # elbow bent
    state = jax.jit(env.step)(state, jnp.asarray([1.0, -1.0]))
    np.testing.assert_allclose(state.pipeline_state, [0.1, np.pi / 2 - 0.1], atol=1e-6)
    q1, q12 = 0.1, np.pi / 2
    tip = [0.6 * np.cos(q1) + 0.4 * np.cos(q12), 0.6 * np.sin(q1) + 0.4 * np.sin(q12)]
    np.testing.assert_allclose(state.obs["achieved_goal"], tip, atol=1e-6)
    assert state.obs["observation"].shape == (6,)


def test_every_goal_is_reachable():
    """Closed-form IK (law of cosines) finds joint angles that put the tip on each goal."""
    env = envs.make("PlanarReach")
    goals = jax.vmap(env.sample_goal)(jax.random.split(jax.random.key(2), 1024))
    upper, lower = env.config.link_lengths
    radius_sq = jnp.sum(goals**2, axis=1)
    cos_elbow = (radius_sq - upper**2 - lower**2) / (2 * upper * lower)
    assert float(jnp.abs(cos_elbow).max()) <= 1.0 + 1e-5
    elbow = jnp.arccos(jnp.clip(cos_elbow, -1.0, 1.0))
    shoulder = jnp.arctan2(goals[:, 1], goals[:, 0]) - jnp.arctan2(
        lower * jnp.sin(elbow), upper + lower * jnp.cos(elbow)
    )
    tips = jax.vmap(lambda q: env.joint_positions(q)[1])(jnp.stack([shoulder, elbow], axis=1))
    np.testing.assert_allclose(tips, goals, atol=1e-4)
