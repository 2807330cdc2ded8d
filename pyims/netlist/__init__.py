"""Stage 3 — netlists: a plain-data model (``model``), builders for tiles (``tile``) and networks
(``network``), the subcircuit library (``library``), and the text emitter (``emit``)."""

from pyims.netlist.emit import emit, format_netlist, format_value
from pyims.netlist.model import Netlist
from pyims.netlist.network import build_layer_netlist, build_network_netlist
from pyims.netlist.tile import build_tile_netlist

__all__ = [
    "Netlist",
    "build_tile_netlist",
    "build_network_netlist",
    "build_layer_netlist",
    "emit",
    "format_netlist",
    "format_value",
]
