"""jaxik.policy.load and python -m jaxik.render on run folders train.py wrote."""

import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import jax
import numpy as np
import planar
import pytest
from PIL import Image

import envs
from jaxik import policy as policy_lib
from jaxik.host import outputs, run, scan

ROOT = Path(__file__).resolve().parent.parent
PLANAR = planar.SMALL


def train(out: Path, **overrides) -> Path:
    run.run_scan(scan.load(None, {**PLANAR, **overrides}), out)
    return out


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory):
    """TD3, two seeds trained as one program, long enough to learn (about 20 s)."""
    out = tmp_path_factory.mktemp("two_seeds")
    return train(out, seeds=2, total_env_steps=16384)


def rollout_success(policy, episodes: int = 200, seed: int = 123) -> float:
    """Fraction of fresh goals the policy reaches, with its own env, stepped in JAX."""
    env = envs.make(policy.config.env, **policy.config.env_config)
    state = jax.vmap(env.reset)(jax.random.split(jax.random.key(seed), episodes))
    step = jax.jit(jax.vmap(env.step))
    reached = np.zeros(episodes, bool)
    for _ in range(env.config.episode_length):
        state = step(state, policy(state.obs))
        reached |= np.asarray(state.metrics["success"]) > 0
    return float(reached.mean())


def test_a_loaded_policy_does_what_the_runs_evaluation_measured(two_seeds):
    """Each seed's policy reaches fresh goals about as often as its last evaluation said: a
    policy loaded without its normaliser, or with another run's parameters, does not."""
    rows = outputs.read_metrics(two_seeds / "metrics.csv")
    for index in (0, 1):
        measured = [r["eval_success"] for r in rows if r["run"] == index][-1]
        assert measured >= 0.8, "the fixture run did not learn"
        success = rollout_success(policy_lib.load(two_seeds, run=index))
        assert abs(success - measured) <= 0.15, (index, success, measured)
    first, second = (policy_lib.load(two_seeds, run=i) for i in (0, 1))
    obs = {"observation": np.zeros(6, np.float32), "desired_goal": np.array([0.5, 0.2])}
    assert not np.array_equal(first(obs), second(obs)), "both runs gave the same parameters"


def test_actions_for_single_batched_numpy_and_jax_inputs(two_seeds):
    act = policy_lib.load(two_seeds)
    env = envs.make("PlanarReach")
    batch = jax.vmap(env.reset)(jax.random.split(jax.random.key(0), 5)).obs
    from_jax = act(batch)
    assert isinstance(from_jax, jax.Array) and from_jax.shape == (5, 2)
    numpy_batch = jax.tree.map(np.asarray, batch)
    from_numpy = act(numpy_batch)
    assert isinstance(from_numpy, np.ndarray) and from_numpy.shape == (5, 2)
    np.testing.assert_array_equal(from_numpy, np.asarray(from_jax))
    single = act(jax.tree.map(lambda x: x[2], numpy_batch))
    assert single.shape == (2,)
    np.testing.assert_allclose(single, from_numpy[2], atol=1e-6)
    assert np.abs(from_numpy).max() <= 1.0
    gym_env = gym.make("jaxik/PlanarReach-v0")  # the gymnasium env's observations work as they are
    obs, _ = gym_env.reset(seed=0)
    action = act(obs)
    assert gym_env.action_space.contains(action)
    gym_env.step(action)


@pytest.mark.parametrize("algo", [pytest.param("ddpg", marks=pytest.mark.slow), "sac"])
def test_every_algorithm_loads(tmp_path, algo):
    out = train(tmp_path / algo, algo=algo, total_env_steps=1024, eval_every=512)
    act = policy_lib.load(out)
    assert act.config.algo == algo
    action = act({"observation": np.zeros((3, 6)), "desired_goal": np.ones((3, 2))})
    assert action.shape == (3, 2) and np.abs(action).max() <= 1.0


def test_load_names_what_is_wrong(tmp_path, two_seeds):
    with pytest.raises(ValueError, match=r"no config\.yaml"):
        policy_lib.load(tmp_path)
    with pytest.raises(ValueError, match=r"run=2 .* 0 to 1"):
        policy_lib.load(two_seeds, run=2)
    with pytest.raises(ValueError, match="must be a dict"):
        policy_lib.load(two_seeds)(np.zeros(8))


