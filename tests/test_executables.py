"""The cache of compiled programs (jaxik.host.executables): a second build of the same program loads
every piece without lowering any, runs them to the same numbers, and a damaged or foreign entry
is ignored and replaced."""

import dataclasses

import jax
import numpy as np
import pytest

from jaxik.host import executables, pieces, scan

SMALL = {"env": "PlanarReach", "total_env_steps": 512, "eval_every": 256, "learning_starts": 128}
NAMES = ("train", "eval", "init")


class NotLowered:
    """Stands in for a jitted piece that the cache must make unnecessary."""

    def lower(self, *args):
        raise AssertionError("lowered a piece the cache holds")


def program(**overrides):
    return scan.load(None, {**SMALL, **overrides}).programs[0]


def one_chunk(jitted, compiled):
    _, metrics = pieces.chunk(compiled)(jitted.init_state(compiled))
    return jax.device_get(metrics)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A cache filled by one build, and that build's first chunk."""
    cache = tmp_path_factory.mktemp("programs")
    jitted = pieces.build(program())
    metrics = one_chunk(jitted, jitted.compile(NAMES, cache))
    return cache, metrics


def test_a_second_build_loads_every_piece_and_computes_the_same(filled):
    cache, expected = filled
    assert len(list(cache.glob("*.bin"))) == len(NAMES)
    jitted = pieces.build(program())
    blind = dataclasses.replace(
        jitted,
        functions={name: (NotLowered(), args) for name, (_, args) in jitted.functions.items()},
    )
    metrics = one_chunk(jitted, blind.compile(NAMES, cache))
    assert metrics.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(metrics[name], expected[name], err_msg=name)


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
    jitted = pieces.build(program())
    damaged = executables.key(jitted.config, "init", jitted.functions["init"][1])
    for path in cache.glob("*.bin"):
        data = path.read_bytes()
        (tmp_path / path.name).write_bytes(damage(data) if path.stem == damaged else data)
    assert executables.load(tmp_path, damaged) is None
    compiled = jitted.compile(NAMES, tmp_path)  # lowers and compiles init again
    assert set(compiled) == set(NAMES)
    for path in cache.glob("*.bin"):
        assert executables.load(tmp_path, path.stem) is not None, "the entry was not replaced"


def test_an_entry_under_another_key_is_not_loaded(tmp_path, filled):
    cache, _ = filled
    path = next(cache.glob("*.bin"))
    (tmp_path / ("0" * 64 + ".bin")).write_bytes(path.read_bytes())
    assert executables.load(tmp_path, "0" * 64) is None


def test_the_key_follows_what_reaches_the_device():
    jitted = pieces.build(program())
    _, args = jitted.functions["train"]

    def key(**overrides):
        return executables.key(program(**overrides).to_dict(), "train", args)

    assert key() == key(seed=5, total_env_steps=4096, stop_on_success=True)
    assert key() != key(batch_size=128)
    assert key() != key(gamma=0.9)  # a float hyperparameter: safe to recompile
    assert key() != executables.key(program().to_dict(), "eval", args)


def test_nothing_is_cached_while_jaxs_own_persistent_cache_is_on(tmp_path):
    """A program JAX loaded from its cache serializes without some kernels: never store one."""
    assert executables.enabled()
    jax.config.update("jax_compilation_cache_dir", str(tmp_path))
    try:
        assert not executables.enabled()
    finally:
        jax.config.update("jax_compilation_cache_dir", None)
