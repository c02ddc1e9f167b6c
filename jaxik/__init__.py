"""jaxik: inverse kinematics learned with reinforcement learning, in one compiled JAX loop."""

from jaxik.platform import configure_xla_flags

configure_xla_flags()

__version__ = "0.1.0"
