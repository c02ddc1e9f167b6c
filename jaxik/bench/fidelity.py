"""Do jaxik's PandaPush, PandaSlide, PandaPickAndPlace and PandaStack behave like panda-gym's v3
tasks?
The same scripted experiments on both simulations, from the observation alone (envs/scripted.py),
side by side.

- ``scripted push``: the scripted controller's success rate over N episodes from each
  simulation's own start and goal distribution;
- ``untouched cube``: the gripper moves about 20-30 cm above the table for 50 steps; the cube's
  final height (it rests at 0.020 m), how far it moved and its peak spin;
- ``straight push``: the gripper starts 5 cm behind a cube at the table's centre line, pushes
  along +x at half speed for 8 steps, then holds still for 10: how far the cube and the gripper
  moved, and the cube's sideways drift;
- ``stopping``: the gripper moves at full speed for 3 steps (action (-1, 1, -1)), then the action
  is zero for 4 steps: how far it coasts after the action stopped, on PandaPush and on PandaReach
  (whose arm keeps the position servos it was tuned with);
- ``ik step``: from the neutral pose, the share of a 1 cm ee step along x and along z that the
  arm's IK answer reaches (its joints set directly, no servo): what an action asks of the arm;
- ``scripted slide``: the scripted striker's success rate on PandaSlide over N episodes;
- ``free slide``: the puck, set going along +x at 0.3 and at 0.5 m/s with nothing touching it,
  slides until friction (0.02) and damping stop it: how far;
- ``scripted pick and place``: the scripted grasp-and-carry controller's success rate on
  PandaPickAndPlace over N episodes;
- ``carry``: the same controller, the cube under the gripper at the table's centre and the goal
  10 cm above it (the episode does not end there): after 30 steps, the cube's height and the
  fingers' width around it;
- ``scripted stack``: the scripted controller that picks and places the first cube, then the
  second onto it (``scripted.stack``), its success rate on PandaStack over N episodes of 100
  steps.

panda-gym runs only with the optional extra installed (``make install-compare``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

STRAIGHT_PUSH = (0.5, 8, 10)  # action along +x, steps pushing, steps holding
STOP_ACTION = (-1.0, 1.0, -1.0)
BEHIND = 0.05  # gripper start behind the cube's centre
IK_STEP = 0.01  # metres, from the neutral pose
FREE_SLIDE = (-0.15, (0.3, 0.5), 60)  # the puck's start x, its speeds (m/s), steps to let it slide
CARRY = ((0.0, 0.0, 0.02), (0.0, 0.0, 0.12), 30)  # the cube's start, the goal, steps


@dataclasses.dataclass(frozen=True)
class Row:
    experiment: str
    metric: str
    jaxik: float
    panda_gym: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.panda_gym is None or self.panda_gym == 0:
            return None
        return self.jaxik / self.panda_gym


def _scripted_success(env, controller, keys, steps: int = 50):
    """Per key [N]: whether ``controller`` (observation, desired goal) -> action reaches the
    goal within ``steps`` steps of ``env``'s episode from that key."""
    import jax
    import jax.numpy as jnp

    def episode(key):
        state = env.reset(key)

        def step(state, _):
            obs = state.obs
            after = env.step(state, controller(obs["observation"], obs["desired_goal"]))
            after = jax.tree.map(lambda new, old: jnp.where(state.done > 0, old, new), after, state)
            return after, after.metrics["success"]

        return jax.lax.scan(step, state, None, length=steps)[1].max()

    return jax.jit(jax.vmap(episode))(keys)


