"""One entry for every analysis and backend: ``simulate(net, u, analysis, backend=..., options=...)``.

    res = simulate(net, u)                                   # Dc(), native: NetworkResult
    res = simulate(net, u, ReadAt(1e-9))                     # native read time: ReadTimeResult
    res = simulate(net, u, Dc(), backend="ngspice")          # the same circuit in ngspice
    res = simulate(net, u, Tran(1e-9))                       # waveforms to 1 ns: ReadTimeResult.output_t
    res = simulate(net, u, Repeat(Dc(), n=8, seed=1))        # 8 seeded draws: RepeatResult

``net`` is a ``MappedNetwork`` (it carries its hardware: wires, topology, ADC); ``u`` its hardware
inputs ``(N, *input_shape)`` in units of the read voltage (``InputEncoding.quantized``). The
network's ADC is calibrated once, on the settled (DC) outputs of ``u``, before any analysis that
needs it (``calibrate``); the result says which converter ran. ``options``: a ``NativeOptions``
(native) or a ``SimOptions`` (ngspice).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pyims.errors import SpecError
from pyims.hardware import Hardware
from pyims.inference.result import RepeatResult
from pyims.mapping import MappedNetwork
from pyims.spec.analysis import Analysis, Dc, ReadAt, Repeat, Tran
from pyims.spec.simulator import NativeOptions, SimOptions

__all__ = ["simulate", "calibrate", "calibrated", "check_read_time_wires", "SIM_BACKENDS"]

#: The backends ``simulate`` runs.
SIM_BACKENDS = ("native", "ngspice")


def _native_options(options: object) -> NativeOptions:
    if options is None:
        return NativeOptions()
    if not isinstance(options, NativeOptions):
        raise SpecError(f'options is a {type(options).__name__}; backend="native" takes a pyims.NativeOptions')
    return options


def calibrated(net: MappedNetwork, u: np.ndarray, options: NativeOptions | None = None) -> MappedNetwork:
    """``net`` with its ADC's ranges fixed from the settled outputs of ``u`` (itself when it has no ADC or a fixed one)."""
    if net.adc is None or net.adc.calibrated:
        return net
    from pyims.inference.native import NativeNetwork

    opts = _native_options(options)
    native = NativeNetwork(net, options=NativeOptions(port_method=opts.port_method, workers=opts.workers, energy=False))
    return net.on(adc=native.calibrate_adc(u))


def calibrate(model, x_cal, hardware: Hardware, *, options: NativeOptions | None = None) -> Hardware:
    """``hardware`` with its converters' ranges fixed from calibration inputs ``x_cal`` (``(N, features)`` or
    ``(N, C, H, W)``, as for ``pyims.infer``). A DAC with ``dac_bits`` and no input range of its own (neither
    ``x_min_norm``/``x_max_norm`` nor a declared normalisation) gets the minimum and maximum of all of ``x_cal``
    (``InputEncoding.fitted``; an ideal DAC stays unbounded). Then the settled outputs of the first
    ``adc.calibration_images`` of them on this hardware set each layer's ADC range; with a near-memory digital
    correction (``adc.correction`` "float" or "fixed") its per-output scale and offset are fitted too (least squares
    of the converted outputs against the float model's pre-activations on the same inputs, layer by layer:
    ``NativeNetwork.calibrate_adc``), and kept in the returned ``Adc`` (``correction_scale_ratio``,
    ``correction_offset_norm``). Inference with the returned hardware gives every image the same outputs whatever
    batch it is in. Converters already fixed come back as they are."""
    from pyims.mapping import map_network
    from pyims.model.graph import as_model

    if not isinstance(hardware, Hardware):
        raise SpecError(f"hardware is a {type(hardware).__name__}; pass a pyims.Hardware")
    enc = hardware.encoding
    fit_dac = enc.kind == "dac" and enc.dac_bits is not None and not enc.range_fixed
    if not fit_dac and (hardware.adc is None or hardware.adc.calibrated):
        return hardware
    m = as_model(model)
    xs = m.check_input(x_cal)
    if fit_dac:
        hardware = hardware.replaced(encoding=enc.fitted(xs))
    if hardware.adc is None or hardware.adc.calibrated:
        return hardware
    net = map_network(m, hardware)
    u = net.check_inputs(hardware.encoding.quantized(xs))
    return hardware.replaced(adc=calibrated(net, u, options).adc)


