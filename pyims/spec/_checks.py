"""Validation helpers shared by the spec dataclasses (messages name object, value and fix)."""

from __future__ import annotations

import math
import numbers
import re

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


_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def safe_name(owner: str, field: str, value: object) -> str:
    """A name that becomes a folder name: letters, digits and ``-_.``, starting with a letter or digit,
    at most 100 characters -- no path separators, no leading dot, no ``..``, no newlines."""
    if not isinstance(value, str) or not _SLUG.fullmatch(value) or ".." in value:
        raise SpecError(
            f"{owner}.{field}={value!r} is not a safe name; use letters, digits and -_. (starting with a letter "
            "or digit, at most 100 characters), e.g. 'parasitic-sweep'"
        )
    return value