def _jaxik(episodes: int, overrides: dict) -> dict[str, float]:
    import jax
    import jax.numpy as jnp

    import envs
    from envs import ik, panda_model, scripted

    env = envs.make("PandaPush", **overrides)
    control = env.control

    def untouched(key):
        state = env.reset(key)

        def step(state, key):
            uniform = jax.random.uniform(key, (3,), minval=-1.0, maxval=1.0)
            action = scripted.wave(state.obs["observation"][:3], uniform)
            state = env.step(state, action)
            return state, state.obs["observation"]

        start = state.obs["observation"][6:9]
        obs = jax.lax.scan(step, state, jax.random.split(key, 50))[1]
        moved = jnp.linalg.norm(obs[:, 6:9] - start, axis=-1).max()
        return obs[-1, 8], moved, jnp.linalg.norm(obs[:, 15:18], axis=-1).max()

    def start_at(ee, cube):
        neutral = jnp.asarray(panda_model.NEUTRAL_QPOS, jnp.float32)
        down = jnp.asarray(panda_model.EE_DOWN_ROTATION, jnp.float32)

        def refine(_, arm):
            step = ik.dls_step(control.chain, arm, ee, down, 0.01)
            return jnp.clip(arm + step, control.qpos_low, control.qpos_high)

        arm = jax.lax.fori_loop(0, 200, refine, neutral)
        return env.state_at(arm, cube, jnp.array([1.0, 1.0, 0.02]))  # a goal never reached

    def straight(y):
        cube = jnp.array([-0.1, 0.0, 0.02]).at[1].set(y)
        state = start_at(cube + jnp.array([-BEHIND, 0.0, scripted.PUSH_HEIGHT - 0.02]), cube)
        speed, pushing, holding = STRAIGHT_PUSH
        actions = jnp.concatenate(
            [jnp.tile(jnp.array([speed, 0.0, 0.0]), (pushing, 1)), jnp.zeros((holding, 3))]
        )
        first = state.obs["observation"]
        last = jax.lax.scan(lambda s, a: (env.step(s, a), None), state, actions)[0]
        last = last.obs["observation"]
        return last[6] - first[6], last[0] - first[0], jnp.abs(last[7] - first[7])

    def stopping(env):
        state = env.reset(jax.random.key(0))
        actions = jnp.concatenate([jnp.tile(jnp.array(STOP_ACTION), (3, 1)), jnp.zeros((4, 3))])
        ee = jax.lax.scan(lambda s, a: (env.step(s, a), s.obs["observation"][:3]), state, actions)
        trail = jnp.concatenate([ee[1], ee[0].obs["observation"][None, :3]])
        return jnp.linalg.norm(trail[-1] - trail[3])

    keys = jax.random.split(jax.random.key(0), episodes)
    success = _scripted_success(env, scripted.push, keys)
    height, moved, spin = jax.jit(jax.vmap(untouched))(keys)
    cube_dx, ee_dx, drift = jax.jit(jax.vmap(straight))(jnp.array([-0.1, 0.0, 0.1]))
    coast = jax.jit(lambda: stopping(env))()
    reach = envs.make("PandaReach")
    reach_coast = jax.jit(lambda: stopping(reach))()
    pushing = _summary(success, height, moved, spin, cube_dx, ee_dx, drift, coast, reach_coast)
    neutral = jnp.asarray(panda_model.NEUTRAL_QPOS, jnp.float32)
    start = control.chain.site_frame(neutral)[0]

    def ik_share(axis):
        target = jnp.zeros(3).at[axis].set(IK_STEP / control.ee_step)
        reached = control.chain.site_frame(control.servo_targets(neutral, target))[0]
        return (reached - start)[axis] / IK_STEP

    shares = [float(jax.jit(ik_share, static_argnums=0)(axis)) for axis in (0, 2)]
    return {
        **pushing, **_ik_summary(shares), **_jaxik_slide(episodes), **_jaxik_pick(episodes),
        **_jaxik_stack(episodes),
    }  # fmt: skip


def _ik_summary(shares) -> dict[str, float]:
    return {f"IK: share of a 1 cm step along {a}": v for a, v in zip("xz", shares, strict=True)}


def _jaxik_slide(episodes: int) -> dict[str, float]:
    import jax
    import jax.numpy as jnp

    import envs
    from envs import panda_model, scripted

    env = envs.make("PandaSlide")

    def free_slide(speed):
        start_x, _, steps = FREE_SLIDE
        neutral = jnp.asarray(panda_model.NEUTRAL_QPOS, jnp.float32)
        puck = jnp.array([start_x, 0.0, env.task.objects[0].half_height])
        state = env.state_at(neutral, puck, jnp.array([1.0, 1.0, 0.03]))  # a goal never reached
        scene = state.pipeline_state
        state = state.replace(pipeline_state=scene.replace(qvel=scene.qvel.at[7].set(speed)))
        last = jax.lax.scan(lambda s, _: (env.step(s, jnp.zeros(3)), None), state, None, steps)[0]
        return last.obs["observation"][6] - start_x

    success = _scripted_success(env, scripted.slide, jax.random.split(jax.random.key(0), episodes))
    travel = jax.jit(jax.vmap(free_slide))(jnp.asarray(FREE_SLIDE[1]))
    return _slide_summary(success, travel)


