"""The Panda model against an independent NumPy chain, and MJX against plain MuJoCo."""

import jax
import jax.numpy as jnp
import numpy as np
from mujoco import mjx
from mujoco_reference import MujocoPanda, forward_kinematics

from envs import panda_model


def test_reset_ee_position(panda_ee):
    state = panda_ee.reset(jax.random.key(0))
    np.testing.assert_allclose(state.obs["achieved_goal"], [0.0384, 0.0, 0.1974], atol=1e-3)
    np.testing.assert_allclose(state.obs["observation"][3:], 0.0, atol=1e-6)


def test_ee_site_matches_numpy_forward_kinematics(panda_ee):
    env = panda_ee.env
    rng = np.random.default_rng(0)
    low, high = env.mj_model.jnt_range[:, 0], env.mj_model.jnt_range[:, 1]
    qpos = rng.uniform(low, high, size=(100, 7)).astype(np.float32)

    def ee(q):
        data = mjx.kinematics(env.model, env._neutral.replace(qpos=q))
        return data.site_xpos[env.mj_model.site(panda_model.EE_SITE).id]

    mjx_ee = np.asarray(jax.jit(jax.vmap(ee))(jnp.asarray(qpos)))
    numpy_ee = np.stack([forward_kinematics(q.astype(np.float64)) for q in qpos])
    np.testing.assert_allclose(mjx_ee, numpy_ee, atol=1e-5)


def _compare_rollouts(compiled, actions):
    reference = MujocoPanda(compiled.env)
    state = compiled.reset(jax.random.key(1))
    for action in actions:
        state = compiled.step(state, jnp.asarray(action, jnp.float32))
        np.testing.assert_allclose(state.obs["achieved_goal"], reference.step(action), atol=1e-4)


def test_mjx_matches_mujoco_joint_control(panda_joints):
    actions = np.random.default_rng(2).uniform(-1, 1, size=(40, 7))
    _compare_rollouts(panda_joints, actions)


def test_mjx_matches_mujoco_ee_control(panda_ee):
    # Random directions within the goal box's reach: a real episode, not a 2-metre stretch.
    actions = np.random.default_rng(3).uniform(-1, 1, size=(40, 3)) * 0.5
    _compare_rollouts(panda_ee, actions)
