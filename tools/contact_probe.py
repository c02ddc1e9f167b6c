"""Does a free cube stay on the table? A probe for the manipulation tasks' physics, before they
exist: today's Panda MJCF plus a free 4 cm, 1 kg cube, contacts only through explicit pairs
(cube-table at friction 0.25, cube-fingers 0.5, cube-hand 0.25: the products of the coefficients
a Bullet scene of those materials uses), the arm driven by a random walk of servo targets (0.05
rad per control step at most, drifting down so the hand reaches the table), one control step of
0.04 s in ``substeps`` ``mjx.step`` calls, vmapped over ``envs`` and run in one ``lax.scan``.

    python tools/contact_probe.py '{"envs": 64, "substeps": 3, "table": "plane"}'

Keys: envs, substeps, steps (control steps, 50), table ("box": today's table box; "plane": a
plane at its top), iterations and ls (solver and line-search iterations, 4 and 8), solver ("cg"
or "newton"), timeconst (the pairs' solref time constant; MuJoCo's 0.02 when absent),
hand_table (true: the hand and fingers collide with the table too), still (true: the arm holds
its pose). Prints throughput, compile time and the cube centre's lowest and final median height
(it rests at 0.020 m).

Measured (2-core CPU, jax 0.10.2, mujoco 4.0.0, mujoco-mjx 3.17.0, 64 environments, 3 substeps, a
plane table, 50 control steps):

| arm | solver | iters / ls | timeconst | hand-table | env steps/s | lowest z | final median z |
| --- | --- | --- | ---: | --- | ---: | ---: | ---: |
| still | CG | 4 / 8 | 0.02 | no | 2,630 | -0.0127 | 0.0275 |
| still | CG | 4 / 8 | 0.04 | no | 3,820 | -0.0250 | 0.0250 |
| still | CG | 20 / 10 | 0.02 | no | 1,169 | 0.0129 | 0.0185 |
| walk | CG | 4 / 8 | 0.02 | no | 3,432 | -0.0758 | 0.0533 |
| walk | CG | 4 / 8 | 0.02 | yes | 2,478 | -0.0758 | 0.1130 |
| walk | CG | 4 / 8 | 0.04 | yes | 2,397 | -0.1055 | 0.0447 |
| walk | CG | 10 / 10 | 0.04 | yes | 1,208 | -0.0824 | 0.0196 |
| walk | CG | 20 / 10 | 0.02 | yes | 794 | -0.0258 | 0.0193 |
| walk | Newton | 2 / 4 | 0.02 | yes | 3,079 | -0.0439 | 0.0226 |
| still, 6 substeps | CG | 4 / 8 | 0.02 | no | 1,623 | 0.0116 | 0.0243 |
| walk, 6 substeps | CG | 4 / 8 | 0.02 | yes | 1,312 | -0.0171 | 0.0421 |
| walk, 1,024 envs | CG | 20 / 10 | 0.02 | yes | 953 | -0.0637 | 0.0186 |

Each configuration compiled in 57-82 s (6 substeps: 153-164 s). What these say: at today's 13.3 ms
physics step, 4 CG iterations do not hold a resting cube even with the arm still (it jitters and
sinks through); 20 do, at a third of the speed, and at 1,024 environments that costs 953 steps/s
where PandaReach runs 62,000; softening the contact does not replace iterations; a 6.7 ms step with
4 iterations keeps a still cube above 0.011 m but not at rest. The box table let cubes fall through
in every configuration tried (4/8, 20/10 and Newton 2/4, with an arm whose targets jumped up to 0.6
rad per step). Not yet tried: steps shorter than 6.7 ms; solimp; the cube's own margin; a
heavier-damped servo.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from envs import panda_model  # and the CPU's XLA flags, set before jax's backend starts

PAIRS = (("object", "table", 0.25), ("object", "left_finger", 0.5),
         ("object", "right_finger", 0.5), ("object", "hand", 0.25))  # fmt: skip
HAND_TABLE = (("table", "left_finger", 0.5), ("table", "right_finger", 0.5),
              ("table", "hand", 0.25))  # fmt: skip


def build(
    substeps: int,
    table: str = "box",
    iterations: int = 4,
    ls: int = 8,
    solver: str = "cg",
    timeconst: float | None = None,
    hand_table: bool = False,
) -> mujoco.MjModel:
    spec = mujoco.MjSpec.from_file(str(panda_model.MODEL_PATH))
    spec.option.timestep = 0.04 / substeps
    spec.option.disableflags &= ~int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
    spec.option.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_LIMIT)
    spec.option.jacobian = mujoco.mjtJacobian.mjJAC_SPARSE
    solvers = {"cg": mujoco.mjtSolver.mjSOL_CG, "newton": mujoco.mjtSolver.mjSOL_NEWTON}
    spec.option.solver = solvers[solver]
    spec.option.iterations, spec.option.ls_iterations = iterations, ls
    if table == "plane":
        top = next(g for g in spec.worldbody.geoms if g.name == "table")
        top.type, top.pos, top.size = mujoco.mjtGeom.mjGEOM_PLANE, [-0.3, 0, 0], [0.55, 0.35, 0.01]
    cube = spec.worldbody.add_body(name="object", pos=[0, 0, 0.02])
    cube.add_freejoint(name="object")
    cube.add_geom(name="object", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.02] * 3, mass=1.0)
    for first, second, friction in PAIRS + (HAND_TABLE if hand_table else ()):
        pair = spec.add_pair(geomname1=first, geomname2=second)
        pair.condim = 3
        pair.friction = [friction, friction, 0.005, 0.0001, 0.0001]
        if timeconst:
            pair.solref = [timeconst, 1.0]
    return spec.compile()


def run(model: mujoco.MjModel, num_envs: int, steps: int, substeps: int, still: bool) -> dict:
    data = mujoco.MjData(model)
    data.qpos[:7] = data.ctrl[:] = panda_model.NEUTRAL_QPOS
    mujoco.mj_forward(model, data)
    mx, start = mjx.put_model(model), mjx.put_data(model, data)
    qpos = np.tile(np.asarray(data.qpos), (num_envs, 1))
    qpos[:, 7:9] = np.random.default_rng(0).uniform(-0.15, 0.15, (num_envs, 2))  # cube xy
    batch = jax.vmap(lambda q: start.replace(qpos=q))(jnp.asarray(qpos, jnp.float32))
    low, high = mx.actuator_ctrlrange[:, 0], mx.actuator_ctrlrange[:, 1]

    def control_step(d, key):
        walk = 0.05 * jax.random.uniform(key, (num_envs, 7), minval=-1, maxval=1)
        walk = walk.at[:, 1].add(0.01).at[:, 3].add(0.01)  # drift: the hand goes down
        d = d.replace(ctrl=jnp.clip(d.ctrl + (0.0 if still else 1.0) * walk, low, high))
        for _ in range(substeps):
            d = jax.vmap(mjx.step, in_axes=(None, 0))(mx, d)
        return d, d.qpos[:, 9]  # the cube centre's height

    keys = jax.random.split(jax.random.key(0), steps)
    began = time.perf_counter()
    compiled = jax.jit(lambda d, k: jax.lax.scan(control_step, d, k)).lower(batch, keys).compile()
    compile_seconds = time.perf_counter() - began
    began = time.perf_counter()
    _, heights = compiled(batch, keys)
    heights = np.asarray(heights)
    seconds = time.perf_counter() - began
    return {
        "env steps/s": round(num_envs * steps / seconds),
        "compile (s)": round(compile_seconds, 1),
        "lowest z": float(np.nanmin(heights)),
        "final median z": float(np.nanmedian(heights[-1])),
        "non-finite": int(np.isnan(heights).sum()),
    }


def main(argv: list[str]) -> None:
    settings = json.loads(argv[0]) if argv else {}
    num_envs, steps = settings.pop("envs", 64), settings.pop("steps", 50)
    still = settings.pop("still", False)
    settings.setdefault("substeps", 3)
    result = run(build(**settings), num_envs, steps, settings["substeps"], still)
    print(json.dumps({"envs": num_envs, "still": still, **settings, **result}))


if __name__ == "__main__":
    main(sys.argv[1:])
