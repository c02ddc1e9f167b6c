"""Lockstep counters are declared fields: a program's runs share exactly those, and any other
integer of a run's state, a per-run one added later included, stays the run's own."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from jaxik import config as config_lib
from jaxik.device import lockstep, trainer
from jaxik.host.pieces import vmap_runs


@struct.dataclass
class Toy:
    steps: jax.Array = lockstep.counter()  # int32, advanced by every run alike
    tally: jax.Array  # int32, each run's own
    value: jax.Array  # float32


def test_a_per_run_integer_survives_and_the_counters_are_shared():
    def part(state):
        bump = jax.lax.cond(state.steps % 2 == 0, lambda: state.tally * 10, lambda: state.tally)
        return Toy(steps=state.steps + 1, tally=bump + 1, value=state.value + state.tally)

    runs = Toy(
        steps=jnp.array([4, 4, 4], jnp.int32),
        tally=jnp.array([1, 2, 3], jnp.int32),
        value=jnp.zeros(3),
    )
    after = jax.jit(vmap_runs(part))(runs)
    np.testing.assert_array_equal(after.tally, [11, 21, 31])  # not run 0's 11 three times
    np.testing.assert_array_equal(after.steps, [5, 5, 5])
    np.testing.assert_array_equal(after.value, [1.0, 2.0, 3.0])
    # the shared counter keeps the cond a cond; under a plain vmap it would run both branches
    primitives = {e.primitive.name for e in jax.make_jaxpr(vmap_runs(part))(runs).eqns}
    assert "cond" in primitives
    plain = {e.primitive.name for e in jax.make_jaxpr(jax.vmap(part))(runs).eqns}
    assert "cond" not in plain


def test_a_counter_is_read_from_run_zero():
    zeros = jnp.zeros(2, jnp.int32)
    runs = Toy(steps=jnp.array([7, 0], jnp.int32), tally=zeros, value=jnp.zeros(2))
    after = vmap_runs(lambda s: s.replace(tally=s.steps))(runs)
    np.testing.assert_array_equal(after.tally, [7, 7])


@pytest.mark.parametrize(
    ("algo", "optimizer"),
    [("td3", {}), ("sac", {}), ("td3", {"weight_decay": 0.01, "max_grad_norm": 1.0})],
)
def test_the_training_states_counters(algo, optimizer):
    config = config_lib.load(None, {"env": "PlanarReach", "algo": algo, **optimizer})
    state = jax.eval_shape(trainer.make_trainer(config).init, jax.random.key(0))
    flat, _ = jax.tree_util.tree_flatten_with_path(state)
    declared = {
        jax.tree_util.keystr(path)
        for (path, _), marked in zip(flat, lockstep.marks(state), strict=True)
        if marked
    }
    adam = "[1][0]" if optimizer else "[0]"  # AdamW and clipping wrap Adam in a chain
    optimizers = ["actor", "critic"] + (["alpha"] if algo == "sac" else [])
    expected = {".iteration", ".buffer.rows_written", ".agent.updates"}
    expected |= {
        f".agent.{name}_opt_state{'[0]' if name == 'alpha' else adam}.count" for name in optimizers
    }
    assert declared == expected
    # and nothing else of the state is an integer scalar today
    scalars = {
        jax.tree_util.keystr(path)
        for path, leaf in flat
        if leaf.ndim == 0 and jnp.issubdtype(leaf.dtype, jnp.integer)
    }
    assert scalars == expected
