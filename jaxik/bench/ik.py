"""A learned policy against classical inverse kinematics, on the same held-out goals.

On the Panda, position goals (the goal box of PandaReach):

- ``policy``: the trained policy in its own task, closed loop, episodes as the task runs them;
- ``DLS solve``: damped-least-squares IK on the kinematic chain, iterated until the grasp point is
  within 0.1 mm of the goal (or 200 iterations), gripper held pointing down as in ee control; a
  solve, not a motion: no physics, no time limit;
- ``DLS control``: a resolved-rate controller inside PandaReachJoints: every control step, the
  DLS joint step toward the goal (position only), scaled to the task's action and clipped to
  [-1, 1]; the task's physics, servos and 50-step episodes, as the policy gets.

On the Panda, pose goals (PandaReachPose's: a position in the same box and an orientation
within 30 degrees of gripper-down, any yaw within 90 degrees), success within 5 cm and 15 degrees:

- ``policy``: a policy trained on PandaReachPose (joints) or PandaReachPoseEE, closed loop;
- ``DLS pose solve``: the same damped-least-squares IK on position and orientation together,
  iterated until within 0.1 mm and 1 mrad of the goal (or 200 iterations), from the neutral pose;
  and the same capped at 10 iterations (a batch runs as long as its slowest goal);
- ``DLS pose control``: the resolved-rate controller inside PandaReachPose (joints), each control
  step the 6-D DLS joint step toward the goal pose.

On the planar arm: FABRIK (forward and backward reaching, until 0.1 mm or 100 iterations), the
same DLS controller inside PlanarReach, and the policy when it was trained there.

Per method: success (the task's own: within 5 cm, and 15 degrees for poses), final error (the
distance, and the angle for poses, when the episode ended, or of the solution), control steps
to success (closed loop), joint-limit violations (goals where a joint left its range by more
than 1 mrad), and time: one goal alone (median of repeated calls), and per goal in a batch of
4,096 (one vmapped call). Closed-loop times include the physics.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import envs
from envs import ik as ik_lib
from envs import panda_model, pose
from envs.linalg import solve_spd
from envs.panda_reach import PandaReach
from envs.panda_reach_pose import PandaReachPose
from envs.planar_reach import PlanarReach
from jaxik.host import outputs

GOAL_SEED = 20_261_121  # held out: training draws its goals from other keys
TOLERANCE = 1e-4  # m: an iterative solve stops here
ANGLE_TOLERANCE = 1e-3  # rad: a pose solve stops here (and within TOLERANCE)
LIMIT_SLACK = 1e-3  # rad beyond a joint's range that counts as a violation
POSE_GOAL = 3 + pose.SIX  # numbers in a pose goal
BATCH = 4_096  # goals in the batched timing
# A vmapped while loop runs every goal for as long as the slowest needs: 2.4 % of the 1,000 pose
# goals never reach the pose solve's tolerances and run all 200 iterations, so the batch does.
# Capped at 10 iterations, the solve meets the task's thresholds on as many goals (99.9 %).
SHORT_SOLVE = 10
ARMS = ("panda", "pose", "planar")
# The planar controller's damping, the best of 0.01, 0.05, 0.1, 0.2 and 0.4 on the 1,000 goals
# (success 87, 89, 94, 99 and 100 %): with less, it stalls on goals behind the arm.
PLANAR_DAMPING = 0.4


class Outcome(NamedTuple):
    """What one method gives for one goal (a batch of them: each field gets a leading axis)."""

    reached: jax.Array  # bool: the task's success (position, and orientation for poses)
    distance: jax.Array  # m, at the end of the episode or of the solve
    angle: jax.Array  # rad, likewise (0 for position goals)
    count: jax.Array  # control steps to success (closed loop), solver iterations (solve)
    violated: jax.Array  # bool: a joint left its range by more than LIMIT_SLACK


@dataclasses.dataclass
class IkResult:
    task: str
    method: str
    goals: int
    success: float  # fraction that met the task's success (position, and angle for poses)
    error_mm_median: float
    error_mm_p95: float
    angle_deg_median: float | None  # final orientation error; None for position goals
    angle_deg_p95: float | None
    steps_median: float | None  # control steps to success (successful goals); None for a solve
    iterations_median: float | None  # solver iterations; None for closed loop
    limit_violations: int | None  # goals with a joint outside its range; None: no limits
    ms_single: float  # one goal alone, wall milliseconds
    us_per_goal_batch: float  # per goal, in one vmapped call of ``batch`` goals
    batch: int
    compile_seconds: float


def held_out_goals(env, count: int) -> jax.Array:
    """[count, goal_dim] goals from the task's own distribution, from a key training never uses."""
    return jax.vmap(env.sample_goal)(jax.random.split(jax.random.key(GOAL_SEED), count))


