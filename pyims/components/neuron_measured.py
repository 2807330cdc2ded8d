"""A neuron given by a DC transfer curve measured from a circuit (``pyims.characterize``).

Its math is ``pyims.model.curves.MeasuredCurve``: ``a = f(z * in_scale_v) / out_scale_v``, ``f`` a
monotone cubic through the measured points. SPICE runs instantiate the circuit it was measured
from (``subckt``, from the library or ``subckt_file``), so a network run in ngspice checks the
curve too. The circuit has no scale parameters: the network must present it the voltages it
was measured at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyims.components.neuron import Neuron
from pyims.components.registry import NEURONS
from pyims.errors import SpecError
from pyims.model.curves import MeasuredCurve

if TYPE_CHECKING:
    from pyims.netlist.model import SubcktInstance, SubcktLibrary

__all__ = ["MeasuredNeuron"]


@NEURONS.register
class MeasuredNeuron(MeasuredCurve, Neuron):
    transistor_level = True

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