def _jaxik_pick(episodes: int) -> dict[str, float]:
    import jax
    import jax.numpy as jnp

    import envs
    from envs import panda_model, scripted

    env = envs.make("PandaPickAndPlace")
    keys = jax.random.split(jax.random.key(0), episodes)
    success = _scripted_success(env, scripted.pick_and_place, keys)
    carrying = envs.make("PandaPickAndPlace", terminate_on_success=False)

    def carry():
        cube, goal, steps = jnp.asarray(CARRY[0]), jnp.asarray(CARRY[1]), CARRY[2]
        neutral = jnp.asarray(panda_model.NEUTRAL_QPOS, jnp.float32)
        state = carrying.state_at(neutral, cube, goal)

        def step(state, _):
            obs = state.obs
            return carrying.step(state, scripted.pick_and_place(obs["observation"], goal)), None

        return jax.lax.scan(step, state, None, steps)[0].obs["observation"]

    return _pick_summary(success, jax.jit(carry)())


def _jaxik_stack(episodes: int) -> dict[str, float]:
    import jax

    import envs
    from envs import scripted

    env = envs.make("PandaStack")
    keys = jax.random.split(jax.random.key(0), episodes)
    steps = env.config.episode_length
    return {"stack: success": float(np.mean(_scripted_success(env, scripted.stack, keys, steps)))}


def _pick_summary(success, observation) -> dict[str, float]:
    return {
        "pick and place: success": float(np.mean(success)),
        "carried cube height (m)": float(observation[9]),
        "finger width around the cube (m)": float(observation[6]),
    }


def _slide_summary(success, travel) -> dict[str, float]:
    speeds = FREE_SLIDE[1]
    return {
        "slide: success": float(np.mean(success)),
        **{f"slide from {v} m/s (m)": float(d) for v, d in zip(speeds, travel, strict=True)},
    }


def _summary(
    success, height, moved, spin, cube_dx, ee_dx, drift, coast, reach_coast
) -> dict[str, float]:
    return {
        "success": float(np.mean(success)),
        "rest height (m)": float(np.median(height)),
        "untouched: largest move (m)": float(np.max(moved)),
        "untouched: peak spin (rad/s)": float(np.max(spin)),
        "cube travel (m)": float(np.median(cube_dx)),
        "gripper travel (m)": float(np.median(ee_dx)),
        "cube sideways drift (m)": float(np.median(drift)),
        "coast after the action stops (m)": float(coast),
        "PandaReach: coast after the action stops (m)": float(reach_coast),
    }


def _panda_gym_success(env, controller, episodes: int, steps: int = 50) -> list[bool]:
    """Per episode (seeds 0 to episodes - 1): whether ``controller`` (observation, desired goal)
    -> action reached the goal within ``steps`` steps of panda-gym's ``env``."""
    success = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=episode)
        done = False
        for _ in range(steps):
            action = controller(obs["observation"], obs["desired_goal"])
            obs, _, terminated, truncated, info = env.step(np.asarray(action, np.float32))
            done = done or bool(info["is_success"])
            if terminated or truncated:
                break
        success.append(done)
    return success


