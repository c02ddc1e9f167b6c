"""A program's pieces: ``build`` traces a scan's program (one run, or its runs vmapped with their
lockstep counters shared) for the device mesh as its jitted pieces (init, and the two halves of a
chunk, iterations and evaluation); ``Pieces.compile`` compiles them side by side, from and into
the on-disk cache of executables (jaxik.host.executables); ``chunk`` runs the two halves as one
chunk.

The host loop that runs the compiled chunks, logs and checkpoints is ``jaxik.host.run``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxik.device import hyperparams, lockstep
from jaxik.device import trainer as trainer_lib
from jaxik.host import executables, scan, sharding

# LLVM's optimisation level for the init piece on the CPU: 2 rather than XLA's default 3. Init
# runs once per program and is mostly the threefry hashing of the networks' initial weights, a
# hundred small fusions: 8 vmapped seeds took 7.6-9.7 s to compile at level 3 and 1.8-2.0 s at
# level 2, with the same state bit for bit (measured on SAC with 8 seeds on PlanarReach and TD3
# with 2 on PandaReach; tests/test_executables.py checks SAC's). The halves run every chunk and
# keep level 3: at level 2 the iterations' results differ in the last bit, and the evaluation
# ran 23 % slower on PandaReach.
INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 2}


@dataclasses.dataclass(frozen=True)
class Pieces:
    """A program's jitted pieces, placed on the device mesh, with the arguments they are
    compiled for: "init" (seeds, hp) -> TrainState (leading [runs] axis when batched), and the
    two halves of a chunk, "iterations" and "evaluation": state -> (state, metrics [runs])."""

    functions: dict[str, tuple[Any, tuple]]  # name -> (jitted function, example arguments)
    like: Any  # the state's abstract tree, with shardings (for restoring checkpoints)
    mesh: Any
    config: dict[str, Any]  # the program's configuration (scan.Program.to_dict)

    def compile(
        self,
        names: tuple[str, ...] = ("iterations", "evaluation", "init"),
        cache: Path | None = None,
    ) -> dict[str, Any]:
        """The compiled pieces ``names``, from ``cache`` (a jaxik.host.executables directory)
        where it holds them. XLA compiles the others side by side in threads (it releases the GIL)
        while the next is traced and lowered here: on 2 CPU cores the two halves take
        about 3/4 of the time they take one after the other."""
        compiled, missing = {}, {}
        use_cache = cache is not None and executables.enabled() and executables.private(cache)
        for name in names:
            function, args = self.functions[name]
            entry = executables.key(self.config, name, args) if use_cache else None
            found = executables.load(cache, entry) if use_cache else None
            if found is not None:
                compiled[name] = found
            else:
                missing[name] = entry
        workers = max(1, min(len(missing), os.cpu_count() or 1))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = {}
            for name in missing:
                function, args = self.functions[name]
                futures[name] = pool.submit(function.lower(*args).compile, compiler_options(name))
            for name, future in futures.items():
                compiled[name] = future.result()
                if use_cache:
                    executables.store(cache, missing[name], compiled[name])
        return compiled

    def init_state(self, compiled: dict[str, Any]) -> Any:
        return compiled["init"](*self.functions["init"][1])


def compiler_options(name: str) -> dict[str, Any]:
    """XLA's options for compiling piece ``name`` on this backend (INIT_COMPILER_OPTIONS)."""
    return INIT_COMPILER_OPTIONS if name == "init" and jax.default_backend() == "cpu" else {}


def chunk(compiled: dict[str, Any]) -> Callable[[Any], tuple[Any, dict[str, Any]]]:
    """One chunk on the device: its iterations, then its evaluation; their metrics merged."""
    return trainer_lib.chained(compiled["iterations"], compiled["evaluation"])


def vmap_runs(part: Callable) -> Callable:
    """``jax.vmap(part)`` over a program's runs, with the lockstep counters shared.

    The counters (jaxik.device.lockstep: iterations, gradient updates, Adam's step count, rows
    written into the buffer) are declared fields of the state that all runs of a program advance
    together. Under a plain vmap they are batched, and so is any ``lax.cond`` predicate made
    from them (warm-up, TD3's policy delay): the cond then runs both branches for every run.
    Here each run sees run 0's counters, unbatched, so those conds stay conds; the counters
    come out broadcast to every run, as they went in. Every other leaf is each run's own.
    """

    def run_all(states):
        leaves, tree = jax.tree.flatten(states)
        counter = lockstep.marks(states)
        shared = [leaf[0] if c else None for leaf, c in zip(leaves, counter, strict=True)]

        def one(state):
            own = jax.tree.leaves(state)
            mixed = [o if s is None else s for s, o in zip(shared, own, strict=True)]
            return part(jax.tree.unflatten(tree, mixed))

        return jax.vmap(one)(states)

    return run_all


def build(program: scan.Program) -> Pieces:
    """Traces ``program`` for all its runs. Several runs are vmapped (``vmap_runs``); a single
    run is compiled unbatched and its metrics get the runs axis here, so the host sees the same
    shapes either way."""
    config, runs = program.config, program.runs
    trainer = trainer_lib.make_trainer(config)

    def init_from_seed(seed, hp):
        return trainer.init(jax.random.key(seed), hp)

    if program.batched:
        init_fn = jax.vmap(init_from_seed)
        halves = {
            "iterations": vmap_runs(trainer.iterations),
            "evaluation": vmap_runs(trainer.evaluation),
        }
        seeds = np.asarray([r.seed for r in runs], np.int32)
        hp = hyperparams.stack(runs)
    else:
        init_fn = init_from_seed

        def with_runs_axis(half):
            def run_half(state):
                state, metrics = half(state)
                return state, jax.tree.map(lambda x: x[None], metrics)

            return run_half

        halves = {
            "iterations": with_runs_axis(trainer.iterations),
            "evaluation": with_runs_axis(trainer.evaluation),
        }
        seeds, hp = np.asarray(config.seed, np.int32), hyperparams.from_config(config)
    mesh = sharding.make_mesh(len(runs) if program.batched else None, config.num_envs)
    per_run = sharding.run_sharding(mesh, program.batched)
    # Inputs as global arrays, each process holding its devices' part: on several hosts a jit
    # over the whole mesh accepts no process-local array.
    seeds, hp = jax.tree.map(lambda x: global_array(x, per_run), (seeds, hp))
    abstract = jax.eval_shape(init_fn, seeds, hp)
    shardings = sharding.state_shardings(abstract, mesh, program.batched)
    like = jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings
    )
    jitted = {
        name: jax.jit(
            half, in_shardings=(shardings,), out_shardings=(shardings, per_run), donate_argnums=0
        )
        for name, half in halves.items()
    }
    init = jax.jit(init_fn, in_shardings=(per_run, per_run), out_shardings=shardings)
    return Pieces(
        functions={
            "iterations": (jitted["iterations"], (like,)),
            "evaluation": (jitted["evaluation"], (like,)),
            "init": (init, (seeds, hp)),
        },
        like=like,
        mesh=mesh,
        config=program.to_dict(),
    )


def global_array(value: Any, placement: Any) -> jax.Array:
    """A host value every process knows whole, as one array placed by ``placement``."""
    value = np.asarray(value)
    return jax.make_array_from_callback(value.shape, placement, lambda index: value[index])
