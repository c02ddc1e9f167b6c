"""A random-policy rollout of an environment, as training steps it: the environment benchmark's
workload (``python -m jaxik.bench env``)."""

from __future__ import annotations

from typing import Any


def make_rollout(env_name: str, num_envs: int, num_steps: int, **env_overrides: Any):
    """A jitted ``rollout(key) -> (episodes ended, successes, mean reward)``: ``num_envs``
    auto-resetting environments stepped ``num_steps`` times with uniform random actions, in one
    ``lax.scan`` (as training steps them)."""
    import jax

    import envs

    env = envs.AutoResetWrapper(envs.make(env_name, **env_overrides))

    def rollout(key):
        reset_key, action_key = jax.random.split(key)
        state = jax.vmap(env.reset)(jax.random.split(reset_key, num_envs))

        def one_step(state, step_key):
            shape = (num_envs, env.action_size)
            action = jax.random.uniform(step_key, shape, minval=-1.0, maxval=1.0)
            state = jax.vmap(env.step)(state, action)
            return state, (state.done, state.metrics["success"] * state.done, state.reward)

        keys = jax.random.split(action_key, num_steps)
        _, (done, success, reward) = jax.lax.scan(one_step, state, keys)
        return done.sum(), success.sum(), reward.mean()

    return jax.jit(rollout)
