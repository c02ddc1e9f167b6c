"""A learned policy against classical inverse kinematics, on the same held-out goals.

On the Panda (the goal box of PandaReach):

- ``policy``: the trained policy in its own task, closed loop, episodes as the task runs them;
- ``DLS solve``: damped-least-squares IK on the kinematic chain, iterated until the grasp point is
  within 0.1 mm of the goal (or 200 iterations), gripper held pointing down as in ee control; a
  solve, not a motion: no physics, no time limit;
- ``DLS control``: a resolved-rate controller inside PandaReachJoints: every control step, the
  DLS joint step toward the goal (position only), scaled to the task's action and clipped to
  [-1, 1]; the task's physics, servos and 50-step episodes, as the policy gets.

On the planar arm: FABRIK (forward and backward reaching, until 0.1 mm or 100 iterations), the
same DLS controller inside PlanarReach, and the policy when it was trained there.

Per method: success (within the task's 5 cm), final error (the distance when the episode ended,
or of the solution), control steps to success (closed loop), joint-limit violations (goals where
a joint left its range by more than 1 mrad), and time: one goal alone (median of repeated calls),
and per goal in a batch of 4,096 (one vmapped call). Closed-loop times include the physics.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import envs
from envs import ik as ik_lib
from envs import panda_model
from envs.linalg import solve_spd
from jaxik.host import outputs

GOAL_SEED = 20_261_121  # held out: training draws its goals from other keys
TOLERANCE = 1e-4  # m: an iterative solve stops here
LIMIT_SLACK = 1e-3  # rad beyond a joint's range that counts as a violation
BATCH = 4_096  # goals in the batched timing
ARMS = ("panda", "planar")
# The planar controller's damping, the best of 0.01, 0.05, 0.1, 0.2 and 0.4 on the 1,000 goals
# (success 87, 89, 94, 99 and 100 %): with less, it stalls on goals behind the arm.
PLANAR_DAMPING = 0.4


@dataclasses.dataclass
class IkResult:
    task: str
    method: str
    goals: int
    success: float  # fraction within the task's distance_threshold
    error_mm_median: float
    error_mm_p95: float
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
    """episode(goal) -> (reached, final_distance, steps_to_success, violated): one episode of
    ``controller(state) -> action`` in ``env``, ending as the task ends it."""

    def episode(goal):
        def body(carry, _):
            state, done, reached, steps, distance, violated = carry
            state = env.step(state, controller(state))
            live = ~done
            success = state.metrics["success"] > 0
            reached_now = live & success & ~reached
            steps = jnp.where(reached_now, state.info["steps"], steps)
            reached = reached | (live & success)
            distance = jnp.where(live, state.metrics["distance"], distance)
            if limits is not None:
                qpos = state.pipeline_state.qpos
                out = (qpos < limits[0] - LIMIT_SLACK) | (qpos > limits[1] + LIMIT_SLACK)
                violated = violated | (live & out.any())
            done = done | (state.done > 0)
            return (state, done, reached, steps, distance, violated), None

        state = with_goal(env, goal)
        false = jnp.zeros((), bool)
        carry = (state, false, false, jnp.zeros((), jnp.int32), state.metrics["distance"], false)
        carry, _ = jax.lax.scan(body, carry, None, length=env.config.episode_length)
        _, _, reached, steps, distance, violated = carry
        return reached, distance, steps, violated

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
    """solve(goal) -> (reached, error, iterations, violated), from the task's reset pose."""
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
        return distance < env.config.distance_threshold, distance, count, violated

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
    """FABRIK on the two-link arm: solve(goal) -> (reached, error, iterations, violated)."""
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
        return distance < env.config.distance_threshold, distance, count, jnp.zeros((), bool)

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
    timing = timed(function, goals, batch)
    (reached, distance, count, violated), compile_s, ms_single, us_batch = timing
    reached, distance = np.asarray(reached), 1e3 * np.asarray(distance)
    count = np.asarray(count)
    steps = float(np.median(count[reached])) if closed and reached.any() else None
    return IkResult(
        task=task,
        method=method,
        goals=len(goals),
        success=float(reached.mean()),
        error_mm_median=float(np.median(distance)),
        error_mm_p95=float(np.percentile(distance, 95)),
        steps_median=steps,
        iterations_median=None if closed else float(np.median(count)),
        limit_violations=int(np.asarray(violated).sum()) if limits else None,
        ms_single=ms_single,
        us_per_goal_batch=us_batch,
        batch=batch,
        compile_seconds=compile_s,
    )


