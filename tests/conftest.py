"""Shared, compiled-once environments for the tests."""

import jax
import pytest

import envs


class Compiled:
    """An environment with its jitted single and batched reset/step."""

    def __init__(self, env):
        self.env = env
        self.reset = jax.jit(env.reset)
        self.step = jax.jit(env.step)
        self.reset_batch = jax.jit(jax.vmap(env.reset))
        self.step_batch = jax.jit(jax.vmap(env.step))


@pytest.fixture(scope="session")
def panda_ee():
    return Compiled(envs.make("PandaReach"))


@pytest.fixture(scope="session")
def panda_joints():
    return Compiled(envs.make("PandaReachJoints"))
