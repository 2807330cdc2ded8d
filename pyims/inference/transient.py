"""Transient of a whole fully-analog network through ngspice: latency and energy of an inference.

The inputs step (or follow any PWL stimulus) while every wire segment carries its resistance
and capacitance; the waveforms of every layer's neuron inputs (as pre-activations) and the
power drawn from every row driver are reported on a uniform grid. ``latency_s`` is the time the
output layer takes to settle (all outputs within the band, see ``pyims.waveforms``) after the
stimulus starts moving; ``energy_j`` integrates the power over the window.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

import numpy as np

from pyims.mapping import MappedNetwork
from pyims.netlist.network import build_network_transient_netlist
from pyims.inference.spice import network_vector_names, read_network_vectors
from pyims.runners.session import NgspiceSession
from pyims.runners.transient import onto_grid
from pyims.spec import Stimulus, TransientSpec
from pyims.spec.simulator import DEFAULT_TIMEOUT_S, NETWORK_TRANSIENT, SimOptions
from pyims.waveforms import DEFAULT_BAND_RATIO, energy_j, settling_time_s

__all__ = ["NetworkTransientResult", "network_transient"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class NetworkTransientResult:
    """Waveforms of a network transient.

    Attributes:
        t_s: float64 ``(T,)`` seconds.
        pre_norm: per layer float64 ``(T, n_out)``: neuron-input voltages divided by ``v_z``.
        power_w: float64 ``(T,)`` watts delivered by all row drivers (inputs, bias rows, neurons).
        i_sense_a: per layer float64 ``(T, G, 2 n_out)``: the current each physical column (G+ at
            2j, G- at 2j+1) delivers into its sense amplifier; G = 1 when partitions are summed at
            one amplifier, G = h (one per horizontal partition) when they are averaged.
        v_probe_v: float64 ``(T, P)``: voltages of the ``probe_nodes`` asked for (netlist node
            names, see ``pyims.netlist.network``), in that order.
        t_start_s: when the stimulus first changes.
        adc_input_norm: float64 ``(T, n_out)``: with an ADC (``net.adc``), the last layer's outputs before the
            converters (``pre_norm[-1]`` holds the converted ones); else ``None``.
        ngspice_version, wall_time_s, run_dir: provenance (``run_dir`` only when kept).
    """

    t_s: np.ndarray
    pre_norm: tuple[np.ndarray, ...]
    power_w: np.ndarray
    i_sense_a: tuple[np.ndarray, ...]
    v_probe_v: np.ndarray
    t_start_s: float
    ngspice_version: int
    wall_time_s: float
    run_dir: str | None
    adc_input_norm: np.ndarray | None = None

    def latency_s(self, band_ratio: float = DEFAULT_BAND_RATIO) -> float:
        """Settling time of the slowest output (last layer), from the stimulus start."""
        return float(np.max(settling_time_s(self.t_s, self.pre_norm[-1], band_ratio=band_ratio, t_start_s=self.t_start_s)))

    def energy_j(self) -> float:
        return energy_j(self.t_s, self.power_w)


def network_transient(
    net: MappedNetwork,
    stimulus: Stimulus,
    spec: TransientSpec,
    *,
    executable: str | os.PathLike[str] | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    run_root: str | os.PathLike[str] | None = None,
    keep_run_dir: bool = False,
    klu: bool | None = None,
    options: SimOptions = NETWORK_TRANSIENT,
    probe_nodes: tuple[str, ...] = (),
) -> NetworkTransientResult:
    """ngspice transient of the fully-analog ``net``; ``stimulus`` gives the input voltages (volts). With an ADC
    (``net.adc``, calibrated) the last layer's outputs are its SPICE converters' outputs at every instant.

    Sense currents are each sense periphery's own reading (``Sense.sense_currents``): through the
    feedback resistor of a transimpedance amplifier, ``i = (v(s) - v(o)) / rf`` (exact for both the
    ideal and the op-amp one); into a difference amplifier's input resistors, ``i = v_s @ load``.
    """
    t0 = time.perf_counter()
    options = options.overridden(timeout_s=timeout_s, klu=klu)
    session = NgspiceSession(options, executable=executable, run_root=run_root, keep_run_dir=True)
    nn = build_network_transient_netlist(net, stimulus, spec)
    sense, combiner = net.sense, net.combiner
    adc_in = [f"v({node})" for node in nn.adc_inputs]
    names = ["time", *network_vector_names(nn), *(f"v({node})" for node in probe_nodes), *adc_in]
    seen = set(names)
    for l, layer in enumerate(net.layers):
        for n in sense.sense_vector_names(l, layer.n_h, layer.n_out, combiner, gain=net.layer_gain(l)):
            if n not in seen:
                seen.add(n)
                names.append(n)
    out = session.run(nn.netlist, expect=names, prefix="net-tran-")
    t_raw = out.data[:, 0]
    pre_raw, power = read_network_vectors(nn, out.columns, stimulus.at(t_raw), net.periphery.v_bias_v)
    sense_raw = [sense.sense_currents(l, layer.n_h, layer.n_out, combiner, out.columns, gain=net.layer_gain(l))
                 for l, layer in enumerate(net.layers)]
    probe_raw = out.columns([f"v({node})" for node in probe_nodes]) if probe_nodes else np.zeros((t_raw.size, 0))
    adc_raw = [out.columns(adc_in) / nn.v_z[-1]] if adc_in else []
    n_layers = len(pre_raw)
    gridded = onto_grid(t_raw, [*pre_raw, *sense_raw, power, probe_raw, *adc_raw], spec, out.rundir)

    moving = np.flatnonzero(np.any(np.diff(stimulus.v_v, axis=0) != 0.0, axis=1))
    t_start = float(stimulus.t_s[moving[0]]) if moving.size else 0.0
    if not keep_run_dir:
        shutil.rmtree(out.rundir, ignore_errors=True)
    return NetworkTransientResult(
        t_s=spec.t_grid_s, pre_norm=tuple(gridded[:n_layers]), power_w=gridded[2 * n_layers],
        i_sense_a=tuple(gridded[n_layers : 2 * n_layers]), v_probe_v=gridded[2 * n_layers + 1], t_start_s=t_start,
        ngspice_version=out.version, wall_time_s=time.perf_counter() - t0,
        run_dir=str(out.rundir) if keep_run_dir else None, adc_input_norm=gridded[-1] if adc_raw else None,
    )
