"""The Panda model against an independent NumPy chain, and MJX against plain MuJoCo."""

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from mujoco import mjx
from mujoco_reference import MujocoPanda, forward_kinematics

import envs
from envs import panda_model
from envs.arm_dynamics import ArmState
from envs.chain import KinematicChain


def test_reset_ee_position(panda_ee):
    state = panda_ee.reset(jax.random.key(0))
    np.testing.assert_allclose(state.obs["achieved_goal"], [0.0384, 0.0, 0.1974], atol=1e-3)
    np.testing.assert_allclose(state.obs["observation"][3:], 0.0, atol=1e-6)


def _random_poses(model, count: int, seed: int) -> np.ndarray:
    low, high = model.jnt_range[:, 0], model.jnt_range[:, 1]
    return np.random.default_rng(seed).uniform(low, high, size=(count, 7))


def test_ee_site_matches_numpy_forward_kinematics(panda_ee):
    env = panda_ee.env
    qpos = _random_poses(env.mj_model, 100, 0).astype(np.float32)
    chain_ee = jax.jit(jax.vmap(lambda q: env.chain.site_frame(q)[0]))(jnp.asarray(qpos))
    numpy_ee = np.stack([forward_kinematics(q.astype(np.float64)) for q in qpos])
    np.testing.assert_allclose(chain_ee, numpy_ee, atol=1e-5)


def test_chain_matches_mujoco_site_frame_and_jacobian(panda_ee):
    """The chain read out of the MJCF gives MuJoCo's site position, frame and Jacobians."""
    env, model = panda_ee.env, panda_ee.env.mj_model
    site = model.site(panda_model.EE_SITE).id
    qpos = _random_poses(model, 200, 1)
    frames = jax.jit(jax.vmap(env.chain.site_frame))(jnp.asarray(qpos, jnp.float32))
    data = mujoco.MjData(model)
    for i, q in enumerate(qpos):
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        jacp, jacr = np.zeros((3, 7)), np.zeros((3, 7))
        mujoco.mj_jacSite(model, data, jacp, jacr, site)
        expected = (data.site_xpos[site], data.site_xmat[site].reshape(3, 3), jacp, jacr)
        for got, want in zip(frames, expected, strict=True):
            np.testing.assert_allclose(np.asarray(got[i]), want, atol=1e-5)


def test_chain_refuses_joints_it_does_not_model():
    model = mujoco.MjModel.from_xml_string(
        '<mujoco><worldbody><body><freejoint/><geom size="0.1"/><site name="s"/></body>'
        "</worldbody></mujoco>"
    )
    with pytest.raises(ValueError, match="nq=7 != nv=6"):
        KinematicChain.from_model(model, "s")


def test_reduced_physics_step_equals_mjx_step():
    """The MJX stages ArmDynamics calls give mjx.step's qpos and qvel, from random states with
    random servo targets (what would change if a stage it skips mattered). Both controls share
    this physics: ee and joint control differ only in how an action becomes the servo targets
    (``ctrl`` here), and PandaReachJoints builds the same MuJoCo model, array for array."""
    env = envs.make("PandaReach")
    assert not env.dynamics.full
    joints = envs.make("PandaReachJoints").mj_model
    for field in dir(joints):
        if isinstance(value := getattr(joints, field), np.ndarray):
            np.testing.assert_array_equal(value, getattr(env.mj_model, field), err_msg=field)
    model, template = env.model, env.dynamics.template
    rng = np.random.default_rng(2)
    qpos = jnp.asarray(_random_poses(env.mj_model, 64, 3), jnp.float32)
    qvel = jnp.asarray(rng.normal(0.0, 1.0, (64, 7)), jnp.float32)
    ctrl = jnp.asarray(_random_poses(env.mj_model, 64, 4), jnp.float32)

    def both(q, v, c):
        data = template.replace(qpos=q, qvel=v, ctrl=c)
        full = mjx.step(model, data)
        reduced = env.dynamics.step(ArmState(q, v, data.qacc_warmstart), c)
        return (full.qpos, full.qvel), (reduced.qpos, reduced.qvel)

    full, reduced = jax.jit(jax.vmap(both))(qpos, qvel, ctrl)
    for f, r in zip(full, reduced, strict=True):
        np.testing.assert_allclose(np.asarray(r), np.asarray(f), rtol=1e-6, atol=1e-6)


def test_constrained_models_take_the_full_step():
    assert envs.make("PandaReach", joint_limits=True).dynamics.full
    assert envs.make("PandaReach", contacts=True).dynamics.full


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
