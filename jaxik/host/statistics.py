"""Aggregates over runs (seeds): mean, standard deviation, interquartile mean and a bootstrap
confidence interval, as recommended for few-seed RL results (Agarwal et al. 2021)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def interquartile_mean(values: Sequence[float]) -> float:
    """Mean of the middle 50 %: the values between the 25th and 75th percentiles, with the
    boundary values weighted by the fraction of them that falls inside (scipy's trim_mean for
    n divisible by 4, and well defined for any n)."""
    x = np.sort(np.asarray(values, np.float64))
    n = len(x)
    if n == 0:
        raise ValueError("interquartile_mean of no values")
    # Each value covers [i, i + 1) of [0, n); keep the part inside [n/4, 3n/4).
    low, high = n / 4.0, 3.0 * n / 4.0
    starts = np.arange(n)
    weights = np.clip(np.minimum(starts + 1, high) - np.maximum(starts, low), 0.0, 1.0)
    return float((weights * x).sum() / weights.sum())


def bootstrap_ci(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean: resample the runs with replacement."""
    x = np.asarray(values, np.float64)
    if len(x) == 0:
        raise ValueError("bootstrap_ci of no values")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), (resamples, len(x)))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """mean, std (population), iqm, ci95_low, ci95_high and n of ``values``."""
    x = np.asarray(values, np.float64)
    low, high = bootstrap_ci(x)
    return {
        "mean": float(x.mean()),
        "std": float(x.std()),
        "iqm": interquartile_mean(x),
        "ci95_low": low,
        "ci95_high": high,
        "n": len(x),
    }


def reached(success: float, target: float) -> bool:
    """Whether an evaluation success rate reaches ``target``, compared in float32, the precision
    the device computes rates in: 90 of 100 episodes is float32(0.9) = 0.89999998, which a
    comparison with the float64 0.9 (a rate read back from metrics.csv, say) would count as short
    of 90 %."""
    return bool(np.float32(success) >= np.float32(target))
