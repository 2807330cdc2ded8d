"""Netlist models of a mapped network: the fully-analog circuit, and one co-simulation netlist per layer.

Names (l: layer from 0, i: row, j: output, k = 2j (G+) or 2j+1 (G-): physical column,
p / c: horizontal / vertical partition):

    a{l}_{i}       node driving row i of layer l (network inputs for l = 0, neuron outputs after)
    b{l}           layer l's bias row node, driven by VB{l} at v_bias_v
    BX{i} / VX{i}  network input source at a0_{i} (PWL of v(ctl) when images are batched)
    l{l}p{p}c{c}_  prefix of tile (p, c)'s internal nodes; its elements are R/C + L{l}P{p}C{c}...
    s{l}_{k}       sense node of column k, shared by every horizontal partition (combine = sum)
    s{l}_{p}_{k}   sense node of partition p's column k (combine = average)
    XS..., o...    sense amplifier and its output; XD... differential stage
    z{l}_{j}       the neuron input (differential output, or the average of the partitions')
    XN{l}_{j}      neuron, output n{l}_{j}; VA{l+1}_{j} (0 V) carries it to a{l+1}_{j}, so
                   i(VA..) is the current the neuron drives into the next layer's rows

Voltage scale: z{l}_{j} holds ``v_z * z`` with ``v_z = diff_gain * rf * v_read * dg / w_max``
(volts per unit pre-activation); neurons output ``v_read * a``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pyims.errors import SpecError
from pyims.mapping import MappedLayer, MappedNetwork
from pyims.model import NeuronSpec
from pyims.netlist.library import load_library, load_library_file
from pyims.netlist.model import (
    GROUND,
    DcSweep,
    Element,
    Netlist,
    OperatingPoint,
    PwlTimeSource,
    PwlVoltageSource,
    Resistor,
    SubcktInstance,
    SubcktLibrary,
    Transient,
    VoltageSource,
)
from pyims.netlist.tile import CONTROL_NODE, CONTROL_SOURCE, TileNodes, crossbar_elements
from pyims.spec import Stimulus, TransientSpec, WireParasitics

__all__ = [
    "NetworkNetlist",
    "TiledLayerNetlist",
    "build_network_netlist",
    "build_network_transient_netlist",
    "build_layer_netlist",
    "neuron_instance",
    "neuron_library",
    "TIGHT_OPTIONS",
    "DEVICE_OPTIONS",
    "network_options",
    "NETWORK_TRANSIENT_OPTIONS",
]

# Network netlists have no ``.save`` lines, so ngspice writes every vector: it resolves each
# ``.save`` entry by a linear search over the circuit, which cost ~17 ms per entry on a
# 356k-element network (20 s for 800 entries, 65 s for the 3,840 of one co-simulated layer) --
# more than the analysis. Writing all node voltages and branch currents costs ~2 MB per image
# at 400x120x84x10; the readers pick the vectors they need by name.

#: Tolerances for network runs: behavioural neurons make the circuit non-linear, and ngspice's
#: defaults (reltol 1e-3) stop Newton far from the 1e-6 agreement pyims promises.
TIGHT_OPTIONS = ("reltol=1e-10", "abstol=1e-18", "vntol=1e-13")

#: Tolerances for networks with transistor-level neurons (``kind = "measured"``): MOSFET
#: currents cannot meet abstol=1e-18 A, and with reltol=1e-10 ngspice's Newton failed on a
#: 64x12x8x10 IMAC network after gmin and source stepping (160 s); these converge in 0.2 s,
#: and ngspice then agrees with native to 6e-11 .. 1e-9 at 400x120x84x10 (docs/reproduction.md).
DEVICE_OPTIONS = ("reltol=1e-8", "abstol=1e-14", "vntol=1e-10")


def network_options(net: MappedNetwork) -> tuple[str, ...]:
    """The ``.options`` a DC network run needs: ``DEVICE_OPTIONS`` with transistor neurons, else ``TIGHT_OPTIONS``."""
    return DEVICE_OPTIONS if net.neuron.kind == "measured" and len(net.layers) > 1 else TIGHT_OPTIONS


#: Transients of networks integrate with Gear (BDF): an ideal op-amp's virtual ground with the
#: column's wire capacitance is a sub-femtosecond mode (C * rf / (1 + A)); the trapezoidal rule
#: rings on it and ngspice's step control then crawls (a 8x4x2 op-amp network was still at
#: t ~ 1e-14 s after 10 min), while Gear damps it (0.1 s for the whole window).
NETWORK_TRANSIENT_OPTIONS = TIGHT_OPTIONS + ("method=gear",)


def neuron_library(neuron: NeuronSpec) -> SubcktLibrary:
    """The subcircuit file ``neuron`` runs as in SPICE."""
    if neuron.kind == "measured":
        return load_library_file(neuron.subckt_file, neuron.subckt) if neuron.subckt_file else load_library(neuron.subckt)
    return load_library(f"pyims_neuron_{neuron.kind}")


def neuron_instance(name: str, node_in: str, node_out: str, neuron: NeuronSpec, v_z: float, v_read: float) -> SubcktInstance:
    """The library subcircuit of ``neuron`` scaled to volts: input ``v_z`` V per unit pre-activation,
    output ``v_read`` V per unit activation (the formulas of ``pyims.model.neurons``).

    A measured neuron is its own circuit, which has no scale parameters: the network must
    present it the voltages it was measured at (``v_z == in_scale_v``, ``v_read == out_scale_v``).
    """
    if neuron.kind == "measured":
        for what, have, need in (("v_z", v_z, neuron.in_scale_v), ("v_read_v", v_read, neuron.out_scale_v)):
            if abs(have - need) > 1e-9 * abs(need):
                raise SpecError(
                    f"measured neuron {neuron.subckt}: the network puts {what}={have!r} V per unit where the "
                    f"neuron's curve is scaled for {need!r}; scale the weights so the layer's v_z matches "
                    "(see pyims.presets.imac.hardware_scales) or re-characterise with matching scales"
                )
        return SubcktInstance(name, (node_in, node_out), neuron.subckt, ())
    k = neuron.sign * neuron.gain_norm
    lo, hi = neuron.out_lo_norm * v_read, neuron.out_hi_norm * v_read
    if neuron.kind == "sigmoid":
        return SubcktInstance(name, (node_in, node_out), "pyims_neuron_sigmoid", (("k", k / v_z), ("vlo", lo), ("vhi", hi)))
    if neuron.kind == "hardsigmoid":
        slope = 0.25 * k * (neuron.out_hi_norm - neuron.out_lo_norm) * v_read / v_z
        return SubcktInstance(name, (node_in, node_out), "pyims_neuron_hardsigmoid", (("slope", slope), ("vlo", lo), ("vhi", hi)))
    return SubcktInstance(name, (node_in, node_out), "pyims_neuron_linear", (("slope", k * v_read / v_z),))


def _sources(v: np.ndarray, nodes: list[str]) -> tuple[list[Element], tuple[str, ...], bool]:
    """Sources holding ``v`` ``(n_images, len(nodes))`` volts at ``nodes``: ``VX{i}`` for one image,
    ``BX{i} = pwl(v(ctl), ...)`` plus the sweep source ``VCTL`` for several."""
    n_images = v.shape[0]
    batched = n_images > 1
    out: list[Element] = []
    if batched:
        out.append(VoltageSource(CONTROL_SOURCE, CONTROL_NODE, GROUND, 0.0))
        xs = tuple(float(k) for k in range(n_images))
        out += [PwlVoltageSource(f"BX{i}", node, GROUND, CONTROL_NODE, xs, tuple(v[:, i].tolist())) for i, node in enumerate(nodes)]
    else:
        out += [VoltageSource(f"VX{i}", node, GROUND, float(v[0, i])) for i, node in enumerate(nodes)]
    return out, tuple(e.name for e in out[1 if batched else 0 :]), batched


def _row_nodes(layer_index: int, layer: MappedLayer, p: int) -> tuple[str, ...]:
    rows = layer.rows_of(p)
    n_in = layer.n_rows - 1
    return tuple(f"a{layer_index}_{i}" if i < n_in else f"b{layer_index}" for i in range(rows.start, rows.stop))


@lru_cache(maxsize=4)
def _network_body(net: MappedNetwork, wires: WireParasitics):
    """Everything of the fully-analog netlist but the input sources (cached: it does not depend on the images)."""
    per, v_read = net.periphery, net.v_read_v
    elements: list[Element] = []
    diffamp = per.sense == "diffamp"
    subckts = {"pyims_diffamp"} if diffamp else {"pyims_diff", f"pyims_sense_{per.sense}"}
    z_nodes, v_zs, bias_names, ammeters = [], [], [], []
    for l, layer in enumerate(net.layers):
        v_z = net.layer_v_z(l)
        v_zs.append(v_z)
        elements.append(VoltageSource(f"VB{l}", f"b{l}", GROUND, per.v_bias_v))
        bias_names.append(f"VB{l}")
        avg = per.combine == "average"
        for c in range(layer.n_v):
            outs = layer.outs_of(c)
            for p in range(layer.n_h):
                tile = layer.tile(p, c, wires)
                cols = range(2 * outs.start, 2 * outs.stop)
                sense = tuple(f"s{l}_{p}_{k}" if avg else f"s{l}_{k}" for k in cols)
                nodes = TileNodes(tile, prefix=f"l{l}p{p}c{c}_", source_nodes=_row_nodes(l, layer, p), sense_nodes=sense)
                elements += crossbar_elements(tile, nodes, tag=f"L{l}P{p}C{c}")
        params = (("rf", per.rf_ohm),) + ((("a", per.opamp_gain_ratio),) if per.sense == "opamp" else ())
        gain_l = net.layer_gain(l)
        if diffamp:
            # voltage mode: the line ends of partition p feed its own difference amplifiers
            for p in range(layer.n_h):
                amp = (("rin", per.r_in_ohm), ("gain", gain_l), ("a", per.opamp_gain_ratio))
                for j in range(layer.n_out):
                    out = f"d{l}_{p}_{j}"
                    elements.append(SubcktInstance(f"XD{l}_{p}_{j}", (f"s{l}_{p}_{2 * j}", f"s{l}_{p}_{2 * j + 1}", out), "pyims_diffamp", amp))
                    elements.append(Resistor(f"RA{l}_{p}_{j}", out, f"z{l}_{j}", per.r_avg_ohm))
        groups = [] if diffamp else [(f"{p}_", gain_l * layer.n_h) for p in range(layer.n_h)] if avg else [("", gain_l)]
        for tag, gain in groups:
            for k in range(2 * layer.n_out):
                elements.append(SubcktInstance(f"XS{l}_{tag}{k}", (f"s{l}_{tag}{k}", f"o{l}_{tag}{k}"), f"pyims_sense_{per.sense}", params))
            for j in range(layer.n_out):
                out = f"d{l}_{tag}{j}" if avg else f"z{l}_{j}"
                elements.append(SubcktInstance(f"XD{l}_{tag}{j}", (f"o{l}_{tag}{2 * j + 1}", f"o{l}_{tag}{2 * j}", out), "pyims_diff", (("gain", gain),)))
                if avg:
                    elements.append(Resistor(f"RA{l}_{tag}{j}", out, f"z{l}_{j}", per.r_avg_ohm))
        z = tuple(f"z{l}_{j}" for j in range(layer.n_out))
        z_nodes.append(z)
        if l < len(net.layers) - 1:
            for j in range(layer.n_out):
                elements.append(neuron_instance(f"XN{l}_{j}", z[j], f"n{l}_{j}", net.neuron, v_z, v_read))
                elements.append(VoltageSource(f"VA{l + 1}_{j}", f"n{l}_{j}", f"a{l + 1}_{j}", 0.0))
                ammeters.append((f"VA{l + 1}_{j}", f"a{l + 1}_{j}"))
    libraries = tuple(load_library(name) for name in sorted(subckts))
    if len(net.layers) > 1:
        libraries += (neuron_library(net.neuron),)
    return tuple(elements), tuple(z_nodes), tuple(v_zs), tuple(bias_names), tuple(ammeters), libraries


@dataclass(frozen=True, slots=True)
class NetworkNetlist:
    """The fully-analog netlist and where to read it.

    ``z_nodes[l]`` are layer l's neuron-input nodes and ``v_z[l]`` their volts per unit;
    ``power_sources`` are (source, node or None, sign): power = sign * i(source) * v(node)
    (``None``: the node is the source's own constant voltage ``power_volts``).
    """

    netlist: Netlist
    z_nodes: tuple[tuple[str, ...], ...]
    v_z: tuple[float, ...]
    input_sources: tuple[str, ...]
    bias_sources: tuple[str, ...]
    neuron_ammeters: tuple[tuple[str, str], ...]  # (VA name, node a{l}_{j})
    n_images: int


def build_network_netlist(
    net: MappedNetwork, wires: WireParasitics, u: object, *, klu: bool, options: tuple[str, ...] = TIGHT_OPTIONS
) -> NetworkNetlist:
    """The whole network as one circuit, driven by hardware inputs ``u`` ``(n_images, n_in)`` (units of v_read)."""
    u = net.check_inputs(u)
    sources, input_names, batched = _sources(u * net.v_read_v, [f"a0_{i}" for i in range(u.shape[1])])
    n_images = u.shape[0]
    analysis = DcSweep(CONTROL_SOURCE, 0.0, float(n_images - 1), 1.0) if batched else OperatingPoint()
    return _network_netlist(net, wires, sources, input_names, analysis, n_images, f"{n_images} image(s)", klu, options)


def build_network_transient_netlist(
    net: MappedNetwork,
    wires: WireParasitics,
    stimulus: Stimulus,
    spec: TransientSpec,
    *,
    klu: bool,
    options: tuple[str, ...] = TIGHT_OPTIONS,
) -> NetworkNetlist:
    """The whole network with its inputs following ``stimulus`` (volts, ``m = n_in`` rows) over ``spec``'s window."""
    if stimulus.n_rows != net.layer_sizes[0]:
        raise SpecError(f"stimulus drives {stimulus.n_rows} inputs but the network has {net.layer_sizes[0]}")
    t = tuple(stimulus.t_s.tolist())
    sources: list[Element] = [
        PwlTimeSource(f"VX{i}", f"a0_{i}", GROUND, t, tuple(stimulus.v_v[:, i].tolist())) for i in range(stimulus.n_rows)
    ]
    names = tuple(e.name for e in sources)
    analysis = Transient(spec.t_step_s, spec.t_stop_s, spec.t_step_s)
    return _network_netlist(net, wires, sources, names, analysis, 0, f"transient to {spec.t_stop_s!r} s", klu, options)


def _network_netlist(net, wires, sources, input_names, analysis, n_images, what, klu, options) -> NetworkNetlist:
    body, z_nodes, v_zs, bias_names, ammeters, libraries = _network_body(net, wires)
    netlist = Netlist(
        title=f"* pyims fully-analog network {'x'.join(map(str, net.layer_sizes))}",
        elements=tuple(sources) + body,
        analysis=analysis,
        options=(("klu",) if klu else ()) + tuple(options),
        libraries=libraries,
        comments=(
            f"layers {net.layer_sizes}, partitions {net.plan.describe(net.layer_sizes)}, {what}",
            f"sense={net.periphery.sense} combine={net.periphery.combine} rf_ohm={net.periphery.rf_ohm!r} "
            f"gains={[net.layer_gain(l) for l in range(len(net.layers))]!r} r_in_ohm={net.periphery.r_in_ohm!r}",
            f"wires: {wires}",
            "neuron input z<l>_<j> = v_z * pre-activation; v_z per layer: " + ", ".join(repr(v) for v in v_zs),
        ),
    )
    return NetworkNetlist(
        netlist=netlist, z_nodes=z_nodes, v_z=v_zs, input_sources=input_names,
        bias_sources=bias_names, neuron_ammeters=ammeters, n_images=n_images,
    )


@dataclass(frozen=True, slots=True)
class TiledLayerNetlist:
    """One layer's tiles, each with its own ideal 0 V sense sources, in one netlist.

    ``sense_sources[(p, c)]`` are tile (p, c)'s sources, one per physical column (G+, G-
    interleaved); ``input_sources`` the row sources (a{l}_{i} then the bias b{l}).
    """

    netlist: Netlist
    sense_sources: dict[tuple[int, int], tuple[str, ...]]
    input_sources: tuple[str, ...]
    n_images: int


def build_layer_netlist(
    net: MappedNetwork, wires: WireParasitics, layer_index: int, a: object, *, klu: bool, options: tuple[str, ...] = ()
) -> TiledLayerNetlist:
    """Layer ``layer_index``'s tiles driven by activations ``a`` ``(n_images, n_in)`` (units of v_read)."""
    layer = net.layers[layer_index]
    l = layer_index
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != layer.n_rows - 1:
        raise SpecError(f"layer {l + 1} inputs have shape {a.shape}; need (n_images, {layer.n_rows - 1})")
    v = net.augment(a) * net.v_read_v
    n_images = v.shape[0]
    row_nodes = [f"a{l}_{i}" if i < layer.n_rows - 1 else f"b{l}" for i in range(layer.n_rows)]
    elements, names, batched = _sources(v, row_nodes)
    sense_sources = {}
    for c in range(layer.n_v):
        for p in range(layer.n_h):
            tile = layer.tile(p, c, wires)
            tag = f"L{l}P{p}C{c}"
            sense = tuple(f"l{l}p{p}c{c}_vg{k}" for k in range(tile.n_cols))
            nodes = TileNodes(tile, prefix=f"l{l}p{p}c{c}_", source_nodes=_row_nodes(l, layer, p), sense_nodes=sense)
            elements += crossbar_elements(tile, nodes, tag=tag)
            srcs = tuple(f"V{tag}S{k}" for k in range(tile.n_cols))
            elements += [VoltageSource(name, node, GROUND, 0.0) for name, node in zip(srcs, sense)]
            sense_sources[(p, c)] = srcs
    analysis = DcSweep(CONTROL_SOURCE, 0.0, float(n_images - 1), 1.0) if batched else OperatingPoint()
    netlist = Netlist(
        title=f"* pyims co-simulation, layer {l + 1} of {len(net.layers)}: {layer.n_h}x{layer.n_v} tiles",
        elements=tuple(elements),
        analysis=analysis,
        options=(("klu",) if klu else ()) + tuple(options),
        comments=(
            f"layer {l + 1}: {layer.n_rows - 1} inputs + bias row, {layer.n_out} outputs (G+/G- column pairs), {n_images} image(s)",
            "every tile ends in its own 0 V sense sources; Python combines the partial sums",
            f"wires: {wires}",
        ),
    )
    return TiledLayerNetlist(netlist=netlist, sense_sources=sense_sources, input_sources=names, n_images=n_images)
