"""Pictures of reach states: RGB frames [height, width, 3] uint8, goal marked.

``FrameRenderer(env)`` draws PandaReach states with MuJoCo's offscreen renderer (OpenGL through
EGL or OSMesa when there is no display; see ``envs.platform.configure_mujoco_gl``) and
PlanarReach states with Pillow. The goal is a translucent green sphere (disc) the size of the
success radius: the arm has succeeded when its grasp point (fingertip) is inside it.
"""

from __future__ import annotations

import os
import weakref

import numpy as np

GOAL_RGBA = (0.1, 0.8, 0.2, 0.45)


class RenderError(RuntimeError):
    """No OpenGL context could be made for MuJoCo's offscreen renderer."""


def opengl_help(error: Exception) -> str:
    from envs import platform

    backend = os.environ.get("MUJOCO_GL", "(unset)")
    if backend == "disable" and platform._chosen_gl:
        cause = f"rendering is off: MuJoCo failed to load with MUJOCO_GL={platform._chosen_gl}"
    else:
        cause = f"MuJoCo's offscreen renderer could not start with MUJOCO_GL={backend}: {error}"
    return (
        f"{cause}. "
        "It needs OpenGL through EGL or OSMesa. On Debian or Ubuntu, `make install-render` "
        "installs them (apt-get install libegl1 libgl1 libosmesa6, as root); elsewhere install "
        "your system's EGL or OSMesa library, then set MUJOCO_GL=egl or MUJOCO_GL=osmesa."
    )


class FrameRenderer:
    """Frames of one environment's states. ``frame(pipeline_state, goal)`` takes host arrays (a
    PandaReach ``ArmState`` or PlanarReach joint angles [2], and the goal [goal_dim])."""

    def __init__(self, env, height: int = 360, width: int = 480):
        self.env = getattr(env, "unwrapped", env)
        self.height, self.width = height, width
        self.radius = float(self.env.config.distance_threshold)
        self._renderer = None
        if hasattr(self.env, "mj_model"):
            self._start_mujoco()

    def _start_mujoco(self) -> None:
        import copy

        import mujoco

        model = self._model = copy.copy(self.env.mj_model)  # brighter light, on our copy only
        model.vis.headlight.ambient[:] = 0.4
        model.vis.headlight.diffuse[:] = 0.8
        try:
            self._renderer = mujoco.Renderer(model, self.height, self.width)
        except Exception as error:  # mujoco raises several types for a missing GL library
            raise RenderError(opengl_help(error)) from None
        # closed at exit at the latest, while the modules its __del__ needs are still there
        self._close = weakref.finalize(self, self._renderer.close)
        self._data = mujoco.MjData(model)
        self._camera = mujoco.MjvCamera()
        self._camera.lookat[:] = (-0.25, 0.0, 0.2)
        self._camera.distance = 1.6
        self._camera.azimuth = 140.0
        self._camera.elevation = -25.0

    def frame(self, pipeline_state, goal) -> np.ndarray:
        """[height, width, 3] uint8."""
        goal = np.asarray(goal, np.float64)
        if self._renderer is None:
            return self._planar_frame(np.asarray(pipeline_state, np.float64), goal)
        import mujoco

        self._data.qpos[:] = np.asarray(pipeline_state.qpos)
        mujoco.mj_kinematics(self._model, self._data)
        self._renderer.update_scene(self._data, self._camera)
        scene = self._renderer.scene
        if scene.ngeom < scene.maxgeom:
            mujoco.mjv_initGeom(
                scene.geoms[scene.ngeom],
                type=mujoco.mjtGeom.mjGEOM_SPHERE,
                size=np.array([self.radius, 0.0, 0.0]),
                pos=goal[:3],  # a pose goal's position; its orientation is not drawn
                mat=np.eye(3).ravel(),
                rgba=np.array(GOAL_RGBA, np.float32),
            )
            scene.ngeom += 1
        return self._renderer.render().copy()

    def _planar_frame(self, qpos: np.ndarray, goal: np.ndarray) -> np.ndarray:
        from PIL import Image, ImageDraw

        upper, lower = self.env.config.link_lengths
        reach = upper + lower
        scale = 0.45 * min(self.height, self.width) / reach
        center = np.array([self.width / 2, self.height / 2])

        def pixel(xy):  # world y points up, image rows down
            return tuple(center + scale * np.array([xy[0], -xy[1]]))

        elbow = upper * np.array([np.cos(qpos[0]), np.sin(qpos[0])])
        tip = elbow + lower * np.array([np.cos(qpos[0] + qpos[1]), np.sin(qpos[0] + qpos[1])])
        image = Image.new("RGB", (self.width, self.height), (245, 245, 240))
        draw = ImageDraw.Draw(image)
        ring = scale * reach
        draw.ellipse([*(center - ring), *(center + ring)], outline=(200, 200, 200))
        gx, gy = pixel(goal)
        r = max(2.0, scale * self.radius)
        goal_fill = tuple(int(255 * c) for c in GOAL_RGBA[:3])
        draw.ellipse([gx - r, gy - r, gx + r, gy + r], fill=goal_fill)
        draw.line([pixel((0, 0)), pixel(elbow), pixel(tip)], fill=(60, 60, 80), width=6)
        for point in ((0, 0), elbow):
            x, y = pixel(point)
            draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill=(30, 30, 30))
        x, y = pixel(tip)
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=(220, 60, 40))
        return np.asarray(image, np.uint8)

    def close(self) -> None:
        if self._renderer is not None:
            self._close()
            self._renderer = None