def with_goal(env, goal: jax.Array):
    """The task's reset state, with ``goal`` in place of the one it drew."""
    state = env.reset(jax.random.key(0))
    obs = dict(state.obs, desired_goal=goal.astype(jnp.float32))
    return state.replace(obs=obs, info=dict(state.info, goal=goal))


def closed_loop(env, controller: Callable, limits: tuple | None) -> Callable:
    """episode(goal) -> Outcome: one episode of ``controller(state) -> action`` in ``env``,
    ending as the task ends it; ``count`` is the control steps to success."""

    def final_angle(state):
        return state.metrics.get("angle", jnp.zeros((), jnp.float32))

    def episode(goal):
        def body(carry, _):
            state, done, reached, steps, distance, angle, violated = carry
            state = env.step(state, controller(state))
            live = ~done
            success = state.metrics["success"] > 0
            reached_now = live & success & ~reached
            steps = jnp.where(reached_now, state.info["steps"], steps)
            reached = reached | (live & success)
            distance = jnp.where(live, state.metrics["distance"], distance)
            angle = jnp.where(live, final_angle(state), angle)
            if limits is not None:
                qpos = state.pipeline_state.qpos
                out = (qpos < limits[0] - LIMIT_SLACK) | (qpos > limits[1] + LIMIT_SLACK)
                violated = violated | (live & out.any())
            done = done | (state.done > 0)
            return (state, done, reached, steps, distance, angle, violated), None

        state = with_goal(env, goal)
        false, start = jnp.zeros((), bool), jnp.zeros((), jnp.int32)
        carry = (state, false, false, start, state.metrics["distance"], final_angle(state), false)
        carry, _ = jax.lax.scan(body, carry, None, length=env.config.episode_length)
        _, _, reached, steps, distance, angle, violated = carry
        return Outcome(reached, distance, angle, steps, violated)

    return episode


def dls_action(position, jacobian, goal, damping: float, step: float) -> jax.Array:
    """The damped-least-squares joint step toward ``goal`` as an action in [-1, 1]."""
    gram = jacobian @ jacobian.T + damping**2 * jnp.eye(jacobian.shape[0])
    joint_step = jacobian.T @ solve_spd(gram, goal - position)
    return jnp.clip(joint_step / step, -1.0, 1.0)


def panda_limits(env) -> tuple[jax.Array, jax.Array]:
    joints = [env.mj_model.joint(name) for name in panda_model.ARM_JOINTS]
    return (
        jnp.asarray([j.range[0] for j in joints], jnp.float32),
        jnp.asarray([j.range[1] for j in joints], jnp.float32),
    )


def panda_dls_control(env) -> Callable:
    def controller(state):
        position, _, jacp, _ = env.chain.site_frame(state.pipeline_state.qpos)
        goal = state.info["goal"]
        return dls_action(position, jacp, goal, env.config.ik_damping, env.config.joint_step)

    return controller


