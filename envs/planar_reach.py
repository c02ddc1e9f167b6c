"""PlanarReach: the seed article's 2-D two-link arm, pure JAX, no MuJoCo.

Same goal-conditioned API and rewards as PandaReach, and fast enough to be the learning tests'
fixture. The arm is kinematic: each step adds ``joint_step`` * action to the two joint angles.
Goals are drawn uniformly (by area) from the reachable annulus |l1 - l2| <= r <= l1 + l2.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from brax.envs.base import State

from envs import validation as check
from envs.goal_env import GoalEnv
from envs.reward import REWARD_TYPES


@dataclasses.dataclass(frozen=True)
class PlanarReachConfig:
    """Settings of the 2-D reach task."""

    reward_type: str = check.setting("sparse", check=check.one_of(REWARD_TYPES))
    """"sparse": -1 unless within distance_threshold, else 0; "dense": -distance."""
    distance_threshold: float = check.setting(0.05, check=check.check_positive)
    """Success radius in metres (strict)."""
    episode_length: int = check.setting(50, check=check.check_positive_int)
    """Control steps before the episode is truncated."""
    terminate_on_success: bool = check.setting(True, check=check.check_bool)
    """End the episode on success."""
    link_lengths: tuple[float, float] = check.setting((0.6, 0.4), check=check.vector(2))
    """Upper and lower arm lengths in metres."""
    joint_step: float = check.setting(0.1, check=check.check_positive)
    """Radians of joint motion per unit action."""
    ctrl_dt: float = check.setting(0.04, check=check.check_positive)
    """Control period in seconds (for the velocity observation)."""
    reset_qpos: tuple[float, float] = check.setting((0.0, 1.5707963), check=check.vector(2))
    """Joint angles at the start of every episode (elbow bent at a right angle)."""

    def __post_init__(self) -> None:
        check.check_fields(self)
        if min(self.link_lengths) <= 0:
            raise ValueError(f"link_lengths={self.link_lengths!r} must be two lengths > 0")


class PlanarReach(GoalEnv):
    """Two-link planar arm; pipeline_state is the joint angles [2]."""

    def __init__(self, config: PlanarReachConfig | None = None, name: str = "PlanarReach"):
        self.config = config or PlanarReachConfig()
        self.name = name
        upper, lower = self.config.link_lengths
        self.min_radius, self.max_radius = abs(upper - lower), upper + lower

    @property
    def action_size(self) -> int:
        return 2

    @property
    def backend(self) -> str:
        return "jax"

    @property
    def dt(self) -> float:
        return self.config.ctrl_dt

    def joint_positions(self, qpos: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Elbow and fingertip positions, each [2], for joint angles [2]."""
        upper, lower = self.config.link_lengths
        elbow = upper * jnp.stack([jnp.cos(qpos[0]), jnp.sin(qpos[0])])
        tip_angle = qpos[0] + qpos[1]
        tip = elbow + lower * jnp.stack([jnp.cos(tip_angle), jnp.sin(tip_angle)])
        return elbow, tip

    def sample_goal(self, key: jax.Array) -> jax.Array:
        """Uniform by area in the reachable annulus: [2]."""
        radius_key, angle_key = jax.random.split(key)
        radius_sq = jax.random.uniform(
            radius_key, (), minval=self.min_radius**2, maxval=self.max_radius**2
        )
        angle = jax.random.uniform(angle_key, (), minval=-jnp.pi, maxval=jnp.pi)
        return jnp.sqrt(radius_sq) * jnp.stack([jnp.cos(angle), jnp.sin(angle)])

    def reset(self, rng: jax.Array) -> State:
        qpos = jnp.asarray(self.config.reset_qpos, jnp.float32)
        goal = self.sample_goal(rng)
        obs = self._observe(qpos, jnp.zeros(2, jnp.float32), goal)
        return self._initial_state(qpos, obs, goal)

    def step(self, state: State, action: jax.Array) -> State:
        self._check_action(action)
        action = jnp.clip(action, -1.0, 1.0)
        qpos = state.pipeline_state + self.config.joint_step * action
        finite = jnp.isfinite(qpos).all()
        qpos = jnp.where(finite, qpos, jnp.asarray(self.config.reset_qpos, jnp.float32))
        _, tip_before = self.joint_positions(state.pipeline_state)
        _, tip = self.joint_positions(qpos)
        velocity = jnp.where(finite, (tip - tip_before) / self.config.ctrl_dt, 0.0)
        obs = self._observe(qpos, velocity, state.info["goal"])
        return self._transition(state, qpos, obs, nonfinite=~finite)

    def _observe(
        self, qpos: jax.Array, tip_velocity: jax.Array, goal: jax.Array
    ) -> dict[str, jax.Array]:
        """{"observation": [6] elbow xy, tip xy, tip velocity xy; "achieved_goal": [2] tip xy;
        "desired_goal": [2]}."""
        elbow, tip = self.joint_positions(qpos)
        return {
            "observation": jnp.concatenate([elbow, tip, tip_velocity]).astype(jnp.float32),
            "achieved_goal": tip.astype(jnp.float32),
            "desired_goal": goal.astype(jnp.float32),
        }
