"""jaxik: inverse kinematics learned with reinforcement learning, in one compiled JAX loop.

Importing it imports ``envs`` first, which sets the CPU XLA flags MJX needs before JAX starts
(envs/platform.py), and registers the gymnasium environments ``jaxik/PandaReach-v0`` and its
variants (jaxik.gym_registration). Dependencies point one way: jaxik uses envs, never the reverse.
``jaxik.train`` (jaxik.training) trains from Python; it is imported on first use, so that
``import jaxik`` stays light for gymnasium users.
"""

import envs  # noqa: F401  (process set-up, before anything here imports jax)
from jaxik import gym_registration

gym_registration.register()

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "train":
        from jaxik.training import train

        return train
    raise AttributeError(f"module 'jaxik' has no attribute {name!r}")
