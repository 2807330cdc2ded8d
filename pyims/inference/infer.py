"""``pyims.infer``: one call from a model and inputs to its outputs, digitally or on crossbars.

    y = pyims.infer(model, x)                                         # digital (float64)
    hw = pyims.Hardware(wires=pyims.WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0),
                        plan=pyims.PartitionPlan(max_rows=128, max_cols=128))
    y = pyims.infer(model, x, hardware=hw)                            # the circuit, DC, native solver
    y = pyims.infer(model, x, hardware=hw, analysis=pyims.ReadAt(1e-9))  # read 1 ns after the inputs start

A thin call: map the model onto ``hardware`` (``pyims.mapping.map_network``), then
``pyims.inference.simulate`` the analysis with the backend. Defaults are ideal: no wire
resistance, continuous conductances, no variation, ideal sensing, no ADC -- then the circuit
equals the digital outputs to rounding. The keywords of the earlier API (``mode``, ``wires``,
``plan``, ``devices``, ``periphery``, ``encoding``, ``adc``, ``circuit``, ``t_read_s``,
``t_rise_s``, ``t_step_s``, ``workers``) still work: ``docs/migration.md``.
"""

from __future__ import annotations

import warnings

import numpy as np

from pyims.errors import AdcCalibrationWarning, SpecError
from pyims.hardware import Hardware
from pyims.inference.result import RepeatResult
from pyims.inference.simulate import check_read_time_wires  # noqa: F401  (earlier home of the check)
from pyims.model.graph import Model, as_model
from pyims.model.layers import Activation, forward
from pyims.spec import DeviceSpec, InputEncoding, PartitionPlan, PeripherySpec, WireParasitics
from pyims.spec.analysis import ReadAt
from pyims.spec.simulator import NativeOptions

__all__ = ["infer", "INFER_MODES", "CIRCUITS", "ACTIVATIONS", "LEGACY_KEYWORDS", "map_model", "forward_chunked",
           "with_circuit_activations"]

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


def map_model(model, hardware=None, **parts):
    """The model mapped onto crossbars (``pyims.mapping.map_network``)."""
    from pyims.mapping import map_network

    return map_network(model, hardware, **parts)


#: The earlier keywords and what they became (``docs/migration.md``).
LEGACY_KEYWORDS = ("mode", "wires", "plan", "devices", "periphery", "encoding", "adc", "circuit", "t_read_s", "t_rise_s",
                   "t_step_s", "workers")


def _legacy(hardware, analysis, options, kw: dict):
    """(mode, hardware, analysis, options) from the earlier keywords."""
    mode = kw.pop("mode", None)
    if mode is not None and mode not in INFER_MODES:
        raise SpecError(f"mode={mode!r} is unknown; use one of {', '.join(INFER_MODES)}")
    circuit = kw.pop("circuit", "auto")
    if circuit not in CIRCUITS:
        raise SpecError(f"circuit={circuit!r} is unknown; use one of {', '.join(CIRCUITS)}")
    parts = {}
    for key, name, cls, what in (("wires", "wires", WireParasitics, "per-segment R and C"),
                                 ("plan", "plan", PartitionPlan, "partition counts or a maximum tile"),
                                 ("devices", "devices", DeviceSpec, "g_on/g_off, levels, variation"),
                                 ("periphery", "periphery", PeripherySpec, "sense amplifiers"),
                                 ("encoding", "encoding", InputEncoding, "the input DAC")):
        value = kw.pop(key, None)
        _typed(key, value, cls, what)
        if value is not None:
            parts[name] = value
    if "adc" in kw:
        adc = kw.pop("adc")
        if adc is not None:
            from pyims.components.adc import Adc

            _typed("adc", adc, Adc, "bits, full scale")
            parts["adc"] = adc
    if circuit != "auto":
        parts["topology"] = circuit
    t_read_s, t_rise_s, t_step_s = kw.pop("t_read_s", None), kw.pop("t_rise_s", None), kw.pop("t_step_s", None)
    workers = kw.pop("workers", 1)
    if kw:
        raise SpecError(f"infer() got unknown keyword(s) {', '.join(sorted(kw))}; see help(pyims.infer)")
    if parts:
        if hardware is not None:
            raise SpecError(f"give the hardware once: hardware=... or the keywords {', '.join(sorted(parts))}, not both")
        hardware = Hardware(**parts)
    if t_read_s is not None:
        if analysis is not None:
            raise SpecError("give the read time once: analysis=pyims.ReadAt(...) or t_read_s=..., not both")
        if mode not in (None, "analog"):
            raise SpecError(f't_read_s={t_read_s!r} reads the circuit at a time; it needs mode="analog" (got mode={mode!r})')
        analysis = ReadAt(t_read_s=t_read_s, t_rise_s=t_rise_s, t_step_s=t_step_s)
    if workers != 1:
        if options is not None:
            raise SpecError("give workers once: options=pyims.NativeOptions(workers=...) or workers=..., not both")
        options = NativeOptions(workers=workers)
    if mode is None:
        mode = "analog" if (hardware is not None or analysis is not None) else "digital"
    return mode, hardware, analysis, options


