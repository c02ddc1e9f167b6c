"""MuJoCo Warp as the contact tasks' physics (envs/warp_physics.py, physics_engine="warp").

The sizes, the errors and the host's checks run everywhere; the tests marked ``warp`` need the
warp extra (``make test-warp``: Warp's CPU device compiles its kernels for minutes on a fresh
machine) and are skipped without it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

import envs
from envs import scripted, warp_physics
from jaxik.host import run as run_lib
from jaxik.host import scan as scan_lib

needs_warp = pytest.mark.skipif(
    not warp_physics.installed(), reason="needs the warp extra (make test-warp)"
)


@pytest.mark.parametrize(
    ("name", "contacts"),
    [
        ("PandaPush", 4 + 4 + 8),  # fingers-table, cube-table (plane-box), fingers-cube (boxes)
        ("PandaSlide", 4 + 4 + 50),  # plane-box, plane-cylinder, capsule-cylinder (any: 50)
        ("PandaPickAndPlace", 3 * 4 + 2 * 8),  # two fingers and the cube on the table; fingers
        ("PandaStack", 4 * 4 + 5 * 8),
        ("PandaFlip", 3 * 4 + 2 * 8),
    ],
)
def test_contacts_per_env_add_up_the_scene_pairs(name, contacts):
    mj_model = envs.make(name, physics_engine="mjx").mj_model
    assert warp_physics.contacts_per_env(mj_model) == contacts
    sizes = warp_physics.sizes(mj_model, envs=1_000)
    assert sizes.naconmax == contacts * 1_000
    pyramid = mj_model.opt.cone == 0
    limits_on = not mj_model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_LIMIT
    limits = int(mj_model.jnt_limited.sum()) if limits_on else 0  # one row each
    assert sizes.rows_per_env == contacts * (4 if pyramid else 3) + limits  # condim 3


def test_the_warp_engine_without_warp_names_the_setting():
    if warp_physics.installed():
        pytest.skip("warp is installed here")
    with pytest.raises(ImportError, match=r"physics_engine='warp'.*warp-lang.*\[warp\]"):
        envs.make("PandaPush", physics_engine="warp")


def _program(*overrides: str) -> scan_lib.Program:
    return scan_lib.load(
        None, ["env=PandaPush", "num_envs=64", "num_eval_envs=32", *overrides]
    ).programs[0]


def test_too_few_warp_envs_is_refused_before_compiling():
    """scan.load, which train.py and jaxik.train read every config with, refuses it."""
    with pytest.raises(ValueError, match=r"env_config.warp_envs=128 .*192 environments"):
        _program("seeds=3", "env_config.physics_engine=warp", "env_config.warp_envs=128")
    _program("seeds=3", "env_config.physics_engine=warp")
    _program("seeds=3", "env_config.warp_envs=1")  # not on Warp


def test_an_overflow_stops_training_naming_the_setting():
    program = _program("env_config.physics_engine=warp")
    clean = {"eval_success": np.zeros(1), "physics_overflow": np.zeros(1)}
    run_lib.check_physics_overflow(program, clean)
    assert "physics_overflow" not in clean  # not written to metrics.csv
    overflow = r"3 environment steps.*env_config.warp_envs=16384"
    with pytest.raises(run_lib.PhysicsOverflowError, match=overflow):
        run_lib.check_physics_overflow(program, {"eval_physics_overflow": np.array([3.0])})


@pytest.mark.warp
@needs_warp
def test_warp_steps_like_mjx_and_reports_an_overflow():
    """One control step of each engine from the same states, along a scripted push stepped on
    MJX: the same to 1e-5 m before the fingers touch the cube; in contact, where the two collide
    boxes and run 6 CG iterations each their own way, the cube within 1 mm on average, 3 mm in
    95 % of the steps and 3 cm in all (measured: 0.5 mm, 1.7 mm, 1.3 cm), the arm within
    0.02 rad. Then 8 environments on buffers for one: every step says it ran out."""
    n, steps = 8, 30
    mjx_env = envs.make("PandaPush", physics_engine="mjx", physics_backend="cpu")
    warp_env = envs.make("PandaPush", physics_engine="warp", physics_backend="cpu")

    def compare(keys):
        def body(state, _):
            action = jax.vmap(scripted.push)(state.obs["observation"], state.obs["desired_goal"])
            on_mjx = jax.vmap(mjx_env.step)(state, action)
            zero = jnp.zeros(n)
            on_warp = jax.vmap(warp_env.step)(
                state.replace(metrics={**state.metrics, "physics_overflow": zero}), action
            )
            gap = jnp.abs(on_mjx.pipeline_state.qpos - on_warp.pipeline_state.qpos)
            return on_mjx, (gap, on_warp.metrics["physics_overflow"])

        return jax.lax.scan(body, jax.vmap(mjx_env.reset)(keys), None, length=steps)[1]

    gap, overflow = jax.jit(compare)(jax.random.split(jax.random.key(0), n))
    cube = np.asarray(gap[..., 7:10])
    assert cube[:8].max() < 1e-5  # the gripper on its way to the cube
    gaps = np.linalg.norm(cube[8:], axis=-1)  # [steps - 8, n] metres
    arm = np.asarray(gap[..., :7]).max()  # rad
    assert gaps.mean() < 0.001 and np.percentile(gaps, 95) < 0.003 and gaps.max() < 0.03
    assert arm < 0.02
    assert not np.asarray(overflow).any()

    small = envs.make("PandaPush", physics_engine="warp", physics_backend="cpu", warp_envs=1)
    state = jax.jit(jax.vmap(small.reset))(jax.random.split(jax.random.key(1), n))
    state = jax.jit(jax.vmap(small.step))(state, jnp.zeros((n, 3)))
    assert np.asarray(state.metrics["physics_overflow"]).all()