def test_render_writes_a_gif_of_moving_frames(two_seeds, tmp_path):
    gif = tmp_path / "rollout.gif"
    result = subprocess.run(
        [sys.executable, "-m", "jaxik.render", str(two_seeds), "--out", str(gif),
         "--episodes", "2", "--width", "160", "--height", "120"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 episodes" in result.stdout
    image = Image.open(gif)
    frames = []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(np.asarray(image.convert("RGB"), np.float32))
    assert len(frames) >= 4 and frames[0].shape == (120, 160, 3)
    assert all(frame.std() > 5 for frame in frames), "a blank frame"
    assert np.abs(frames[0] - frames[len(frames) // 4]).mean() > 0.5, "the arm did not move"


def test_render_of_the_panda_draws_the_arm_and_the_goal():
    """MuJoCo's offscreen renderer (EGL or OSMesa here): frames differ as the arm moves, and
    the goal marker changes the picture."""
    from envs.render import FrameRenderer

    env = envs.make("PandaReach")
    renderer = FrameRenderer(env, 120, 160)
    state = jax.device_get(env.reset(jax.random.key(0)))
    try:
        frame = renderer.frame(state.pipeline_state, state.info["goal"])
        far_goal = renderer.frame(state.pipeline_state, np.array([0.15, -0.15, 0.3]))
        moved = state.pipeline_state.replace(qpos=state.pipeline_state.qpos + 0.4)
        moved_frame = renderer.frame(moved, state.info["goal"])
    finally:
        renderer.close()
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8 and frame.std() > 5
    assert np.abs(frame.astype(float) - far_goal).mean() > 0.1
    assert np.abs(frame.astype(float) - moved_frame).mean() > 1.0


@pytest.mark.parametrize("name", ["PandaPush", "PandaSlide", "PandaPickAndPlace"])
def test_render_of_a_manipulation_task_draws_the_object_and_the_goal(name):
    """The object is in the picture: moved 10 cm, it changes the frame; so does the goal."""
    from envs.render import FrameRenderer

    env = envs.make(name)
    renderer = FrameRenderer(env, 120, 160)
    state = jax.device_get(env.reset(jax.random.key(0)))
    scene, goal = state.pipeline_state, state.info["goal"]
    qpos = np.array(scene.qpos)
    qpos[env.object_index] += 0.1  # the object, along x
    moved = scene.replace(qpos=qpos)
    try:
        frame = renderer.frame(scene, goal)
        object_moved = renderer.frame(moved, goal)
        goal_moved = renderer.frame(scene, goal + np.array([0.0, 0.1, 0.0]))
    finally:
        renderer.close()
    assert frame.shape == (120, 160, 3) and frame.std() > 5
    assert np.abs(frame.astype(float) - object_moved).mean() > 0.1
    assert np.abs(frame.astype(float) - goal_moved).mean() > 0.1


def test_render_rejects_a_bad_out_before_loading(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "jaxik.render", str(tmp_path), "--out", "x.avi"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and ".gif, .mp4" in result.stderr


@pytest.mark.slow
def test_a_manipulation_run_loads_and_renders(tmp_path):
    """train.py on PandaSlide for a few iterations (most of the time is compiling the contact
    physics), then the run's policy acts on the task's observations and renders as a GIF."""
    out = tmp_path / "slide"
    result = subprocess.run(
        [sys.executable, "train.py", "--out", str(out), "env=PandaSlide", "num_envs=8",
         "total_env_steps=256", "eval_every=128", "learning_starts=64", "batch_size=32",
         "num_eval_envs=4"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    act = policy_lib.load(out)
    env = envs.make("PandaSlide")
    obs = jax.vmap(env.reset)(jax.random.split(jax.random.key(0), 3)).obs
    action = act(jax.tree.map(np.asarray, obs))
    assert action.shape == (3, 3) and np.abs(action).max() <= 1.0
    gif = tmp_path / "slide.gif"
    result = subprocess.run(
        [sys.executable, "-m", "jaxik.render", str(out), "--out", str(gif), "--episodes", "1",
         "--width", "160", "--height", "120"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "on PandaSlide" in result.stdout and Image.open(gif).n_frames >= 2
