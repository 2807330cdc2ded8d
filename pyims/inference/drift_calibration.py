"""Drift compensation's calibration reads through the wires, as a chip makes them.

``pyims.mapping.compensation`` defines the factors: each physical array is read with every row at
``v_read_v`` right after programming (``reference``) and at read time (``now``), and the ratio of
the two reads (one per array for "global", one per output column for "per_column") scales that
array's partial sums after its ADC. Mapping knows no wires and gives the wire-free reads; here each
array is solved with its wires (one sparse factorization and one solve per array and state, by the
native tile solver) and the layer takes the factors of those reads. Every solver calls
``with_wired_drift_factors(net)`` when a network enters it (``bind``), so the native solver and ngspice
runs use the same digital factors -- a chip's calibration constants, measured once through its own wires.

The reads are cached on each layer per wires: a network solved again on the same wires costs nothing.
"""

from __future__ import annotations

import numpy as np

from pyims.errors import SpecError
from pyims.mapping import MappedLayer, MappedNetwork
from pyims.mapping.compensation import drift_scale, tile_reads
from pyims.runners.native import NativeTileSolver
from pyims.spec import TileSpec, WireParasitics

__all__ = ["with_wired_drift_factors", "calibration_reads", "wired_scale", "wire_free_scale"]


def _resistive(wires: WireParasitics) -> bool:
    return any(getattr(wires, name) > 0.0 for name in ("r_row_ohm", "r_col_ohm", "r_driver_ohm", "r_sense_ohm"))


def calibration_reads(layer: MappedLayer, wires: WireParasitics, state: str) -> np.ndarray:
    """The calibration read of every array of ``layer`` through ``wires``: ``(n_h, n_out)`` amperes per volt of
    input (every row of the array driven at 1 V, each output's ``I+ + I-`` into its 0 V sense node). ``state``:
    "reference" (right after programming) or "now" (the mean conductances at read time)."""
    if state not in ("now", "reference"):
        raise SpecError(f"calibration_reads: state={state!r} is unknown; use 'reference' or 'now'")
    if state == "reference" and layer.g_ref_pos_s is None:
        raise SpecError("calibration_reads: the layer keeps no reference conductances (it has no drift compensation)")
    reads = np.empty((layer.n_h, layer.n_out))
    for p in range(layer.n_h):
        for c in range(layer.n_v):
            outs = layer.outs_of(c)
            tile = TileSpec(g_s=layer.tile_g(p, c, reference=state == "reference"), wires=wires)
            i_col = NativeTileSolver(tile).solve(np.ones((1, tile.n_rows)))[0][0]
            reads[p, outs] = i_col[0::2] + i_col[1::2]
    return reads


def wire_free_scale(layer: MappedLayer) -> np.ndarray | None:
    """The compensation factors ``(n_h, n_out)`` of ``layer`` from the wire-free reads (what mapping gives; ``None``
    without compensation)."""
    if layer.out_scale is None:
        return None
    return drift_scale(layer.compensation, tile_reads(layer.g_ref_pos_s, layer.g_ref_neg_s, layer.split),
                       tile_reads(layer.g_pos_s, layer.g_neg_s, layer.split), layer.split)


def wired_scale(layer: MappedLayer, wires: WireParasitics) -> np.ndarray | None:
    """The compensation factors ``(n_h, n_out)`` of ``layer`` from calibration reads through ``wires`` (``None``
    without compensation)."""
    if layer.out_scale is None:
        return None
    return drift_scale(layer.compensation, calibration_reads(layer, wires, "reference"),
                       calibration_reads(layer, wires, "now"), layer.split)


def with_wired_drift_factors(net: MappedNetwork) -> MappedNetwork:
    """``net`` with every compensated layer's factors from calibration reads through ``net.wires`` -- or the
    wire-free reads when those wires have no resistance -- (``net`` itself when no layer is compensated or the
    factors are already those of these wires)."""
    wires = net.wires
    target = wires if _resistive(wires) else None  # None: the wire-free reads, as mapped
    if all(layer.out_scale is None or layer.calibrated_wires == target for layer in net.layers):
        return net
    layers = []
    for layer in net.layers:
        if layer.out_scale is None or layer.calibrated_wires == target:
            layers.append(layer)
            continue
        cache = layer.calibrations
        if target not in cache:
            cache[target] = wired_scale(layer, wires) if target is not None else wire_free_scale(layer)
        layers.append(layer.with_calibration(cache[target], target))
    return net.with_layers(tuple(layers))
