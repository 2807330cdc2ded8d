"""Resistive RAM: a linear cell with device-to-device programming noise and cycle-to-cycle read noise.

Filamentary RRAM (HfOx, TaOx, ...) is programmed with a write-and-verify loop that stops within a
window around the target, so cells land off target by a spread that is roughly constant in siemens
over the programming window; every read then sees fresh noise from the filament's random
telegraph and 1/f fluctuations. Both are modelled as additive Gaussians with absolute spreads:

* programming (once per cell, device to device): ``g_P = max(g_T + prog_noise_sigma_s * N(0, 1), 0)``;
* reading (afresh every read, cycle to cycle): a read sees ``g_P + read_noise_sigma_s * N(0, 1)``,
  only at ``t_since_program_s > 0`` (the base's contract: right after programming, ``t = 0``, a read
  is noiseless; RRAM does not drift, so any ``t > 0``, e.g. 1 s, reads with noise);
* no drift (the conductance stays at ``g_P``).

Conductances below ``G_FLOOR_S`` are floored there by the base (as aihwkit clamps at 0 S).

Defaults, all from the RRAM literature as the two peer simulators encode it:

* ``g_on_s = 100 uS`` / ``g_off_s = 1 uS`` (10 kOhm / 1 MOhm, an on/off ratio of 100: a typical HfOx
  1T1R window; also ``[device]``'s default range, so ``[device] kind = "rram"`` is ``RRAM()``);
* ``prog_noise_sigma_s = 4 uS``: Milo et al., IRPS 2021 (multilevel HfO2 RRAM, CrossSim's ``RRAMMilo``
  fit ``sigma = 4.78 uS - 0.0091 G``) gives 3.9 to 4.8 uS over 0..100 uS; Wan et al., Nature 608, 504
  (2022) (NeuRRAM, aihwkit's ``ReRamWan2022NoiseModel`` at t = 1 s: 0.35 to 2.3 uS, mean 1.73 uS at
  g_max = 40 uS, scaled with g_max as aihwkit scales it) gives 4.3 uS on average at 100 uS;
* ``read_noise_sigma_s = 1 uS``: 1 % of g_on, the short-term read noise aihwkit's RRAM models
  recommend adding (``w_noise = 0.01`` of g_max, additive constant).

The cell is linear (I = G V): its SPICE element is the resistor 1 / G at the conductance a read sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from pyims.devices.base import COMMON_FIELDS, Device, ResistiveCell
from pyims.devices.registry import DEVICES
from pyims.errors import SpecError
from pyims.spec._checks import nonnegative, positive

if TYPE_CHECKING:
    from pyims.spec import DeviceSpec

__all__ = ["RRAM"]


@DEVICES.register
@dataclass(frozen=True, slots=True, kw_only=True)
class RRAM(ResistiveCell):
    """A resistive-RAM cell (see the module docstring for the model and where its defaults come from).

    Attributes:
        g_on_s / g_off_s: the conductances the largest weight / a zero weight are programmed to, siemens
            (g_on > g_off >= 0; ``[device]`` ``g_on_s`` / ``g_off_s``).
        prog_noise_sigma_s: the standard deviation of the programming noise, siemens, absolute (4 uS).
        read_noise_sigma_s: the standard deviation of one read's noise, siemens, absolute, a fresh draw per
            read at ``t_since_program_s > 0`` (1 uS).
    """

    g_on_s: float = 1e-4
    g_off_s: float = 1e-6
    prog_noise_sigma_s: float = 4e-6
    read_noise_sigma_s: float = 1e-6

    kind: ClassVar[str] = "rram"

    def __post_init__(self) -> None:
        Device.__post_init__(self)
        object.__setattr__(self, "g_on_s", positive("device", "g_on_s", self.g_on_s))
        object.__setattr__(self, "g_off_s", nonnegative("device", "g_off_s", self.g_off_s))
        if self.g_on_s <= self.g_off_s:
            raise SpecError(f"device.g_on_s={self.g_on_s!r} must exceed device.g_off_s={self.g_off_s!r} "
                            "(device.kind='rram')")
        for name in ("prog_noise_sigma_s", "read_noise_sigma_s"):
            object.__setattr__(self, name, nonnegative("device", name, getattr(self, name)))

    @property
    def g_range_s(self) -> tuple[float, float]:
        return (self.g_off_s, self.g_on_s)

    def program(self, g_target_s: object, rng: np.random.Generator | None = None) -> np.ndarray:
        g = np.asarray(g_target_s, dtype=np.float64)
        if self.prog_noise_sigma_s == 0.0:
            return g.copy()
        if rng is None:
            raise SpecError("RRAM.program: programming noise needs a generator; pass rng=numpy.random.default_rng(seed)")
        return np.maximum(g + self.prog_noise_sigma_s * rng.standard_normal(g.shape), 0.0)

    def read_sigma_s(self, g_prog_s: np.ndarray, g_t_s: np.ndarray, t_since_program_s: float) -> np.ndarray:
        if self.read_noise_sigma_s == 0.0 or t_since_program_s <= 0.0:
            return np.zeros(np.shape(g_t_s))
        return np.full(np.shape(g_t_s), self.read_noise_sigma_s)


    @classmethod
    def from_spec(cls, spec: "DeviceSpec") -> "RRAM":
        """The range is ``[device]``'s ``g_on_s`` / ``g_off_s`` (as the linear kind's); the noises are the kind's own
        fields (``spec.params``)."""
        common = {name: getattr(spec, name) for name in COMMON_FIELDS}
        return cls.from_config({**dict(spec.params), "g_on_s": spec.g_on_s, "g_off_s": spec.g_off_s, **common})
