"""A disk cache of compiled programs, so that a second run of the same configuration skips tracing,
lowering and compiling.

JAX's persistent compilation cache skips XLA's compile, but still traces and lowers every program
to find its key: about 6 s of a warm ``make train`` on 2 CPU cores. Here the key is computed
before any tracing, from everything a compiled program depends on:

- the program's configuration, less what the compiled program takes as input or never sees: the
  seeds and the float hyperparameters (arrays in its arguments, so a scan over learning rates
  run again with other values loads the same pieces) and the host settings (how long to run,
  when to checkpoint and stop);
- the piece's name and the shapes, dtypes and shardings of its arguments;
- the source of jaxik and envs (and the MJCF), the versions of jax, jaxlib, MuJoCo, Brax, Flax,
  Optax, NumPy and Python, the backend, its devices and ``XLA_FLAGS``;
- what the native code depends on: the processor's model and instruction-set features (a
  program XLA compiled for AVX-512 crashes a CPU without it rather than fall back, and a home
  directory shared between machines shares this cache), and on a GPU its model, compute
  capability and the driver and runtime versions.

An entry is a header (format, key, SHA-256 of the payload) and a serialized executable. One that
is unreadable, truncated, from another key or that fails to load is ignored (and replaced), never
trusted. Only single-process runs use the cache.

A program that calls back into Python (the contact tasks on MuJoCo's C engine,
envs/mujoco_step.py) cannot be serialized: it is compiled every run (a few seconds), and
``store`` passes it over without a message.

Entries are native code, unpickled when loaded: a directory that another user owns or that
others may write to is refused with a message, and the run compiles cold instead (the directory
is created readable by its owner only). The cache is capped at ``$JAXIK_CACHE_LIMIT_MB``
megabytes (2,048 unless set): after each store the entries used least recently (loading one
counts as a use) are deleted until it fits.

JAX's persistent cache stays off: an executable that JAX loaded from it serializes without some of
its kernels (jaxlib 0.10.2: "Function broadcast_add_fusion.51 not found" when the copy runs), so
nothing is stored while it is on (``store``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import json
import os
import pickle
import platform
import sys
from pathlib import Path
from typing import Any

import jax

from jaxik import config

FORMAT = "jaxik-executable-2"
PACKAGES = ("jax", "jaxlib", "mujoco", "mujoco-mjx", "brax", "flax", "optax", "numpy")
NOT_IN_KEY = (*config.host_only_names(), *config.hyperparameter_names(), "seeds", "sweep")
"""What a compiled piece does not depend on: the host settings (marked ``host_setting`` in
jaxik.config) never reach it; the seeds and the float hyperparameters (marked
``hyperparameter``), swept or not, are arrays among its arguments, whose shapes (the number of
runs) are part of the key. tests/test_executables.py checks that the lowered pieces are the same
text for other values of every one of them."""
ROOT = Path(__file__).resolve().parents[2]


DIR_VARIABLE = "JAXIK_CACHE_DIR"
LIMIT_VARIABLE = "JAXIK_CACHE_LIMIT_MB"
DEFAULT_LIMIT_MB = 2048


def cache_dir() -> Path:
    """Where compiled programs are kept between runs: $JAXIK_CACHE_DIR, or
    ~/.cache/jaxik/programs."""
    configured = os.environ.get(DIR_VARIABLE)
    return Path(configured) if configured else Path.home() / ".cache" / "jaxik" / "programs"


def limit_bytes() -> int:
    """The cache's size cap, from $JAXIK_CACHE_LIMIT_MB; a bad value is a ValueError naming it."""
    text = os.environ.get(LIMIT_VARIABLE, str(DEFAULT_LIMIT_MB))
    try:
        megabytes = int(text)
    except ValueError:
        megabytes = -1
    if megabytes < 0:
        raise ValueError(
            f"{LIMIT_VARIABLE}={text!r}: the size cap of the cache of compiled programs must be "
            f"a whole number of megabytes >= 0 (0 keeps nothing; unset: {DEFAULT_LIMIT_MB})"
        )
    return megabytes * 1024 * 1024


def private(directory: Path) -> bool:
    """Whether ``directory`` may hold executables this process loads: it does not exist yet (it
    will be made with mode 0700), or it is a directory this user owns that nobody else may write
    to. Otherwise says why on stderr (once per directory) and returns False."""
    directory = Path(directory)
    try:
        status = directory.stat()
    except FileNotFoundError:
        return True
    except OSError as error:
        return _refuse(directory, f"it cannot be read ({error})")
    if not directory.is_dir():
        return _refuse(directory, "it is not a directory")
    if hasattr(os, "getuid") and status.st_uid != os.getuid():
        return _refuse(directory, f"it belongs to user id {status.st_uid}, not to this user")
    if status.st_mode & 0o022:
        mode = oct(status.st_mode & 0o777)
        return _refuse(
            directory,
            f"its mode {mode} lets other users write into it (run: chmod go-w {directory})",
        )
    return True


@functools.cache
def _refuse(directory: Path, why: str) -> bool:
    print(
        f"jaxik: not using the cache of compiled programs {directory}: {why}. Its entries are "
        "native code this process would load, so this run compiles everything instead; set "
        "JAXIK_CACHE_DIR to a private directory to keep compiled programs.",
        file=sys.stderr,
    )
    return False


