"""What a network inference returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyims.errors import SpecError

__all__ = ["MODES", "NetworkResult", "check_mode"]

MODES = ("analog", "tiled")


def check_mode(net, mode: str) -> None:
    """SpecError unless ``mode`` is known and possible for ``net``'s periphery."""
    if mode not in MODES:
        raise SpecError(f"mode={mode!r} is unknown; use one of {', '.join(MODES)}")
    if mode == "analog" and not net.fully_analog_capable:
        raise SpecError(
            'mode="analog" builds one circuit from a dense stack with one neuron between its layers; this network '
            '(convolutions, pooling or mixed activations) runs tile by tile: use mode="tiled"'
        )
    if mode == "tiled" and not net.periphery.sense_component.current_mode:
        raise SpecError(
            f'mode="tiled" co-simulates current-mode tiles (0 V virtual grounds), but periphery.sense="{net.periphery.sense}" '
            'is voltage mode: its tiles only exist as one circuit; use mode="analog"'
        )


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
    """

    pre_norm: tuple[np.ndarray, ...]
    power_w: np.ndarray | None
    output: np.ndarray | None = None
    backend: str
    mode: str
    wall_time_s: float
    ngspice_version: int | None = None
    run_dirs: tuple[str, ...] = ()

    @property
    def logits(self) -> np.ndarray:
        """The network's output ``(N, n_outputs)`` (the class is its argmax)."""
        return self.output if self.output is not None else self.pre_norm[-1]
