"""What every sense periphery provides, and the shared part of the current-mode ones.

A sense periphery is what a layer's column (output) lines end in, up to the neuron inputs
``z{l}_{j}``: virtual-ground transimpedance amplifiers and differential stages (current mode),
or difference amplifiers on the line voltages (voltage mode). Each kind is one class in its own
file that owns its parameters and validation, its netlist elements, and its native model:

* ``load(n)``: the admittance it presents at the ends of ``n`` line pairs (``i = v_s @ load``;
  ``None`` for a 0 V virtual ground), which the native solver combines with each tile's
  sense-side admittance ``Y``;
* ``readout(n, ...)``: line-end voltages -> pre-activations (``z = v_s @ readout``);
* ``v_z``: volts at the neuron input per unit pre-activation;
* ``sense_currents``: what each line delivers into it, from a transient's node voltages.

Native inference of a layer (``native_block``) follows from these: for a group G of partitions
sharing sense nodes (``Combiner.groups``), ``K_G = sum_{p in G} Y_p + load``, the line-end
voltages are ``v_s = sum_{q in G} V_q T_q K_G^-1``, and ``W_p = T_p K_G^-1 readout``. A 0 V virtual
ground needs no ``Y``: ``W_p = T_p D w_max / dg``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from pyims.components.combiner import Combiner

if TYPE_CHECKING:
    from pyims.netlist.model import Element
    from pyims.spec.network import DeviceSpec, PeripherySpec

__all__ = ["Sense", "CurrentSense", "diff_matrix", "LayerPorts"]


def diff_matrix(n_out: int) -> np.ndarray:
    """``(2 n_out, n_out)``: +1 at (2j, j) (G+ line), -1 at (2j + 1, j) (G- line)."""
    d = np.zeros((2 * n_out, n_out))
    j = np.arange(n_out)
    d[2 * j, j] = 1.0
    d[2 * j + 1, j] = -1.0
    return d


#: one tile's port matrices as the native solver gives them: ``(T (m, n), Y (n, n) or None)``
LayerPorts = Sequence[tuple[np.ndarray, "np.ndarray | None"]]


class Sense(ABC):
    """A layer's sense periphery (see the module docstring)."""

    kind: ClassVar[str]
    #: tiles end in a 0 V virtual ground: tiled co-simulation and partial sums are possible
    current_mode: ClassVar[bool] = True
    #: the native solver needs each tile's sense-side admittance ``Y`` (the periphery loads the lines)
    loads_lines: ClassVar[bool] = False

    def __init__(self, spec: "PeripherySpec") -> None:
        self.spec = spec

    @classmethod
    def validate(cls, spec: "PeripherySpec") -> None:
        """Raise SpecError (naming the field) when ``spec`` cannot work with this sense kind."""

    @abstractmethod
    def subckts(self) -> tuple[str, ...]:
        """The library subcircuits its netlist elements instantiate."""

    @abstractmethod
    def v_z(self, *, gain: float, v_read_v: float, w_max: float, dg_s: float, n_rows: int, device: "DeviceSpec") -> float:
        """Volts at a neuron input per unit pre-activation for a layer of ``n_rows`` rows and stage gain ``gain``."""

    @abstractmethod
    def layer_elements(self, l: int, n_h: int, n_out: int, *, gain: float, combiner: Combiner) -> list["Element"]:
        """Every element from layer ``l``'s line ends ``s{l}_{tag}{k}`` to its neuron inputs ``z{l}_{j}``."""

    @abstractmethod
    def sense_currents(self, l: int, n_h: int, n_out: int, combiner: Combiner,
                       columns: Callable[[list[str]], np.ndarray], *, gain: float) -> np.ndarray:
        """``(T, G, 2 n_out)`` A each line delivers into the periphery (G sense groups), from node voltages
        read by ``columns``; ``gain`` is the layer's."""

    def sense_vector_names(self, l: int, n_h: int, n_out: int, combiner: Combiner, *, gain: float) -> list[str]:
        """The vectors ``sense_currents`` reads (so a session can expect them), in order."""
        names: list[str] = []

        def record(cols: list[str]) -> np.ndarray:
            names.extend(cols)
            return np.zeros((1, len(cols)))

        self.sense_currents(l, n_h, n_out, combiner, record, gain=gain)
        return list(dict.fromkeys(names))

    # ---------------------------------------------------------------- native model
    def load(self, n_out: int, *, gain: float) -> np.ndarray | None:
        """``(2 n, 2 n)`` S the periphery draws at ``n`` line pairs' ends (``None``: 0 V virtual ground)."""
        return None

    def readout(self, n_out: int, *, gain: float, scale: float, v_read_v: float, v_z: float, n_h: int) -> np.ndarray:
        """``(2 n, n)``: line-end voltages -> pre-activations (when ``load`` is not ``None``)."""
        raise NotImplementedError(f"sense {self.kind!r} has a virtual ground; it reads currents, not voltages")

    def native_block(
        self, ports: LayerPorts, n_out: int, *, gain: float, scale: float, v_read_v: float, v_z: float, combiner: Combiner
    ) -> tuple[list[np.ndarray], list[dict[int, np.ndarray] | None]]:
        """Per partition p of one vertical group: ``W_p`` ``(m_p, n_out)`` and the map ``{q: T_q K^-1}`` that gives
        its line-end voltages (``None`` at a 0 V virtual ground). ``scale = w_max / dg``."""
        n_h = len(ports)
        load = self.load(n_out, gain=gain)
        if load is None:
            d = diff_matrix(n_out) * scale
            return [t @ d for t, _ in ports], [None] * n_h
        readout = self.readout(n_out, gain=gain, scale=scale, v_read_v=v_read_v, v_z=v_z, n_h=n_h)
        ws: list[np.ndarray] = [np.empty(0)] * n_h
        maps: list[dict[int, np.ndarray] | None] = [None] * n_h
        for group in combiner.groups(n_h):
            k = sum(ports[p][1] for p in group) + load  # type: ignore[operator]
            vs = {p: self._solve_right(ports[p][0], k) for p in group}
            for p in group:
                ws[p] = vs[p] @ readout
                maps[p] = vs
        return ws, maps

    @staticmethod
    def _solve_right(t: np.ndarray, k: np.ndarray) -> np.ndarray:
        """``T K^-1``."""
        return np.linalg.solve(k.T, t.T).T


