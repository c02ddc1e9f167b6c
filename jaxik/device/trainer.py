"""One compiled training loop: environments, HER buffer, learner and evaluation in a lax.scan.

``make_train(config)`` returns a pure ``train(key, hp=None) -> (TrainState, metrics)`` that
``jax.jit`` and ``jax.vmap`` (over keys, and over stacked ``Hyperparams``) accept whole. The float
hyperparameters are leaves of the state (``state.hp``), so one compiled program serves any of
their values. ``make_trainer`` exposes its pieces, ``init`` and ``chunk``, for a host loop that
logs and saves between chunks: a chunk is ``iterations_per_eval`` iterations (``iterations``)
followed by one evaluation (``evaluation``), and every chunk is the same compiled program
(jaxik.host.run compiles the two setup as two programs, at the same time).

An iteration: every training environment takes one step (uniform random actions for the first
``learning_starts`` environment steps, then the policy plus exploration), the transitions go into
the buffer and the input statistics, and ``updates_per_iteration`` gradient updates follow.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from brax.envs.base import State
from flax import struct

import envs
from jaxik.config import TrainConfig
from jaxik.device import agents, her, lockstep
from jaxik.device import evaluation as evaluation_lib
from jaxik.device import hyperparams as hyperparams_lib
from jaxik.device import normalizer as normalizer_lib
from jaxik.device.agents.common import Update


@struct.dataclass
class TrainState:
    agent: Any  # the algorithm's own state (networks, optimisers, targets)
    normalizer: normalizer_lib.Normalizer
    buffer: her.HerBuffer
    env_state: State  # batched over num_envs, auto-resetting
    exploration: Any  # the agent's per-environment exploration state (DDPG/TD3: the noise)
    key: jax.Array
    iteration: jax.Array = lockstep.counter()  # int32: iterations done
    hp: hyperparams_lib.Hyperparams  # the float hyperparameters, as arrays

    def env_axes(self) -> TrainState:
        """Each leaf's environment axis (-1: none) in the unbatched state: jaxik.host.sharding
        splits those axes over the device mesh's "envs" axis and replicates the rest."""

        def along(axis, tree):
            return jax.tree.map(lambda _: axis, tree)

        none = her.NO_ENV_AXIS
        return TrainState(
            agent=along(none, self.agent),
            normalizer=along(none, self.normalizer),
            buffer=self.buffer.env_axes(),
            env_state=along(0, self.env_state),  # [num_envs, ...]
            exploration=along(0, self.exploration),  # [num_envs, ...]
            key=along(none, self.key),
            iteration=along(none, self.iteration),
            hp=along(none, self.hp),
        )


@dataclasses.dataclass(frozen=True)
class Trainer:
    """What a host loop needs of a configuration's training program: pure functions of the
    training state."""

    init: Callable[..., TrainState]  # (key, hp=None): hp defaults to the config's values
    iterations: Callable[[TrainState], tuple[TrainState, dict[str, jax.Array]]]  # a chunk's
    # iterations; metrics are scalars
    evaluation: Callable[[TrainState], tuple[TrainState, dict[str, jax.Array]]]  # its evaluation
    chunk: Callable[[TrainState], tuple[TrainState, dict[str, jax.Array]]]  # = iterations
    # then evaluation; pieces.build compiles the two as separate programs, side by side
    train: Callable[..., tuple[TrainState, dict[str, jax.Array]]]  # (key, hp=None): the run


@dataclasses.dataclass(frozen=True)
class Stages:
    """The stages an iteration and a chunk are made of, each alone: what ``python -m
    jaxik.bench`` times apart (compile breakdown, throughput). No host loop uses them."""

    iterate: Callable[[TrainState], tuple[TrainState, dict[str, jax.Array]]]  # a chunk's
    # iterations without their metrics' reduction: leaves [iterations_per_eval]
    sample: Callable[[TrainState, jax.Array], Update]  # one HER batch, normalised
    learn: Callable[[TrainState, jax.Array], tuple[Any, dict]]  # the iteration's updates
    evaluate: Callable[[TrainState, jax.Array], dict[str, jax.Array]]  # one evaluation


