"""What a network inference returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


__all__ = ["MODES", "NetworkResult", "RepeatResult"]

#: The topologies' names (``simulation.mode``): ``pyims.hardware.FullyAnalog`` / ``Tiled``.
MODES = ("analog", "tiled")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class NetworkResult:
    """Pre-activations of every layer and the read power, for ``N`` images.

    Attributes:
        pre_norm: one float64 array ``(N, n_out_l)`` per crossbar layer, dimensionless pre-activations
            recovered from the circuit (``z = v_d / v_z``; see ``docs/network.md``; a convolution's
            are its ``C_out*H'*W'`` outputs per image); empty when not kept (``keep_pre=False``).
        output: float64 ``(N, n_outputs)``, the network's output (the last layer's pre-activations
            for an MLP; after any digital readout layers otherwise).
        power_w: float64 ``(N,)``, watts delivered by every row driver (inputs, bias rows and,
            in analog mode, neuron outputs) into the arrays; ``None`` when not computed.
        backend: "native" or "ngspice".
        mode: "analog" or "tiled".
        wall_time_s: wall time of the inference.
        ngspice_version: ngspice's major version, or ``None``.
        run_dirs: run directories kept (``keep_run_dir``), else empty.
        adc: the output converter as it ran (``pyims.Adc``, ranges calibrated), or ``None``.
        build_time_s: time spent building the solver (native: the tiles' port matrices).
    """

    pre_norm: tuple[np.ndarray, ...]
    power_w: np.ndarray | None
    output: np.ndarray | None = None
    backend: str
    mode: str
    wall_time_s: float
    ngspice_version: int | None = None
    run_dirs: tuple[str, ...] = ()
    adc: Any = None
    build_time_s: float = 0.0

    @property
    def logits(self) -> np.ndarray:
        """The network's output ``(N, n_outputs)`` (the class is its argmax)."""
        return self.output if self.output is not None else self.pre_norm[-1]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RepeatResult:
    """What a ``Repeat`` returns: the inner analysis's result for every seeded draw of the hardware.

    Attributes:
        draws: one result per draw (``NetworkResult`` for ``Dc``, ``ReadTimeResult`` for ``ReadAt``).
        seeds: the seed of every draw (``Repeat.seeds``): device variation and converter errors.
        analysis: the ``Repeat`` that ran.
    """

    draws: tuple
    seeds: tuple[int, ...]
    analysis: object

    @property
    def logits(self) -> np.ndarray:
        """The outputs of every draw, ``(n_draws, N, n_outputs)``."""
        return np.stack([d.logits for d in self.draws])

    @property
    def mean_logits(self) -> np.ndarray:
        """``(N, n_outputs)``: the outputs averaged over the draws."""
        return self.logits.mean(axis=0)

    @property
    def std_logits(self) -> np.ndarray:
        """``(N, n_outputs)``: the outputs' standard deviation across draws (ddof=1; 0 for one draw)."""
        return self.logits.std(axis=0, ddof=1) if len(self.draws) > 1 else np.zeros_like(self.draws[0].logits)
