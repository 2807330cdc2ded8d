"""The one registry: config names (``neuron.kind``, ``periphery.sense``, ``periphery.combine``) -> classes,
and the functions that build a config's components from it.

A component class registers itself with ``@NEURONS.register`` (etc.) under its ``kind``; nothing
else switches on a kind string. Importing ``pyims.components`` registers every built-in component.
Specs are plain data: ``neuron_for``, ``sense_for`` and ``combiner_for`` build the component a spec
names, and ``check_periphery`` is the check a ``PeripherySpec`` asks for when it is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyims.errors import SpecError
from pyims.model.curves import CURVES
from pyims.registry import Registry

if TYPE_CHECKING:
    from pyims.components.combiner import Combiner
    from pyims.components.neuron import Neuron
    from pyims.components.sense import Sense
    from pyims.model.neurons import NeuronSpec
    from pyims.spec.network import PeripherySpec

__all__ = ["Registry", "NEURONS", "SENSES", "COMBINERS", "neuron_for", "sense_for", "combiner_for", "check_periphery"]


class NeuronRegistry(Registry):
    """``neuron.kind`` -> neuron circuit class. A kind with no curve in ``pyims.model.curves`` brings its own:
    the class (a ``Neuron`` is a curve) is registered there too, so ``NeuronSpec`` knows the kind."""

    def register(self, cls):  # type: ignore[no-untyped-def]
        super().register(cls)
        if cls.kind not in CURVES:
            CURVES.register(cls)
        return cls


NEURONS: Registry = NeuronRegistry("neuron.kind")
SENSES: Registry = Registry("periphery.sense")
COMBINERS: Registry = Registry("periphery.combine")


def neuron_for(spec: "NeuronSpec") -> "Neuron":
    """The neuron circuit of ``spec`` (its curve, subcircuit and SPICE instance), built once per spec."""
    if spec.kind not in NEURONS:
        raise SpecError(f"neuron.kind={spec.kind!r} has a curve but no circuit; register a pyims.components.Neuron "
                        f"for it, or use one of {', '.join(NEURONS.kinds())}")
    cls = NEURONS.get(spec.kind)
    if isinstance(spec.curve, cls):  # a kind defined as one class: the spec's curve is the component
        return spec.curve  # type: ignore[return-value]
    # keyed by the spec's curve object (one per spec, kept alive here so its id is not reused): no hashing of
    # a measured curve's ~30k points per call, and its interpolator is built once
    hit = _BUILT.get(id(spec.curve))
    if hit is None or hit[0] is not spec.curve or type(hit[1]) is not cls:
        hit = (spec.curve, cls.from_spec(spec))
        if len(_BUILT) >= 64:
            _BUILT.pop(next(iter(_BUILT)))
        _BUILT[id(spec.curve)] = hit
    return hit[1]


_BUILT: dict[int, tuple[object, "Neuron"]] = {}


def check_periphery(spec: "PeripherySpec") -> None:
    """SpecError naming the field when ``spec``'s sense or combine kind is unknown, or its sense cannot work
    with the rest of it (e.g. voltage mode with summed partitions)."""
    sense_cls = SENSES.get(spec.sense)
    COMBINERS.get(spec.combine)
    sense_cls.validate(spec)


def sense_for(spec: "PeripherySpec") -> "Sense":
    """The sense periphery object of ``spec.sense``."""
    return SENSES.get(spec.sense)(spec)


def combiner_for(spec: "PeripherySpec") -> "Combiner":
    """The partial-sum combiner of ``spec.combine``."""
    return COMBINERS.get(spec.combine)(r_avg_ohm=spec.r_avg_ohm)
