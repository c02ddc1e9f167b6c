"""How the arm of the manipulation tasks answers constant actions, beside panda-gym's.

From the neutral pose (the cube set aside at ``CUBE``, where the arm never reaches), every probe
holds one action for a number of control steps and records where the end effector (ee control,
``EE_PROBES``, ``EE_STEPS`` steps) or the driven joint (joint control, ``JOINT_PROBES``,
``JOINT_STEPS`` steps) went:

- ``first step``: the ee's displacement in the first step (mm), or the joint's change (rad);
- ``steady step``: the ee's mean displacement per step over the last half of the steps (mm), or
  the joint's mean change per step;
- ``drift``: how far the ee ended off the line the action points along (mm);
- ``height``: the ee's height after the last step (m; it starts at 0.197 m).

Rows are fidelity's (``experiment`` holds the probe).

panda-gym runs the same actions through gymnasium on PandaPush-v3 (``make install-compare``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxik.bench.fidelity import Row, comparison_table

EE_STEPS = 12
JOINT_STEPS = 4
CUBE = (-0.75, 0.3, 0.02)  # on the table, out of every probe's way
EE_PROBES = {
    "+x": (1.0, 0.0, 0.0),
    "-x": (-1.0, 0.0, 0.0),
    "+y": (0.0, 1.0, 0.0),
    "-y": (0.0, -1.0, 0.0),
    "+z": (0.0, 0.0, 1.0),
    "-z": (0.0, 0.0, -1.0),
    "+x 0.3": (0.3, 0.0, 0.0),
    "-x 0.3": (-0.3, 0.0, 0.0),
    "+y 0.3": (0.0, 0.3, 0.0),
    "-z 0.3": (0.0, 0.0, -0.3),
    "+x+y 0.7": (0.7, 0.7, 0.0),
    "-x-z 0.7": (-0.7, 0.0, -0.7),
}
JOINT_PROBES = {f"joint {j + 1} {sign}": (j, 1.0 if sign == "+" else -1.0)
                for j in range(7) for sign in "+-"}  # fmt: skip


def ee_metrics(path: np.ndarray, action: tuple[float, float, float]) -> dict[str, float]:
    """path [steps + 1, 3]: the ee's positions -> the probe's metrics."""
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    moved = path[-1] - path[0]
    direction = np.asarray(action) / np.linalg.norm(action)
    off_line = moved - (moved @ direction) * direction
    return {
        "first step (mm)": 1000 * steps[0],
        "steady step (mm)": 1000 * steps[len(steps) // 2 :].mean(),
        "drift (mm)": 1000 * np.linalg.norm(off_line),
        "height (m)": path[-1, 2],
    }


def joint_metrics(angles: np.ndarray, joint: int) -> dict[str, float]:
    """angles [steps + 1, 7] -> the driven joint's first and mean change per step (rad)."""
    change = np.diff(angles[:, joint])
    return {"first step (rad)": abs(change[0]), "steady step (rad)": abs(change.mean())}


def jaxik_paths(overrides: dict) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """jaxik's ee paths [EE_STEPS + 1, 3] and joint angles [JOINT_STEPS + 1, 7] per probe, all
    probes of a kind in one compiled, vmapped rollout."""
    import jax
    import jax.numpy as jnp

    import envs
    from envs import panda_model

    def paths(name, probes, steps, read):
        env = envs.make(name, terminate_on_success=False, **overrides)
        neutral = jnp.asarray(panda_model.NEUTRAL_QPOS, jnp.float32)
        start = env.state_at(neutral, jnp.asarray(CUBE, jnp.float32), jnp.zeros(3))

        def rollout(action):
            def step(state, _):
                state = env.step(state, action)
                return state, read(state)

            _, path = jax.lax.scan(step, start, None, length=steps)
            return jnp.concatenate([read(start)[None], path])

        actions = jnp.asarray(probes, jnp.float32)
        return dict(
            zip(names(probes), np.asarray(jax.jit(jax.vmap(rollout))(actions)), strict=True)
        )

    def names(probes):
        return list(EE_PROBES) if len(probes) == len(EE_PROBES) else list(JOINT_PROBES)

    ee = paths("PandaPush", list(EE_PROBES.values()), EE_STEPS, lambda s: s.obs["observation"][:3])
    joint_actions = [np.eye(7)[j] * sign for j, sign in JOINT_PROBES.values()]
    joints = paths(
        "PandaPushJoints", joint_actions, JOINT_STEPS, lambda s: s.pipeline_state.qpos[:7]
    )
    return ee, joints


def panda_gym_paths() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The same probes on panda-gym's PandaPush-v3 and PandaPushJoints-v3."""
    import gymnasium as gym
    import panda_gym  # noqa: F401  (registers the environments)

    def run(name, actions, steps, read):
        env = gym.make(name)
        paths = {}
        for probe, action in actions.items():
            env.reset(seed=0)
            env.unwrapped.sim.set_base_pose("object", np.asarray(CUBE), np.array([0, 0, 0, 1.0]))
            path = [read(env)]
            for _ in range(steps):
                env.unwrapped.step(np.asarray(action, np.float32))
                path.append(read(env))
            paths[probe] = np.asarray(path)
        env.close()
        return paths

    ee = run("PandaPush-v3", EE_PROBES, EE_STEPS, lambda e: e.unwrapped.robot.get_ee_position())
    joint_actions = {p: np.eye(7)[j] * sign for p, (j, sign) in JOINT_PROBES.items()}
    joints = run(
        "PandaPushJoints-v3",
        joint_actions,
        JOINT_STEPS,
        lambda e: np.array([e.unwrapped.robot.get_joint_angle(j) for j in range(7)]),
    )
    return ee, joints


def rows_of(ee: dict, joints: dict) -> dict[tuple[str, str], float]:
    values = {}
    for probe, action in EE_PROBES.items():
        for metric, value in ee_metrics(ee[probe], action).items():
            values[probe, metric] = float(value)
    for probe, (joint, _) in JOINT_PROBES.items():
        for metric, value in joint_metrics(joints[probe], joint).items():
            values[probe, metric] = float(value)
    return values


def measure(overrides: dict, vs_pandagym: bool) -> list[Row]:
    ours = rows_of(*jaxik_paths(overrides))
    theirs = rows_of(*panda_gym_paths()) if vs_pandagym else {}
    return [
        Row(probe, metric, value, theirs.get((probe, metric)))
        for (probe, metric), value in ours.items()
    ]


def table(rows: list[Row]) -> str:
    caption = (
        f"Constant actions from the neutral pose: ee control for {EE_STEPS} steps, joint "
        f"control for {JOINT_STEPS}."
    )
    return comparison_table(rows, caption, "probe")


def plot(path: Path, rows: list[Row]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r.metric in ("first step (mm)", "steady step (mm)")]
    figure, axis = plt.subplots(figsize=(7, 5))
    positions = np.arange(len(shown))
    axis.barh(positions - 0.2, [r.jaxik for r in shown], height=0.4, label="jaxik")
    if any(r.panda_gym is not None for r in shown):
        axis.barh(positions + 0.2, [r.panda_gym or 0 for r in shown], height=0.4, label="panda-gym")
    axis.set_yticks(positions, [f"{r.experiment}: {r.metric}" for r in shown], fontsize=6)
    axis.set_xlabel("end-effector displacement per step (mm)")
    axis.legend()
    axis.set_title("The arm's answer to constant ee actions", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
