"""The one small PlanarReach configuration that the tests training through the host loop share.

Each test adds its own budget and seeds. Tests that share these settings share compiled pieces:
the cache of executables (tests/conftest.py) keys a piece by what reaches the device, not by the
seed, the budget or the float hyperparameters, so a program one test compiled, the next loads.
A test that changes a static setting (eval_every, learning_starts, num_envs, batch_size, algo,
the number of runs) compiles a program of its own.
"""

SMALL = {"env": "PlanarReach", "gamma": 0.98, "eval_every": 512, "learning_starts": 256}


def arguments(**settings) -> list[str]:
    """``SMALL`` with ``settings`` as train.py's ``key=value`` arguments."""
    return [f"{name}={value}" for name, value in {**SMALL, **settings}.items()]