def measure(
    policy, count: int, show: Callable[[IkResult], None], arms=ARMS, batch: int = BATCH
) -> list[IkResult]:
    """Every method on ``count`` held-out goals of each arm in ``arms``; ``policy``
    (jaxik.policy.Policy or None) joins the table of the arm it was trained on."""
    results = []
    trained_on = envs.make(policy.env, **policy.env_config) if policy else None

    def add(task, method, function, goals, closed, limits):
        results.append(evaluate(task, method, function, goals, closed, limits, batch))
        show(results[-1])

    def add_policy(task, goals, limits):
        name = f"policy ({policy.algo.upper()}, {policy.env})"
        episode = closed_loop(trained_on, lambda state: policy(state.obs), limits)
        add(task, name, episode, goals, True, limits is not None)

    if "panda" in arms:
        panda, joints = envs.make("PandaReach"), envs.make("PandaReachJoints")
        goals, limits = held_out_goals(panda, count), panda_limits(panda)
        if trained_on is not None and hasattr(trained_on, "mj_model"):
            add_policy("Panda", goals, limits)
        add("Panda", "DLS solve", panda_dls_solve(panda), goals, False, True)
        control = closed_loop(joints, panda_dls_control(joints), limits)
        add("Panda", "DLS control (PandaReachJoints)", control, goals, True, True)
    if "planar" in arms:
        planar = envs.make("PlanarReach")
        goals = held_out_goals(planar, count)
        if trained_on is not None and not hasattr(trained_on, "mj_model"):
            add_policy("Planar", goals, None)
        add("Planar", "FABRIK solve", fabrik_solve(planar), goals, False, False)
        control = closed_loop(planar, planar_dls_control(planar), None)
        add("Planar", "DLS control (PlanarReach)", control, goals, True, False)
    return results


def table(results: list[IkResult]) -> str:
    def optional(value, fmt):
        return "-" if value is None else format(value, fmt)

    lines = [
        "| arm | method | success (< 5 cm) | final error median / p95 (mm) | control steps to "
        "success (median) | solver iterations (median) | joint-limit violations | one goal (ms) "
        "| per goal in a batch (us) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.task} | {r.method} | {r.success:.1%} | {r.error_mm_median:.1f} / "
            f"{r.error_mm_p95:.1f} | {optional(r.steps_median, '.0f')} | "
            f"{optional(r.iterations_median, '.0f')} | "
            f"{optional(r.limit_violations, 'd')} | {r.ms_single:.2f} | "
            f"{r.us_per_goal_batch:.1f} at {r.batch:,} |"
        )
    return "\n".join(lines)


def plot(path, results: list[IkResult]) -> None:
    labels = [f"{r.task}: {r.method}" for r in results]
    panels = (
        ("success (< 5 cm)", [100 * r.success for r in results], "%"),
        ("final error, median", [r.error_mm_median for r in results], "mm (log)"),
        (
            f"time per goal in a batch of {results[0].batch:,}",
            [r.us_per_goal_batch for r in results],
            "us (log)",
        ),
    )
    with outputs.saved_figure(path, (13, 0.5 * len(results) + 1.8), panels=3) as axes:
        for axis, (title, values, unit) in zip(axes, panels, strict=True):
            axis.barh(range(len(values)), values, color="tab:blue")
            axis.set_title(title)
            axis.set_xlabel(unit)
            if "log" in unit:
                axis.set_xscale("log")
            axis.set_yticks(range(len(labels)))
            axis.set_yticklabels(labels if axis is axes[0] else [])
            axis.invert_yaxis()
