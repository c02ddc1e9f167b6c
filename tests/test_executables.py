"""The cache of compiled programs (jaxik.host.executables): a second build of the same program loads
every piece without lowering any, runs them to the same numbers, and a damaged or foreign entry
is ignored and replaced."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import planar
import pytest

from jaxik import config
from jaxik.host import executables, pieces, scan

SMALL = {**planar.SMALL, "total_env_steps": 512}
NAMES = ("iterations", "evaluation", "init")


class NotLowered:
    """Stands in for a jitted piece that the cache must make unnecessary."""

    def lower(self, *args):
        raise AssertionError("lowered a piece the cache holds")


def program(**overrides):
    return scan.load(None, {**SMALL, **overrides}).programs[0]


def one_chunk(program_pieces, compiled):
    _, metrics = pieces.chunk(compiled)(program_pieces.init_state(compiled))
    return jax.device_get(metrics)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A cache filled by one build, and that build's first chunk."""
    cache = tmp_path_factory.mktemp("programs")
    program_pieces = pieces.build(program())
    metrics = one_chunk(program_pieces, program_pieces.compile(NAMES, cache))
    return cache, metrics


def test_a_second_build_loads_every_piece_and_computes_the_same(filled):
    cache, expected = filled
    assert len(list(cache.glob("*.bin"))) == len(NAMES)
    program_pieces = pieces.build(program())
    blind = dataclasses.replace(
        program_pieces,
        functions={
            name: (NotLowered(), args) for name, (_, args) in program_pieces.functions.items()
        },
    )
    metrics = one_chunk(program_pieces, blind.compile(NAMES, cache))
    assert metrics.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(metrics[name], expected[name], err_msg=name)


def bits(x: jax.Array) -> jax.Array:
    """``x``, or its key data where ``x`` holds PRNG keys."""
    return jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x


def test_init_compiled_with_its_options_equals_the_default_compile_bit_for_bit():
    """The init piece's cheaper CPU compile (pieces.INIT_COMPILER_OPTIONS) starts a run from
    exactly the state XLA's default compile gives."""
    function, args = pieces.build(program(algo="sac")).functions["init"]
    lowered = function.lower(*args)
    states = [
        lowered.compile(compiler_options=options)(*args)
        for options in ({}, pieces.compiler_options("init"))
    ]
    leaves = [[np.asarray(bits(x)) for x in jax.tree.leaves(state)] for state in states]
    assert len(leaves[0]) > 50
    for default, cheaper in zip(*leaves, strict=True):
        np.testing.assert_array_equal(cheaper, default)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],  # a write cut short
        lambda data: data[:-10] + b"0123456789",  # payload changed: the checksum differs
        lambda data: b'{"format": "something else"}\n' + data.split(b"\n", 1)[1],
    ],
    ids=["empty", "truncated", "corrupt", "foreign header"],
)
def test_a_damaged_entry_is_ignored_and_replaced(tmp_path, filled, damage):
    """The init piece's entry is damaged (the cheapest to compile again); the others are
    copied whole and must still load."""
    cache, _ = filled
    program_pieces = pieces.build(program())
    damaged = executables.key(program_pieces.config, "init", program_pieces.functions["init"][1])
    for path in cache.glob("*.bin"):
        data = path.read_bytes()
        (tmp_path / path.name).write_bytes(damage(data) if path.stem == damaged else data)
    assert executables.load(tmp_path, damaged) is None
    compiled = program_pieces.compile(NAMES, tmp_path)  # lowers and compiles init again
    assert set(compiled) == set(NAMES)
    for path in cache.glob("*.bin"):
        assert executables.load(tmp_path, path.stem) is not None, "the entry was not replaced"


def test_an_entry_under_another_key_is_not_loaded(tmp_path, filled):
    cache, _ = filled
    path = next(cache.glob("*.bin"))
    (tmp_path / ("0" * 64 + ".bin")).write_bytes(path.read_bytes())
    assert executables.load(tmp_path, "0" * 64) is None


