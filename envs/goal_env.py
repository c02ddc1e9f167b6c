"""What every goal-conditioned reach task here shares: rewards, success, episode ends, checks.

A task subclass supplies ``reset`` and ``step``; both end by calling ``_transition``, which keeps
termination (success, or physics that went non-finite) and truncation (the time limit) apart:

- ``state.done`` = terminated or truncated (Brax's convention);
- ``state.info["truncation"]`` = 1.0 where the time limit ended an episode that did not terminate;
- ``state.info["terminated"]`` = 1.0 where the episode ended for good (no bootstrapping).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from brax.envs.base import Env, State

from envs import reward as reward_lib


class GoalEnv(Env):
    """Base class: ``config`` must have reward_type, distance_threshold, episode_length and
    terminate_on_success."""

    config: Any
    name: str
    goal_distance: Callable[[jax.Array, jax.Array], jax.Array] = staticmethod(
        reward_lib.goal_distance
    )
    """How far an achieved goal is from a desired one: [..., goal_dim] x 2 -> [...] (Euclidean;
    an orientation task's is ``reward.angle_distance``)."""

    def compute_reward(self, achieved_goal: jax.Array, desired_goal: jax.Array) -> jax.Array:
        """Pure and batched. Goals: [..., goal_dim] -> reward [...]."""
        return reward_lib.compute_reward(
            achieved_goal,
            desired_goal,
            self.config.reward_type,
            self.config.distance_threshold,
            self.goal_distance,
        )

    def is_success(self, achieved_goal: jax.Array, desired_goal: jax.Array) -> jax.Array:
        """Goals: [..., goal_dim] -> [...] bool."""
        return reward_lib.is_success(
            achieved_goal, desired_goal, self.config.distance_threshold, self.goal_distance
        )

    def goal_metrics(self, achieved_goal: jax.Array, desired_goal: jax.Array) -> dict:
        """How far the achieved goal is from the desired one, as float32 metrics: {"distance":
        [...]} (metres, or an orientation task's angle distance; a pose task adds the angle)."""
        distance = self.goal_distance(achieved_goal, desired_goal)
        return {"distance": distance.astype(jnp.float32)}

    def evaluation_env(self) -> GoalEnv:
        """The environment a policy is judged on: this one, unless training starts episodes
        where the task itself does not (envs/panda_manipulation.py, ``grasped_start``)."""
        return self

    @property
    def observation_size(self) -> dict[str, tuple[int, ...]]:
        """Shapes of the observation dict, read off ``reset`` with ``jax.eval_shape``."""
        obs = jax.eval_shape(self.reset, jax.random.key(0)).obs
        return {name: tuple(spec.shape) for name, spec in obs.items()}

    def _check_action(self, action: jax.Array) -> None:
        """Runs while tracing, so a wrong shape fails before anything is compiled."""
        if action.shape != (self.action_size,):
            raise ValueError(
                f"{self.name}.step: action has shape {tuple(action.shape)}, expected "
                f"({self.action_size},); batch environments with jax.vmap"
            )

    def _initial_state(
        self, pipeline_state: Any, obs: dict[str, jax.Array], goal: jax.Array
    ) -> State:
        zero = jnp.zeros((), jnp.float32)
        return State(
            pipeline_state=pipeline_state,
            obs=obs,
            reward=zero,
            done=zero,
            metrics={
                "success": zero,
                **self.goal_metrics(obs["achieved_goal"], goal),
                "nonfinite_reset": zero,
            },
            info={
                "goal": goal,
                "steps": jnp.zeros((), jnp.int32),
                "truncation": zero,
                "terminated": zero,
            },
        )

    def _transition(
        self,
        state: State,
        pipeline_state: Any,
        obs: dict[str, jax.Array],
        nonfinite: jax.Array,
    ) -> State:
        """Rewards, success and episode ends of the step that led to ``obs``."""
        achieved, desired = obs["achieved_goal"], obs["desired_goal"]
        success = self.is_success(achieved, desired) & ~nonfinite
        terminated = nonfinite
        if self.config.terminate_on_success:
            terminated = terminated | success
        steps = state.info["steps"] + 1
        truncated = (steps >= self.config.episode_length) & ~terminated
        done = terminated | truncated
        info = dict(state.info)
        info.update(
            steps=steps,
            truncation=truncated.astype(jnp.float32),
            terminated=terminated.astype(jnp.float32),
        )
        metrics = dict(state.metrics)
        metrics.update(
            success=success.astype(jnp.float32),
            **self.goal_metrics(achieved, desired),
            nonfinite_reset=nonfinite.astype(jnp.float32),
        )
        return state.replace(
            pipeline_state=pipeline_state,
            obs=obs,
            reward=self.compute_reward(achieved, desired),
            done=done.astype(jnp.float32),
            metrics=metrics,
            info=info,
        )
