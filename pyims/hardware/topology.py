"""Fully-analog or tiled: the one decision of how a mapped network becomes circuits, as an object.

* ``FullyAnalog``: one circuit for the whole dense stack -- every layer's tiles end in the
  periphery's sense amplifiers, partial sums meet in the circuit (the combiner's node or
  averaging resistors), neurons drive the next layer; an ADC converts the last layer's outputs.
* ``Tiled``: every tile alone, ending in an ideal 0 V virtual ground; each tile's partial sums
  are read (converted by one ADC per output and tile) and combined digitally, activations and
  every other layer run between tiles. Any network of the layer model runs this way.

The topology owns what differs between the two -- the sense each tile sees, where the ADC
sits, how partial sums combine, which circuit the SPICE runner builds, what each supports --
and the solvers ask it; nothing else branches on which one it is. ``Auto`` (the default)
resolves to ``FullyAnalog`` where the network can be one circuit, else ``Tiled``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pyims.components.registry import sense_for
from pyims.components.sense_ideal import IdealSense
from pyims.errors import SpecError

if TYPE_CHECKING:
    from pyims.components.adc import Adc
    from pyims.components.sense import Sense

__all__ = ["Topology", "FullyAnalog", "Tiled", "Auto", "TOPOLOGIES", "as_topology"]


class Topology:
    """Base: a stateless decision object (instances compare equal by kind)."""

    #: The config name (``simulation.mode``) and the label results carry.
    name: ClassVar[str] = ""
    #: Whether the whole network is one circuit in time: an ngspice network transient (a read time checked
    #: in ngspice) and the drivers' energy over a read-time window exist only then.
    one_circuit_in_time: ClassVar[bool] = False
    #: Whether the neurons between layers are circuits in the netlist (else activations run between tiles).
    neurons_in_circuit: ClassVar[bool] = False
    #: Which row drivers the read power counts.
    power_scope: ClassVar[str] = ""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # ------------------------------------------------------------ what it supports
    def problem_with(self, dense_stack: bool, periphery: Any, why: str | None = None) -> str | None:
        """Why a network cannot be built this way, or ``None``: ``dense_stack`` whether it is a dense stack with one
        neuron between its layers (``why``: the model's ``fully_analog_problem()`` when it is not), ``periphery`` its
        ``PeripherySpec`` (what a config says before any training)."""
        raise NotImplementedError

    def problem(self, net: Any) -> str | None:
        """Why ``net`` (a ``MappedNetwork``) cannot be built this way, or ``None``."""
        dense_stack, why = _analog_capable(net)
        return self.problem_with(dense_stack, net.periphery, why)

    def check(self, net: Any) -> None:
        """SpecError unless ``net`` can be built this way."""
        reason = self.problem(net)
        if reason is not None:
            raise SpecError(reason)

    def resolve(self, net: Any) -> "Topology":
        """The concrete topology for ``net`` (itself, checked)."""
        self.check(net)
        return self

    # ------------------------------------------------------------ the circuit each tile sees
    def tile_sense(self, net: Any) -> "Sense":
        """The periphery each tile's columns end in."""
        raise NotImplementedError

    def partial_outputs(self, layer: Any) -> int:
        """How many separately read partial results each output of ``layer`` has (per output, partitions read apart)."""
        raise NotImplementedError

    # ------------------------------------------------------------ readout: ADC placement, partial sums
    def converts(self, k: int, n_layers: int) -> bool:
        """Whether an ADC converts crossbar layer ``k``'s outputs."""
        raise NotImplementedError

    def read_out(self, net: Any, adc: "Adc | None", k: int, parts: list[np.ndarray]) -> np.ndarray:
        """Layer ``k``'s outputs from what its tiles deliver: ``parts`` one array ``(..., n_out)`` per partial result
        (``partial_outputs``), any leading shape (images, time samples); converted where the ADC sits, each scaled by
        its arrays' drift compensation (a digital step: the tiled topology only), combined, then corrected
        (``MappedNetwork.combine``, ``digital_out``)."""
        n_layers = len(net.layers)
        if adc is not None and self.converts(k, n_layers):
            parts = [adc.convert(z, layer=k, n_layers=n_layers, part=p, n_parts=len(parts)) for p, z in enumerate(parts)]
        return net.digital_out(k, net.combine(k, parts))

    def calibration_data(self, parts: list[np.ndarray]) -> np.ndarray:
        """What an ADC's range is calibrated on: every converter's inputs."""
        return np.stack(parts) if len(parts) > 1 else parts[0]

    # ------------------------------------------------------------ which circuit a simulator builds
    def spice_run(self, runner: Any, u: np.ndarray, kept: list[str]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Run images ``u`` in ngspice with ``runner`` (a ``SpiceNetwork``): one whole-network circuit or layer by layer."""
        raise NotImplementedError


class FullyAnalog(Topology):
    """The dense stack as one circuit (see the module docstring)."""

    name = "analog"
    one_circuit_in_time = True
    neurons_in_circuit = True
    power_scope = "inputs, bias rows, neuron outputs"

    def problem_with(self, dense_stack: bool, periphery: Any, why: str | None = None) -> str | None:
        if not dense_stack:
            cause = why or ("it has a convolution, pooling, a residual connection or different activations between its "
                            "layers")
            return ('the fully-analog topology (mode="analog") builds one circuit from a dense stack with one activation '
                    "between its layers (a Flatten or Reshape before the first or after the last is fine); this network "
                    f'is not one: {cause}; it runs tile by tile: use pyims.Hardware(topology="tiled") '
                    '(simulation.mode = "tiled"), or topology="auto"')
        return None

    def tile_sense(self, net: Any) -> "Sense":
        return net.sense

    def partial_outputs(self, layer: Any) -> int:
        return 1

    def converts(self, k: int, n_layers: int) -> bool:
        return k == n_layers - 1

    def spice_run(self, runner: Any, u: np.ndarray, kept: list[str]):
        return runner.run_whole_network(u, kept)


class Tiled(Topology):
    """Every tile alone, partial sums read and combined digitally (see the module docstring)."""

    name = "tiled"
    power_scope = "inputs, bias rows"

    def problem_with(self, dense_stack: bool, periphery: Any, why: str | None = None) -> str | None:
        if not sense_for(periphery).current_mode:
            return (f'the tiled topology (mode="tiled") co-simulates current-mode tiles (0 V virtual grounds), but '
                    f'periphery.sense="{periphery.sense}" is voltage mode: its tiles only exist as one circuit; use '
                    'pyims.FullyAnalog() (simulation.mode = "analog")')
        return None

    def tile_sense(self, net: Any) -> "Sense":
        return IdealSense(net.periphery)

    def partial_outputs(self, layer: Any) -> int:
        return layer.n_h

    def converts(self, k: int, n_layers: int) -> bool:
        return True

    def spice_run(self, runner: Any, u: np.ndarray, kept: list[str]):
        return runner.run_layer_by_layer(u, kept)


class Auto(Topology):
    """Fully-analog where the network can be one circuit, else tiled (resolved once, when the network is mapped)."""

    name = "auto"

    def choose(self, dense_stack: bool, periphery: Any) -> Topology:
        """The topology a network with these properties gets."""
        return FullyAnalog() if FullyAnalog().problem_with(dense_stack, periphery) is None else Tiled()

    def problem_with(self, dense_stack: bool, periphery: Any, why: str | None = None) -> str | None:
        return self.choose(dense_stack, periphery).problem_with(dense_stack, periphery, why)

    def resolve(self, net: Any) -> Topology:
        choice = self.choose(_analog_capable(net)[0], net.periphery)
        choice.check(net)
        return choice


def _analog_capable(net: Any) -> tuple[bool, str | None]:
    """Whether ``net`` can be one circuit, and why not: the network's shape, then its hardware's digital steps."""
    if not net.fully_analog_capable:
        return False, net.fully_analog_problem
    why = net.hardware.fully_analog_problem
    return why is None, why


#: Config names (``simulation.mode``; ``pyims.Hardware(topology=...)``) to topology classes.
TOPOLOGIES: dict[str, type[Topology]] = {"auto": Auto, "analog": FullyAnalog, "tiled": Tiled}


def as_topology(value: object) -> Topology:
    """A ``Topology`` from itself or its name ("auto", "analog", "tiled")."""
    if isinstance(value, Topology):
        return value
    if isinstance(value, str) and value in TOPOLOGIES:
        return TOPOLOGIES[value]()
    raise SpecError(f"topology={value!r} is unknown; use pyims.FullyAnalog(), pyims.Tiled() or one of "
                    f"{', '.join(repr(k) for k in TOPOLOGIES)}")
