"""Components that own their physics: neurons, sense peripheries, partial-sum combiners.

Each kind is one class in one file of this package, registered under its config name in one
of the registries (``NEURONS``, ``SENSES``, ``COMBINERS``). Specs are plain data; ``neuron_for``,
``sense_for`` and ``combiner_for`` build the component a spec names. Adding a kind = one new file
(and its import below) plus its tests: see ``docs/architecture.md``.
"""

from pyims.components.combiner import Combiner
from pyims.components.neuron import Neuron, ParametricNeuron
from pyims.components.registry import (
    COMBINERS,
    NEURONS,
    SENSES,
    Registry,
    check_periphery,
    combiner_for,
    neuron_for,
    sense_for,
)
from pyims.components.sense import CurrentSense, Sense

# Built-in kinds register themselves on import, in this order (the order error messages list them).
from pyims.components import neuron_sigmoid, neuron_hardsigmoid, neuron_linear, neuron_relu, neuron_measured  # noqa: E402,F401
from pyims.components import sense_ideal, sense_opamp, sense_diffamp  # noqa: E402,F401
from pyims.components import combine_sum, combine_average  # noqa: E402,F401

__all__ = [
    "Registry",
    "NEURONS",
    "SENSES",
    "COMBINERS",
    "Neuron",
    "ParametricNeuron",
    "Sense",
    "CurrentSense",
    "Combiner",
    "neuron_for",
    "sense_for",
    "combiner_for",
    "check_periphery",
]
