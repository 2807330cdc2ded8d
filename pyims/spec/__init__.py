"""Stage 1 — what the user asks for: tiles and their wire parasitics (frozen, validated)."""

from pyims.spec.tile import TileSpec, as_input_voltages
from pyims.spec.wires import COPPER_RESISTIVITY_OHM_M, WireGeometry, WireParasitics

__all__ = ["TileSpec", "WireParasitics", "WireGeometry", "COPPER_RESISTIVITY_OHM_M", "as_input_voltages"]
