"""The CPU XLA flags are set by the project itself, before JAX reads them; importing the
project prints nothing."""

import os
import subprocess
import sys

from envs.platform import CPU_XLA_FLAGS, cpu_xla_flags

PROBE = """
import envs, jax, os
print(os.environ["XLA_FLAGS"])
print(jax.default_backend(), jax.device_count())
"""


def _run(env_overrides: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    env.update(env_overrides)
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()


def test_flags_in_force_and_user_flags_kept():
    # The user's flag takes effect (2 host devices), which shows that XLA read XLA_FLAGS as it
    # stood after `import envs` appended the project's flags.
    flags, backend = _run(
        {"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    )
    assert flags.split()[0] == "--xla_force_host_platform_device_count=2"
    for flag in cpu_xla_flags():
        assert flag in flags.split()
    assert backend == "cpu 2"


def test_flags_follow_the_installed_jaxlib():
    # An XLA that does not know a flag aborts at start: jaxlib 0.11 dropped the fusion emitters'.
    assert cpu_xla_flags((0, 10)) == CPU_XLA_FLAGS
    assert "--xla_cpu_use_fusion_emitters=false" not in cpu_xla_flags((0, 11))
    assert "--xla_cpu_enable_concurrency_optimized_scheduler=false" in cpu_xla_flags((0, 12))


def test_user_value_of_a_flag_wins():
    flag = "--xla_cpu_enable_concurrency_optimized_scheduler"
    flags, _ = _run({"XLA_FLAGS": f"{flag}=true", "JAX_PLATFORMS": "cpu"})
    assert f"{flag}=true" in flags.split()
    assert f"{flag}=false" not in flags.split()


def test_not_set_when_another_backend_is_chosen():
    from envs import platform

    saved = os.environ.get("JAX_PLATFORMS")
    os.environ["JAX_PLATFORMS"] = "cuda"
    try:
        assert not platform.cpu_is_backend()
    finally:
        if saved is None:
            del os.environ["JAX_PLATFORMS"]
        else:
            os.environ["JAX_PLATFORMS"] = saved


def test_importing_the_project_prints_no_warp_notices():
    """MJX prints "Failed to import warp" at import when NVIDIA Warp is absent (it is here)."""
    probe = "import jaxik, envs, jaxik.device.trainer, jaxik.host.run, mujoco.mjx"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert "warp" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr


def test_a_broken_opengl_never_stops_training_and_rendering_says_what_to_install():
    """If the GL backend chosen at import cannot load (here: OSMesa is claimed but absent),
    MuJoCo is imported with rendering off: environments work, and the renderer says what to
    install."""
    probe = """
import ctypes.util, os
found = ctypes.util.find_library
ctypes.util.find_library = lambda n: {"EGL": None, "OSMesa": "libOSMesa.so.8"}.get(n, found(n))
for name in ("MUJOCO_GL", "DISPLAY", "PYOPENGL_PLATFORM"):
    os.environ.pop(name, None)
import envs, jax
env = envs.make("PlanarReach")
env.step(env.reset(jax.random.key(0)), jax.numpy.zeros(2))
from envs.render import FrameRenderer, RenderError
try:
    FrameRenderer(envs.make("PandaReach"))
except RenderError as error:
    print(error)
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert "failed to load with MUJOCO_GL=osmesa" in result.stdout, result.stdout
    assert "make install-render" in result.stdout


def test_mjx_quaternion_is_the_same_without_a_scatter():
    """envs replaces MJX's axis_angle_to_quat (jnp.insert, a scatter in jax 0.12, ten times
    slower batched on the CPU) by a concatenation: the same numbers, and the arm's kinematics
    compiles without a scatter."""
    import jax
    import jax.numpy as jnp
    import mujoco
    from mujoco import mjx
    from mujoco.mjx._src import math as mjx_math

    import envs
    from envs import platform

    assert mjx_math.axis_angle_to_quat is platform._axis_angle_to_quat

    def with_insert(axis, angle):
        s, c = jnp.sin(angle * 0.5), jnp.cos(angle * 0.5)
        return jnp.insert(axis * s, 0, c)

    axes = jax.random.normal(jax.random.key(0), (64, 3))
    angles = jax.random.uniform(jax.random.key(1), (64,), minval=-4.0, maxval=4.0)
    ours = jax.jit(jax.vmap(platform._axis_angle_to_quat))(axes, angles)
    theirs = jax.jit(jax.vmap(with_insert))(axes, angles)
    assert jnp.array_equal(ours, theirs)

    env = envs.make("PandaReach")
    data = mjx.put_data(env.mj_model, mujoco.MjData(env.mj_model))
    batch = jax.tree.map(lambda x: jnp.broadcast_to(x, (8, *x.shape)), data)
    text = jax.jit(jax.vmap(lambda d: mjx.kinematics(env.model, d))).lower(batch).as_text()
    assert "scatter" not in text
