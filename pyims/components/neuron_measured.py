"""A neuron given by a DC transfer curve measured from a circuit (``pyims.characterize``).

``a = f(z * in_scale_v) / out_scale_v``: ``f`` interpolates ``curve_in_v -> curve_out_v`` (volts)
with a monotone cubic (PCHIP: C1, no overshoot) and is held flat beyond its ends. SPICE runs
instantiate the circuit it was measured from (``subckt``, from the library or ``subckt_file``),
so a network run in ngspice checks the curve too. The circuit has no scale parameters: the
network must present it the voltages it was measured at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pyims.components.neuron import Neuron
from pyims.components.registry import NEURONS
from pyims.errors import SpecError
from pyims.spec._checks import real_scalar

if TYPE_CHECKING:
    from pyims.model.neurons import NeuronSpec
    from pyims.netlist.model import SubcktInstance, SubcktLibrary

__all__ = ["MeasuredNeuron"]


@NEURONS.register
class MeasuredNeuron(Neuron):
    kind = "measured"
    transistor_level = True

    def __init__(self, *, curve_in_v: tuple[float, ...], curve_out_v: tuple[float, ...], in_scale_v: float,
                 out_scale_v: float, subckt: str, subckt_file: str | None) -> None:
        from scipy.interpolate import PchipInterpolator

        self.curve_in_v, self.curve_out_v = curve_in_v, curve_out_v
        self.in_scale_v, self.out_scale_v = in_scale_v, out_scale_v
        self.subckt, self.subckt_file = subckt, subckt_file
        # built once; a curve has ~30k points
        self._f = PchipInterpolator(np.asarray(curve_in_v), np.asarray(curve_out_v), extrapolate=False)

    @classmethod
    def from_spec(cls, spec: "NeuronSpec") -> "MeasuredNeuron":
        if spec.curve_in_v is None or spec.curve_out_v is None or spec.subckt is None:
            raise SpecError(
                'neuron.kind = "measured" needs curve_in_v, curve_out_v (volts) and subckt; '
                "get them from pyims.characterize.characterize_neuron(...).neuron_spec(...)"
            )
        x = tuple(real_scalar("neuron", "curve_in_v", v) for v in spec.curve_in_v)
        y = tuple(real_scalar("neuron", "curve_out_v", v) for v in spec.curve_out_v)
        if len(x) != len(y) or len(x) < 4:
            raise SpecError(f"neuron.curve_in_v has {len(x)} points and curve_out_v {len(y)}; give the same number, at least 4")
        if not all(b > a for a, b in zip(x, x[1:])):
            raise SpecError("neuron.curve_in_v must be strictly increasing (a DC sweep's input axis)")
        if not isinstance(spec.subckt, str) or not spec.subckt.isidentifier():
            raise SpecError(f"neuron.subckt={spec.subckt!r} must name a library subcircuit, e.g. 'pyims_neuron_inverter'")
        scales = {}
        for name in ("in_scale_v", "out_scale_v"):
            value = real_scalar("neuron", name, getattr(spec, name))
            if value <= 0.0:
                raise SpecError(f"neuron.{name}={value!r} must be > 0 (volts per normalised unit)")
            scales[name] = value
        return cls(curve_in_v=x, curve_out_v=y, subckt=spec.subckt, subckt_file=spec.subckt_file, **scales)

    def _v(self, z: np.ndarray) -> np.ndarray:
        x = self.curve_in_v
        return np.clip(np.asarray(z, dtype=np.float64) * self.in_scale_v, x[0], x[-1])

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self._f(self._v(z)) / self.out_scale_v

    def derivative(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        inside = (z * self.in_scale_v > self.curve_in_v[0]) & (z * self.in_scale_v < self.curve_in_v[-1])
        return np.where(inside, self._f(self._v(z), 1) * self.in_scale_v / self.out_scale_v, 0.0)

    def library(self) -> "SubcktLibrary":
        from pyims.netlist.library import load_library, load_library_file

        return load_library_file(self.subckt_file, self.subckt) if self.subckt_file else load_library(self.subckt)

    def instance(self, name: str, node_in: str, node_out: str, *, v_z: float, v_read_v: float) -> "SubcktInstance":
        from pyims.netlist.model import SubcktInstance

        for what, have, need in (("v_z", v_z, self.in_scale_v), ("v_read_v", v_read_v, self.out_scale_v)):
            if abs(have - need) > 1e-9 * abs(need):
                raise SpecError(
                    f"measured neuron {self.subckt}: the network puts {what}={have!r} V per unit where the "
                    f"neuron's curve is scaled for {need!r}; scale the weights so the layer's v_z matches "
                    "(see pyims.presets.imac.hardware_scales) or re-characterise with matching scales"
                )
        return SubcktInstance(name, (node_in, node_out), self.subckt, ())
