"""Host-side checks of configurations (the environments' and the trainer's), run before anything
is traced or compiled. Each raises ValueError naming the field, the value and what is allowed."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any


def check_choice(field: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"{field}={value!r} is not allowed; choose one of {allowed}")


def check_int(field: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{field}={value!r} must be an integer >= {minimum}")


def check_positive_int(field: str, value: int) -> None:
    check_int(field, value, minimum=1)


def check_range(
    field: str,
    value: Any,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """``value`` is a number in [low, high], each end open where asked."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high
        )
    if not ok:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{field}={value!r} must be a number in {left}{low}, {high}{right}")


def check_positive(field: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{field}={value!r} must be > 0")


def check_bool(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{field}={value!r} must be true or false")


def replace_fields(config: Any, overrides: dict[str, Any], owner: str) -> Any:
    """``dataclasses.replace`` that names unknown keys and lists the known ones."""
    known = [f.name for f in dataclasses.fields(config)]
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(
            f"unknown configuration key(s) {unknown} for {owner}; known keys: {sorted(known)}"
        )
    return dataclasses.replace(config, **overrides)