class CurrentSense(Sense):
    """A virtual-ground transimpedance amplifier per physical column (subcircuit ``pyims_sense_<kind>``,
    ``v_o = -rf i`` when ideal), and a differential stage per output (``pyims_diff``,
    ``v_d = gain (v(I-) - v(I+))``) driving the neuron input, possibly through averaging resistors."""

    def subckts(self) -> tuple[str, ...]:
        return ("pyims_diff", f"pyims_sense_{self.kind}")

    def params(self) -> tuple[tuple[str, float], ...]:
        return (("rf", self.spec.rf_ohm),)

    def v_z(self, *, gain: float, v_read_v: float, w_max: float, dg_s: float, n_rows: int, device: "DeviceSpec") -> float:
        """``gain * rf * v_read * dg / w_max`` (exact for ideal wires and sensing)."""
        return gain * self.spec.rf_ohm * v_read_v * dg_s / w_max

    def layer_elements(self, l: int, n_h: int, n_out: int, *, gain: float, combiner: Combiner) -> list["Element"]:
        from pyims.netlist.model import SubcktInstance

        out: list[Element] = []
        params = self.params()
        stage = (("gain", combiner.stage_gain(gain, n_h)),)
        for group in combiner.groups(n_h):
            p = group[0]
            tag = combiner.tag(p)
            for k in range(2 * n_out):
                out.append(SubcktInstance(f"XS{l}_{tag}{k}", (f"s{l}_{tag}{k}", f"o{l}_{tag}{k}"), f"pyims_sense_{self.kind}", params))
            for j in range(n_out):
                node, rest = combiner.stage_output(l, p, j)
                out.append(SubcktInstance(f"XD{l}_{tag}{j}", (f"o{l}_{tag}{2 * j + 1}", f"o{l}_{tag}{2 * j}", node), "pyims_diff", stage))
                out += rest
        return out

    def sense_currents(self, l: int, n_h: int, n_out: int, combiner: Combiner,
                       columns: Callable[[list[str]], np.ndarray], *, gain: float) -> np.ndarray:
        """``i = (v(s) - v(o)) / rf`` through each amplifier's feedback resistor (exact for any op-amp gain)."""
        tags = [combiner.tag(group[0]) for group in combiner.groups(n_h)]
        cols = range(2 * n_out)
        v_s = np.stack([columns([f"v(s{l}_{g}{k})" for k in cols]) for g in tags], axis=1)
        v_o = np.stack([columns([f"v(o{l}_{g}{k})" for k in cols]) for g in tags], axis=1)
        return (v_s - v_o) / self.spec.rf_ohm
