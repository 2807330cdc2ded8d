"""The hardware object and the fully-analog / tiled decision (``Hardware``, ``FullyAnalog``, ``Tiled``)."""

from pyims.hardware.hardware import Hardware
from pyims.hardware.topology import TOPOLOGIES, Auto, FullyAnalog, Tiled, Topology, as_topology

__all__ = ["Hardware", "Topology", "FullyAnalog", "Tiled", "Auto", "TOPOLOGIES", "as_topology"]
