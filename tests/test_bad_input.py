"""Property-based checks of configuration input (hypothesis): any mapping of overrides, any
``key=value`` text and any YAML file is either a valid scan or a ValueError naming the field and
what is allowed, raised before anything compiles; never another exception from deeper down.

200 examples each in the default suite, 10,000 in the slow one (``make test-slow``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from pathlib import Path

import jax
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs.panda_reach import PandaReachConfig
from envs.planar_reach import PlanarReachConfig
from envs.validation import INT32_MAX
from jaxik import config
from jaxik.host import scan as scan_lib

FIELDS = [f.name for f in dataclasses.fields(config.TrainConfig)]
ENV_FIELDS = sorted(
    {f.name for f in dataclasses.fields(PandaReachConfig)}
    | {f.name for f in dataclasses.fields(PlanarReachConfig)}
)
KEYS = [*FIELDS, "seeds", "sweep", *(f"env_config.{n}" for n in ENV_FIELDS),
        *(f"sweep.{n}" for n in [*FIELDS, "lr"])]  # fmt: skip
ODD_YAML = ["yes", "no", "on", "off", "~", "null", "1e3", "1e-3", "0x1F", "0o17", "1_000",
            ".inf", "-.inf", ".nan", "NaN", "inf", "-0", "'16'", "[]", "{}", "[1, [2]]",
            "{a: 1}", "2026-11-21", "!!binary aGk=", "&a 1", "*a", "- 1", "'", "[", "{",
            ": :", "\t", "", "!!python/object:os.system ls", "16 # comment", "[64, 64",
            "1e400", "-1e400", "9" * 40]  # fmt: skip
CHOICES = ["td3", "sac", "tqc", "ddpg", "future", "none", "ou", "PandaReach", "PlanarReach",
           "dense", "ee", "joints"]  # fmt: skip
ERROR_WORDS = ("must", "not allowed", "unknown", "not YAML", "not valid YAML", "at most")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=-2, max_value=5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1.0, max_value=2.0),
    st.text(max_size=8),
    st.sampled_from(CHOICES),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
keys = st.one_of(st.sampled_from(KEYS), st.text(min_size=1, max_size=12))


def plausible(default):
    """Values of the default's type, mostly in range, so that valid configs come up too."""
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int):
        return st.sampled_from([0, 1, 16, 32, 64, 256, 1024, 2048]) | st.integers(-1, 10**6)
    if isinstance(default, float):
        return st.floats(0.0, 1.0) | st.sampled_from([1e-3, 0.5, 0.95])
    if isinstance(default, str):
        return st.sampled_from(CHOICES)
    if isinstance(default, tuple):
        return st.lists(st.floats(-0.5, 0.5) | st.integers(1, 256), min_size=1, max_size=4)
    return values


PLAUSIBLE = {
    **{f.name: plausible(getattr(config.TrainConfig(), f.name)) for f in
       dataclasses.fields(config.TrainConfig)},
    **{f"env_config.{f.name}": plausible(getattr(PandaReachConfig(), f.name)) for f in
       dataclasses.fields(PandaReachConfig)},
    "seeds": st.integers(0, 8),
    "sweep.lr": st.lists(st.floats(1e-5, 1e-2), min_size=1, max_size=3),
    "sweep.batch_size": st.lists(st.sampled_from([0, 64, 128]), min_size=1, max_size=2),
}  # fmt: skip
plausible_maps = st.lists(
    st.sampled_from(sorted(PLAUSIBLE)).flatmap(lambda k: st.tuples(st.just(k), PLAUSIBLE[k])),
    max_size=3,
).map(dict)
override_maps = st.dictionaries(keys, values, max_size=4) | plausible_maps
override_texts = st.lists(
    st.tuples(keys, st.one_of(st.sampled_from(ODD_YAML), values.map(yaml.safe_dump))).map(
        lambda kv: f"{kv[0]}={kv[1].strip()}"
    )
    | st.text(max_size=20),
    max_size=4,
) | plausible_maps.map(lambda m: [f"{k}={json.dumps(v)}" for k, v in m.items()])
yaml_files = st.one_of(
    st.sampled_from(ODD_YAML),
    st.dictionaries(keys, values, max_size=5).map(yaml.safe_dump),
    st.text(max_size=60),
)