def test_the_key_follows_what_reaches_the_device():
    program_pieces = pieces.build(program())
    _, args = program_pieces.functions["iterations"]

    def key(**overrides):
        return executables.key(program(**overrides).to_dict(), "iterations", args)

    assert key() == key(seed=5, total_env_steps=4096, stop_on_success=True)
    assert key() == key(gamma=0.9, learning_rate=3e-4)  # inputs of the program
    assert key() != key(batch_size=128)
    assert key() != executables.key(program().to_dict(), "evaluation", args)
    swept = program(seeds=2, **{"sweep.lr": [1e-3, 3e-4]})
    assert executables.key(swept.to_dict(), "iterations", args) == key(seeds=2, tau=0.01)


HYPERPARAMETERS_CHANGED = {
    "her_future_prob": 0.5, "learning_rate": 3e-4, "weight_decay": 1e-3, "gamma": 0.9,
    "tau": 0.01, "noise_std": 0.3, "ou_theta": 0.3, "random_action_prob": 0.3,
    "action_l2": 1.0, "target_noise": 0.1, "target_noise_clip": 0.3, "init_alpha": 0.5,
}  # fmt: skip


@pytest.mark.parametrize(
    ("algo", "noise", "seeds"), [("ddpg", "ou", 1), ("td3", "gaussian", 2), ("sac", "gaussian", 1)]
)
def test_pieces_do_not_depend_on_hyperparameter_values(algo, noise, seeds):
    """The key leaves out the float hyperparameters' values, so the programs built for other
    values must be the same program: the same text, lowered, for every piece. (Both run layouts
    trace the same trainer; one each per algorithm keeps the test short.)"""
    assert set(HYPERPARAMETERS_CHANGED) == set(config.hyperparameter_names())
    base = {"algo": algo, "exploration_noise": noise, "seeds": seeds}
    one = pieces.build(program(**base)).functions
    other = pieces.build(program(**base, **HYPERPARAMETERS_CHANGED, seed=3)).functions
    for name, (function, args) in one.items():
        other_function, other_args = other[name]
        assert function.lower(*args).as_text() == other_function.lower(*other_args).as_text()


def test_nothing_is_cached_while_jaxs_own_persistent_cache_is_on(tmp_path):
    """A program JAX loaded from its cache serializes without some kernels: never store one."""
    assert executables.enabled()
    jax.config.update("jax_compilation_cache_dir", str(tmp_path))
    try:
        assert not executables.enabled()
    finally:
        jax.config.update("jax_compilation_cache_dir", None)


def test_the_key_names_the_processor(monkeypatch):
    """An executable compiled for one CPU can crash another: the key holds the CPU's model and
    instruction-set features (here, Linux's /proc/cpuinfo)."""
    program_pieces = pieces.build(program())
    _, args = program_pieces.functions["evaluation"]
    here = executables.key(program_pieces.config, "evaluation", args)
    processor = executables._processor()
    if os.path.exists("/proc/cpuinfo"):
        assert processor.get("model name") or processor.get("CPU part")
        assert processor.get("flags") or processor.get("Features")
    without = {**processor, "flags": "sse2"}
    monkeypatch.setattr(executables, "_processor", lambda: without)
    assert executables.key(program_pieces.config, "evaluation", args) != here


class Device:
    """What the key reads of a device."""

    def __init__(self, kind, capability):
        self.device_kind, self.compute_capability = kind, capability


def test_the_key_names_the_accelerator(monkeypatch):
    """A GPU executable is native code for one model and compute capability: each is in the key
    (on a GPU with the CUDA plugin, the driver's version too)."""
    program_pieces = pieces.build(program())
    _, args = program_pieces.functions["evaluation"]
    with monkeypatch.context() as patched:
        patched.setattr(jax, "devices", lambda: [Device("NVIDIA H100 80GB HBM3", "9.0")])
        assert executables._accelerators() == [
            {"kind": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}
        ]
    keys = set()
    gpus = [("NVIDIA H100", "9.0"), ("NVIDIA A100", "8.0"), ("NVIDIA A100", "8.6")]
    for kind, capability in gpus:
        described = [{"kind": kind, "compute_capability": capability}]
        monkeypatch.setattr(executables, "_accelerators", lambda d=described: d)
        keys.add(executables.key(program_pieces.config, "evaluation", args))
    assert len(keys) == 3


