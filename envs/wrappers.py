"""Training wrappers for single (unbatched) environments; batch the wrapped env with jax.vmap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from brax.envs.base import State, Wrapper

# info entries that describe the episode rather than the transition: replaced at a reset.
EPISODE_INFO = ("goal", "steps")
# info entries this wrapper adds.
OWN_INFO = ("final_obs", "reset_rng")


class AutoResetWrapper(Wrapper):
    """Starts a new episode, with a new goal, wherever one ended.

    Brax's own AutoResetWrapper returns to a state cached at the first reset, so goals would
    never change; this one calls ``reset`` with a fresh key each time. After a step that ended an
    episode, ``state.obs`` is the new episode's first observation and
    ``state.info["final_obs"]`` the ended episode's last one (the learner's next observation);
    ``reward``, ``done``, ``metrics``, ``info["truncation"]`` and ``info["terminated"]`` still
    describe the transition that was taken.
    """

    def reset(self, rng: jax.Array) -> State:
        rng, key = jax.random.split(rng)
        state = self.env.reset(key)
        info = dict(state.info, final_obs=state.obs, reset_rng=rng)
        return state.replace(info=info)

    def step(self, state: State, action: jax.Array) -> State:
        # The inner env sees its own state only, shaped as its reset made it, so a jitted inner
        # step (TraceOnce) traced elsewhere is reused here.
        own = {name: state.info[name] for name in OWN_INFO}
        inner = {name: value for name, value in state.info.items() if name not in OWN_INFO}
        state = self.env.step(state.replace(info=inner), action)
        rng, key = jax.random.split(own["reset_rng"])
        fresh = self.env.reset(key)
        done = state.done > 0

        def pick(new, old):
            return jnp.where(done, new, old)

        info = dict(state.info, final_obs=state.obs, reset_rng=rng)
        for name in EPISODE_INFO:
            info[name] = pick(fresh.info[name], state.info[name])
        return state.replace(
            pipeline_state=jax.tree.map(pick, fresh.pipeline_state, state.pipeline_state),
            obs=jax.tree.map(pick, fresh.obs, state.obs),
            info=info,
        )


class FlatObservation(Wrapper):
    """Concatenates [observation, desired_goal] into one array, for trainers that expect a flat
    observation (Brax's SAC and PPO). observation_size is then an int."""

    def _flatten(self, state: State) -> State:
        obs = state.obs
        return state.replace(obs=jnp.concatenate([obs["observation"], obs["desired_goal"]], -1))

    def reset(self, rng: jax.Array) -> State:
        return self._flatten(self.env.reset(rng))

    def step(self, state: State, action: jax.Array) -> State:
        # The goal envs step from pipeline_state and info, never from obs.
        return self._flatten(self.env.step(state, action))

    @property
    def observation_size(self) -> int:
        sizes = self.env.observation_size
        return sizes["observation"][0] + sizes["desired_goal"][0]


class TraceOnce(Wrapper):
    """``reset`` and ``step`` behind ``jax.jit``: a program that steps the environment in several
    places (training and evaluation, any batch size under ``vmap``) traces its Python once. XLA
    still compiles each call site."""

    def __init__(self, env):
        super().__init__(env)
        self._reset = jax.jit(env.reset)
        self._step = jax.jit(env.step)

    def reset(self, rng: jax.Array) -> State:
        return self._reset(rng)

    def step(self, state: State, action: jax.Array) -> State:
        return self._step(state, action)