def panda_dls_solve(env, max_iterations: int = 200) -> Callable:
    """solve(goal) -> Outcome (``count``: iterations), from the task's reset pose."""
    low, high = panda_limits(env)
    down = jnp.asarray(panda_model.EE_DOWN_ROTATION, jnp.float32)
    start = jnp.asarray(panda_model.NEUTRAL_QPOS, jnp.float32)

    def error(qpos, goal):
        return jnp.linalg.norm(env.chain.site_frame(qpos)[0] - goal)

    def solve(goal):
        def unfinished(carry):
            qpos, count = carry
            return (error(qpos, goal) > TOLERANCE) & (count < max_iterations)

        def iterate(carry):
            qpos, count = carry
            step = ik_lib.dls_step(env.chain, qpos, goal, down, env.config.ik_damping)
            return jnp.clip(qpos + step, low, high), count + 1

        qpos, count = jax.lax.while_loop(unfinished, iterate, (start, jnp.zeros((), jnp.int32)))
        distance = error(qpos, goal)
        violated = ((qpos < low - LIMIT_SLACK) | (qpos > high + LIMIT_SLACK)).any()
        reached = distance < env.config.distance_threshold
        return Outcome(reached, distance, jnp.zeros_like(distance), count, violated)

    return solve


def pose_dls_action(env, qpos: jax.Array, goal: jax.Array) -> jax.Array:
    """The 6-D damped-least-squares joint step from ``qpos`` [7] toward the pose ``goal`` [9]
    (position, orientation: envs/pose.py) as an action in [-1, 1]."""
    target = pose.rotation(goal[3:])
    step = ik_lib.dls_step(env.chain, qpos, goal[:3], target, env.config.ik_damping)
    return jnp.clip(step / env.config.joint_step, -1.0, 1.0)


def pose_dls_control(env) -> Callable:
    """The resolved-rate pose controller for PandaReachPose (joints)."""

    def controller(state):
        return pose_dls_action(env, state.pipeline_state.qpos, state.info["goal"])

    return controller


def pose_dls_solve(env, max_iterations: int = 200) -> Callable:
    """solve(goal [9]) -> Outcome (``count``: iterations): DLS on position and orientation
    from the neutral pose, until within TOLERANCE and ANGLE_TOLERANCE or ``max_iterations``;
    ``reached`` is the task's own success."""
    low, high = panda_limits(env)
    start = jnp.asarray(panda_model.NEUTRAL_QPOS, jnp.float32)

    def achieved(qpos):
        position, rotation, _, _ = env.chain.site_frame(qpos)
        return jnp.concatenate([position, pose.six(rotation)])

    def solve(goal):
        target = pose.rotation(goal[3:])

        def unfinished(carry):
            qpos, count = carry
            metrics = env.goal_metrics(achieved(qpos), goal)
            far = (metrics["distance"] > TOLERANCE) | (metrics["angle"] > ANGLE_TOLERANCE)
            return far & (count < max_iterations)

        def iterate(carry):
            qpos, count = carry
            step = ik_lib.dls_step(env.chain, qpos, goal[:3], target, env.config.ik_damping)
            return jnp.clip(qpos + step, low, high), count + 1

        qpos, count = jax.lax.while_loop(unfinished, iterate, (start, jnp.zeros((), jnp.int32)))
        final = achieved(qpos)
        metrics = env.goal_metrics(final, goal)
        violated = ((qpos < low - LIMIT_SLACK) | (qpos > high + LIMIT_SLACK)).any()
        reached = env.is_success(final, goal)
        return Outcome(reached, metrics["distance"], metrics["angle"], count, violated)

    return solve


def planar_dls_control(env) -> Callable:
    def tip(qpos):
        return env.joint_positions(qpos)[1]

    def controller(state):
        qpos = state.pipeline_state
        jacobian = jax.jacfwd(tip)(qpos)
        goal = state.info["goal"]
        return dls_action(tip(qpos), jacobian, goal, PLANAR_DAMPING, env.config.joint_step)

    return controller


