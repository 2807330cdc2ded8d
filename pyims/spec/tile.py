"""A crossbar tile: its conductance matrix and its wire parasitics, validated and frozen."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from pyims.errors import SpecError
from pyims.spec._checks import real_array
from pyims.spec.wires import WireParasitics

__all__ = ["TileSpec", "as_input_voltages"]


def _frozen_float_matrix(owner: str, name: str, value: object) -> np.ndarray:
    try:
        arr = real_array(owner, name, value)
    except SpecError:
        raise
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{owner}.{name} cannot be read as a float array ({exc}); pass a 2-D array of floats") from exc
    if arr.ndim != 2:
        raise SpecError(f"{owner}.{name} has shape {arr.shape}; pass a 2-D array")
    if arr.size == 0:
        raise SpecError(f"{owner}.{name} has shape {arr.shape} (empty); a tile needs at least one row and one column")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise SpecError(f"{owner}.{name}[{i},{j}]={float(arr[i, j])!r} is not finite; pass finite values")
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TileSpec:
    """One crossbar tile.

    Attributes:
        g_s: float64 array of shape ``(m, n)``, siemens; ``g_s[i, j]`` is the cell between row
            ``i`` (input) and column ``j`` (output). Stored as a read-only copy; every entry > 0.
        wires: the tile's per-segment wire parasitics.

    Equality and hashing go by content (a SHA-256 digest), so specs can key caches.
    """

    g_s: np.ndarray
    wires: WireParasitics = field(default_factory=WireParasitics)
    _digest: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        g = _frozen_float_matrix("TileSpec", "g_s", self.g_s)
        if (g <= 0.0).any():
            i, j = np.argwhere(g <= 0.0)[0]
            raise SpecError(
                f"TileSpec.g_s[{i},{j}]={float(g[i, j])!r} S is not positive; every cell needs a conductance > 0 "
                "(model an absent device with g_off, e.g. 1e-9 S)"
            )
        if not isinstance(self.wires, WireParasitics):
            raise SpecError(f"TileSpec.wires is a {type(self.wires).__name__}, not a WireParasitics; build one with WireParasitics(...)")
        if self.wires.row_node_per_pair and g.shape[1] % 2:
            raise SpecError(
                f"TileSpec: wires.row_node_per_pair needs an even number of columns (G+/G- pairs); "
                f"this tile has {g.shape[1]}"
            )
        object.__setattr__(self, "g_s", g)
        h = hashlib.sha256()
        h.update(repr((g.shape, self.wires)).encode())
        h.update(g.tobytes())
        object.__setattr__(self, "_digest", h.hexdigest())

    @property
    def n_rows(self) -> int:
        """Number of rows m (inputs)."""
        return int(self.g_s.shape[0])

    @property
    def n_cols(self) -> int:
        """Number of columns n (outputs)."""
        return int(self.g_s.shape[1])

    @property
    def digest(self) -> str:
        """SHA-256 hex digest of the conductances and wires."""
        return self._digest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TileSpec) and other._digest == self._digest

    def __hash__(self) -> int:
        return hash(self._digest)


def as_input_voltages(tile: TileSpec, v_in_v: object) -> np.ndarray:
    """Validate input voltages for ``tile``: a read-only float64 array ``(n_vectors, m)`` in volts."""
    v = _frozen_float_matrix("inputs", "v_in_v", v_in_v)
    if v.shape[1] != tile.n_rows:
        raise SpecError(
            f"inputs.v_in_v has shape {v.shape} but the tile has {tile.n_rows} rows; "
            f"pass shape (n_vectors, {tile.n_rows}) (one vector per row: v[None, :])"
        )
    return v
