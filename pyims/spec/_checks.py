"""Validation helpers shared by the spec dataclasses (messages name object, value and fix)."""

from __future__ import annotations

import math
import numbers
import re

import numpy as np

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


def real_array(owner: str, field: str, value: object, error: type[Exception] = SpecError) -> np.ndarray:
    """``value`` as a float64 array; ``error`` naming ``owner.field`` when it is complex, boolean or not numeric
    (numpy would drop an imaginary part with only a warning)."""
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise error(f"{owner}.{field} holds complex numbers; pyims takes real values only (drop or fix the imaginary part)")
    if arr.dtype.kind not in "iuf":
        if arr.dtype.kind == "b":
            raise error(f"{owner}.{field} holds booleans; pass numbers")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise error(f"{owner}.{field} cannot be read as a float array ({exc}); pass an array of floats") from exc
    return np.array(arr, dtype=np.float64, copy=True)
