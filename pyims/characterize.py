"""Characterise a neuron subcircuit: a DC sweep in ngspice, its transfer curve, a fitted model.

Any two-port subcircuit ``(in, out)`` -- the library's transistor-level
``pyims_neuron_inverter`` or a file of your own -- is swept over an input range; the measured
curve becomes a ``NeuronSpec(kind="measured")`` that the trainer and the digital reference
use, and SPICE network runs instantiate the very circuit it was measured from.

A four-parameter logistic ``v_out = lo + (hi - lo) / (1 + exp(-k (v_in - v_mid)))`` is fitted
(least squares) as a summary -- gain at the trip point, rails, trip point -- and its residual
says how sigmoid-like the circuit is; pyims itself uses the measured curve, not the fit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from pyims.errors import SpecError
from pyims.model import NeuronSpec
from pyims.netlist.library import load_library, load_library_file
from pyims.netlist.model import GROUND, DcSweep, Netlist, SubcktInstance, VoltageSource
from pyims.runners.session import NgspiceSession
from pyims.spec.simulator import DEVICE, TIGHT, SimOptions

__all__ = ["NeuronCurve", "LogisticFit", "characterize_neuron", "fit_logistic", "neuron_curve_netlist",
           "relu_circuit_curve", "relu_circuit_neuron", "RELU_SCALE_V", "RELU_SWEEP_V", "MAX_SWEEP_POINTS"]

#: The most points one characterisation sweep may take (the default coarse sweep has 5,001 and the fine one 20,001;
#: ngspice holds and writes every point, and the fit runs over all of them).
MAX_SWEEP_POINTS = 1_000_000


@dataclass(frozen=True, slots=True)
class LogisticFit:
    """``v_out = lo_v + (hi_v - lo_v) / (1 + exp(-k_per_v * (v_in - v_mid_v)))``; ``k_per_v < 0`` inverts.

    ``rms_residual_v`` / ``max_residual_v``: how far the measured curve is from the logistic.
    """

    lo_v: float
    hi_v: float
    k_per_v: float
    v_mid_v: float
    rms_residual_v: float
    max_residual_v: float

    def __call__(self, v_in: np.ndarray) -> np.ndarray:
        v = np.asarray(v_in, dtype=np.float64)
        return self.lo_v + (self.hi_v - self.lo_v) * 0.5 * (1.0 + np.tanh(0.5 * self.k_per_v * (v - self.v_mid_v)))

    @property
    def slope_at_mid(self) -> float:
        """``dv_out / dv_in`` at the trip point (V/V)."""
        return 0.25 * self.k_per_v * (self.hi_v - self.lo_v)


@dataclass(frozen=True, slots=True)
class NeuronCurve:
    """A measured DC transfer curve.

    Attributes:
        subckt: the subcircuit's name; ``subckt_file`` its file when not in the library.
        v_in_v / v_out_v: float64 ``(K,)``, volts; the sweep (strictly increasing) and the output.
        fit: the logistic summary.
        ngspice_version: the simulator that measured it.
    """

    subckt: str
    subckt_file: str | None
    v_in_v: np.ndarray
    v_out_v: np.ndarray
    fit: LogisticFit
    ngspice_version: int

    def neuron_spec(self, *, in_scale_v: float = 1.0, out_scale_v: float = 1.0) -> NeuronSpec:
        """The ``NeuronSpec`` that applies this curve: ``a = f(z * in_scale_v) / out_scale_v``."""
        return NeuronSpec(
            kind="measured", curve_in_v=tuple(self.v_in_v.tolist()), curve_out_v=tuple(self.v_out_v.tolist()),
            in_scale_v=in_scale_v, out_scale_v=out_scale_v, subckt=self.subckt, subckt_file=self.subckt_file,
        )

    def save_csv(self, path: str | Path) -> Path:
        """Write ``v_in_v,v_out_v`` rows (full precision) to ``path``."""
        path = Path(path)
        np.savetxt(path, np.column_stack([self.v_in_v, self.v_out_v]), delimiter=",", header="v_in_v,v_out_v",
                   comments="", fmt="%.17g")
        return path


def fit_logistic(v_in_v: np.ndarray, v_out_v: np.ndarray) -> LogisticFit:
    """Least-squares logistic through a transfer curve (``scipy.optimize.curve_fit``)."""
    from scipy.optimize import OptimizeWarning, curve_fit

    x = np.asarray(v_in_v, dtype=np.float64)
    y = np.asarray(v_out_v, dtype=np.float64)
    lo, hi = float(y.min()), float(y.max())
    mid = 0.5 * (lo + hi)
    k_sign = 1.0 if y[-1] >= y[0] else -1.0
    x_mid = float(x[np.argmin(np.abs(y - mid))])
    slope = float(np.max(np.abs(np.gradient(y, x))))
    k0 = k_sign * 4.0 * slope / max(hi - lo, 1e-12)

    def model(v, lo_v, hi_v, k, v_mid):
        return lo_v + (hi_v - lo_v) * 0.5 * (1.0 + np.tanh(0.5 * k * (v - v_mid)))

    with warnings.catch_warnings():  # an exact logistic leaves no covariance to estimate; only the fit is used
        warnings.simplefilter("ignore", OptimizeWarning)
        params, _ = curve_fit(model, x, y, p0=(lo, hi, k0, x_mid), maxfev=20000)
    resid = model(x, *params) - y
    return LogisticFit(
        lo_v=float(params[0]), hi_v=float(params[1]), k_per_v=float(params[2]), v_mid_v=float(params[3]),
        rms_residual_v=float(np.sqrt(np.mean(resid**2))), max_residual_v=float(np.max(np.abs(resid))),
    )


def neuron_curve_netlist(subckt: str, subckt_file: str | None, v_start_v: float, v_stop_v: float, v_step_v: float) -> Netlist:
    """A DC sweep of ``VIN`` across the neuron's input, its output unloaded (the neuron buffers its own output)."""
    library = load_library_file(subckt_file, subckt) if subckt_file else load_library(subckt)
    return Netlist(
        title=f"* pyims neuron characterisation: {subckt}",
        elements=(VoltageSource("VIN", "in", GROUND, 0.0), SubcktInstance("XN", ("in", "out"), subckt, ())),
        # half a step past the end: ngspice accumulates the sweep value and may stop one short
        analysis=DcSweep("VIN", v_start_v, v_stop_v + 0.5 * v_step_v, v_step_v),
        saved_voltages=("in", "out"),
        libraries=(library,),
        comments=(f"DC transfer curve of {subckt} from {v_start_v!r} V to {v_stop_v!r} V in {v_step_v!r} V steps",),
    )