def _panda_gym(episodes: int) -> dict[str, float]:
    import gymnasium as gym
    import jax
    import panda_gym  # noqa: F401  (registers PandaPush-v3)

    from envs import scripted

    push = jax.jit(scripted.push)

    env = gym.make("PandaPush-v3")
    task, robot, sim = env.unwrapped.task, env.unwrapped.robot, env.unwrapped.sim
    rng = np.random.default_rng(0)

    def act(action):
        obs, *_ = env.step(np.asarray(action, np.float32))
        return obs

    success = _panda_gym_success(env, push, episodes)

    height, moved, spin = [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=episode)
        start, peak, travel = obs["observation"][6:9], 0.0, 0.0
        for _ in range(50):
            obs = act(scripted.wave(obs["observation"][:3], rng.uniform(-1, 1, 3)))
            peak = max(peak, float(np.linalg.norm(obs["observation"][15:18])))
            travel = max(travel, float(np.linalg.norm(obs["observation"][6:9] - start)))
        height.append(obs["observation"][8])
        moved.append(travel)
        spin.append(peak)

    def start_at(ee, cube):
        env.reset(seed=0)
        angles = np.array(robot.neutral_joint_values)
        for _ in range(20):  # PyBullet's IK from where its last answer put the arm
            arm = robot.inverse_kinematics(11, np.asarray(ee), np.array([1.0, 0.0, 0.0, 0.0]))
            angles[:7] = arm[:7]
            robot.set_joint_angles(angles)
        sim.set_base_pose("object", np.asarray(cube), np.array([0.0, 0.0, 0.0, 1.0]))
        task.goal = np.array([1.0, 1.0, 0.02])  # never reached
        return env.unwrapped._get_obs()

    cube_dx, ee_dx, drift = [], [], []
    speed, pushing, holding = STRAIGHT_PUSH
    for y in (-0.1, 0.0, 0.1):
        cube = np.array([-0.1, y, 0.02])
        offset = np.array([-BEHIND, 0.0, scripted.PUSH_HEIGHT - 0.02])
        first = start_at(cube + offset, cube)["observation"]
        for step in range(pushing + holding):
            last = act([speed, 0.0, 0.0] if step < pushing else [0.0, 0.0, 0.0])["observation"]
        cube_dx.append(last[6] - first[6])
        ee_dx.append(last[0] - first[0])
        drift.append(abs(last[7] - first[7]))

    def stopping(env):
        obs, _ = env.reset(seed=0)
        trail = [obs["observation"][:3]]
        for step in range(7):
            action = STOP_ACTION if step < 3 else [0.0, 0.0, 0.0]
            trail.append(env.step(np.asarray(action, np.float32))[0]["observation"][:3])
        env.close()
        return float(np.linalg.norm(trail[-1] - trail[3]))

    coast, reach_coast = stopping(env), stopping(gym.make("PandaReach-v3"))
    pushing = _summary(success, height, moved, spin, cube_dx, ee_dx, drift, coast, reach_coast)
    shares = []
    for axis in (0, 2):
        env = gym.make("PandaPush-v3")
        env.reset(seed=0)
        robot = env.unwrapped.robot
        neutral = np.array(robot.neutral_joint_values)
        robot.set_joint_angles(neutral)
        start = robot.get_ee_position().copy()
        target = start + IK_STEP * np.eye(3)[axis]
        angles = neutral.copy()
        angles[:7] = robot.inverse_kinematics(11, target, np.array([1.0, 0.0, 0.0, 0.0]))[:7]
        robot.set_joint_angles(angles)
        shares.append(float((robot.get_ee_position() - start)[axis] / IK_STEP))
        env.close()
    slide, pick = _panda_gym_slide(episodes), _panda_gym_pick(episodes)
    return {**pushing, **_ik_summary(shares), **slide, **pick, **_panda_gym_stack(episodes)}


def _panda_gym_stack(episodes: int) -> dict[str, float]:
    import gymnasium as gym
    import jax
    import panda_gym  # noqa: F401  (registers PandaStack-v3)

    from envs import scripted

    env = gym.make("PandaStack-v3")
    success = _panda_gym_success(env, jax.jit(scripted.stack), episodes, steps=100)
    env.close()
    return {"stack: success": float(np.mean(success))}


def _panda_gym_slide(episodes: int) -> dict[str, float]:
    import gymnasium as gym
    import jax

    from envs import scripted

    strike = jax.jit(scripted.slide)
    env = gym.make("PandaSlide-v3")
    success = _panda_gym_success(env, strike, episodes)

    task, sim = env.unwrapped.task, env.unwrapped.sim
    start_x, speeds, steps = FREE_SLIDE
    travel = []
    for speed in speeds:
        env.reset(seed=0)
        sim.set_base_pose("object", np.array([start_x, 0.0, 0.015]), np.array([0.0, 0.0, 0.0, 1.0]))
        body = sim._bodies_idx["object"]
        sim.physics_client.resetBaseVelocity(body, [speed, 0.0, 0.0], [0.0, 0.0, 0.0])
        task.goal = np.array([1.0, 1.0, 0.03])  # never reached
        for _ in range(steps):
            obs, *_ = env.unwrapped.step(np.zeros(3, np.float32))
        travel.append(obs["observation"][6] - start_x)
    env.close()
    return _slide_summary(success, travel)


