"""Process set-up before JAX and MuJoCo start: the XLA flags MJX needs on the CPU, MuJoCo's
OpenGL backend for offscreen rendering, a quiet import of MJX, and one MJX function replaced
by a faster one with the same values (``patch_mjx_quaternion``). ``import envs`` (and so
``import jaxik``) runs it first.

The XLA flags:

Two of XLA's newer CPU features hurt MJX badly (measured with jax 0.9.2 and 0.10.2, mujoco-mjx
3.17, on a 2-core CPU):

- the fusion emitters make forward kinematics of a 7-link chain about 1,000 times slower
  (~170 against ~220,000 steps/s, compile 27 s against 2 s). jaxlib 0.11 and 0.12 have no flag
  to turn them off (an XLA that does not know a flag aborts at start), so they get only the
  second flag; 0.12's kinematics is as fast once MJX's quaternion is built without a scatter
  (``patch_mjx_quaternion``), but it compiles the environments' steps about 1.4 times slower;
- the concurrency-optimised scheduler can hang calls with more than ~1,024 environments (last
  seen on jaxlib 0.10). On jaxlib 0.12.1, 4,096 PandaReach environments ran 60 steps with it on,
  no faster than with it off, so the flag stays.

This module must not import jax: XLA reads ``XLA_FLAGS`` once, when the first backend starts.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import warnings

CPU_XLA_FLAGS = (
    "--xla_cpu_use_fusion_emitters=false",
    "--xla_cpu_enable_concurrency_optimized_scheduler=false",
)
# The first jaxlib (major, minor) that no longer knows a flag.
FLAGS_GONE_IN = {"--xla_cpu_use_fusion_emitters": (0, 11)}  # 0.10.2 knows it, 0.11.2 does not


def jaxlib_version() -> tuple[int, int]:
    """The installed jaxlib's (major, minor), read without importing it."""
    major, minor = importlib.metadata.version("jaxlib").split(".")[:2]
    return int(major), int(minor)


def cpu_xla_flags(version: tuple[int, int] | None = None) -> tuple[str, ...]:
    """The CPU flags that jaxlib ``version`` (the installed one by default) knows."""
    version = jaxlib_version() if version is None else version
    return tuple(
        flag
        for flag in CPU_XLA_FLAGS
        if version < FLAGS_GONE_IN.get(flag.split("=")[0], (1_000, 0))
    )


def _accelerator_plugin_installed() -> bool:
    """Whether a JAX accelerator plugin (CUDA, ROCm, ...) is installed."""
    return bool(importlib.metadata.entry_points(group="jax_plugins"))


def cpu_is_backend() -> bool:
    """Whether JAX will run on the CPU, judged without importing jax.

    ``JAX_PLATFORMS`` decides where it is set; otherwise JAX prefers an installed accelerator.
    """
    platforms = os.environ.get("JAX_PLATFORMS", "").strip().lower()
    if platforms:
        return platforms.split(",")[0].strip() == "cpu"
    return not _accelerator_plugin_installed()


def _backend_started() -> bool:
    jax_module = sys.modules.get("jax")
    if jax_module is None:
        return False
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge._backends)
    except (ImportError, AttributeError):
        return True


def configure_xla_flags() -> list[str]:
    """Appends the CPU flags to ``XLA_FLAGS`` (keeping the user's) when the CPU is the backend.

    Returns the flags that were added. Flags already present, with any value, are left as the
    user set them. Warns when JAX's backend started before this ran: XLA has then read its flags.
    """
    if not cpu_is_backend():
        return []
    current = os.environ.get("XLA_FLAGS", "")
    present = {flag.split("=")[0] for flag in current.split()}
    added = [flag for flag in cpu_xla_flags() if flag.split("=")[0] not in present]
    if not added:
        return []
    if _backend_started():
        warnings.warn(
            "jaxik: JAX's backend started before jaxik/envs was imported, so XLA did not get "
            f"{' '.join(added)}; MJX will be very slow on the CPU. Import envs or jaxik before "
            "using jax, or set XLA_FLAGS yourself.",
            RuntimeWarning,
            stacklevel=3,
        )
    os.environ["XLA_FLAGS"] = " ".join([current.strip(), *added]).strip()
    return added


