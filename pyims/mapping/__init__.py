"""Mapping stage: trained weights -> differential conductance tiles (G+ / G-)."""

from pyims.mapping.conductance import ConductanceMapping, weights_to_conductances
from pyims.mapping.network import MappedLayer, MappedNetwork, map_network

__all__ = ["ConductanceMapping", "weights_to_conductances", "MappedLayer", "MappedNetwork", "map_network"]