def raw_input(observation: jax.Array, goal: jax.Array) -> jax.Array:
    """[..., obs_dim], [..., goal_dim] -> [..., in_dim], before normalisation."""
    return jnp.concatenate([observation, goal], axis=-1)


def network_input(
    config: TrainConfig, normalizer: normalizer_lib.Normalizer, observation, goal
) -> jax.Array:
    """[..., obs_dim], [..., goal_dim] -> [..., in_dim], as the networks see it."""
    x = raw_input(observation, goal)
    if config.normalize_observations:
        x = normalizer_lib.normalize(normalizer, x, config.observation_clip)
    return x


def greedy_action(
    config: TrainConfig, agent: agents.Agent, agent_state, normalizer, obs: dict
) -> jax.Array:
    """The deterministic action for a batch of observation dicts: [n, ...] -> [n, action_size]
    (SAC: tanh of its Gaussian's mean). What evaluation, jaxik.policy and the render use."""
    x = network_input(config, normalizer, obs["observation"], obs["desired_goal"])
    return agent.act(agent_state, x, jax.random.key(0), explore=False)


def chained(iterations: Callable, evaluation: Callable) -> Callable:
    """A chunk: ``iterations`` then ``evaluation``, their metrics merged. The one definition,
    traced inside ``make_train``'s scan and called by the host on the two compiled pieces
    (jaxik.host.pieces.chunk)."""

    def chunk(state):
        state, metrics = iterations(state)
        state, eval_metrics = evaluation(state)
        return state, {**metrics, **eval_metrics}

    return chunk


def make_train(config: TrainConfig) -> Callable[..., tuple[TrainState, dict]]:
    """A pure ``train(key, hp=None)``: metrics leaves are [num_evals], one per evaluation."""
    return make_trainer(config).train


def make_trainer(config: TrainConfig, trace_hook: Callable[[], None] | None = None) -> Trainer:
    """The training program for ``config`` (validated when it was built). ``trace_hook`` is
    called each time the iteration body is traced (tests count it)."""
    return _build(config, trace_hook)[0]


def make_stages(config: TrainConfig) -> Stages:
    """The stages of ``config``'s program, each alone (benchmarks)."""
    return _build(config, None)[1]


@dataclasses.dataclass(frozen=True)
class Setup:
    """What a configuration's program is made of, built once on the host: the task (its
    training copies auto-resetting), the agent, the sizes, the evaluation and the HER sampler.
    The functions below take it first; ``make_trainer`` closes them over it."""

    config: TrainConfig
    train_env: Any  # envs.AutoResetWrapper of the traced-once task
    agent: agents.Agent
    in_dim: int
    action_size: int
    evaluate_policy: Callable[[Any, jax.Array], dict[str, jax.Array]]  # ((agent, normaliser), key)
    sample_her: Callable[..., her.Batch]  # (buffer, key, her_future_prob)
    trace_hook: Callable[[], None] | None  # called when the iteration body is traced


def make_setup(config: TrainConfig, trace_hook: Callable[[], None] | None = None) -> Setup:
    task = envs.make(config.env, **config.env_config)
    env = envs.TraceOnce(task)
    sizes = env.observation_size
    in_dim = sizes["observation"][0] + sizes["desired_goal"][0]
    agent = agents.make(config, in_dim, env.action_size)

    def greedy_policy(params, obs):
        agent_state, normalizer = params
        return greedy_action(config, agent, agent_state, normalizer, obs)

    judged = task.evaluation_env()
    evaluation_env = env if judged is task else envs.TraceOnce(judged)
    sample_her = her.make_sampler(
        config.batch_size,
        config.her_strategy,
        env.config.episode_length,
        env.compute_reward,
        env.is_success,
        env.config.terminate_on_success,
        config.her_candidates,
    )
    return Setup(
        config=config,
        train_env=envs.AutoResetWrapper(env),
        agent=agent,
        in_dim=in_dim,
        action_size=env.action_size,
        evaluate_policy=evaluation_lib.make_evaluate(
            evaluation_env, config.num_eval_envs, greedy_policy
        ),
        sample_her=sample_her,
        trace_hook=trace_hook,
    )