def fabrik_solve(env, max_iterations: int = 100) -> Callable:
    """FABRIK on the two-link arm: solve(goal) -> Outcome (``count``: iterations)."""
    upper, lower = env.config.link_lengths
    start = jnp.asarray(env.config.reset_qpos, jnp.float32)

    def solve(goal):
        base = jnp.zeros(2)
        elbow, tip = env.joint_positions(start)

        def unfinished(carry):
            _, tip, count = carry
            return (jnp.linalg.norm(tip - goal) > TOLERANCE) & (count < max_iterations)

        def iterate(carry):
            elbow, _, count = carry
            # backward: tip on the goal, elbow toward it at the lower link's length
            elbow = goal + lower * _unit(elbow - goal)
            # forward: base fixed, elbow at the upper link's length, tip toward the goal
            elbow = base + upper * _unit(elbow - base)
            tip = elbow + lower * _unit(goal - elbow)
            return elbow, tip, count + 1

        elbow, tip, count = jax.lax.while_loop(unfinished, iterate, (elbow, tip, jnp.int32(0)))
        distance = jnp.linalg.norm(tip - goal)
        reached = distance < env.config.distance_threshold
        return Outcome(reached, distance, jnp.zeros_like(distance), count, jnp.zeros((), bool))

    return solve


def _unit(vector: jax.Array) -> jax.Array:
    return vector / jnp.maximum(jnp.linalg.norm(vector), 1e-9)


def timed(function: Callable, goals: jax.Array, batch: int, repeats: int = 20) -> tuple:
    """(results for ``goals``, compile seconds, ms for one goal alone, us per goal in a call of
    ``batch`` goals). Every call's result is waited for."""
    batched = jax.jit(jax.vmap(function))
    start = time.perf_counter()
    results = jax.block_until_ready(batched(goals))
    compile_seconds = time.perf_counter() - start
    one = goals[:1]
    jax.block_until_ready(batched(one))  # compile the batch-1 shape outside the timing
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(batched(one))
        samples.append(time.perf_counter() - start)
    big = jnp.resize(goals, (batch, goals.shape[1]))
    jax.block_until_ready(batched(big))
    big_samples = []
    for _ in range(3):
        start = time.perf_counter()
        jax.block_until_ready(batched(big))
        big_samples.append(time.perf_counter() - start)
    ms_single = 1e3 * float(np.median(samples))
    us_batch = 1e6 * float(np.median(big_samples)) / batch
    return results, compile_seconds, ms_single, us_batch


def evaluate(
    task: str, method: str, function: Callable, goals, closed: bool, limits, batch: int
) -> IkResult:
    outcome, compile_s, ms_single, us_batch = timed(function, goals, batch)
    reached, distance = np.asarray(outcome.reached), 1e3 * np.asarray(outcome.distance)
    angle = np.degrees(np.asarray(outcome.angle))
    count = np.asarray(outcome.count)
    steps = float(np.median(count[reached])) if closed and reached.any() else None
    oriented = goals.shape[-1] == POSE_GOAL  # position and orientation
    return IkResult(
        task=task,
        method=method,
        goals=len(goals),
        success=float(reached.mean()),
        error_mm_median=float(np.median(distance)),
        error_mm_p95=float(np.percentile(distance, 95)),
        angle_deg_median=float(np.median(angle)) if oriented else None,
        angle_deg_p95=float(np.percentile(angle, 95)) if oriented else None,
        steps_median=steps,
        iterations_median=None if closed else float(np.median(count)),
        limit_violations=int(np.asarray(outcome.violated).sum()) if limits else None,
        ms_single=ms_single,
        us_per_goal_batch=us_batch,
        batch=batch,
        compile_seconds=compile_s,
    )


def arm_of(env) -> str:
    """Which table a policy trained on ``env`` joins: "pose", "panda" or "planar"."""
    if isinstance(env, PandaReachPose):
        return "pose"
    if isinstance(env, PandaReach):
        return "panda"
    if isinstance(env, PlanarReach):
        return "planar"
    raise ValueError(
        f"trained on {env.name}: the ik bench compares reach policies "
        "(PandaReach*, PandaReachPose* or PlanarReach*)"
    )