def simulate(net: MappedNetwork, u: np.ndarray, analysis: Analysis | None = None, *, backend: str = "native",
             options: NativeOptions | SimOptions | None = None, progress: Callable[[int], None] | None = None,
             status: Callable[[str], None] | None = None, keep_pre: bool = True):
    """Run ``analysis`` (default ``Dc()``) of ``net`` on inputs ``u`` with ``backend`` (see the module docstring).

    ``progress(n)``: called as work finishes (native DC: solver tasks; ngspice: images); ``status(text)``: what a
    long native step is doing. ``keep_pre=False``: a native DC run keeps only the outputs, not every layer's
    pre-activations (whole CNN test sets)."""
    analysis = Dc() if analysis is None else analysis
    if not isinstance(net, MappedNetwork):
        raise SpecError(f"net is a {type(net).__name__}; pass a MappedNetwork (pyims.mapping.map_network(model, hardware))")
    if not isinstance(analysis, Analysis):
        raise SpecError(f"analysis is a {type(analysis).__name__}; pass pyims.Dc(), pyims.ReadAt(t_read_s), pyims.Tran(t_stop_s) "
                        "or pyims.Repeat(...)")
    if backend not in SIM_BACKENDS:
        raise SpecError(f"backend={backend!r} is unknown; use one of {', '.join(SIM_BACKENDS)}")
    if backend == "ngspice" and options is not None and not isinstance(options, SimOptions):
        raise SpecError(f'options is a {type(options).__name__}; backend="ngspice" takes a pyims.SimOptions')
    if backend == "native":
        _native_options(options)
    u = net.check_inputs(u)
    from pyims.inference.native import check_linear_cells

    check_linear_cells(net)
    if isinstance(analysis, Tran):  # the same circuit in time, every sample reported
        if not net.topology.one_circuit_in_time:
            raise SpecError("a transient follows one circuit in time: the fully-analog topology (pyims.FullyAnalog()); "
                            "a tiled network reads each layer alone (analysis=pyims.ReadAt(t_read_s))")
        analysis = analysis.as_read
    if isinstance(analysis, ReadAt):
        _check_read_time(net, analysis, backend)
    if isinstance(analysis, Repeat):
        draws = []
        for seed in analysis.seeds:
            draws.append(simulate(net.redrawn(seed), u, analysis.inner, backend=backend, options=options, progress=progress,
                                  status=status, keep_pre=keep_pre))
        return RepeatResult(draws=tuple(draws), seeds=analysis.seeds, analysis=analysis)
    native_opts = options if isinstance(options, NativeOptions) else None
    if isinstance(analysis, Dc) and backend == "native":  # calibrates its ADC itself, on its own port matrices
        from pyims.inference.native import NativeNetwork

        return NativeNetwork(net, options=_native_options(options), progress=progress, status=status).run(
            u, keep_pre=keep_pre)
    net = calibrated(net, u, native_opts)
    if isinstance(analysis, Dc):
        if backend == "ngspice":
            from pyims.inference.spice import SpiceNetwork

            opts = options if isinstance(options, SimOptions) else None
            kw = {} if opts is None else {"options": opts, "timeout_s": opts.timeout_s}
            return SpiceNetwork(net, **kw).run(u, progress=progress)
    if isinstance(analysis, ReadAt):
        if backend == "ngspice":
            from pyims.inference.read_time import ngspice_read_time

            timeout = options.timeout_s if isinstance(options, SimOptions) else 3600.0
            return ngspice_read_time(net, analysis, u, timeout_s=timeout)
        from pyims.inference.read_time import NativeReadTime

        return NativeReadTime(net, analysis, options=_native_options(options)).run(u)
    raise SpecError(f"analysis {type(analysis).__name__} has no solver yet; use Dc(), ReadAt(...) or Repeat(...)")


def check_read_time_wires(wires) -> None:
    """SpecError unless the wires hold capacitance: without it every read time gives the DC outputs."""
    if wires.c_row_f <= 0.0 and wires.c_col_f <= 0.0:
        raise SpecError("a read time needs wire capacitance: wires.c_row_f and wires.c_col_f are both 0 (without "
                        "capacitance the outputs are the DC ones at any time); set them, or geometry's "
                        "c_per_length_f_per_m, or omit the read time (analysis=pyims.Dc())")


def _check_read_time(net: MappedNetwork, analysis: ReadAt, backend: str) -> None:
    """SpecError before any work when a read time cannot be simulated as asked."""
    check_read_time_wires(net.wires)
    if backend == "ngspice" and not net.topology.one_circuit_in_time:
        raise SpecError('backend="ngspice" with a read time runs the fully-analog network transient; tiled read times are '
                        'native only (hardware topology pyims.FullyAnalog(), or backend="native")')
