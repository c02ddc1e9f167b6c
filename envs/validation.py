"""Host-side checks of configurations (the environments' and the trainer's), run before anything
is traced or compiled. Each raises ValueError naming the field, the value and what is allowed,
whatever the value's type (a string where a number belongs is a ValueError too, not a
TypeError from a comparison)."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable
from typing import Any

INT32_MAX = 2**31 - 1
"""Counters and indices on the device are int32: larger settings would overflow them."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_choice(field: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = list(allowed)
    if not isinstance(value, str | int | float | bool | type(None)) or value not in allowed:
        raise ValueError(f"{field}={value!r} is not allowed; choose one of {allowed}")


def check_int(field: str, value: Any, minimum: int, maximum: int = INT32_MAX) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ValueError(f"{field}={value!r} must be an integer >= {minimum} and <= {maximum:,}")


def check_positive_int(field: str, value: Any) -> None:
    check_int(field, value, minimum=1)


def check_range(
    field: str,
    value: Any,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """``value`` is a finite number in [low, high], each end open where asked."""
    ok = _is_number(value) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high
        )
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open or math.isinf(high) else "]"
        raise ValueError(f"{field}={value!r} must be a finite number in {left}{low}, {high}{right}")


def check_positive(field: str, value: Any) -> None:
    check_range(field, value, 0.0, low_open=True)


def check_bool(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{field}={value!r} must be true or false")


def check_vector(field: str, value: Any, size: int) -> tuple[float, ...]:
    """``value`` is a list of ``size`` finite numbers; returns it as a tuple of floats."""
    if (
        not isinstance(value, list | tuple)
        or len(value) != size
        or not all(_is_number(v) and math.isfinite(v) for v in value)
    ):
        raise ValueError(f"{field}={value!r} must be a list of {size} finite numbers")
    return tuple(float(v) for v in value)


Check = Callable[[str, Any], Any]
"""``check(field, value)`` raises ValueError, or returns None, or returns the value normalised
(``check_vector`` gives a tuple of floats)."""


def setting(
    default: Any = dataclasses.MISSING,
    *,
    check: Check,
    default_factory: Any = dataclasses.MISSING,
    **marks: Any,
) -> Any:
    """A dataclass field that carries its own check, and any other marks a reader of the fields
    needs (the trainer's ``traced=True``). So what is allowed for a setting is declared on the
    setting, once, and ``check_fields`` runs every check."""
    return dataclasses.field(
        default=default, default_factory=default_factory, metadata={"check": check, **marks}
    )


def check_fields(config: Any) -> None:
    """Runs the check of each ``setting`` of a frozen dataclass, in field order, and stores the
    values the checks normalise."""
    for field in dataclasses.fields(config):
        check = field.metadata.get("check")
        if check is None:
            continue
        normalised = check(field.name, getattr(config, field.name))
        if normalised is not None:
            object.__setattr__(config, field.name, normalised)


def one_of(allowed: Iterable[Any]) -> Check:
    return functools.partial(check_choice, allowed=tuple(allowed))


def integer(minimum: int, maximum: int = INT32_MAX) -> Check:
    return functools.partial(check_int, minimum=minimum, maximum=maximum)


def number(
    low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False
) -> Check:
    return functools.partial(
        check_range, low=low, high=high, low_open=low_open, high_open=high_open
    )


def vector(size: int) -> Check:
    return functools.partial(check_vector, size=size)


def replace_fields(config: Any, overrides: Any, owner: str) -> Any:
    """``dataclasses.replace`` that names unknown keys and lists the known ones."""
    if not isinstance(overrides, dict) or not all(isinstance(k, str) for k in overrides):
        raise ValueError(f"{owner} settings {overrides!r} must be a mapping of names to values")
    known = [f.name for f in dataclasses.fields(config)]
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(
            f"unknown configuration key(s) {unknown} for {owner}; known keys: {sorted(known)}"
        )
    return dataclasses.replace(config, **overrides)
