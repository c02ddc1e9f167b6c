"""The C half of MuJoCo's C engine path (envs/mujoco_step.py): envs/native/, compiled once per
machine with the C compiler and loaded into this process.

- ``velocity_servo.c``: the velocity servos of envs/velocity_motor.py as a MuJoCo actuator
  plugin, so that MuJoCo's C engine applies that law every physics step, as the MJX path does in
  JAX. MuJoCo's own actuators cannot express it: it sets the torques that bring every joint to
  its asked velocity within one step through the mass matrix, each clamped at its limit. A stiff
  position servo integrated implicitly (``implicitfast``) comes close until a torque saturates;
  then MuJoCo leaves that joint's damping out of the implicit step, and with the damping this
  law needs, the velocity overshoots and the torque chatters between its limits
  (docs/physics_engines.md).
- ``pybullet_ik.c``: envs/ik.py's ``pybullet_solve`` on MuJoCo's kinematics, for a batch of arms
  on a few threads: in JAX on the CPU its 20 steps cost more than the physics.

The library lives in the user's cache folder (``$XDG_CACHE_HOME/jaxik``, else
``~/.cache/jaxik``, else the temporary folder), named by a hash of the sources, the MuJoCo
version and the command, so that a change of either builds it anew.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import mujoco
import numpy as np

PLUGIN = "jaxik.velocity_servo"
SOURCES = tuple(
    Path(__file__).parent / "native" / name for name in ("velocity_servo.c", "pybullet_ik.c")
)
_library: ctypes.CDLL | None = None


class NativeUnavailable(RuntimeError):
    """The library cannot be built here (no C compiler, or no MuJoCo library to link)."""


def _mujoco_library() -> Path:
    folder = Path(mujoco.__file__).parent
    for pattern in ("libmujoco.so*", "libmujoco*.dylib"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    raise NativeUnavailable(f"no MuJoCo library (libmujoco) in {folder} to link with")


def _cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    for folder in (Path(base) / "jaxik", Path(tempfile.gettempdir()) / "jaxik"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    raise NativeUnavailable("no writable cache folder for the compiled library")


def compile_command(output: Path) -> list[str]:
    """The C compiler's command that builds the library into ``output``."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise NativeUnavailable(
            "no C compiler (cc) to build MuJoCo's C engine path (envs/native/); install one "
            "(Debian/Ubuntu: apt-get install gcc; macOS: xcode-select --install) or set "
            "physics_engine='mjx'"
        )
    library = _mujoco_library()
    include = Path(mujoco.__file__).parent / "include"
    flags = ["-undefined", "dynamic_lookup"] if sys.platform == "darwin" else ["-pthread"]
    return [
        compiler,
        "-O3",
        "-march=native",
        "-shared",
        "-fPIC",
        f"-I{include}",
        *map(str, SOURCES),
        "-o",
        str(output),
        str(library),
        f"-Wl,-rpath,{library.parent}",
        *flags,
    ]


def library_path() -> Path:
    """The compiled library, built first if this machine has not built this version yet."""
    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update(source.read_bytes())
    digest.update(mujoco.__version__.encode())
    digest.update(" ".join(compile_command(Path("out"))).encode())
    path = _cache_folder() / f"jaxik-native-{digest.hexdigest()[:16]}.so"
    if path.exists():
        return path
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    result = subprocess.run(compile_command(partial), capture_output=True, text=True)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise NativeUnavailable(f"building envs/native/ failed:\n{result.stderr}")
    os.replace(partial, path)  # atomic: parallel processes may build it at once
    return path


def load() -> ctypes.CDLL:
    """The library, loaded once per process: its plugin registered with MuJoCo."""
    global _library
    if _library is None:
        path = library_path()
        mujoco.mj_loadPluginLibrary(str(path))
        library = ctypes.CDLL(str(path))
        library.jaxik_pybullet_ik.restype = ctypes.c_int
        library.jaxik_pybullet_ik.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_void_p),
            *(ctypes.c_int,) * 4,
            *(np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS"),) * 4,
        ]
        _library = library
    return _library


def available() -> bool:
    """Whether the library is loaded or can be built and loaded here."""
    try:
        load()
    except NativeUnavailable:
        return False
    return True


def attach_servo(spec: mujoco.MjSpec, actuator, name: str, rate: float, limit: float) -> None:
    """Makes ``actuator`` (in ``spec``, on a hinge or slide joint) one of the velocity servos of
    the plugin instance ``name`` (created on first use; ``rate``: the velocity asked per unit of
    position error), its force within +-``limit``. The servos of one instance are solved
    together (through the mass matrix's block of their joints)."""
    load()
    instances = {plugin.name: plugin for plugin in spec.plugins}
    if name not in instances:
        if not instances:
            spec.activate_plugin(PLUGIN)
        instance = spec.add_plugin(name=name, plugin_name=PLUGIN, active=True)
        instance.config = {"rate": repr(float(rate))}
        instances[name] = instance
    actuator.plugin = instances[name]
    actuator.plugin.name = name
    actuator.plugin.active = True
    actuator.forcerange = [-limit, limit]
    actuator.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
    actuator.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE


def pybullet_ik(
    model: mujoco.MjModel,
    data: list[mujoco.MjData],
    site: int,
    dofs: int,
    qpos: np.ndarray,
    target: np.ndarray,
    rotation: np.ndarray,
) -> np.ndarray:
    """envs/ik.py's ``pybullet_solve`` for a batch: joint angles [batch, dofs] of the first
    ``dofs`` dofs from qpos [batch, nq] that bring site ``site`` toward target [batch, 3] with
    the orientation ``rotation`` [3, 3], on ``len(data)`` threads (one mjData each)."""
    library = load()
    qpos = np.ascontiguousarray(qpos, np.float64)
    target = np.ascontiguousarray(target, np.float64)
    rotation = np.ascontiguousarray(rotation, np.float64).reshape(9)
    out = np.empty((qpos.shape[0], dofs))
    pointers = (ctypes.c_void_p * len(data))(*(d._address for d in data))
    status = library.jaxik_pybullet_ik(
        model._address, pointers, len(data), qpos.shape[0], site, dofs, qpos, target, rotation, out
    )
    if status != 0:
        raise ValueError(f"pybullet_ik: bad sizes (site {site}, dofs {dofs}, {len(data)} threads)")
    return out