def measure(
    policy, count: int, show: Callable[[IkResult], None], arms=ARMS, batch: int = BATCH
) -> list[IkResult]:
    """Every method on ``count`` held-out goals of each arm in ``arms``; ``policy``
    (jaxik.policy.Policy or None) joins the table of the arm it was trained on (``arm_of``)."""
    results = []
    trained_on = envs.make(policy.env, **policy.env_config) if policy else None
    policy_arm = arm_of(trained_on) if policy else None

    def add(task, method, function, goals, closed, limits):
        results.append(evaluate(task, method, function, goals, closed, limits, batch))
        show(results[-1])

    def add_policy(arm, task, goals, limits):
        if arm == policy_arm:
            name = f"policy ({policy.algo.upper()}, {policy.env})"
            episode = closed_loop(trained_on, lambda state: policy(state.obs), limits)
            add(task, name, episode, goals, True, limits is not None)

    if "panda" in arms:
        panda, joints = envs.make("PandaReach"), envs.make("PandaReachJoints")
        goals, limits = held_out_goals(panda, count), panda_limits(panda)
        add_policy("panda", "Panda", goals, limits)
        add("Panda", "DLS solve", panda_dls_solve(panda), goals, False, True)
        control = closed_loop(joints, panda_dls_control(joints), limits)
        add("Panda", "DLS control (PandaReachJoints)", control, goals, True, True)
    if "pose" in arms:
        posed = envs.make("PandaReachPose")
        goals, limits = held_out_goals(posed, count), panda_limits(posed)
        add_policy("pose", "Panda pose", goals, limits)
        add("Panda pose", "DLS pose solve", pose_dls_solve(posed), goals, False, True)
        short = pose_dls_solve(posed, SHORT_SOLVE)
        add("Panda pose", f"DLS pose solve, {SHORT_SOLVE} iterations at most", short, goals,
            False, True)  # fmt: skip
        control = closed_loop(posed, pose_dls_control(posed), limits)
        add("Panda pose", "DLS pose control (PandaReachPose)", control, goals, True, True)
    if "planar" in arms:
        planar = envs.make("PlanarReach")
        goals = held_out_goals(planar, count)
        add_policy("planar", "Planar", goals, None)
        add("Planar", "FABRIK solve", fabrik_solve(planar), goals, False, False)
        control = closed_loop(planar, planar_dls_control(planar), None)
        add("Planar", "DLS control (PlanarReach)", control, goals, True, False)
    return results


def table(results: list[IkResult]) -> str:
    def optional(value, fmt):
        return "-" if value is None else format(value, fmt)

    lines = [
        "| arm | method | success | final error median / p95 (mm) | final angle median / p95 "
        "(deg) | control steps to success (median) | solver iterations (median) | joint-limit "
        "violations | one goal (ms) | per goal in a batch (us) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        angle = "-" if r.angle_deg_median is None else (
            f"{r.angle_deg_median:.2f} / {r.angle_deg_p95:.2f}"
        )  # fmt: skip
        lines.append(
            f"| {r.task} | {r.method} | {r.success:.1%} | {r.error_mm_median:.1f} / "
            f"{r.error_mm_p95:.1f} | {angle} | {optional(r.steps_median, '.0f')} | "
            f"{optional(r.iterations_median, '.0f')} | "
            f"{optional(r.limit_violations, 'd')} | {r.ms_single:.2f} | "
            f"{r.us_per_goal_batch:.1f} at {r.batch:,} |"
        )
    return "\n".join(lines)


def plot(path, results: list[IkResult]) -> None:
    """Success, final error and batched time per method; an axis is logarithmic only where its
    values span more than a factor of ten."""
    labels = [f"{r.task}: {r.method}" for r in results]
    panels = (
        ("success", [100 * r.success for r in results], "%"),
        ("final error, median", [r.error_mm_median for r in results], "mm"),
        (
            f"time per goal in a batch of {results[0].batch:,}",
            [r.us_per_goal_batch for r in results],
            "us",
        ),
    )
    with outputs.saved_figure(path, (13, 0.5 * len(results) + 1.8), panels=3) as axes:
        for axis, (title, values, unit) in zip(axes, panels, strict=True):
            axis.barh(range(len(values)), values, color="tab:blue")
            axis.set_title(title)
            positive = [v for v in values if v > 0]
            if unit != "%" and positive and max(positive) > 10 * min(positive):
                axis.set_xscale("log")
                unit += " (log)"
            axis.set_xlabel(unit)
            axis.set_yticks(range(len(labels)))
            axis.set_yticklabels(labels if axis is axes[0] else [])
            axis.invert_yaxis()
