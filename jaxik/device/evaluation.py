"""Evaluation of the deterministic policy on fresh goals, inside the compiled program."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from envs.goal_env import GoalEnv


def make_evaluate(
    env: GoalEnv, num_episodes: int, policy: Callable[[object, dict], jax.Array]
) -> Callable[[object, jax.Array], dict[str, jax.Array]]:
    """``evaluate(params, key)`` runs ``num_episodes`` episodes in parallel, each on its own
    environment and goal, with ``policy(params, obs) -> action [num_episodes, action_size]``.

    Success is the ``success`` metric at each episode's last step: reaching the goal where
    episodes end on success, else being within the threshold when the time limit ends it.
    Returns scalars: eval_success, eval_return (undiscounted), eval_length (steps).
    """
    reset = jax.vmap(env.reset)
    step = jax.vmap(env.step)

    def evaluate(params, key: jax.Array) -> dict[str, jax.Array]:
        state = reset(jax.random.split(key, num_episodes))
        running = jnp.ones((num_episodes,), bool)
        zeros = jnp.zeros((num_episodes,), jnp.float32)

        def one_step(carry, _):
            state, running, episode_return, length, success = carry
            state = step(state, policy(params, state.obs))
            episode_return = episode_return + jnp.where(running, state.reward, 0.0)
            length = length + running
            ended = running & (state.done > 0)
            success = jnp.where(ended, state.metrics["success"], success)
            overflow = state.metrics.get("physics_overflow")  # MuJoCo Warp's physics only
            return (state, running & ~ended, episode_return, length, success), overflow

        carry = (state, running, zeros, zeros, zeros)
        carry, overflows = jax.lax.scan(one_step, carry, None, length=env.config.episode_length)
        _, _, episode_return, length, success = carry
        return {
            "eval_success": success.mean(),
            "eval_return": episode_return.mean(),
            "eval_length": length.mean(),
            **({} if overflows is None else {"eval_physics_overflow": overflows.sum()}),
        }

    return evaluate