def _panda_gym_pick(episodes: int) -> dict[str, float]:
    import gymnasium as gym
    import jax

    from envs import scripted

    controller = jax.jit(scripted.pick_and_place)
    env = gym.make("PandaPickAndPlace-v3")
    success = _panda_gym_success(env, controller, episodes)

    task, sim = env.unwrapped.task, env.unwrapped.sim
    cube, goal, steps = CARRY
    env.reset(seed=0)
    sim.set_base_pose("object", np.array(cube), np.array([0.0, 0.0, 0.0, 1.0]))
    task.goal = np.array(goal)
    obs = env.unwrapped._get_obs()
    for _ in range(steps):  # past success: the unwrapped env does not end the episode
        action = controller(obs["observation"], obs["desired_goal"])
        obs, *_ = env.unwrapped.step(np.asarray(action, np.float32))
    env.close()
    return _pick_summary(success, obs["observation"])


EXPERIMENTS = {
    "success": "scripted push",
    "rest height (m)": "untouched cube",
    "untouched: largest move (m)": "untouched cube",
    "untouched: peak spin (rad/s)": "untouched cube",
    "cube travel (m)": "straight push",
    "gripper travel (m)": "straight push",
    "cube sideways drift (m)": "straight push",
    "coast after the action stops (m)": "stopping",
    "PandaReach: coast after the action stops (m)": "stopping",
    **{f"IK: share of a 1 cm step along {a}": "ik step" for a in "xz"},
    "slide: success": "scripted slide",
    **{f"slide from {v} m/s (m)": "free slide" for v in FREE_SLIDE[1]},
    "pick and place: success": "scripted pick and place",
    "carried cube height (m)": "carry",
    "finger width around the cube (m)": "carry",
    "stack: success": "scripted stack",
}


def measure(episodes: int, overrides: dict, vs_pandagym: bool) -> list[Row]:
    ours = _jaxik(episodes, overrides)
    theirs = _panda_gym(episodes) if vs_pandagym else {}
    return [Row(EXPERIMENTS[k], k, v, theirs.get(k)) for k, v in ours.items()]


def table(rows: list[Row], episodes: int) -> str:
    caption = (
        f"Scripted push, slide and pick and place over {episodes} episodes each; the straight "
        "push is the median of cubes at y = -0.1, 0 and 0.1 m."
    )
    return comparison_table(rows, caption, "experiment")


def comparison_table(rows: list[Row], caption: str, first_column: str) -> str:
    """``caption``, then one markdown row per ``Row``: jaxik, panda-gym and their ratio."""
    lines = [
        caption,
        "",
        f"| {first_column} | metric | jaxik | panda-gym | jaxik / panda-gym |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        theirs = "" if row.panda_gym is None else f"{row.panda_gym:.4g}"
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(f"| {row.experiment} | {row.metric} | {row.jaxik:.4g} | {theirs} | {ratio} |")
    return "\n".join(lines)


def plot(path: Path, rows: list[Row]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if not r.metric.endswith("success")]
    figure, axis = plt.subplots(figsize=(7, 3.5))
    positions = np.arange(len(shown))
    axis.barh(positions - 0.2, [r.jaxik for r in shown], height=0.4, label="jaxik")
    if any(r.panda_gym is not None for r in shown):
        axis.barh(positions + 0.2, [r.panda_gym or 0 for r in shown], height=0.4, label="panda-gym")
    axis.set_yticks(positions, [r.metric for r in shown], fontsize=7)
    axis.set_xscale("symlog", linthresh=0.01)
    axis.legend()
    success = next(r for r in rows if r.metric == "success")
    theirs = "" if success.panda_gym is None else f", panda-gym {success.panda_gym:.1%}"
    axis.set_title(
        f"PandaPush: scripted push success jaxik {success.jaxik:.1%}{theirs}", fontsize=9
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
