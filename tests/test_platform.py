"""The CPU XLA flags are set by the project itself, before JAX reads them; importing the
project prints nothing."""

import os
import subprocess
import sys

from envs.platform import CPU_XLA_FLAGS

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
    for flag in CPU_XLA_FLAGS:
        assert flag in flags.split()
    assert backend == "cpu 2"


def test_user_value_of_a_flag_wins():
    flags, _ = _run({"XLA_FLAGS": "--xla_cpu_use_fusion_emitters=true", "JAX_PLATFORMS": "cpu"})
    assert "--xla_cpu_use_fusion_emitters=true" in flags.split()
    assert "--xla_cpu_use_fusion_emitters=false" not in flags.split()


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
