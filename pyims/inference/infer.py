"""``pyims.infer``: one call from a model and inputs to its outputs, digitally or on crossbars.

    y = pyims.infer(model, x, mode="analog", wires=pyims.WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0),
                    plan=pyims.PartitionPlan(max_rows=128, max_cols=128))

``mode``: "digital" (float64 inference of the model as given), "mapped" (the weights the
programmed devices realise -- levels, variation -- without wires), "analog" (the circuit:
every tile with its wires, natively or in ngspice). ``circuit`` says which circuit: "analog"
(one fully-analog circuit, dense stacks with one neuron), "tiled" (every tile alone, partial
sums and activations between tiles in Python: CNNs, any model) or "auto" (the first where it
can be built). Defaults are ideal: no wire resistance, continuous conductances, no variation,
ideal sensing, no ADC -- then "analog" equals "digital" to rounding.
"""

from __future__ import annotations

import numpy as np

from pyims.errors import SpecError
from pyims.model.graph import Model, as_model
from pyims.model.layers import Activation, forward
from pyims.spec import DeviceSpec, InputEncoding, PartitionPlan, PeripherySpec, WireParasitics

__all__ = ["infer", "INFER_MODES", "CIRCUITS", "ACTIVATIONS", "map_model", "forward_chunked", "with_circuit_activations"]

INFER_MODES = ("digital", "mapped", "analog")
CIRCUITS = ("auto", "analog", "tiled")
ACTIVATIONS = ("ideal", "circuit")
INFER_BACKENDS = ("native", "ngspice")

#: Images per chunk of a digital or mapped-ideal pass (bounds a CNN's im2col patches in memory).
CHUNK_IMAGES = 500


def forward_chunked(steps, x: np.ndarray, evaluate=None, *, keep_pre: bool = True,
                    chunk: int = CHUNK_IMAGES) -> tuple[list[np.ndarray], np.ndarray]:
    """``forward`` over chunks of ``chunk`` images: per crossbar layer its outputs ``(N, n_k)`` (when
    ``keep_pre``) and the network's output ``(N, n_outputs)``."""
    pres: list[list[np.ndarray]] = []
    outs = []
    for s in range(0, x.shape[0], chunk):
        kw = {} if evaluate is None else {"evaluate": evaluate}
        trace = forward(steps, x[s : s + chunk], keep_inputs=False, keep_pre=keep_pre, **kw)
        for k, z in enumerate(trace.pre):
            if len(pres) <= k:
                pres.append([])
            pres[k].append(z)
        outs.append(trace.output.reshape(trace.output.shape[0], -1))  # type: ignore[union-attr]
    return [np.concatenate(p) for p in pres], np.concatenate(outs)


def _typed(name: str, value: object, cls: type, fix: str) -> None:
    if value is not None and not isinstance(value, cls):
        raise SpecError(f"{name} is a {type(value).__name__}; pass a pyims.{cls.__name__} ({fix}) or None")


def with_circuit_activations(model: Model) -> Model:
    """``model`` with every ReLU replaced by the characterised op-amp precision rectifier (its measured curve)."""
    from pyims.characterize import relu_circuit_neuron

    neuron = None

    def swap(s, layer):
        nonlocal neuron
        if isinstance(layer, Activation) and layer.neuron.kind == "relu":
            if layer.neuron.gain_norm != 1.0 or layer.neuron.inverting:
                raise SpecError("activations='circuit' models the unit-gain rectifier; this ReLU has gain "
                                f"{layer.neuron.gain_norm!r}, inverting={layer.neuron.inverting!r}")
            neuron = neuron or relu_circuit_neuron()
            return Activation(neuron)
        return layer

    steps = model.replaced(swap)
    if neuron is None:
        raise SpecError("activations='circuit' replaces ReLU activations by the characterised rectifier, and this model "
                        "has none; use activations='ideal' (its activations' circuits are their behavioural subcircuits)")
    return Model(steps=steps, input_shape=model.input_shape, name=model.name)


def map_model(model, *, plan=None, devices=None, periphery=None, encoding=None):
    """The model mapped onto crossbars with the defaults of ``infer`` (``pyims.mapping.map_network``)."""
    from pyims.mapping import map_network

    return map_network(model, device=devices or DeviceSpec(), encoding=encoding or InputEncoding(),
                       periphery=periphery or PeripherySpec(), plan=plan or PartitionPlan())