def transitions(obs: dict, action: jax.Array, stepped: State) -> her.Transitions:
    """What the buffer keeps of a step from ``obs`` with ``action`` to ``stepped`` (the
    auto-reset state; its final_obs is the episode's true next observation)."""
    final_obs = stepped.info["final_obs"]
    return her.Transitions(
        observation=obs["observation"],
        desired_goal=obs["desired_goal"],
        action=action,
        next_observation=final_obs["observation"],
        next_achieved_goal=final_obs["achieved_goal"],
        nonfinite=stepped.metrics["nonfinite_reset"] > 0,
        done=stepped.done > 0,
    )


def init_state(
    setup: Setup, key: jax.Array, hp: hyperparams_lib.Hyperparams | None = None
) -> TrainState:
    config, num_envs = setup.config, setup.config.num_envs
    if hp is None:
        hp = hyperparams_lib.from_config(config)
    agent_key, env_key, key = jax.random.split(key, 3)
    env_state = jax.vmap(setup.train_env.reset)(jax.random.split(env_key, num_envs))
    example = transitions(env_state.obs, jnp.zeros((num_envs, setup.action_size)), env_state)
    return TrainState(
        agent=setup.agent.init(agent_key, hp),
        normalizer=normalizer_lib.init(setup.in_dim),
        buffer=her.init(example, config.buffer_size),
        env_state=env_state,
        exploration=setup.agent.init_exploration(num_envs),
        key=key,
        iteration=jnp.zeros((), jnp.int32),
        hp=hp,
    )


def sample_update(
    setup: Setup,
    buffer: her.HerBuffer,
    normalizer: normalizer_lib.Normalizer,
    key: jax.Array,
    her_future_prob: jax.Array,
) -> Update:
    """One HER batch as the learners take it: inputs normalised, goals relabelled."""
    batch = setup.sample_her(buffer, key, her_future_prob)
    return Update(
        x=network_input(setup.config, normalizer, batch.observation, batch.goal),
        action=batch.action,
        reward=batch.reward,
        next_x=network_input(setup.config, normalizer, batch.next_observation, batch.goal),
        terminated=batch.terminated,
    )


def gradient_updates(setup: Setup, state: TrainState, key: jax.Array):
    """An iteration's ``updates_per_iteration`` updates: (agent state, mean metrics)."""

    def one_update(agent_state, update_key):
        sample_key, learn_key = jax.random.split(update_key)
        batch = sample_update(
            setup, state.buffer, state.normalizer, sample_key, state.hp.her_future_prob
        )
        return setup.agent.update(agent_state, batch, learn_key, state.hp)

    keys = jax.random.split(key, setup.config.updates_per_iteration)
    agent_state, metrics = jax.lax.scan(one_update, state.agent, keys)
    return agent_state, jax.tree.map(jnp.nanmean, metrics)


def skip_updates(setup: Setup, state: TrainState, key: jax.Array):
    """No update while warming up: the agent as it is, its metrics NaN."""
    shapes = jax.eval_shape(functools.partial(gradient_updates, setup), state, key)[1]
    return state.agent, jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype), shapes)


def collect_action(setup: Setup, state: TrainState, key: jax.Array) -> tuple[jax.Array, Any]:
    """Actions [num_envs, action_size] (uniform while warming up, else the agent's exploring
    ones) and the agent's new exploration state."""
    policy_key, noise_key, random_key = jax.random.split(key, 3)
    obs = state.env_state.obs
    x = network_input(setup.config, state.normalizer, obs["observation"], obs["desired_goal"])
    ended = state.env_state.done > 0
    action, explored = setup.agent.explore(
        state.agent, state.exploration, x, policy_key, noise_key, state.hp, ended
    )
    warming_up = state.iteration * setup.config.num_envs < setup.config.learning_starts
    random_action = jax.random.uniform(random_key, action.shape, minval=-1.0, maxval=1.0)
    return jnp.where(warming_up, random_action, action), explored


