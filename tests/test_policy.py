"""jaxik.policy.load and python -m jaxik.render on run folders train.py wrote."""

import dataclasses
import json
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
from jaxik.device import agents, trainer
from jaxik.host import checkpoint, outputs, pieces, policy_folder, run, scan

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
    env = envs.make(policy.env, **policy.env_config)
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


def training_state(run_dir: Path):
    """The run's final training state (its newest checkpoint), structured, and its program."""
    program = scan.load(run_dir / "config.yaml").programs[0]
    store = checkpoint.Checkpoints(run_dir, create=False)
    try:
        state, _ = store.restore(pieces.build(program).like)
    finally:
        store.close()
    return program, state


def greedy_actions(run_dir: Path, obs: dict) -> np.ndarray:
    """What the run's evaluation would do on ``obs`` [n, ...], per run: [runs, n, action_size],
    computed by the training code from the final training state."""
    program, state = training_state(run_dir)
    config = program.config
    env = envs.make(config.env, **config.env_config)
    sizes = env.observation_size
    agent = agents.make(config, sizes["observation"][0] + sizes["desired_goal"][0], env.action_size)
    act = jax.jit(lambda a, n: trainer.greedy_action(config, agent, a, n, obs))
    if not program.batched:
        return np.asarray(act(state.agent, state.normalizer))[None]
    runs = jax.tree.leaves(state.normalizer)[0].shape[0]
    return np.stack(
        [
            np.asarray(act(*jax.tree.map(lambda x, r=r: x[r], (state.agent, state.normalizer))))
            for r in range(runs)
        ]
    )


def random_obs(count: int = 64) -> dict:
    keys = jax.random.split(jax.random.key(7))
    return {
        "observation": np.asarray(jax.random.normal(keys[0], (count, 6))) * 2.0,
        "desired_goal": np.asarray(jax.random.normal(keys[1], (count, 2))),
    }


@pytest.mark.parametrize("algo", [pytest.param("ddpg", marks=pytest.mark.slow), "sac"])
def test_every_algorithm_loads(tmp_path, algo):
    """The policy folder acts as the training code's deterministic action (SAC: tanh of its
    Gaussian's mean), from the actor and normaliser alone."""
    out = train(tmp_path / algo, algo=algo, total_env_steps=1024, eval_every=512)
    act = policy_lib.load(out)
    assert act.algo == algo
    action = act({"observation": np.zeros((3, 6)), "desired_goal": np.ones((3, 2))})
    assert action.shape == (3, 2) and np.abs(action).max() <= 1.0
    obs = random_obs()
    np.testing.assert_allclose(act(obs), greedy_actions(out, obs)[0], atol=1e-6)


def test_the_policy_folder_holds_what_acting_needs_and_each_runs_actions(two_seeds):
    """policy/ is policy.json and params.npz (the actor's layers and the normaliser, [runs]
    first), no training state; each run's loaded policy acts as training's greedy action did."""
    folder = two_seeds / "policy"
    assert sorted(p.name for p in folder.iterdir()) == ["params.npz", "policy.json"]
    info, arrays = policy_folder.read(folder)
    assert (info["format"], info["version"]) == ("jaxik-policy", policy_folder.VERSION)
    assert (info["runs"], info["seeds"], info["env"], info["algo"]) == (
        2,
        [0, 1],
        "PlanarReach",
        "td3",
    )
    assert info["layout"] == {"observation": 6, "desired_goal": 2} and info["action_size"] == 2
    assert not any("critic" in name or "opt" in name for name in arrays)
    assert arrays["layer_0_kernel"].shape == (2, 8, info["hidden_sizes"][0])
    obs = random_obs()
    expected = greedy_actions(two_seeds, obs)
    for index in (0, 1):
        from_run = policy_lib.load(two_seeds, run=index)(obs)
        np.testing.assert_allclose(from_run, expected[index], atol=1e-6)
        from_folder = policy_lib.load(folder, run=index)(obs)  # the folder alone loads too
        np.testing.assert_array_equal(from_folder, from_run)


def test_the_committed_version_1_folder_still_loads_and_acts_as_when_written():
    """tests/fixtures/policy-v1 was written once (tools/policy_fixture.py: TD3 on PlanarReach,
    32-unit layers, 16,384 steps) and is never rewritten: today's code loads it, gives the
    actions it gave then, and the policy still reaches PlanarReach's goals (64.5 % of 200 fresh
    goals when written, against a few percent for an untrained one)."""
    fixture = ROOT / "tests" / "fixtures" / "policy-v1"
    act = policy_lib.load(fixture)
    assert (act.algo, act.env, act.action_size) == ("td3", "PlanarReach", 2)
    with np.load(fixture / "expected.npz") as expected:
        obs = {key: expected[key] for key in ("observation", "desired_goal")}
        np.testing.assert_allclose(act(obs), expected["action"], atol=1e-6)
    assert rollout_success(act) >= 0.5


