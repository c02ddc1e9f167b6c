"""jaxik: inverse kinematics learned with reinforcement learning, in one compiled JAX loop.

Importing it imports ``envs`` first, which sets the CPU XLA flags MJX needs before JAX starts
(envs/platform.py), and registers the gymnasium environments ``jaxik/PandaReach-v0`` and its
variants (jaxik.gym_registration). Dependencies point one way: jaxik uses envs, never the reverse.
"""

import envs  # noqa: F401  (process set-up, before anything here imports jax)
from jaxik import gym_registration

gym_registration.register()

__version__ = "0.1.0"