def characterize_neuron(
    subckt: str = "pyims_neuron_inverter",
    *,
    subckt_file: str | Path | None = None,
    v_start_v: float = -25.0,
    v_stop_v: float = 25.0,
    v_step_v: float = 1e-2,
    v_fine_v: float = 1.0,
    v_fine_step_v: float = 1e-4,
    timeout_s: float = 600.0,
    keep_run_dir: bool = False,
    options: SimOptions = TIGHT,
) -> NeuronCurve:
    """Sweep ``subckt`` (ports ``in out``) in ngspice and return its measured curve and logistic fit.

    Choose the range to cover every input the neuron will see in a network: beyond it the curve
    is held flat, while a real circuit still creeps toward its rails (the inverter neuron moves
    ~1 mV between 0.5 V and 10 V of input). The default +-25 V covers every output a difference
    amplifier of gain 30 can give on +-0.8 V lines (``gain * v_read``). Within ``+-v_fine_v`` a second sweep steps ``v_fine_step_v``:
    level-1 MOSFETs have kinks in their second derivative, so interpolation converges only as
    h^2 -- measured on this neuron, 1.1e-5 V of PCHIP error at 2 mV steps, ~2e-8 V at 0.1 mV.
    ``v_fine_v = 0`` turns the fine sweep off. ``options``: the solver tolerances (default ``TIGHT``;
    circuits with diodes need ``DEVICE``). A failed run keeps its directory and names it.
    """
    if not v_stop_v > v_start_v or not v_step_v > 0.0 or (v_stop_v - v_start_v) / v_step_v < 4:
        raise SpecError(
            f"characterize_neuron: sweep {v_start_v!r} .. {v_stop_v!r} V in {v_step_v!r} V steps needs "
            "v_stop_v > v_start_v and at least 4 steps"
        )
    for start, stop, step, which in ((v_start_v, v_stop_v, v_step_v, "v_step_v"),
                                     (max(-v_fine_v, v_start_v), min(v_fine_v, v_stop_v), v_fine_step_v, "v_fine_step_v")):
        points = (stop - start) / step + 1 if step > 0.0 and stop > start else 0.0
        if points > MAX_SWEEP_POINTS:
            raise SpecError(f"characterize_neuron: sweep {start!r} .. {stop!r} V in {step!r} V steps ({which}) is "
                            f"{points:,.0f} points; at most {MAX_SWEEP_POINTS:,}: use a larger step or a narrower range")
    file = str(Path(subckt_file).resolve()) if subckt_file is not None else None
    # KLU off: a two-transistor circuit gains nothing from it, and the golden curve was measured without
    session = NgspiceSession(options.with_(timeout_s=timeout_s, klu=False), keep_run_dir=keep_run_dir)
    sweeps = [(v_start_v, v_stop_v, v_step_v)]
    lo, hi = max(-v_fine_v, v_start_v), min(v_fine_v, v_stop_v)
    if v_fine_v > 0.0 and v_fine_step_v < v_step_v and hi > lo:
        sweeps.append((lo, hi, v_fine_step_v))
    parts = []
    for start, stop, step in sweeps:
        out = session.run(neuron_curve_netlist(subckt, file, start, stop, step), expect=("v(in)", "v(out)"),
                          prefix="characterize-")
        parts.append((out.data[:, 0], out.data[:, 1], (start, stop)))
    v_in, v_out, _ = parts[0]
    if len(parts) == 2:  # the fine sweep replaces the coarse points inside its range
        f_in, f_out, (a, b) = parts[1]
        keep = (v_in < a - 0.5 * v_fine_step_v) | (v_in > b + 0.5 * v_fine_step_v)
        v_in, v_out = np.concatenate([v_in[keep], f_in]), np.concatenate([v_out[keep], f_out])
    order = np.argsort(v_in)
    v_in, v_out = v_in[order], v_out[order]
    return NeuronCurve(subckt=subckt, subckt_file=file, v_in_v=v_in, v_out_v=v_out, fit=fit_logistic(v_in, v_out),
                       ngspice_version=session.version)


