"""Drift compensation: the digital scale that brings a drifted array's outputs back to their programmed size.

Phase-change cells lose conductance as a power of the time since programming, so every output of
an array shrinks. Chips (and aihwkit's ``GlobalDriftCompensation``) correct it with a calibration
read: known inputs are applied right after programming and again at read time, and the ratio of
the two reads scales the outputs digitally, after the ADC. Here the calibration input drives every
row of a crossbar layer (bias row included) at ``v_read_v``, and each output's read is the sum of its
two columns' currents, ``I+_j + I-_j`` (always positive, unlike the difference, which can be near
zero). In conductances (the read is linear in them, and ``v_read_v`` cancels in the ratio):

    c_j(state) = sum_i ( G+_ij + G-_ij )

* ``"global"``: one factor per crossbar layer, ``alpha = sum_j c_j(reference) / sum_j c_j(now)``;
* ``"per_column"``: one factor per output, ``alpha_j = c_j(reference) / c_j(now)``;
* ``"none"``: no correction.

``reference`` is the array right after programming (programming noise and stuck cells, no drift),
``now`` its mean conductances at ``t_since_program_s`` (the calibration read is averaged: it sees no
read noise). The calibration read is the ideal column sum, without wire resistance: it restores the
conductances' drift, not the change of the IR drop that drift brings (lower conductances lose less
to the wires). Measured on a 128-row tile of 64 outputs at 2 ohm per segment (PCM, one year): the
wires take 5.4 % of the all-rows read at t = 0 and 2.7 % after a year, so a read through the wires
would give a factor 2.8 % smaller (3.8 % for the worst column) -- a chip's calibration read includes
its wires; this one does not yet. "global" is one factor per crossbar layer (aihwkit's analog tile),
not per physical array of a partitioned layer. Compensation is a digital step after each layer's
ADC, so it needs the tiled topology (``Hardware.fully_analog_problem``).
"""

from __future__ import annotations

import numpy as np

from pyims.devices.base import DRIFT_COMPENSATIONS
from pyims.errors import SpecError

__all__ = ["column_reads", "drift_scale"]


def column_reads(g_pos_s: np.ndarray, g_neg_s: np.ndarray) -> np.ndarray:
    """The calibration read of each output, ``(n_out,)``: ``sum_i (G+_ij + G-_ij)``, siemens (per volt of input)."""
    return np.sum(np.asarray(g_pos_s, dtype=np.float64), axis=0) + np.sum(np.asarray(g_neg_s, dtype=np.float64), axis=0)


def drift_scale(compensation: str, reference: tuple[np.ndarray, np.ndarray],
                now: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    """The factor each output of a crossbar layer is multiplied by, ``(n_out,)`` float64, or ``None`` for "none".

    ``reference`` / ``now``: ``(G+, G-)`` of the layer right after programming and at read time, each
    ``(n_rows, n_out)`` in siemens."""
    if compensation not in DRIFT_COMPENSATIONS:
        raise SpecError(f"device.drift_compensation={compensation!r} is unknown; use one of "
                        f"{', '.join(repr(c) for c in DRIFT_COMPENSATIONS)}")
    if compensation == "none":
        return None
    ref, cur = column_reads(*reference), column_reads(*now)
    if compensation == "global":
        return np.full(ref.shape, float(np.sum(ref)) / float(np.sum(cur)))
    return ref / cur
