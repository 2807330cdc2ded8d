"""Wire parasitics of a crossbar tile: per-segment R and C, given directly or from geometry.

Conventions (the circuit contract of a tile, see ``docs/circuit.md``):

* ``r_row_ohm``: resistance of one row-wire segment, between the nodes of two adjacent cells.
* ``r_col_ohm``: resistance of one column-wire segment, between two adjacent cells and
  between the last cell and the sense resistor.
* ``r_driver_ohm``: output resistance of each row's input driver (source -> first cell).
* ``r_sense_ohm``: resistance from the last cell of a column into its sense amplifier.
* ``c_row_f`` / ``c_col_f``: capacitance to ground at every row / column cell node
  (one per segment); ignored by DC analyses, used by transients.
* ``row_node_per_pair``: the layout of a differential array. False (default): every physical
  column has its own node on each row wire, one row segment per column. True: an output's
  G+ and G- cells (columns 2j and 2j+1) sit at one node of the row wire, so a row has one
  segment (and one row capacitance) per *output* -- the layout of IMAC-Sim, where a cell
  pair is one bit-cell on the input line. Needs an even number of columns.

A value of 0 ohm means "no resistor": the nodes it would join are one node.
"""

from __future__ import annotations

from dataclasses import dataclass

import math

from pyims.errors import SpecError
from pyims.spec._checks import nonnegative, positive

__all__ = ["WireParasitics", "WireGeometry", "COPPER_RESISTIVITY_OHM_M", "scaled_resistivity_ohm_m"]

#: Bulk copper at 20 degC. Narrow interconnect is worse (surface and grain-boundary
#: scattering); pass an effective resistivity for your technology node.
COPPER_RESISTIVITY_OHM_M = 1.72e-8


def scaled_resistivity_ohm_m(
    bulk_ohm_m: float,
    width_m: float,
    *,
    mean_free_path_m: float = 39e-9,
    specularity_ratio: float = 0.25,
    reflection_ratio: float = 0.3,
) -> float:
    """Effective resistivity of a narrow line of width ``width_m`` (grain size taken equal to it).

    Two size effects raise a nanoscale wire's resistivity above bulk:

    * surface scattering (Fuchs-Sondheimer, thick-film approximation for a line bounded on
      both sides): ``3/4 * (1 - p) * l0 / w``;
    * grain-boundary scattering (Mayadas-Shatzkes), with ``alpha = l0 * R / (d * (1 - R))``:
      ``rho_ms / rho_0 = 1 / (1 - 3 alpha / 2 + 3 alpha^2 - 3 alpha^3 ln(1 + 1 / alpha))``;

    combined as ``rho = rho_0 * (3/4 (1 - p) l0 / w + rho_ms / rho_0)``. Defaults are copper
    (l0 = 39 nm, specular fraction p = 0.25, grain reflection R = 0.3). For IMAC-Sim's 9 nm
    node (w = 27 nm, rho_0 = 1.9e-8) this gives 5.08e-8 ohm m.
    """
    for name, value in (("bulk_ohm_m", bulk_ohm_m), ("width_m", width_m), ("mean_free_path_m", mean_free_path_m)):
        positive("scaled_resistivity_ohm_m", name, value)
    if not 0.0 <= specularity_ratio <= 1.0 or not 0.0 < reflection_ratio < 1.0:
        raise SpecError(
            f"scaled_resistivity_ohm_m: specularity_ratio={specularity_ratio!r} must be in [0, 1] and "
            f"reflection_ratio={reflection_ratio!r} in (0, 1)"
        )
    surface = 0.75 * (1.0 - specularity_ratio) * mean_free_path_m / width_m
    alpha = mean_free_path_m * reflection_ratio / (width_m * (1.0 - reflection_ratio))
    grain = 1.0 / (1.0 - 1.5 * alpha + 3.0 * alpha**2 - 3.0 * alpha**3 * math.log(1.0 + 1.0 / alpha))
    return bulk_ohm_m * (surface + grain)


@dataclass(frozen=True, slots=True, kw_only=True)
class WireGeometry:
    """Geometry of one wire (a row or a column line) of a crossbar.

    The segment between two adjacent cells is a rectangular bar of length ``pitch_m``
    and cross-section ``width_m * thickness_m``:

        r_segment_ohm = resistivity_ohm_m * pitch_m / (width_m * thickness_m)
        c_segment_f   = c_per_length_f_per_m * pitch_m

    ``c_per_length_f_per_m`` is the total capacitance to ground (and neighbours, lumped to
    ground) per metre of wire; ~0.2 fF/um = 2e-10 F/m is typical of on-chip metal lines.
    """

    width_m: float
    thickness_m: float
    pitch_m: float
    resistivity_ohm_m: float = COPPER_RESISTIVITY_OHM_M
    c_per_length_f_per_m: float = 0.0

    def __post_init__(self) -> None:
        for name in ("width_m", "thickness_m", "pitch_m", "resistivity_ohm_m"):
            object.__setattr__(self, name, positive("WireGeometry", name, getattr(self, name)))
        object.__setattr__(
            self,
            "c_per_length_f_per_m",
            nonnegative("WireGeometry", "c_per_length_f_per_m", self.c_per_length_f_per_m),
        )

    @property
    def r_segment_ohm(self) -> float:
        """Resistance of one segment (one cell pitch) of this wire, in ohms."""
        return self.resistivity_ohm_m * self.pitch_m / (self.width_m * self.thickness_m)

    @property
    def c_segment_f(self) -> float:
        """Capacitance to ground of one segment of this wire, in farads."""
        return self.c_per_length_f_per_m * self.pitch_m


@dataclass(frozen=True, slots=True, kw_only=True)
class WireParasitics:
    """Per-segment wire resistances (ohm) and capacitances (F) of a tile; all default to 0."""

    r_row_ohm: float = 0.0
    r_col_ohm: float = 0.0
    r_driver_ohm: float = 0.0
    r_sense_ohm: float = 0.0
    c_row_f: float = 0.0
    c_col_f: float = 0.0
    row_node_per_pair: bool = False

    def __post_init__(self) -> None:
        for name in ("r_row_ohm", "r_col_ohm", "r_driver_ohm", "r_sense_ohm", "c_row_f", "c_col_f"):
            object.__setattr__(self, name, nonnegative("WireParasitics", name, getattr(self, name)))
        if not isinstance(self.row_node_per_pair, bool):
            raise SpecError(f"wires.row_node_per_pair={self.row_node_per_pair!r} must be true or false")

    @classmethod
    def from_geometry(
        cls,
        *,
        row: WireGeometry,
        col: WireGeometry,
        r_driver_ohm: float = 0.0,
        r_sense_ohm: float = 0.0,
        row_node_per_pair: bool = False,
    ) -> "WireParasitics":
        """Per-segment R and C of the row and column wires from their geometry."""
        return cls(
            r_row_ohm=row.r_segment_ohm,
            r_col_ohm=col.r_segment_ohm,
            r_driver_ohm=r_driver_ohm,
            r_sense_ohm=r_sense_ohm,
            c_row_f=row.c_segment_f,
            c_col_f=col.c_segment_f,
            row_node_per_pair=row_node_per_pair,
        )