def test_a_folder_of_the_older_orbax_layout_loads_or_names_its_format(two_seeds, tmp_path):
    """Before the policy format, policy/ was an orbax checkpoint of {"agent": the algorithm's
    whole state, "normalizer"}: such a folder loads (its actor and normaliser picked out) and
    acts as the new folder does; one that cannot be read names both layouts and what to do."""
    import orbax.checkpoint as ocp

    _, state = training_state(two_seeds)
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.yaml").write_text((two_seeds / "config.yaml").read_text())
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(
            (old / "policy").absolute(), {"agent": state.agent, "normalizer": state.normalizer}
        )
    obs = random_obs()
    for index in (0, 1):
        np.testing.assert_array_equal(
            policy_lib.load(old, run=index)(obs), policy_lib.load(two_seeds, run=index)(obs)
        )
    broken = tmp_path / "broken"
    (broken / "policy").mkdir(parents=True)
    (broken / "config.yaml").write_text((two_seeds / "config.yaml").read_text())
    with pytest.raises(ValueError, match=r"neither a 'jaxik-policy' folder .* jaxik version"):
        policy_lib.load(broken)
    newer = tmp_path / "newer"
    (newer).mkdir()
    info = json.loads((two_seeds / "policy" / "policy.json").read_text())
    (newer / "policy.json").write_text(json.dumps({**info, "version": 99}))
    with pytest.raises(ValueError, match=r"version 99; this jaxik reads 'jaxik-policy' version 1"):
        policy_lib.load(newer)


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


def test_the_onnx_export_acts_as_jaxik_on_1000_observations(two_seeds, tmp_path):
    """python -m jaxik.export, run 1 of the two-seed folder: onnxruntime's actions on 1,000
    observations (500 fresh environment states, 500 random inputs, some beyond the normaliser's
    clip) are within 1e-5 of jaxik.policy's, and the metadata names the run, its task and what
    an action means."""
    import onnxruntime

    from jaxik import export

    path = tmp_path / "policy.onnx"
    assert export.main([str(two_seeds), "--onnx", str(path), "--run", "1"]) == 0
    env = envs.make("PlanarReach")
    states = jax.vmap(env.reset)(jax.random.split(jax.random.key(3), 500)).obs
    noise = random_obs(500)
    obs = {
        key: np.concatenate([np.asarray(states[key]), 3.0 * noise[key]]).astype(np.float32)
        for key in ("observation", "desired_goal")
    }
    session = onnxruntime.InferenceSession(str(path))
    (action,) = session.run(["action"], obs)
    expected = policy_lib.load(two_seeds, run=1)(obs)
    assert action.shape == (1000, 2)
    np.testing.assert_allclose(action, expected, atol=1e-5, rtol=0)
    assert not np.allclose(action, policy_lib.load(two_seeds, run=0)(obs), atol=1e-3)
    meta = session.get_modelmeta().custom_metadata_map
    assert (meta["jaxik_run"], meta["jaxik_seed"]) == ("1", "1")
    info = json.loads(meta["jaxik_policy"])
    assert (info["env"], info["algo"], info["layout"]) == (
        "PlanarReach", "td3", {"observation": 6, "desired_goal": 2}
    )  # fmt: skip
    assert json.loads(meta["jaxik_env_config"])["joint_step"] == 0.1
    assert meta["action_scaling"].startswith("action[0:2] x 0.1 rad")


def test_action_scaling_names_each_tasks_units():
    from jaxik import export

    def scaling(task: str) -> str:
        resolved = dataclasses.asdict(envs.make_config(task))
        return export.action_scaling(resolved, envs.make(task).action_size)

    assert scaling("PandaReach").startswith("action[0:3] x 0.05 m: displacement of the end-")
    assert scaling("PandaReachJoints").startswith("action[0:7] x 0.05 rad")
    pick = scaling("PandaPickAndPlace")
    assert pick.startswith("action[0:3] x 0.05 m") and "action[3] x 0.2 m" in pick
    assert "action[3]" not in scaling("PandaPush")
    pose = scaling("PandaReachPoseEE")
    assert pose.startswith("action[0:3] x 0.05 m") and "action[3:6] x 0.1 rad" in pose
    assert scaling("PandaReachPose").startswith("action[0:7] x 0.05 rad")


def test_the_docs_example_runs_with_onnxruntime_and_numpy_alone(tmp_path):
    """docs/export.md's example, on the committed fixture's export, in a process where
    importing jax, mujoco or jaxik fails."""
    from jaxik import export

    path = tmp_path / "policy.onnx"
    export.export(ROOT / "tests" / "fixtures" / "policy-v1", path)
    text = (ROOT / "docs" / "export.md").read_text()
    example = text.split("```python\n")[1].split("```")[0]
    blocked = ("jax", "jaxlib", "mujoco", "jaxik", "envs")
    blocker = f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\n"
    result = subprocess.run(
        [sys.executable, "-c", blocker + example], cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "action[0:2] x 0.1 rad" in result.stdout
    numbers = result.stdout.split("[[")[1].split("]]")[0].split()
    assert len(numbers) == 2 and all(-1.0 <= float(n) <= 1.0 for n in numbers)


def test_export_names_bad_input(tmp_path, capsys):
    from jaxik import export

    with pytest.raises(SystemExit):
        export.main([str(tmp_path), "--onnx", str(tmp_path / "policy.txt")])
    assert "must end in .onnx" in capsys.readouterr().err
    assert export.main([str(tmp_path), "--onnx", str(tmp_path / "p.onnx")]) == 2
    assert "no config.yaml" in capsys.readouterr().err
    assert not (tmp_path / "p.onnx").exists()
