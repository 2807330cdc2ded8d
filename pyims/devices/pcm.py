"""Phase-change memory: IBM's statistical PCM model (Joshi et al., Nat. Commun. 11, 2473, 2020).

The model the field uses (aihwkit's ``PCMLikeNoiseModel``, Nandakumar et al., ICECS 2019), in SI
units. With ``x = g_T / g_max`` the target relative to the largest conductance:

* programming noise, Gaussian and conductance dependent:
  ``g_P = max(g_T + prog_noise_scale * sigma_P(x) * N(0, 1), 0)`` with
  ``sigma_P = g_max / 25 * (0.26348 + 1.9650 x - 1.1731 x^2)`` (the published fit, in uS for g_max =
  25 uS, scaled with g_max), floored at 0;
* drift, a power law with a per-device exponent drawn once at programming:
  ``nu = drift_scale * |mu_nu(x) + sigma_nu(x) N(0, 1)|``, ``mu_nu = clip(-0.0155 ln x + 0.0244, 0.049,
  0.1)``, ``sigma_nu = clip(-0.0125 ln x - 0.0059, 0.008, 0.045)`` (x clipped at 1e-7), and
  ``g_D(t) = g_P ((t + t0) / t0)^(-nu)`` for ``t = t_since_program_s`` (t0 = 20 s: the first read after
  programming, where the fit starts);
* read noise, 1/f, growing with the time since programming: a read sees
  ``g_D + |g_D| * read_noise_scale * sigma_R * N(0, 1)``, ``sigma_R = Q_s(g_P) sqrt(ln((t + t0 + t_read) /
  (2 t_read)))``, ``Q_s = min(0.0088 / max((g_P / g_max)^0.65, 1e-3), 0.2)``, t_read = 250 ns.

aihwkit draws that read noise once per evaluation; here every read draws it afresh (every input
vector sees its own), which is what the 1/f noise of a real array does between reads. At
``t_since_program_s = 0`` (right after programming) there is no drift and no read noise, so the cells
sit at ``g_P``. Zero weights map to ``g_min_s`` (0 S in the published model: a RESET cell, floored at
``G_FLOOR_S`` in the circuit).

The cell is linear (I = G V): its SPICE element is the resistor 1 / G at the conductance a read sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from pyims.devices.base import Device, ResistiveCell
from pyims.devices.registry import DEVICES
from pyims.errors import SpecError
from pyims.spec._checks import nonnegative, positive


__all__ = ["PCM"]

#: The programming-noise fit ``sigma_P / (g_max / 25)`` = c0 + c1 x + c2 x^2 (uS at g_max = 25 uS).
PROG_COEFF = (0.26348, 1.9650, -1.1731)
#: The published fit's reference maximum conductance (S).
PROG_G_MAX_REFERENCE_S = 25e-6


@DEVICES.register
@dataclass(frozen=True, slots=True, kw_only=True)
class PCM(ResistiveCell):
    """A phase-change cell (see the module docstring); ``PCM()`` is the published model.

    Attributes:
        g_max_s: the conductance the largest weight maps to, siemens (25 uS).
        g_min_s: the conductance a zero weight maps to, siemens (0: the published model).
        prog_noise_scale_ratio / read_noise_scale_ratio / drift_scale_ratio: multipliers of the
            programming noise, the read noise and the drift exponents (1: as published; 0 turns one off).
        t0_s: the time of the first read after programming, where the drift fit starts (20 s).
        t_read_s: the read duration of the 1/f noise fit (250 ns).
    """

    g_max_s: float = 25e-6
    g_min_s: float = 0.0
    prog_noise_scale_ratio: float = 1.0
    read_noise_scale_ratio: float = 1.0
    drift_scale_ratio: float = 1.0
    t0_s: float = 20.0
    t_read_s: float = 250e-9

    kind: ClassVar[str] = "pcm"

    def __post_init__(self) -> None:
        Device.__post_init__(self)
        object.__setattr__(self, "g_max_s", positive("device", "g_max_s", self.g_max_s))
        object.__setattr__(self, "g_min_s", nonnegative("device", "g_min_s", self.g_min_s))
        if self.g_min_s >= self.g_max_s:
            raise SpecError(f"device.g_min_s={self.g_min_s!r} must be below device.g_max_s={self.g_max_s!r}")
        for name in ("prog_noise_scale_ratio", "read_noise_scale_ratio", "drift_scale_ratio"):
            object.__setattr__(self, name, nonnegative("device", name, getattr(self, name)))
        for name in ("t0_s", "t_read_s"):
            object.__setattr__(self, name, positive("device", name, getattr(self, name)))

    @property
    def g_range_s(self) -> tuple[float, float]:
        return (self.g_min_s, self.g_max_s)

    # ------------------------------------------------------------ the model's three parts
    def prog_sigma_s(self, g_target_s: np.ndarray) -> np.ndarray:
        """The programming noise's standard deviation at targets ``g_target_s`` (S), before ``prog_noise_scale_ratio``."""
        x = np.asarray(g_target_s, dtype=np.float64) / self.g_max_s
        c0, c1, c2 = PROG_COEFF
        return np.maximum(c0 + c1 * x + c2 * x * x, 0.0) * 1e-6 * (self.g_max_s / PROG_G_MAX_REFERENCE_S)

    def nu_moments(self, g_target_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mu_nu, sigma_nu)``: the drift exponent's mean and spread at targets ``g_target_s`` (before the
        absolute value and ``drift_scale_ratio``)."""
        x = np.maximum(np.abs(np.asarray(g_target_s, dtype=np.float64)) / self.g_max_s, 1e-7)
        mu = np.clip(-0.0155 * np.log(x) + 0.0244, 0.049, 0.1)
        sigma = np.clip(-0.0125 * np.log(x) - 0.0059, 0.008, 0.045)
        return mu, sigma

    def read_sigma_ratio(self, g_prog_s: np.ndarray, t_since_program_s: float) -> np.ndarray:
        """A read's noise relative to the drifted conductance (``read_noise_scale_ratio * sigma_R``)."""
        q_s = np.minimum(0.0088 / np.maximum((np.abs(np.asarray(g_prog_s, dtype=np.float64)) / self.g_max_s) ** 0.65,
                                             1e-3), 0.2)
        t = float(t_since_program_s) + self.t0_s
        return self.read_noise_scale_ratio * q_s * np.sqrt(np.log((t + self.t_read_s) / (2.0 * self.t_read_s)))

    # ------------------------------------------------------------ what the base asks for
    def program(self, g_target_s: object, rng: np.random.Generator | None = None) -> np.ndarray:
        g = np.asarray(g_target_s, dtype=np.float64)
        if self.prog_noise_scale_ratio == 0.0:
            return g.copy()
        if rng is None:
            raise SpecError("PCM.program: programming noise needs a generator; pass rng=numpy.random.default_rng(seed)")
        noise = rng.standard_normal(g.shape)
        return np.maximum(g + self.prog_noise_scale_ratio * self.prog_sigma_s(g) * noise, 0.0)

    def drift(self, g_prog_s: np.ndarray, g_target_s: np.ndarray, t_since_program_s: float,
              rng: np.random.Generator | None = None) -> np.ndarray:
        g_prog = np.asarray(g_prog_s, dtype=np.float64)
        if self.drift_scale_ratio == 0.0 or t_since_program_s <= 0.0:
            return g_prog.copy()
        if rng is None:
            raise SpecError("PCM.drift: drift exponents need a generator; pass rng=numpy.random.default_rng(seed)")
        mu, sigma = self.nu_moments(g_target_s)
        nu = self.drift_scale_ratio * np.abs(mu + sigma * rng.standard_normal(g_prog.shape))
        return g_prog * ((float(t_since_program_s) + self.t0_s) / self.t0_s) ** (-nu)

    def read_sigma_s(self, g_prog_s: np.ndarray, g_t_s: np.ndarray, t_since_program_s: float) -> np.ndarray:
        if self.read_noise_scale_ratio == 0.0 or t_since_program_s <= 0.0:
            return np.zeros(np.shape(g_t_s))
        return np.abs(np.asarray(g_t_s, dtype=np.float64)) * self.read_sigma_ratio(g_prog_s, t_since_program_s)

