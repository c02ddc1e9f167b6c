"""The manipulation tasks' arm answers constant actions as panda-gym's does: within 25 % of
panda-gym 3.0.7 in every probe of ``python -m jaxik.bench response --vs-pandagym`` (which
measured the figures below, on PandaPush-v3 and PandaPushJoints-v3; jaxik/bench/response.py
says what each probe and metric is), on both physics engines."""

import numpy as np
import pytest

from jaxik.bench import response

# probe: (first step (mm), steady step (mm), height after the last step (m))
PANDA_GYM_EE = {
    "+x": (26.94, 6.68, 0.1547),
    "-x": (34.47, 29.45, 0.1780),
    "+y": (24.38, 38.78, 0.1897),
    "-y": (24.22, 38.57, 0.1897),
    "+z": (12.69, 33.54, 0.5860),
    "-z": (25.83, 1.05, 0.0036),
    "+x 0.3": (9.14, 7.05, 0.1915),
    "-x 0.3": (9.43, 10.62, 0.1985),
    "+y 0.3": (11.85, 12.34, 0.1969),
    "-z 0.3": (13.30, 14.67, 0.0252),
    "+x+y 0.7": (29.98, 20.76, 0.1654),
    "-x-z 0.7": (30.96, 20.79, 0.0051),
}
# probe: (first step (rad), steady step (rad))
PANDA_GYM_JOINTS = {
    "joint 1 +": (0.03462, 0.04072),
    "joint 1 -": (0.03462, 0.04073),
    "joint 2 +": (0.03928, 0.05330),
    "joint 2 -": (0.01978, 0.03418),
    "joint 3 +": (0.04237, 0.04281),
    "joint 3 -": (0.04244, 0.04291),
    "joint 4 +": (0.04047, 0.04178),
    "joint 4 -": (0.04070, 0.04174),
    "joint 5 +": (0.04310, 0.04330),
    "joint 5 -": (0.04325, 0.04341),
    "joint 6 +": (0.04392, 0.04392),
    "joint 6 -": (0.04392, 0.04392),
    "joint 7 +": (0.04392, 0.04392),
    "joint 7 -": (0.04392, 0.04392),
}
WITHIN = 0.25
STALLED = 3.0  # mm per step: a steady step below this in both is an ee at a stop (the table)
HEIGHT = 0.03  # m


def _close(ours: float, theirs: float) -> bool:
    return abs(ours / theirs - 1.0) <= WITHIN


# MJX's arm answers the same (the same law and IK in JAX; tests/test_physics_engines.py holds
# the two engines together), and compiling its rollouts costs two minutes: slow.
@pytest.mark.parametrize("engine", ["mujoco", pytest.param("mjx", marks=pytest.mark.slow)])
def test_the_arm_answers_constant_actions_as_panda_gyms(engine):
    values = response.rows_of(*response.jaxik_paths({"physics_engine": engine}))
    misses = []
    for probe, (first, steady, height) in PANDA_GYM_EE.items():
        ours_first = values[probe, "first step (mm)"]
        ours_steady = values[probe, "steady step (mm)"]
        ours_height = values[probe, "height (m)"]
        if not _close(ours_first, first):
            misses.append((probe, "first", ours_first, first))
        if not (_close(ours_steady, steady) or max(ours_steady, steady) < STALLED):
            misses.append((probe, "steady", ours_steady, steady))
        if abs(ours_height - height) > HEIGHT:
            misses.append((probe, "height", ours_height, height))
    for probe, (first, steady) in PANDA_GYM_JOINTS.items():
        for metric, theirs in (("first step (rad)", first), ("steady step (rad)", steady)):
            if not _close(values[probe, metric], theirs):
                misses.append((probe, metric, values[probe, metric], theirs))
    assert not misses, misses


def test_the_metrics_read_a_path_as_documented():
    path = np.array([[0.0, 0.0, 0.2], [0.01, 0.0, 0.2], [0.03, 0.0, 0.2], [0.05, 0.004, 0.2]])
    metrics = response.ee_metrics(path, (1.0, 0.0, 0.0))
    np.testing.assert_allclose(metrics["first step (mm)"], 10.0)
    np.testing.assert_allclose(metrics["steady step (mm)"], (20.0 + np.hypot(20, 4)) / 2)
    np.testing.assert_allclose(metrics["drift (mm)"], 4.0)
    np.testing.assert_allclose(metrics["height (m)"], 0.2)