class CompileCounter:
    """Counts XLA compilations through JAX's monitoring events."""

    def __init__(self):
        self.count = 0
        jax.monitoring.register_event_duration_secs_listener(self._on_event)

    def _on_event(self, event: str, duration: float, **kwargs) -> None:
        if "backend_compile" in event:
            self.count += 1


COMPILES = CompileCounter()


def mentioned_names(keys) -> set[str]:
    """Every name a good error message could name: each key and its dotted parts."""
    names = set()
    for key in keys:
        text = str(key).split("=", 1)[0].strip()
        names.add(text)
        names.update(part for part in text.split(".") if part)
    return names | {"override", "sweep", "seeds", "configuration key", "env_config"}


def check_valid(scan: scan_lib.Scan) -> None:
    """What validation promises of a configuration it accepts."""
    cfg, defaults = scan.base, config.TrainConfig()
    for field in dataclasses.fields(cfg):
        value, default = getattr(cfg, field.name), getattr(defaults, field.name)
        if isinstance(default, bool):
            assert isinstance(value, bool), field.name
        elif isinstance(default, int):  # counts and sizes: the device counters are int32
            assert isinstance(value, int) and -1 < value <= INT32_MAX, field.name
        elif isinstance(default, float):  # any finite number (an int is a float setting too)
            assert isinstance(value, int | float) and math.isfinite(value), field.name
    assert cfg.eval_every % cfg.num_envs == 0 and cfg.buffer_size >= cfg.num_envs
    assert all(isinstance(s, int) and s > 0 for s in cfg.hidden_sizes)
    assert 1 <= scan.seeds <= scan_lib.MAX_RUNS
    for name, options in scan.sweep.items():
        assert name in FIELDS and len(options) >= 1


def load_and_judge(overrides, path: Path | None = None) -> str:
    """'valid' or 'error'; fails the test on anything else."""
    before = COMPILES.count
    try:
        scan = scan_lib.load(path, overrides)
    except ValueError as error:
        message = str(error)
        names = mentioned_names(overrides)
        if path is not None:  # a file's keys are not known here: any config name will do
            names |= {str(path), "mapping", *FIELDS, *ENV_FIELDS}
        assert any(name and name in message for name in names), message
        assert any(word in message for word in ERROR_WORDS), message
        result = "error"
    else:
        check_valid(scan)
        result = "valid"
    assert COMPILES.count == before, "validation compiled something"
    return result


def run_property(count: int):
    common = settings(
        max_examples=count, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )  # fmt: skip

    @common
    @given(override_maps)
    def mappings(overrides):
        load_and_judge(overrides)

    @common
    @given(override_texts)
    def texts(overrides):
        load_and_judge(overrides)

    @common
    @given(yaml_files)
    def files(text):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "config.yaml"
            path.write_text(text)
            load_and_judge([], path)

    mappings()
    texts()
    files()


def test_bad_input_is_a_named_error_or_a_valid_config():
    run_property(200)


@pytest.mark.slow
def test_bad_input_is_a_named_error_or_a_valid_config_10000():
    run_property(10_000)


def test_plausible_configs_are_accepted():
    """The property is not vacuous: hypothesis-shaped good input loads."""
    assert load_and_judge({"num_envs": 32, "eval_every": 64, "sweep.lr": [1e-3, 3e-4]}) == "valid"
    assert load_and_judge(["seeds=3", "env_config.goal_low=[-0.1,-0.1,0]"]) == "valid"
    assert os.environ.get("JAX_PLATFORMS", "cpu") is not None