@functools.cache
def _processor() -> dict[str, str]:
    """The CPU the native code is compiled for: its model and instruction-set features (Linux's
    /proc/cpuinfo; elsewhere what the platform module says)."""
    wanted = ("vendor_id", "model name", "flags", "CPU implementer", "CPU part", "Features")
    found: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            name = name.strip()
            if name in wanted and name not in found:
                found[name] = (
                    " ".join(sorted(value.split()))
                    if name in ("flags", "Features")
                    else value.strip()
                )
    except OSError:
        pass
    return found or {"machine": platform.machine(), "processor": platform.processor()}


def _accelerators() -> list[dict[str, str]]:
    """Each device's model and, on a GPU, its compute capability, with the driver's version
    where the CUDA plugin reports it."""
    described = []
    for device in jax.devices():
        described.append(
            {
                "kind": str(getattr(device, "device_kind", "")),
                "compute_capability": str(getattr(device, "compute_capability", "")),
            }
        )
    if jax.default_backend() == "gpu":
        for plugin in ("jax_cuda13_plugin", "jax_cuda12_plugin"):
            try:
                versions = importlib.import_module(f"{plugin}.cuda_versions")
                described.append({"driver": str(versions.cuda_driver_version())})
                break
            except Exception:  # another plugin, or none: the backend's version string stays
                continue
    return described


@functools.cache
def _source_digest() -> str:
    """SHA-256 over the project's code and model files."""
    digest = hashlib.sha256()
    files = [*sorted((ROOT / "jaxik").rglob("*.py")), *sorted((ROOT / "envs").rglob("*"))]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def _describe(args: Any) -> str:
    """The arguments' tree structure, shapes, dtypes and shardings."""
    leaves, tree = jax.tree.flatten(args)
    shapes = [
        (leaf.shape, str(leaf.dtype), str(getattr(leaf, "sharding", None))) for leaf in leaves
    ]
    return f"{tree}|{shapes}"


def key(config: dict[str, Any], piece: str, args: Any) -> str:
    """The cache key of ``piece`` of the program ``config`` (scan.Program.to_dict) for ``args``."""
    backend = jax.devices()[0].client
    identity = {
        "format": FORMAT,
        "config": {k: v for k, v in config.items() if k not in NOT_IN_KEY},
        "piece": piece,
        "args": _describe(args),
        "source": _source_digest(),
        "versions": _versions(),
        "backend": [backend.platform, backend.platform_version],
        "devices": [str(d) for d in jax.devices()],
        "processor": _processor(),
        "accelerators": _accelerators(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "x64": bool(jax.config.jax_enable_x64),
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def enabled() -> bool:
    """Single-process runs, with JAX's own persistent cache off (see above)."""
    return jax.process_count() == 1 and not jax.config.jax_compilation_cache_dir


def load(directory: Path, entry: str) -> Any | None:
    """The compiled program stored under ``entry``, or None (absent, damaged or foreign)."""
    from jax.experimental import serialize_executable

    path = Path(directory) / f"{entry}.bin"
    try:
        with open(path, "rb") as file:
            header = json.loads(file.readline())
            payload = file.read()
        if header != {"format": FORMAT, "key": entry, "sha256": _sha(payload)}:
            return None
        blob, in_tree, out_tree = pickle.loads(payload)
        loaded = serialize_executable.deserialize_and_load(blob, in_tree, out_tree)
        os.utime(path)  # a use: the entries used least recently go first (prune)
        return loaded
    except FileNotFoundError:
        return None
    except Exception as error:  # a damaged entry costs a compile, never a failed run
        print(f"jaxik: ignoring the cached program {path}: {error!r}", file=sys.stderr)
        return None


def store(directory: Path, entry: str, compiled: Any) -> None:
    """Saves ``compiled`` under ``entry`` (atomically); a failure only costs the next run time."""
    from jax.experimental import serialize_executable

    try:
        payload = pickle.dumps(serialize_executable.serialize(compiled))
    except Exception as error:
        if "callback" not in repr(error):  # a host callback is expected not to serialize
            print(f"jaxik: could not cache a compiled program: {error!r}", file=sys.stderr)
        return
    try:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = directory / f"{entry}.{os.getpid()}.partial"
        header = json.dumps({"format": FORMAT, "key": entry, "sha256": _sha(payload)})
        with open(partial, "wb") as file:
            file.write(header.encode() + b"\n")
            file.write(payload)
        os.replace(partial, directory / f"{entry}.bin")
        prune(directory, limit_bytes())
    except Exception as error:
        print(
            f"jaxik: could not cache a compiled program in {directory}: {error!r}", file=sys.stderr
        )


def prune(directory: Path, limit: int) -> list[Path]:
    """Deletes the entries used least recently (oldest modification time: a load touches its
    entry) until the entries in ``directory`` hold at most ``limit`` bytes; returns those
    deleted. Another process may delete the same entries at the same time: that is fine."""
    entries = []
    for path in Path(directory).glob("*.bin"):
        try:
            status = path.stat()
        except FileNotFoundError:
            continue
        entries.append((status.st_mtime, status.st_size, path))
    entries.sort()
    total = sum(size for _, size, _ in entries)
    deleted = []
    for _, size, path in entries:
        if total <= limit:
            break
        path.unlink(missing_ok=True)
        total -= size
        deleted.append(path)
    return deleted


def _sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()
