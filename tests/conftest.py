"""Shared, compiled-once environments for the tests, and one cache of compiled programs for the
whole test run.

Every test that trains through the host loop (``run.run_scan``, ``train.py``) reads and writes
compiled programs in one temporary directory, shared by the pytest-xdist workers and the
subprocesses they start: a program that two tests need (the same configuration, less the seed
and the budget) is compiled once. Loading instead of compiling is itself checked to give the
same numbers (tests/test_executables.py), and the resume tests compare a run that compiled with
one that loaded. The user's own cache (~/.cache/jaxik) is never touched.

On the CPU the suite compiles with LLVM's optimisation level 1 (``XLA_FLAGS``
``--xla_backend_optimization_level=1``, unless XLA_FLAGS already sets a level): the programs are
the same XLA programs, their native code less optimised. Most of the suite's time is
compiling; with this the default suite took 536 s instead of 649 s on 2 CPU cores, and a
PandaPush rollout of 64 episodes compiled in 18 s instead of 26 s and ran as fast. Results may
differ from a level-3 build in float rounding, which no test depends on: the bit-for-bit tests
compare two programs built the same way.
"""

import os
import shutil
import tempfile

import jax
import pytest

import envs

CACHE_VARIABLE = "JAXIK_CACHE_DIR"
TEST_OPTIMIZATION = "--xla_backend_optimization_level=1"


def _compile_faster_on_the_cpu():
    """Adds ``TEST_OPTIMIZATION`` to XLA_FLAGS when the CPU is the backend and no level is set
    (before any backend starts: XLA reads its flags once)."""
    from envs import platform

    flags = os.environ.get("XLA_FLAGS", "")
    if platform.cpu_is_backend() and "--xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {TEST_OPTIMIZATION}".strip()


def pytest_configure(config):
    # The controlling process makes the directory; xdist workers inherit it through the
    # environment, and so do the subprocesses tests start.
    if hasattr(config, "workerinput"):
        return
    _compile_faster_on_the_cpu()  # xdist workers and subprocesses inherit it
    directory = tempfile.mkdtemp(prefix="jaxik-test-programs-")
    config._jaxik_cache = (directory, os.environ.get(CACHE_VARIABLE))
    os.environ[CACHE_VARIABLE] = directory


def pytest_unconfigure(config):
    made = getattr(config, "_jaxik_cache", None)
    if made is None:
        return
    directory, previous = made
    shutil.rmtree(directory, ignore_errors=True)
    if previous is None:
        os.environ.pop(CACHE_VARIABLE, None)
    else:
        os.environ[CACHE_VARIABLE] = previous


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
