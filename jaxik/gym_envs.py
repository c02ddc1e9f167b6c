"""The MJX reach tasks behind gymnasium's API, for code written against panda-gym.

    import gymnasium as gym
    import jaxik  # registers jaxik/PandaReach-v0 and the other tasks

    env = gym.make("jaxik/PandaReach-v0")                  # like gym.make("PandaReach-v3")
    vec = gym.make_vec("jaxik/PandaReach-v0", num_envs=1024)

``ReachEnv`` is one environment: panda-gym's Dict observation space ("observation",
"achieved_goal", "desired_goal"), actions in [-1, 1], ``terminated`` on success (and on physics that
went non-finite) and ``truncated`` at the time limit (``episode_length``, 50 steps) as the MJX task
decides them, ``info["is_success"]``, a batched ``compute_reward(achieved, desired, info)`` for
Stable-Baselines3's HerReplayBuffer, seeding by ``reset(seed=...)`` and ``render_mode="rgb_array"``.
Keyword arguments of ``gym.make`` are the task's settings (``envs.make``), e.g.
``terminate_on_success=False``.

``ReachVectorEnv`` steps ``num_envs`` copies as one jitted, vmapped call, with gymnasium 1.x's
next-step autoreset: the step after an episode ends resets that copy (its action is ignored, its
reward is 0, and terminated and truncated are False).

Each task's jitted functions are shared by every environment made with the same settings, so a
second ``gym.make`` does not compile again.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

import envs

OBS_BOUND = 10.0  # panda-gym's Box bounds for every observation entry


@functools.lru_cache(maxsize=16)
def _compiled(task: str, settings: tuple) -> Any:
    """The task and its jitted functions, shared by environments with the same settings."""
    env = envs.make(task, **dict(settings))

    def vector_step(state, keys, resetting, actions):
        """NEXT_STEP autoreset: copies flagged ``resetting`` start a new episode instead."""
        stepped = jax.vmap(env.step)(state, actions)
        split = jax.vmap(jax.random.split)(keys)
        fresh = jax.vmap(env.reset)(split[:, 1])

        def pick(new, old):
            mask = resetting.reshape(resetting.shape + (1,) * (old.ndim - 1))
            return jnp.where(mask, new, old)

        state = jax.tree.map(pick, fresh, stepped)
        keep = ~resetting
        out = (
            state.obs,
            jnp.where(keep, state.reward, 0.0),
            (state.info["terminated"] > 0) & keep,
            (state.info["truncation"] > 0) & keep,
            (state.metrics["success"] > 0) & keep,
        )
        return state, split[:, 0], out

    return dict(
        env=env,
        reset=jax.jit(env.reset),
        step=jax.jit(env.step),
        vector_reset=jax.jit(jax.vmap(env.reset)),
        vector_step=jax.jit(vector_step),
    )


def _settings(task: str, env_config: dict[str, Any]) -> tuple:
    """Hashable, validated settings: a bad key or value is a ValueError naming it, now."""
    envs.make_config(task, **env_config)
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in env_config.items()))


def _observation_space(env) -> spaces.Dict:
    return spaces.Dict(
        {
            name: spaces.Box(-OBS_BOUND, OBS_BOUND, shape, np.float32)
            for name, shape in env.observation_size.items()
        }
    )


def _key(rng: np.random.Generator) -> jax.Array:
    return jax.random.key(int(rng.integers(0, 2**31 - 1)))


def _actions(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    actions = np.asarray(value, np.float32)
    if actions.shape != shape:
        raise ValueError(f"action has shape {actions.shape}, expected {shape}")
    return actions


def compute_reward(env, achieved_goal, desired_goal) -> np.ndarray:
    """The task's reward in NumPy, batched: goals [..., goal_dim] -> [...] float32."""
    distance = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
    if env.config.reward_type == "sparse":
        return -(distance > env.config.distance_threshold).astype(np.float32)
    return -distance.astype(np.float32)


def check_time_limit(limit: int | None, episode_length: int) -> None:
    """``gymnasium.make_vec`` passes the id's ``max_episode_steps`` to the vector env, which
    truncates at the task's episode length: a limit shorter than that would be a spec the
    episodes do not keep. (``gymnasium.make`` wraps the single env in a TimeLimit instead,
    which ends episodes at the limit whatever the task's length.)"""
    if limit is not None and limit < episode_length:
        raise ValueError(
            f"episode_length={episode_length} is longer than max_episode_steps={limit}, "
            f"where gymnasium's TimeLimit would end every episode; pass "
            f"max_episode_steps={episode_length} to gymnasium.make too"
        )