def iteration(setup: Setup, state: TrainState, _) -> tuple[TrainState, dict[str, jax.Array]]:
    """Every environment steps once, the buffer and the normaliser take the step, then the
    updates (once ``learning_starts`` steps are in)."""
    if setup.trace_hook is not None:
        setup.trace_hook()
    key, act_key, update_key = jax.random.split(state.key, 3)
    action, explored = collect_action(setup, state, act_key)
    obs = state.env_state.obs
    env_state = jax.vmap(setup.train_env.step)(state.env_state, action)
    done = env_state.done > 0
    buffer = her.insert(state.buffer, transitions(obs, action, env_state))
    normalizer = normalizer_lib.update(
        state.normalizer, raw_input(obs["observation"], obs["desired_goal"])
    )
    state = state.replace(
        buffer=buffer,
        normalizer=normalizer,
        env_state=env_state,
        exploration=explored,
        key=key,
        iteration=state.iteration + 1,
    )
    ready = state.iteration * setup.config.num_envs >= setup.config.learning_starts
    agent_state, learn_metrics = jax.lax.cond(
        ready,
        functools.partial(gradient_updates, setup),
        functools.partial(skip_updates, setup),
        state,
        update_key,
    )
    metrics = {
        "episodes": done.sum(),
        "successes": (done & (env_state.metrics["success"] > 0)).sum(),
        **learn_metrics,
    }
    if "physics_overflow" in env_state.metrics:  # MuJoCo Warp's physics (envs/warp_physics.py)
        metrics["physics_overflow"] = env_state.metrics["physics_overflow"].sum()
    return state.replace(agent=agent_state), metrics


def iterate(setup: Setup, state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
    """A chunk's iterations, their metrics unreduced: leaves [iterations_per_eval]."""
    body = functools.partial(iteration, setup)
    return jax.lax.scan(body, state, None, length=setup.config.iterations_per_eval)


def iterations(setup: Setup, state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
    """A chunk's iterations and their metrics (scalars)."""
    state, per_iteration = iterate(setup, state)
    episodes = per_iteration.pop("episodes").sum()
    successes = per_iteration.pop("successes").sum()
    overflow = per_iteration.pop("physics_overflow", None)  # MuJoCo Warp's physics only
    counted = {} if overflow is None else {"physics_overflow": overflow.sum()}
    return state, {
        "env_steps": state.iteration * setup.config.num_envs,
        "train_episodes": episodes,
        "train_success": successes / jnp.maximum(episodes, 1),
        **jax.tree.map(jnp.nanmean, per_iteration),
        **counted,
    }


def evaluation(setup: Setup, state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
    """A chunk's evaluation of the policy (scalars); the state only draws a new key."""
    key, eval_key = jax.random.split(state.key)
    return state.replace(key=key), setup.evaluate_policy((state.agent, state.normalizer), eval_key)


def _build(config: TrainConfig, trace_hook: Callable[[], None] | None) -> tuple[Trainer, Stages]:
    setup = make_setup(config, trace_hook)
    init = functools.partial(init_state, setup)
    chunk = chained(functools.partial(iterations, setup), functools.partial(evaluation, setup))

    def train(
        key: jax.Array, hp: hyperparams_lib.Hyperparams | None = None
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        return jax.lax.scan(lambda s, _: chunk(s), init(key, hp), None, length=config.num_evals)

    trainer = Trainer(
        init=init,
        iterations=functools.partial(iterations, setup),
        evaluation=functools.partial(evaluation, setup),
        chunk=chunk,
        train=train,
    )
    stages = Stages(
        iterate=functools.partial(iterate, setup),
        sample=lambda state, key: sample_update(
            setup, state.buffer, state.normalizer, key, state.hp.her_future_prob
        ),
        learn=functools.partial(gradient_updates, setup),
        evaluate=lambda state, key: setup.evaluate_policy((state.agent, state.normalizer), key),
    )
    return trainer, stages
