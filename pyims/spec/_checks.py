"""Validation helpers shared by the spec dataclasses (messages name object, value and fix)."""

from __future__ import annotations

import math
import numbers

from pyims.errors import SpecError


def real_scalar(owner: str, field: str, value: object) -> float:
    """Return ``value`` as a Python float, or raise SpecError naming ``owner.field``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SpecError(f"{owner}.{field}={value!r} is not a real number; pass a float in SI units")
    out = float(value)
    if not math.isfinite(out):
        raise SpecError(f"{owner}.{field}={out!r} is not finite; pass a finite float in SI units")
    return out


def nonnegative(owner: str, field: str, value: object) -> float:
    """A finite float >= 0 (0 means "absent": the nodes it would join are merged)."""
    out = real_scalar(owner, field, value)
    if out < 0.0:
        raise SpecError(f"{owner}.{field}={out!r} is negative; use a value >= 0 (0 means no such element)")
    return out


def positive(owner: str, field: str, value: object) -> float:
    """A finite float > 0."""
    out = real_scalar(owner, field, value)
    if out <= 0.0:
        raise SpecError(f"{owner}.{field}={out!r} must be > 0")
    return out