class _TaskBacked:
    """What the single and the vector env share: the task with its jitted functions, the
    reward, and frames of the current state."""

    def _set_task(self, task: str, render_mode, size: tuple[int, int], env_config) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"render_mode={render_mode!r} is not allowed; choose None or 'rgb_array'"
            )
        self._fns = _compiled(task, _settings(task, env_config))
        self.task = self._fns["env"]
        self.render_mode = render_mode
        self.metadata = dict(self.metadata, render_fps=round(1.0 / self.task.dt))
        self._size = size
        self._renderer = None
        self._state = None

    def compute_reward(self, achieved_goal, desired_goal, info=None) -> np.ndarray:
        """Goals [..., goal_dim] (a batch, as SB3's HerReplayBuffer passes) -> [...] float32;
        ``info`` is not used."""
        return compute_reward(self.task, achieved_goal, desired_goal)

    def _frames(self, copies: list[int] | None):
        """Frames of the current state (of ``copies`` of a batched one), or None without
        render_mode."""
        if self.render_mode is None:
            gymnasium.logger.warn("render() needs render_mode='rgb_array' when made")
            return None
        if self._state is None:
            raise RuntimeError("call reset() before render()")
        if self._renderer is None:
            from envs.render import FrameRenderer

            self._renderer = FrameRenderer(self.task, *self._size)
        state = jax.device_get(self._state)
        if copies is None:
            return self._renderer.frame(state.pipeline_state, state.info["goal"])
        return tuple(
            self._renderer.frame(
                jax.tree.map(lambda x, i=i: x[i], state.pipeline_state), state.info["goal"][i]
            )
            for i in copies
        )

    def _close_renderer(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


class ReachEnv(_TaskBacked, gymnasium.Env):
    """One reach task as a ``gymnasium.Env`` (see the module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(
        self,
        task: str = "PandaReach",
        render_mode: str | None = None,
        width: int = 480,
        height: int = 360,
        **env_config: Any,
    ):
        self._set_task(task, render_mode, (height, width), env_config)
        self.observation_space = _observation_space(self.task)
        self.action_space = spaces.Box(-1.0, 1.0, (self.task.action_size,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state = self._fns["reset"](_key(self.np_random))
        obs = jax.device_get(self._state.obs)
        return obs, {"is_success": False}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        action = _actions(action, self.action_space.shape)
        self._state = self._fns["step"](self._state, action)
        state = self._state
        obs, reward, terminated, truncated, success = jax.device_get(
            (
                state.obs,
                state.reward,
                state.info["terminated"],
                state.info["truncation"],
                state.metrics["success"],
            )
        )
        info = {"is_success": bool(success > 0)}
        return obs, float(reward), bool(terminated > 0), bool(truncated > 0), info

    def render(self):
        """A frame [height, width, 3] (rgb_array mode)."""
        return self._frames(None)

    def close(self):
        self._close_renderer()


class ReachVectorEnv(_TaskBacked, VectorEnv):
    """``num_envs`` copies of a reach task in one jitted, vmapped MJX call (see the module
    docstring). ``reset(seed=s)`` seeds copy i as ``ReachEnv.reset(seed=s + i)`` would."""

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array"],
        "render_fps": 25,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        task: str = "PandaReach",
        render_mode: str | None = None,
        width: int = 480,
        height: int = 360,
        max_episode_steps: int | None = None,
        **env_config: Any,
    ):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r} must be a positive integer")
        self._set_task(task, render_mode, (height, width), env_config)
        check_time_limit(max_episode_steps, self.task.config.episode_length)
        self.num_envs = num_envs
        self.single_observation_space = _observation_space(self.task)
        self.single_action_space = spaces.Box(-1.0, 1.0, (self.task.action_size,), np.float32)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        if isinstance(seed, int) or seed is None:
            super().reset(seed=seed)
            seeds = [seed + i for i in range(self.num_envs)] if seed is not None else None
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed has {len(seeds)} entries, expected {self.num_envs}")
            super().reset(seed=seeds[0])
        if seeds is None:
            generators = [self.np_random] * self.num_envs
        else:
            generators = [gymnasium.utils.seeding.np_random(s)[0] for s in seeds]
        keys = [_key(rng) for rng in generators]
        self._state = self._fns["vector_reset"](jnp.stack(keys))
        self._keys = jax.random.split(_key(self.np_random), self.num_envs)
        self._resetting = jnp.zeros(self.num_envs, bool)
        obs = jax.device_get(self._state.obs)
        success = np.zeros(self.num_envs, bool)
        return obs, {"is_success": success, "_is_success": np.ones(self.num_envs, bool)}

    def step(self, actions):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        actions = _actions(actions, self.action_space.shape)
        self._state, self._keys, out = self._fns["vector_step"](
            self._state, self._keys, self._resetting, actions
        )
        obs, reward, terminated, truncated, success = jax.device_get(out)
        self._resetting = jnp.asarray(terminated | truncated)
        info = {"is_success": success, "_is_success": np.ones(self.num_envs, bool)}
        return obs, reward.astype(np.float32), terminated, truncated, info

    def render(self):
        """A frame [height, width, 3] of each copy, as a tuple (rgb_array mode)."""
        return self._frames(list(range(self.num_envs)))

    def close_extras(self, **kwargs):
        self._close_renderer()
