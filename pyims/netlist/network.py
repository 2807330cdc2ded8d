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

Voltage scale: z{l}_{j} holds ``v_z * z`` with ``v_z`` the sense periphery's (current mode:
``diff_gain * rf * v_read * dg / w_max``) volts per unit pre-activation; neurons output ``v_read * a``.

The builder walks the network model (``MappedNetwork.sequence``): each crossbar layer gives its
tiles and its sense periphery's elements (``Sense.layer_elements``, grouped by the combiner),
each activation its neuron instances (``Neuron.instance``). No solver options: the simulator
session applies them (``pyims.spec.simulator``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pyims.components.registry import neuron_for
from pyims.errors import SpecError
from pyims.mapping import MappedLayer, MappedNetwork
from pyims.model import NeuronSpec
from pyims.netlist.library import load_library
from pyims.netlist.model import (
    GROUND,
    Ccvs,
    DcSweep,
    Element,
    Netlist,
    OperatingPoint,
    PwlTimeSource,
    PwlVoltageSource,
    SubcktInstance,
    SubcktLibrary,
    Transient,
    VoltageSource,
)
from pyims.netlist.tile import CONTROL_NODE, CONTROL_SOURCE, TileNodes, crossbar_elements
from pyims.spec import Stimulus, TransientSpec

__all__ = [
    "NetworkNetlist",
    "TiledLayerNetlist",
    "build_network_netlist",
    "build_network_transient_netlist",
    "build_layer_netlist",
    "neuron_instance",
    "neuron_library",
]

# Network netlists have no ``.save`` lines, so ngspice writes every vector: it resolves each
# ``.save`` entry by a linear search over the circuit, which cost ~17 ms per entry on a
# 356k-element network (20 s for 800 entries, 65 s for the 3,840 of one co-simulated layer) --
# more than the analysis. Writing all node voltages and branch currents costs ~2 MB per image
# at 400x120x84x10; the readers pick the vectors they need by name.


def neuron_library(neuron: NeuronSpec) -> SubcktLibrary:
    """The subcircuit file ``neuron`` runs as in SPICE (its component's)."""
    return neuron_for(neuron).library()


def neuron_instance(name: str, node_in: str, node_out: str, neuron: NeuronSpec, v_z: float, v_read: float) -> SubcktInstance:
    """The library subcircuit of ``neuron`` scaled to volts: input ``v_z`` V per unit pre-activation,
    output ``v_read`` V per unit activation (its component's ``instance``)."""
    return neuron_for(neuron).instance(name, node_in, node_out, v_z=v_z, v_read_v=v_read)


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
def _network_body(net: MappedNetwork):
    """Everything of the fully-analog netlist but the input sources (cached: it does not depend on the images)."""
    wires = net.wires
    per, v_read = net.periphery, net.v_read_v
    sense, combiner = net.sense, net.combiner
    elements: list[Element] = []
    z_nodes, v_zs, bias_names, ammeters = [], [], [], []
    k = -1  # the crossbar layer the walk is in
    for item in net.sequence:
        if not item.crossbar:  # the neurons between crossbar layer k and k + 1
            l = k
            for j in range(net.layers[l].n_out):
                elements.append(neuron_instance(f"XN{l}_{j}", f"z{l}_{j}", f"n{l}_{j}", item.neuron, v_zs[l], v_read))
                elements.append(VoltageSource(f"VA{l + 1}_{j}", f"n{l}_{j}", f"a{l + 1}_{j}", 0.0))
                ammeters.append((f"VA{l + 1}_{j}", f"a{l + 1}_{j}"))
            continue
        k += 1
        l, layer = k, item
        v_zs.append(net.layer_v_z(l))
        elements.append(VoltageSource(f"VB{l}", f"b{l}", GROUND, per.v_bias_v))
        bias_names.append(f"VB{l}")
        for c in range(layer.n_v):
            outs = layer.outs_of(c)
            for p in range(layer.n_h):
                tile = layer.tile(p, c, wires)
                cols = range(2 * outs.start, 2 * outs.stop)
                tag = combiner.tag(p)
                nodes = TileNodes(tile, prefix=f"l{l}p{p}c{c}_", source_nodes=_row_nodes(l, layer, p),
                                  sense_nodes=tuple(f"s{l}_{tag}{kk}" for kk in cols))
                elements += crossbar_elements(tile, nodes, tag=f"L{l}P{p}C{c}")
        elements += sense.layer_elements(l, layer.n_h, layer.n_out, gain=net.layer_gain(l), combiner=combiner)
        z_nodes.append(tuple(f"z{l}_{j}" for j in range(layer.n_out)))
    libraries = tuple(load_library(name) for name in sorted(sense.subckts()))
    if len(net.layers) > 1:
        libraries += (neuron_library(net.neuron),)
    return tuple(elements), tuple(z_nodes), tuple(v_zs), tuple(bias_names), tuple(ammeters), libraries


@dataclass(frozen=True, slots=True)
class NetworkNetlist:
    """The fully-analog netlist and where to read it.

    ``z_nodes[l]`` are layer l's neuron-input nodes and ``v_z[l]`` their volts per unit (with an ADC, the
    last layer's are the converters' outputs, and ``adc_inputs`` the nodes they convert, the same scale);
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
    adc_inputs: tuple[str, ...] = ()


def build_network_netlist(net: MappedNetwork, u: object, *, klu: bool = False) -> NetworkNetlist:
    """The whole network as one circuit, driven by hardware inputs ``u`` ``(n_images, n_in)`` (units of v_read);
    with ``adc`` (calibrated) the last layer's outputs go through ``circuits/adc.sub`` and are read there."""
    u = net.check_inputs(u)
    sources, input_names, batched = _sources(u * net.v_read_v, [f"a0_{i}" for i in range(u.shape[1])])
    n_images = u.shape[0]
    analysis = DcSweep(CONTROL_SOURCE, 0.0, float(n_images - 1), 1.0) if batched else OperatingPoint()
    return _network_netlist(net, sources, input_names, analysis, n_images, f"{n_images} image(s)", klu)


def build_network_transient_netlist(
    net: MappedNetwork,
    stimulus: Stimulus,
    spec: TransientSpec,
    *,
    klu: bool = False,
) -> NetworkNetlist:
    """The whole network with its inputs following ``stimulus`` (volts, ``m = n_in`` rows) over ``spec``'s window;
    with ``adc`` (calibrated) the last layer's outputs go through ``circuits/adc.sub`` at every instant and are
    read there (``adc_inputs``: what they convert)."""
    if stimulus.n_rows != net.layer_sizes[0]:
        raise SpecError(f"stimulus drives {stimulus.n_rows} inputs but the network has {net.layer_sizes[0]}")
    t = tuple(stimulus.t_s.tolist())
    sources: list[Element] = [
        PwlTimeSource(f"VX{i}", f"a0_{i}", GROUND, t, tuple(stimulus.v_v[:, i].tolist())) for i in range(stimulus.n_rows)
    ]
    names = tuple(e.name for e in sources)
    analysis = Transient(spec.t_step_s, spec.t_stop_s, spec.t_step_s)
    return _network_netlist(net, sources, names, analysis, 0, f"transient to {spec.t_stop_s!r} s", klu)


def _network_netlist(net, sources, input_names, analysis, n_images, what, klu) -> NetworkNetlist:
    adc, wires = net.adc, net.wires
    body, z_nodes, v_zs, bias_names, ammeters, libraries = _network_body(net)
    adc_inputs: tuple[str, ...] = ()
    if adc is not None:  # the last layer's outputs are converted: read the converters' outputs instead
        last = len(net.layers) - 1
        n_out, n_layers = net.layers[last].n_out, len(net.layers)
        gain, off = adc.errors(last, 1, n_out)
        inl = adc.thresholds(last, 1, n_out)
        fs_v = adc.full_scale(last, n_layers) * v_zs[last]
        body = body + tuple(e for j, node in enumerate(z_nodes[last]) for e in adc.instances(
            f"XQ{last}_{j}", node, f"q{last}_{j}", full_scale_v=fs_v, gain_error=gain[0, j], offset_lsb=off[0, j],
            thresholds=None if inl is None else inl[0, j]))
        adc_inputs = z_nodes[last]
        z_nodes = z_nodes[:last] + (tuple(f"q{last}_{j}" for j in range(len(z_nodes[last]))),)
        if adc.correction != "none":  # the digital unit after the converters: what MappedNetwork.digital_out computes
            relu = adc.fuses_relu(net.sequence, last)
            body = body + tuple(adc.correction_instance(f"XK{last}_{j}", node, f"k{last}_{j}", full_scale_v=fs_v, layer=last,
                                                        n_layers=n_layers, out=j, n_out=n_out, relu=relu)
                                for j, node in enumerate(z_nodes[last]))
            z_nodes = z_nodes[:last] + (tuple(f"k{last}_{j}" for j in range(n_out)),)
        libraries = libraries + adc.libraries(correction=True)
    netlist = Netlist(
        title=f"* pyims fully-analog network {'x'.join(map(str, net.layer_sizes))}",
        elements=tuple(sources) + body,
        analysis=analysis,
        options=("klu",) if klu else (),
        libraries=libraries,
        comments=(
            f"layers {net.layer_sizes}, partitions {net.describe_plan()}, {what}" + (f", {adc.describe()} on the outputs" if adc else ""),
            f"sense={net.periphery.sense} combine={net.periphery.combine} rf_ohm={net.periphery.rf_ohm!r} "
            f"gains={[net.layer_gain(l) for l in range(len(net.layers))]!r} r_in_ohm={net.periphery.r_in_ohm!r}",
            f"wires: {wires}",
            "neuron input z<l>_<j> = v_z * pre-activation; v_z per layer: " + ", ".join(repr(v) for v in v_zs),
        ),
    )
    return NetworkNetlist(
        netlist=netlist, z_nodes=z_nodes, v_z=v_zs, input_sources=input_names,
        bias_sources=bias_names, neuron_ammeters=ammeters, n_images=n_images, adc_inputs=adc_inputs,
    )


@dataclass(frozen=True, slots=True)
class TiledLayerNetlist:
    """One layer's tiles, each with its own ideal 0 V sense sources, in one netlist.

    ``sense_sources[(p, c)]`` are tile (p, c)'s sources, one per physical column (G+, G-
    interleaved); ``input_sources`` the row sources (a{l}_{i} then the bias b{l}); with an ADC,
    ``adc_nodes[(p, c)]`` its converters' output nodes (``v_z`` volts per unit pre-activation).
    """

    netlist: Netlist
    sense_sources: dict[tuple[int, int], tuple[str, ...]]
    input_sources: tuple[str, ...]
    n_images: int
    adc_nodes: dict[tuple[int, int], tuple[str, ...]] | None = None
    v_z: float = 0.0


def build_layer_netlist(net: MappedNetwork, layer_index: int, a: object, *, klu: bool = False) -> TiledLayerNetlist:
    """Layer ``layer_index``'s tiles driven by activations ``a`` ``(n_images, n_in)`` (units of v_read).

    With an ADC (``net.adc``, calibrated), each output of each tile also gets its converter: a current-controlled
    source turns the G+/G- column currents into the ideal sense output ``v = v_z (z_p)`` (transresistance
    ``rf * gain``) and ``circuits/adc.sub`` converts it; ``adc_nodes[(p, c)]`` are the converters' outputs.
    """
    wires, adc = net.wires, net.adc
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
    adc_nodes: dict[tuple[int, int], tuple[str, ...]] = {}
    v_z = 0.0
    if adc is not None:
        r_t = net.periphery.rf_ohm * net.layer_gain(l)  # an ideal TIA and differential stage per output
        v_z = r_t * net.v_read_v * layer.dg_s / layer.w_max
        fs_v = adc.full_scale(l, len(net.layers)) * v_z
        adc_gain, adc_off = adc.errors(l, layer.n_h, layer.n_out)
        adc_inl = adc.thresholds(l, layer.n_h, layer.n_out)
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
            if adc is not None:
                outs = layer.outs_of(c)
                q_nodes = []
                for jj, j in enumerate(range(outs.start, outs.stop)):
                    mid, z = f"l{l}p{p}c{c}_h{jj}", f"l{l}p{p}c{c}_z{jj}"
                    elements.append(Ccvs(f"H{tag}P{jj}", mid, GROUND, srcs[2 * jj], r_t))
                    elements.append(Ccvs(f"H{tag}N{jj}", z, mid, srcs[2 * jj + 1], -r_t))
                    q_nodes.append(f"l{l}p{p}c{c}_q{jj}")
                    elements.extend(adc.instances(f"XQ{tag}_{jj}", z, q_nodes[-1], full_scale_v=fs_v,
                                                  gain_error=adc_gain[p, j], offset_lsb=adc_off[p, j],
                                                  thresholds=None if adc_inl is None else adc_inl[p, j]))
                adc_nodes[(p, c)] = tuple(q_nodes)
    analysis = DcSweep(CONTROL_SOURCE, 0.0, float(n_images - 1), 1.0) if batched else OperatingPoint()
    netlist = Netlist(
        title=f"* pyims co-simulation, layer {l + 1} of {len(net.layers)}: {layer.n_h}x{layer.n_v} tiles",
        elements=tuple(elements),
        analysis=analysis,
        options=("klu",) if klu else (),
        libraries=adc.libraries() if adc is not None else (),
        comments=(
            f"layer {l + 1}: {layer.n_rows - 1} inputs + bias row, {layer.n_out} outputs (G+/G- column pairs), {n_images} image(s)"
            + (f"; {adc.describe()} per tile output, v_z = {v_z!r} V per unit" if adc is not None else ""),
            "every tile ends in its own 0 V sense sources; Python combines the partial sums",
            f"wires: {wires}",
        ),
    )
    return TiledLayerNetlist(netlist=netlist, sense_sources=sense_sources, input_sources=names, n_images=n_images,
                             adc_nodes=adc_nodes, v_z=v_z)
