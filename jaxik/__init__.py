"""jaxik: inverse kinematics learned with reinforcement learning, in one compiled JAX loop.

Importing it sets the CPU XLA flags MJX needs (before JAX starts) and registers the gymnasium
environments ``jaxik/PandaReach-v0`` and its variants (jaxik.gym_registration).
"""

from jaxik.platform import configure_mujoco_gl, configure_xla_flags

configure_xla_flags()
configure_mujoco_gl()

from jaxik import gym_registration  # noqa: E402

gym_registration.register()

__version__ = "0.1.0"
