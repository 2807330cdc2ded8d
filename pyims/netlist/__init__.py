"""Stage 3 — netlists: a plain-data model (``model``), tile builder (``tile``), text emitter (``emit``)."""

from pyims.netlist.emit import emit, format_netlist, format_value
from pyims.netlist.model import Netlist
from pyims.netlist.tile import build_tile_netlist

__all__ = ["Netlist", "build_tile_netlist", "emit", "format_netlist", "format_value"]
