"""For test subprocesses whose training programs the executables cache cannot keep: the contact
tasks on MuJoCo's C engine, whose steps are host callbacks (jaxik/host/executables.py). Every
such process compiles them anew; at LLVM's optimisation level 0 PickAndPlace's take 8 s instead
of 13 at the suite's level 1 (tests/conftest.py), and the tests compare runs made alike."""

LEVEL = "--xla_backend_optimization_level"


def level_zero(env: dict[str, str]) -> dict[str, str]:
    """``env`` with XLA_FLAGS asking for optimisation level 0 (its other flags kept)."""
    flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith(LEVEL)]
    return {**env, "XLA_FLAGS": " ".join([*flags, f"{LEVEL}=0"])}
