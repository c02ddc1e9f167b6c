"""The Panda's physics set up per backend (envs/panda_model.py, PHYSICS_CHOICES): the CPU's choice
(sparse mass matrix, conjugate gradients: no LAPACK) and a GPU's (dense, Newton) compute the
same physics, checked here on the CPU, where both run."""

import re

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

import envs
from envs import panda_model

ON_CPU = jax.default_backend() == "cpu"


def test_each_backend_gets_its_choice():
    here = envs.make("PandaReach").mj_model.opt
    expected = panda_model.PHYSICS_CHOICES["cpu" if ON_CPU else "gpu"]
    assert (here.jacobian, here.solver) == (expected.jacobian, expected.solver)
    gpu = envs.make("PandaReach", physics_backend="gpu").mj_model.opt
    assert gpu.jacobian == mujoco.mjtJacobian.mjJAC_DENSE
    assert gpu.solver == mujoco.mjtSolver.mjSOL_NEWTON


def test_a_backend_not_in_the_table_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"physics_backend='tpu'.*'auto', 'cpu', 'gpu'"):
        envs.make_config("PandaReach", physics_backend="tpu")


def lapack_calls(env) -> list[str]:
    state = jax.eval_shape(jax.vmap(env.reset), jax.random.split(jax.random.key(0), 8))
    actions = jnp.zeros((8, env.action_size))
    text = jax.jit(jax.vmap(env.step)).lower(state, actions).as_text()
    return re.findall(r"custom_call @(\w*lapack\w*)", text)


@pytest.mark.skipif(not ON_CPU, reason="LAPACK is the CPU's; a GPU factorises with cuSOLVER")
def test_the_choice_changes_the_program():
    """The GPU's dense mass matrix is factored by a LAPACK call on the CPU (cuSOLVER on a GPU);
    the CPU's choice has none (tests/test_no_hang.py says why that matters)."""
    assert not lapack_calls(envs.make("PandaReachJoints", physics_backend="cpu"))
    assert lapack_calls(envs.make("PandaReachJoints", physics_backend="gpu"))


def observations(step, reset, actions: np.ndarray, seed: int) -> np.ndarray:
    """[steps, 6]: ee position and velocity after each of ``actions`` [steps, action_size]."""
    state = reset(jax.random.key(seed))
    seen = []
    for action in actions:
        state = step(state, jnp.asarray(action))
        seen.append(np.asarray(state.obs["observation"]))
    return np.stack(seen)


def jitted(env):
    return jax.jit(env.step), jax.jit(env.reset)


def test_both_choices_compute_the_same_physics(panda_joints):
    """50 steps of random joint actions (two episodes), without constraints: only the mass
    matrix's factorisation differs (and the IK of end-effector control is the same code either
    way). Measured: positions agree within 3e-7 m and velocities within 2.2e-6 m/s; under
    end-effector control, whose IK carries the rounding further, 7e-6 m and 1.4e-4 m/s."""
    assert panda_joints.env.config.physics_backend == "auto"  # the CPU's choice on a CPU
    gpu = jitted(envs.make("PandaReachJoints", physics_backend="gpu"))
    for seed in range(2):
        actions = np.random.default_rng(seed).uniform(-1, 1, (50, panda_joints.env.action_size))
        one = observations(panda_joints.step, panda_joints.reset, actions, seed)
        other = observations(*gpu, actions, seed)
        np.testing.assert_allclose(one[:, :3], other[:, :3], atol=1e-5, err_msg="position")
        np.testing.assert_allclose(one[:, 3:], other[:, 3:], atol=1e-4, err_msg="velocity")


@pytest.mark.slow
def test_both_solvers_stop_the_arm_at_the_same_place_on_the_table():
    """Contacts and joint limits on, the hand pressed into the table for 40 steps: conjugate
    gradients (CPU) and Newton (GPU) solve the same constraints. Measured: positions agree within
    0.2 mm and velocities within 2.4 mm/s; more CG iterations do not change CG's answer."""
    actions = np.tile([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], (40, 1))
    seen = [
        observations(
            *jitted(
                envs.make("PandaReachJoints", contacts=True, joint_limits=True, physics_backend=b)
            ),
            actions,
            seed=0,
        )
        for b in ("cpu", "gpu")
    ]
    assert seen[0][-1, 2] < 0.01, "the hand should be down at the table"
    np.testing.assert_allclose(seen[0][:, :3], seen[1][:, :3], atol=1e-3, err_msg="position")
    np.testing.assert_allclose(seen[0][:, 3:], seen[1][:, 3:], atol=1e-2, err_msg="velocity")
