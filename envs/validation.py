"""Host-side checks of environment configurations, run before anything is traced or compiled."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any


def check_choice(field: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{field}={value!r} is not allowed; choose one of {allowed}")


def check_positive(field: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{field}={value!r} must be > 0")


def check_positive_int(field: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{field}={value!r} must be an integer >= 1")


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
