"""Watch a trained policy: a GIF or MP4 of it reaching several goals, goal marked.

    python -m jaxik.render RUN_DIR --out rollout.gif [--episodes 6] [--seed 0] [--run 0]
    python -m jaxik.render RUN_DIR --out rollout.mp4

Each episode starts from the task's reset pose with a fresh goal (a translucent sphere the size of
the success radius) and runs the deterministic policy (jaxik.policy) until the episode ends, on
the task and settings the run was trained with. Frames come from MuJoCo's offscreen renderer
(EGL or OSMesa without a display; envs/render.py) or, for PlanarReach, from Pillow. GIFs are
written with Pillow, MP4s (H.264) with the ffmpeg that the imageio-ffmpeg package carries.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jaxik  # noqa: F401  (XLA flags and MuJoCo's GL backend, before jax and mujoco start)

FORMATS = (".gif", ".mp4")
HOLD_SECONDS = 0.5  # the last frame of each episode is held this long


def rollout_frames(
    policy, episodes: int, seed: int, size: tuple[int, int]
) -> tuple[list, list[bool], float]:
    """Frames [height, width, 3] of ``episodes`` episodes, whether each reached its goal, and
    the frames per second of real time (one per control step)."""
    import jax

    import envs
    from envs.render import FrameRenderer

    env = envs.make(policy.env, **policy.env_config).evaluation_env()
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    renderer = FrameRenderer(env, *size)
    hold = max(1, round(HOLD_SECONDS / env.dt))
    frames, reached = [], []
    try:
        for key in jax.random.split(jax.random.key(seed), episodes):
            state = reset(key)
            success = False
            for _ in range(env.config.episode_length + 1):
                host = jax.device_get(state)
                frames.append(renderer.frame(host.pipeline_state, host.info["goal"]))
                success = success or bool(host.metrics["success"] > 0)
                if host.done > 0:
                    break
                state = step(state, policy(state.obs))
            frames.extend([frames[-1]] * hold)
            reached.append(success)
    finally:
        renderer.close()
    return frames, reached, 1.0 / env.dt


def write_video(path: Path, frames: list, fps: float) -> None:
    if path.suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(frame) for frame in frames]
        images[0].save(
            path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0
        )
        return
    import warnings

    import imageio_ffmpeg

    height, width = frames[0].shape[:2]
    with warnings.catch_warnings():  # JAX warns of any fork; ffmpeg's is an immediate exec
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        writer = imageio_ffmpeg.write_frames(
            str(path), (width, height), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
            quality=7, macro_block_size=2,
        )  # fmt: skip
        writer.send(None)
        for frame in frames:
            writer.send(frame)
        writer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxik.render",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", type=Path, help="a train.py output folder (its --out)")
    parser.add_argument("--out", type=Path, required=True, help="rollout.gif or rollout.mp4")
    parser.add_argument("--episodes", type=int, default=6, help="episodes, each a new goal")
    parser.add_argument("--seed", type=int, default=0, help="seed of the goals")
    parser.add_argument("--run", type=int, default=0, help="which run of a scan folder")
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args(argv)
    if args.out.suffix.lower() not in FORMATS:
        parser.error(f"--out {args.out}: the file must end in one of {', '.join(FORMATS)}")
    for name in ("episodes", "width", "height"):
        value = getattr(args, name)
        if value < 1 or (name != "episodes" and value % 2):
            allowed = "a positive integer" if name == "episodes" else "a positive even integer"
            parser.error(f"--{name} {value}: must be {allowed}")
    if not args.out.parent.is_dir():
        parser.error(f"--out {args.out}: the folder {args.out.parent} does not exist")

    from envs.render import RenderError
    from jaxik import policy as policy_lib

    try:
        policy = policy_lib.load(args.run_dir, run=args.run)
        frames, reached, fps = rollout_frames(
            policy, args.episodes, args.seed, (args.height, args.width)
        )
    except (ValueError, RenderError) as error:
        print(f"{args.run_dir}: {error}", file=sys.stderr)
        return 2
    write_video(args.out, frames, fps)
    print(
        f"Wrote {args.out}: {args.episodes} episodes of {policy.algo.upper()} on "
        f"{policy.env}, {sum(reached)} reached the goal; {len(frames)} frames."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
