"""Stage 1 — what the user asks for: tiles, wires, devices, encoding, periphery, partitions."""

from pyims.spec.network import (
    ENCODINGS,
    DeviceSpec,
    InputEncoding,
    LayerSplit,
    PartitionPlan,
    PeripherySpec,
    split_sizes,
)
from pyims.spec.tile import TileSpec, as_input_voltages
from pyims.spec.transient import Stimulus, TransientSpec
from pyims.spec.wires import COPPER_RESISTIVITY_OHM_M, WireGeometry, WireParasitics

__all__ = [
    "TileSpec",
    "WireParasitics",
    "WireGeometry",
    "COPPER_RESISTIVITY_OHM_M",
    "as_input_voltages",
    "DeviceSpec",
    "InputEncoding",
    "PeripherySpec",
    "PartitionPlan",
    "LayerSplit",
    "split_sizes",
    "ENCODINGS",
    "Stimulus",
    "TransientSpec",
]
