"""PandaReach in MJX: move the Panda's grasp point to within 5 cm of a goal (panda-gym's task).

One environment, pure ``reset``/``step``; batch it with ``jax.vmap``. Two control modes:

- ``ee``: target = measured ee position + ``ee_step`` * action, z clipped at the table top, turned
  into joint targets by damped-least-squares IK that holds the gripper pointing down;
- ``joints``: joint targets = measured joint angles + ``joint_step`` * action.

Position servos then drive the joints for ``n_substeps`` MJX physics steps (one ``lax.scan``;
envs/arm_dynamics.py). The observation is read after the last substep. The ee site's position,
frame and Jacobian come from the kinematic chain read out of the MJCF (envs/chain.py).
``state.pipeline_state`` is an ``ArmState``: qpos, qvel (and the solver's warm start).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from brax.envs.base import State
from mujoco import mjx

from envs import panda_model
from envs import validation as check
from envs.arm_control import CONTROL_TYPES, ArmControl
from envs.arm_dynamics import ArmDynamics, ArmState
from envs.goal_env import GoalEnv
from envs.reward import REWARD_TYPES


@dataclasses.dataclass(frozen=True)
class PandaReachConfig:
    """Settings of the reach task. Defaults are panda-gym's PandaReach-v3."""

    control_type: str = check.setting("ee", check=check.one_of(CONTROL_TYPES))
    """"ee": Cartesian end-effector deltas (3-D action); "joints": joint-angle deltas (7-D)."""
    reward_type: str = check.setting("sparse", check=check.one_of(REWARD_TYPES))
    """"sparse": -1 unless within distance_threshold, else 0; "dense": -distance."""
    distance_threshold: float = check.setting(0.05, check=check.check_positive)
    """Success radius in metres (strict: distance < threshold)."""
    episode_length: int = check.setting(50, check=check.check_positive_int)
    """Control steps before the episode is truncated."""
    terminate_on_success: bool = check.setting(True, check=check.check_bool)
    """End the episode on success (panda-gym v3); False keeps going to the time limit (v1/v2)."""
    ctrl_dt: float = check.setting(0.04, check=check.check_positive)
    """Control period in seconds (25 Hz)."""
    n_substeps: int = check.setting(3, check=check.check_positive_int)
    """Physics steps per control step; the physics timestep is ctrl_dt / n_substeps."""
    goal_low: tuple[float, float, float] = check.setting((-0.15, -0.15, 0.0), check=check.vector(3))
    """Lower corner of the goal box (world frame, metres)."""
    goal_high: tuple[float, float, float] = check.setting((0.15, 0.15, 0.3), check=check.vector(3))
    """Upper corner of the goal box (world frame, metres)."""
    ee_step: float = check.setting(0.05, check=check.check_positive)
    """Metres of ee target displacement per unit action (ee control)."""
    joint_step: float = check.setting(0.05, check=check.check_positive)
    """Radians of joint target displacement per unit action (joints control)."""
    ik_iterations: int = check.setting(2, check=check.check_positive_int)
    """Damped-least-squares iterations per control step (ee control)."""
    ik_damping: float = check.setting(0.05, check=check.check_positive)
    """Damping of the least-squares IK."""
    contacts: bool = check.setting(False, check=check.check_bool)
    """Simulate contact of the arm with the table and floor (not needed for reaching)."""
    joint_limits: bool = check.setting(False, check=check.check_bool)
    """Enforce joint limits as constraints too (targets are always clipped to them); slower."""
    physics_backend: str = check.setting("auto", check=check.one_of(panda_model.PHYSICS_BACKENDS))
    """Whose MJX choices the physics uses (mass-matrix layout, constraint solver: see
    envs/panda_model.py): "auto" the backend JAX runs on, or "cpu" / "gpu". Same physics."""

    def __post_init__(self) -> None:
        check.check_fields(self)
        if not all(lo <= hi for lo, hi in zip(self.goal_low, self.goal_high, strict=True)):
            raise ValueError(
                f"goal_low={self.goal_low!r} must be <= goal_high={self.goal_high!r} on every axis"
            )


class PandaReach(GoalEnv):
    """Franka Panda reach task on MJX. See ``PandaReachConfig`` for the settings."""

    def __init__(self, config: PandaReachConfig | None = None, name: str = "PandaReach"):
        self.config = config = config or PandaReachConfig()
        self.name = name
        self.mj_model = panda_model.load(
            config.ctrl_dt / config.n_substeps,
            config.contacts,
            config.joint_limits,
            config.physics_backend,
        )
        self.model = mjx.put_model(self.mj_model)
        self.control = ArmControl.from_config(self.mj_model, config)
        self.chain = self.control.chain
        self._goal_low = jnp.asarray(config.goal_low, jnp.float32)
        self._goal_high = jnp.asarray(config.goal_high, jnp.float32)
        # Every episode starts from the same pose at rest; only the goal changes. The reset
        # state is therefore computed once, by MuJoCo, and reset costs a goal draw.
        neutral = mjx.put_data(self.mj_model, panda_model.neutral_data(self.mj_model))
        self.dynamics = ArmDynamics(self.mj_model, self.model, neutral)
        self._neutral = self.dynamics.state(neutral)

    @property
    def action_size(self) -> int:
        return self.control.action_size

    @property
    def backend(self) -> str:
        return "mjx"

    @property
    def dt(self) -> float:
        return self.config.ctrl_dt

    def sample_goal(self, key: jax.Array) -> jax.Array:
        """Uniform in the goal box: [3]."""
        return jax.random.uniform(key, (3,), minval=self._goal_low, maxval=self._goal_high)

    def reset(self, rng: jax.Array) -> State:
        goal = self.sample_goal(rng)
        obs = self._observe(self._neutral, goal)
        return self._initial_state(self._neutral, obs, goal)

    def step(self, state: State, action: jax.Array) -> State:
        self._check_action(action)
        action = jnp.clip(action, -1.0, 1.0)
        arm = state.pipeline_state
        ctrl = self.servo_targets(arm.qpos, action)

        def substep(arm: ArmState, _):
            return self.dynamics.step(arm, ctrl), None

        arm, _ = jax.lax.scan(substep, arm, None, length=self.config.n_substeps)
        finite = jnp.isfinite(arm.qpos).all() & jnp.isfinite(arm.qvel).all()
        arm = jax.tree.map(lambda now, rest: jnp.where(finite, now, rest), arm, self._neutral)
        obs = self._observe(arm, state.info["goal"])
        return self._transition(state, arm, obs, nonfinite=~finite)

    def ee_frame(self, arm: ArmState) -> tuple[jax.Array, jax.Array]:
        """The ee site's position [3] and rotation [3, 3] (its axes as columns, world frame)."""
        position, rotation, _, _ = self.chain.site_frame(arm.qpos)
        return position, rotation

    def servo_targets(self, qpos: jax.Array, action: jax.Array) -> jax.Array:
        """Servo targets [7] at joint angles ``qpos`` [7] for a clipped action."""
        return self.control.servo_targets(qpos, action)

    def _observe(self, arm: ArmState, goal: jax.Array) -> dict[str, jax.Array]:
        """{"observation": [6] ee position and linear velocity, "achieved_goal": [3],
        "desired_goal": [3]}, float32."""
        ee_pos, _, jacp, _ = self.chain.site_frame(arm.qpos)
        ee_vel = jacp @ arm.qvel
        return {
            "observation": jnp.concatenate([ee_pos, ee_vel]).astype(jnp.float32),
            "achieved_goal": ee_pos.astype(jnp.float32),
            "desired_goal": goal.astype(jnp.float32),
        }