def entries(directory):
    return sorted(path.name for path in directory.glob("*.bin"))


def test_the_cache_keeps_the_entries_used_last_within_its_cap(tmp_path, filled):
    cache, _ = filled
    for age, path in enumerate(sorted(cache.glob("*.bin"))):
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        os.utime(copy, (1e9 + age, 1e9 + age))  # the last in name order is the newest
    names = entries(tmp_path)
    sizes = {name: (tmp_path / name).stat().st_size for name in names}
    oldest = names[0]
    assert executables.load(tmp_path, oldest[:-4]) is not None  # a load is a use
    assert executables.prune(tmp_path, sum(sizes.values())) == []
    deleted = executables.prune(tmp_path, sizes[oldest] + sizes[names[-1]])
    assert [path.name for path in deleted] == names[1:-1]
    assert entries(tmp_path) == sorted([oldest, names[-1]])
    assert executables.prune(tmp_path, 0) and entries(tmp_path) == []


def test_a_store_keeps_the_cache_under_its_cap(tmp_path, filled, monkeypatch):
    cache, _ = filled
    smallest = min(cache.glob("*.bin"), key=lambda path: path.stat().st_size)
    assert smallest.stat().st_size < 2**20
    name = smallest.name[:-4]
    compiled = executables.load(cache, name)
    monkeypatch.setenv(executables.LIMIT_VARIABLE, "0")
    executables.store(tmp_path / "capped", name, compiled)
    assert entries(tmp_path / "capped") == []
    monkeypatch.setenv(executables.LIMIT_VARIABLE, "1")  # 1 MB: room for this entry
    executables.store(tmp_path / "capped", name, compiled)
    assert entries(tmp_path / "capped") == [name + ".bin"]
    assert (tmp_path / "capped").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("value", ["lots", "-1", "1.5"])
def test_a_bad_cap_is_an_error_naming_it(monkeypatch, value):
    monkeypatch.setenv(executables.LIMIT_VARIABLE, value)
    with pytest.raises(ValueError, match=f"JAXIK_CACHE_LIMIT_MB='{value}'.*megabytes >= 0"):
        executables.limit_bytes()


@pytest.mark.parametrize("unsafe", ["writable by others", "another user's"])
def test_a_cache_others_could_write_is_refused(tmp_path, filled, monkeypatch, capsys, unsafe):
    """Its entries would be unpickled native code: nothing is loaded from it or stored in it,
    the run compiles instead, and the message says why and what to do."""
    cache, _ = filled
    shared = tmp_path / "shared"
    shared.mkdir()
    for path in cache.glob("*.bin"):
        (shared / path.name).write_bytes(path.read_bytes())
    if unsafe == "writable by others":
        shared.chmod(0o777)
        expected = "lets other users write into it (run: chmod go-w"
    else:
        monkeypatch.setattr(os, "getuid", lambda: shared.stat().st_uid + 1)
        expected = "not to this user"
    before = {path.name: path.stat().st_mtime_ns for path in shared.iterdir()}

    def no_loading(directory, entry):
        raise AssertionError("loaded from a cache others could write")

    monkeypatch.setattr(executables, "load", no_loading)
    assert not executables.private(shared)
    assert expected in capsys.readouterr().err
    compiled = pieces.build(program()).compile(("evaluation",), shared)
    assert set(compiled) == {"evaluation"}
    assert {path.name: path.stat().st_mtime_ns for path in shared.iterdir()} == before


def test_train_py_names_a_bad_cap_before_compiling(tmp_path):
    result = subprocess.run(
        [sys.executable, "train.py", "env=PlanarReach", "--out", str(tmp_path / "run")],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=120,
        env={**os.environ, executables.LIMIT_VARIABLE: "2GB"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "JAXIK_CACHE_LIMIT_MB='2GB'" in result.stderr and "megabytes" in result.stderr
    assert not (tmp_path / "run").exists()