def infer(model, x, *, hardware: Hardware | None = None, analysis=None, backend: str = "native", options=None,
          activations: str = "ideal", **legacy) -> np.ndarray:
    """Outputs ``(N, n_outputs)`` of ``model`` (a ``Model`` from ``pyims.load_model``, or an ``MLP``) for inputs ``x``
    ``(N, features)`` or ``(N, C, H, W)`` (see the module docstring).

    ``hardware``: a ``pyims.Hardware`` (``None`` and no ``analysis``: digital inference of the model as given).
    ``analysis``: ``pyims.Dc()`` (default), ``pyims.ReadAt(t_read_s)`` (the outputs at a read time under the wires'
    capacitance, ``docs/capacitance.md``) or ``pyims.Repeat(inner, n, seed)`` (the outputs averaged over seeded draws).
    ``backend``: "native" (exact sparse solver) or "ngspice" (the same circuit in ngspice: slow, a sample of
    images). ``options``: ``pyims.NativeOptions`` / ``pyims.SimOptions``. ``activations="circuit"`` replaces ideal
    ReLUs by the characterised op-amp precision rectifier (``circuits/neuron_relu_rectifier.sub``, measured in
    ngspice once per process); the digital reference keeps the model's own. Inputs outside the DAC's input range
    (``InputEncoding.input_range``) are clipped to it, for the digital reference too, and an ``InputRangeWarning``
    gives their fraction; ``pyims.calibrate`` fixes the range from data. The earlier keywords:
    ``docs/migration.md`` (``mode="mapped"``: the programmed devices without wires).
    """
    if backend not in INFER_BACKENDS:
        raise SpecError(f"backend={backend!r} is unknown; use one of {', '.join(INFER_BACKENDS)}")
    if activations not in ACTIVATIONS:
        raise SpecError(f"activations={activations!r} is unknown; use one of {', '.join(ACTIVATIONS)}")
    _typed("hardware", hardware, Hardware, "devices, wires, partitions, periphery, ADC")
    mode, hardware, analysis, options = _legacy(hardware, analysis, options, dict(legacy))
    if backend == "ngspice" and mode != "analog":
        raise SpecError(f'backend="ngspice" simulates the circuit; it needs mode="analog" (got mode={mode!r})')
    m = as_model(model)
    if activations == "circuit":
        m = with_circuit_activations(m)
    hw = hardware if hardware is not None else Hardware()
    xs = m.check_input(x)
    hw.encoding.warn_clipped(xs)  # values outside the DAC's range: counted, warned about, clipped for both references
    if mode == "digital":
        return forward_chunked(m.steps, hw.encoding.digital(xs), keep_pre=False)[1]
    net = map_model(m, hw)
    u = net.check_inputs(hw.encoding.quantized(xs, warn=False))  # the network's input shape (a dense stack's: flattened)
    if mode == "mapped":
        return forward_chunked(net.sequence, u, net.mapped_ideal_evaluate, keep_pre=False)[1]
    from pyims.inference.simulate import simulate

    res = simulate(net, u, analysis, backend=backend, options=options, keep_pre=False)
    if hw.adc is not None and not hw.adc.calibrated:
        _warn_adc_calibrated_on_this_batch(hw.adc, res, u.shape[0])
    return res.mean_logits if isinstance(res, RepeatResult) else res.logits


def _warn_adc_calibrated_on_this_batch(given, res, n_images: int) -> None:
    """An ``AdcCalibrationWarning`` (to ``infer``'s caller): the ADC ``given`` had ranges or a correction not fixed, so
    this call calibrated them on its own ``n_images`` images (``res``: what ran, its ``adc`` the converter as calibrated)."""
    ran = getattr(res.draws[0] if isinstance(res, RepeatResult) else res, "adc", None)
    what = " and ".join(w for w, fixed in (("ranges", given.full_scale_norm is not None),
                                           ("correction", given.correction_calibrated)) if not fixed)
    fs = ran.full_scale_norm if ran is not None else None
    detail = "" if fs is None else " (full scale " + (
        "/".join(f"{v:.3g}" for v in fs) if isinstance(fs, tuple) else f"{fs:.3g}") + ")"
    warnings.warn(AdcCalibrationWarning(
        f"the ADC's {what} {'were' if 'ranges' in what else 'was'} not fixed, so this call calibrated "
        f"{'them' if 'ranges' in what else 'it'} on its {n_images} image(s){detail}: the outputs "
        "depend on the batch (an image can read differently alone and among others); calibrate once and keep them "
        "fixed: hardware = pyims.calibrate(model, x_cal, hardware)", n_images=n_images, adc=ran), stacklevel=3)