#: The precision rectifier in a network: 0.1 V per unit activation at its input and output, swept
#: over +-RELU_SWEEP_V (activations up to 100 units; beyond, the curve is held flat).
RELU_SCALE_V = 0.1
RELU_SWEEP_V = 10.0


@lru_cache(maxsize=1)
def relu_circuit_curve() -> NeuronCurve:
    """The op-amp precision rectifier (``circuits/neuron_relu_rectifier.sub``) characterised in ngspice:
    +-``RELU_SWEEP_V`` in 10 mV steps, 0.1 mV steps within +-0.2 V (the knee); tolerances ``DEVICE``
    (a diode cannot meet ``abstol=1e-18`` A). Measured once per process."""
    return characterize_neuron("pyims_neuron_relu_rectifier", v_start_v=-RELU_SWEEP_V, v_stop_v=RELU_SWEEP_V,
                               v_step_v=1e-2, v_fine_v=0.2, v_fine_step_v=1e-4, options=DEVICE)


def relu_circuit_neuron(scale_v: float = RELU_SCALE_V) -> NeuronSpec:
    """A ReLU activation as the characterised rectifier computes it: ``a = f(z scale_v) / scale_v``."""
    return relu_circuit_curve().neuron_spec(in_scale_v=scale_v, out_scale_v=scale_v)