WARP_IMPORT_NOTICES = ("Failed to import warp:", "Failed to import mujoco_warp:")


def import_mjx_quietly() -> None:
    """Imports ``mujoco.mjx`` without the lines it prints when NVIDIA Warp is not installed
    ("Failed to import warp: ..."): Warp is an optional MJX backend this project does not use.
    Anything else printed during the import is passed on."""
    if "mujoco.mjx" in sys.modules:
        return
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        import mujoco.mjx  # noqa: F401
    for line in printed.getvalue().splitlines():
        if not line.startswith(WARP_IMPORT_NOTICES):
            print(line)


def _axis_angle_to_quat(axis, angle):
    """MJX's ``math.axis_angle_to_quat`` (cos, axis * sin of half the angle), built by
    concatenation: axis [3], angle [] -> quaternion [4]."""
    import jax.numpy as jnp

    s, c = jnp.sin(angle * 0.5), jnp.cos(angle * 0.5)
    return jnp.concatenate([jnp.reshape(c, (1,)), axis * s])


def patch_mjx_quaternion() -> bool:
    """Replaces MJX's ``axis_angle_to_quat``, which its kinematics calls once per hinge joint,
    with the same quaternion built by concatenation. MJX builds it with ``jnp.insert``, a
    scatter, and jaxlib 0.12's XLA runs that scatter, batched over a thousand environments, far
    slower than a concatenation: MJX's kinematics of the 7-joint arm took 13.4 against 1.1 ms
    per call at 1,024 environments (jax 0.12.1, 2-core CPU; on jax 0.10.2, whose XLA rewrote
    the scatter as a copy, 1.3 against 0.7 ms). The quaternion is the same, bit for bit
    (tests/test_platform.py); XLA fuses the program around it differently, so the arm's path
    differs in the last bits (on jax 0.10.2, 1e-4 m after 60 random steps of PandaReach).
    Returns whether MJX had the function to replace."""
    from mujoco.mjx._src import math as mjx_math

    if not hasattr(mjx_math, "axis_angle_to_quat"):
        return False
    mjx_math.axis_angle_to_quat = _axis_angle_to_quat
    return True


def configure_mujoco_gl() -> str | None:
    """Chooses MuJoCo's OpenGL backend for offscreen rendering where the user has not: on Linux
    without a display, EGL if its library is found, else OSMesa. MuJoCo reads ``MUJOCO_GL`` when
    it is first imported, so this runs before that. Returns the backend set, if any."""
    if "MUJOCO_GL" in os.environ or not sys.platform.startswith("linux"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    import ctypes.util

    global _chosen_gl
    for backend, library in (("egl", "EGL"), ("osmesa", "OSMesa")):
        if ctypes.util.find_library(library):
            os.environ["MUJOCO_GL"] = _chosen_gl = backend
            return backend
    return None


_chosen_gl: str | None = None  # the backend configure_mujoco_gl set, not the user


def import_mujoco() -> None:
    """Imports MuJoCo and MJX (``import_mjx_quietly``). MuJoCo sets up its OpenGL backend at
    import, and a broken one fails the import; if that backend is the one
    ``configure_mujoco_gl`` chose, MuJoCo is imported again with rendering off, so that training
    never depends on OpenGL (rendering then says what to install). A backend the user chose is
    left to fail as MuJoCo makes it."""
    try:
        import_mjx_quietly()
    except Exception:
        if _chosen_gl is None:
            raise
        for name in list(sys.modules):
            if name.split(".")[0] in ("mujoco", "OpenGL"):
                del sys.modules[name]
        os.environ["MUJOCO_GL"] = "disable"
        import_mjx_quietly()