def infer(
    model,
    x,
    *,
    mode: str = "digital",
    wires: WireParasitics | None = None,
    plan: PartitionPlan | None = None,
    devices: DeviceSpec | None = None,
    backend: str = "native",
    t_read_s: float | None = None,
    circuit: str = "auto",
    periphery: PeripherySpec | None = None,
    encoding: InputEncoding | None = None,
    adc=None,
    activations: str = "ideal",
    workers: int | None = 1,
    t_rise_s: float = 1e-12,
    t_step_s: float | None = None,
) -> np.ndarray:
    """Outputs ``(N, n_outputs)`` of ``model`` (a ``Model`` from ``pyims.load_model``, or an ``MLP``) for
    inputs ``x`` ``(N, features)`` or ``(N, C, H, W)`` (see the module docstring).

    ``periphery`` / ``encoding`` / ``adc`` (``pyims.components.adc.Adc``) set the sense periphery,
    the input DAC and the output ADC; ``activations="circuit"`` replaces ideal ReLUs by the
    characterised op-amp precision rectifier (``circuits/neuron_relu_rectifier.sub``, measured in
    ngspice once per process). ``backend="ngspice"`` runs the same circuit in ngspice (slow: a
    sample of images).

    ``t_read_s``: the outputs at that read time under the wires' capacitance (``c_row_f`` / ``c_col_f``)
    instead of the settled (DC) ones: every input ramps from 0 in ``t_rise_s`` at t = 0, the circuit
    starts at DC, and a native BDF2 network transient of step ``t_step_s`` (default: 200 steps to the
    read time) gives the outputs then (``pyims.inference.read_time``; ``docs/capacitance.md``). With
    ``backend="ngspice"`` each image is one ngspice transient of the same circuit (fully-analog only).
    """
    if mode not in INFER_MODES:
        raise SpecError(f"mode={mode!r} is unknown; use one of {', '.join(INFER_MODES)}")
    if backend not in INFER_BACKENDS:
        raise SpecError(f"backend={backend!r} is unknown; use one of {', '.join(INFER_BACKENDS)}")
    if circuit not in CIRCUITS:
        raise SpecError(f"circuit={circuit!r} is unknown; use one of {', '.join(CIRCUITS)}")
    if activations not in ACTIVATIONS:
        raise SpecError(f"activations={activations!r} is unknown; use one of {', '.join(ACTIVATIONS)}")
    if t_read_s is not None and mode != "analog":
        raise SpecError(f't_read_s={t_read_s!r} reads the circuit at a time; it needs mode="analog" (got mode={mode!r})')
    if backend == "ngspice" and mode != "analog":
        raise SpecError(f'backend="ngspice" simulates the circuit; it needs mode="analog" (got mode={mode!r})')
    _typed("wires", wires, WireParasitics, "per-segment R and C")
    _typed("plan", plan, PartitionPlan, "partition counts or a maximum tile")
    _typed("devices", devices, DeviceSpec, "g_on/g_off, levels, variation")
    _typed("periphery", periphery, PeripherySpec, "sense amplifiers")
    _typed("encoding", encoding, InputEncoding, "the input DAC")
    if adc is not None:
        from pyims.components.adc import Adc

        _typed("adc", adc, Adc, "bits, full scale")
    m = as_model(model)
    if activations == "circuit":
        m = with_circuit_activations(m)
    enc = encoding or InputEncoding()
    xs = m.check_input(x)
    if mode == "digital":
        return forward_chunked(m.steps, enc.digital(xs), keep_pre=False)[1]
    net = map_model(m, plan=plan, devices=devices, periphery=periphery, encoding=enc)
    u = enc.quantized(xs)
    if mode == "mapped":
        return forward_chunked(net.sequence, u, net.mapped_ideal_evaluate, keep_pre=False)[1]
    sim_mode = ("analog" if net.fully_analog_capable else "tiled") if circuit == "auto" else circuit
    wires = wires or WireParasitics()
    if t_read_s is not None:
        return _read_time(net, wires, u, t_read_s=t_read_s, t_rise_s=t_rise_s, t_step_s=t_step_s, mode=sim_mode,
                          backend=backend, adc=adc)
    if backend == "ngspice":
        from pyims.inference.spice import SpiceNetwork

        if adc is not None and not adc.calibrated:
            from pyims.inference.native import NativeNetwork

            adc = NativeNetwork(net, wires, mode=sim_mode, energy=False, adc=adc).calibrate_adc(u)
        return SpiceNetwork(net, wires, mode=sim_mode, adc=adc).run(u).logits
    from pyims.inference.native import NativeNetwork

    native = NativeNetwork(net, wires, mode=sim_mode, energy=False, workers=workers, adc=adc)
    return native.run(u, keep_pre=False).logits


def check_read_time_wires(wires: WireParasitics) -> None:
    """SpecError unless the wires hold capacitance: without it every read time gives the DC outputs."""
    if wires.c_row_f <= 0.0 and wires.c_col_f <= 0.0:
        raise SpecError("a read time needs wire capacitance: wires.c_row_f and wires.c_col_f are both 0 (without "
                        "capacitance the outputs are the DC ones at any time); set them, or geometry's "
                        "c_per_length_f_per_m, or omit t_read_s")


def _read_time(net, wires: WireParasitics, u: np.ndarray, *, t_read_s: float, t_rise_s: float, t_step_s: float | None,
               mode: str, backend: str, adc) -> np.ndarray:
    from pyims.inference.read_time import NativeReadTime, ReadTimeSpec

    check_read_time_wires(wires)
    spec = ReadTimeSpec(t_read_s=t_read_s, t_rise_s=t_rise_s, t_step_s=t_step_s)
    if adc is not None and not adc.calibrated:  # ranges from the settled outputs
        from pyims.inference.native import NativeNetwork

        adc = NativeNetwork(net, wires, mode=mode, energy=False, adc=adc).calibrate_adc(u)
    if backend == "ngspice":
        from pyims.inference.read_time import ngspice_read_time

        if mode != "analog":
            raise SpecError('backend="ngspice" with t_read_s runs the fully-analog network transient; '
                            'tiled read times are native only (mode="analog" circuit="analog", or backend="native")')
        return ngspice_read_time(net, wires, spec, u, adc=adc).logits
    return NativeReadTime(net, wires, spec, mode=mode, adc=adc).run(u).logits
