"""Large batches run on the CPU: no LAPACK call in a compiled environment step, and the documented
pattern completes at 4,096 PandaReach environments.

The hang this guards against: jaxlib 0.10's batched LAPACK kernels (``cho_factor``,
``jnp.linalg.solve``) split a large batch over XLA's intra-op thread pool and block until the
pieces are done; when XLA runs as many of them at once as the pool has threads (2 on a 2-core
machine), every thread waits and the call never returns (0 % CPU, futex wait in
BlockUntilReady). The environments therefore use MJX's sparse (plain JAX) mass-matrix
factorisation and envs.linalg.solve_spd instead.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hlo import lapack_calls

import envs
from envs.linalg import solve_spd

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("PandaReach", {}),
        ("PandaReachJoints", {}),
        ("PandaReach", {"joint_limits": True}),
        ("PandaReach", {"contacts": True}),
        # The manipulation tasks' steps are checked in the default suite inside the rollouts that
        # tests/test_panda_push.py, test_panda_slide.py and test_panda_pick_and_place.py compile
        # anyway; joint control solves nothing, and its contact physics is PandaPush's.
        pytest.param("PandaPush", {}, marks=pytest.mark.slow),
        pytest.param("PandaPushJoints", {}, marks=pytest.mark.slow),
        pytest.param("PandaSlide", {}, marks=pytest.mark.slow),
        pytest.param("PandaPickAndPlace", {}, marks=pytest.mark.slow),
    ],
    ids=["ee", "joints", "joint_limits", "contacts", "push", "push_joints", "slide", "pick"],
)
def test_no_lapack_call_in_a_batched_step(name, overrides):
    env = envs.AutoResetWrapper(envs.make(name, **overrides))
    state = jax.eval_shape(jax.vmap(env.reset), jax.random.split(jax.random.key(0), 8))
    actions = jnp.zeros((8, env.action_size))
    text = jax.jit(jax.vmap(env.step)).lower(state, actions).as_text()
    assert not lapack_calls(text)


def test_solve_spd_matches_numpy():
    rng = np.random.default_rng(0)
    for n in (1, 3, 6):
        for _ in range(20):
            a = rng.normal(size=(n, n))
            matrix = a @ a.T + 0.05 * np.eye(n)
            rhs = rng.normal(size=n)
            expected = np.linalg.solve(matrix, rhs)
            got = np.asarray(solve_spd(jnp.asarray(matrix), jnp.asarray(rhs)), np.float64)
            np.testing.assert_allclose(got, expected, rtol=2e-3, atol=1e-4)


DOCUMENTED_PATTERN = """
import envs
import jax
import jax.numpy as jnp

n = {num_envs}
env = envs.AutoResetWrapper(envs.make("{name}"{overrides}))
traces = []


def step(state, action):
    traces.append(1)
    return jax.vmap(env.step)(state, action)


step = jax.jit(step)
state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.key(0), n))
key = jax.random.key(1)
for _ in range({steps}):
    key, sub = jax.random.split(key)
    state = step(state, jax.random.uniform(sub, (n, env.action_size), minval=-1, maxval=1))
jax.block_until_ready(state)
finite = all(
    bool(jnp.isfinite(leaf).all())
    for leaf in jax.tree.leaves((state.obs, state.reward, state.pipeline_state.qpos))
)
print(n, len(traces), finite, int(state.metrics["nonfinite_reset"].sum()))
"""


# The contact tasks run on MuJoCo's C engine on the CPU (docs/physics_engines.md): seconds of
# compiling, and 60 steps of 4,096 environments in about 20 s. Push stands for them in the
# default suite (PickAndPlace adds fingers and Slide a puck to the same path: slow, as are joint
# control's runs, without the IK).
@pytest.mark.parametrize(
    ("name", "steps"),
    [
        ("PandaReach", 60),
        ("PandaPush", 60),
        pytest.param("PandaPickAndPlace", 60, marks=pytest.mark.slow),
        pytest.param("PandaSlide", 3, marks=pytest.mark.slow),
        # joint control: no IK in the step, the contacts and the servos are the same
        pytest.param("PandaPushJoints", 3, marks=pytest.mark.slow),
        pytest.param("PandaSlideJoints", 3, marks=pytest.mark.slow),
        pytest.param("PandaPickAndPlaceJoints", 3, marks=pytest.mark.slow),
    ],
)
def test_documented_pattern_runs_at_4096_environments(name, steps):
    """The jit(vmap(step)) of docs/environments.md called from a Python loop under random
    actions: PandaReach compiles in ~20 s and its 60 steps (one auto-reset in every
    environment) take a few seconds here; before the fix it never returned. The step is traced
    once, and every observation, reward and joint position stays finite, with no reset forced
    by non-finite physics."""
    code = DOCUMENTED_PATTERN.format(num_envs=4096, name=name, steps=steps, overrides="")
    _run_to_the_end(code, name)


# The GPU's physics choices on the CPU: a dense mass matrix that LAPACK factors, what the rule
# above forbids. Slow, and not a guard: it shows whether the installed jaxlib still hangs there
# (jaxlib 0.10 did; on one day neither 0.10.2 nor 0.12.1 hung in 20 steps of each).
@pytest.mark.slow
@pytest.mark.parametrize("name", ["PandaReach", "PandaReachJoints"])
def test_lapack_in_the_step_at_4096_environments(name):
    overrides = ', physics_backend="gpu"'
    _run_to_the_end(
        DOCUMENTED_PATTERN.format(num_envs=4096, name=name, steps=20, overrides=overrides), name
    )


def _run_to_the_end(code: str, name: str) -> None:
    code = textwrap.dedent(code)
    try:
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"4,096 {name} environments did not finish within 300 s: it hangs")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "4096 1 True 0"
