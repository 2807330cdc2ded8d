"""Drift compensation: the digital scale that brings a drifted array's outputs back to their programmed size.

Phase-change cells lose conductance as a power of the time since programming, so every output of
an array shrinks. Chips (and aihwkit's ``GlobalDriftCompensation``) correct it with a calibration
read: known inputs are applied right after programming and again at read time, and the ratio of
the two reads scales the outputs digitally, after the ADC. Here the calibration input drives every
row of each physical array (tile ``(p, c)``: row partition ``p``, column partition ``c``; the bias
row where the tile holds it) at ``v_read_v``, and each output's read is the sum of its two columns'
currents, ``I+_j + I-_j`` (always positive, unlike the difference, which can be near zero):

    c_pj(state) = I+_pj + I-_pj        (without wires: sum over the tile's rows of G+_ij + G-_ij, per volt)

* ``"global"``: one factor per array, ``alpha_pc = sum_(j in c) c_pj(reference) / sum_(j in c) c_pj(now)``;
* ``"per_column"``: one factor per output column of every array, ``alpha_pj = c_pj(reference) / c_pj(now)``;
* ``"none"``: no correction.

``reference`` is the array right after programming (programming noise and stuck cells, no drift),
``now`` its mean conductances at ``t_since_program_s`` (the calibration read is averaged: it sees no
read noise). Each factor scales its array's partial sums, after that array's ADC and before the
partial sums of a partitioned layer are combined (``MappedLayer.compensate_parts``).

The read goes through the array's wires, as a chip's does: drift lowers the conductances, so the
IR drop falls too, and a wire-free read would over-correct (a 128-row tile of 64 outputs at 2 ohm
per segment, PCM, one year: the wires take 5.4 % of the all-rows read at t = 0 and 2.7 % after a
year; the wire-free factor is 2.8 % too large, 3.8 % for the worst column). Mapping knows no
wires: ``map_network`` gives the wire-free reads (``tile_reads``), exact where the wires have no
resistance; the solvers replace them with the reads through their wires
(``pyims.inference.drift_calibration``) before any inference. Compensation is a digital step after
each array's ADC, so it needs the tiled topology (``Hardware.fully_analog_problem``).
"""

from __future__ import annotations

import numpy as np

from pyims.devices.base import DRIFT_COMPENSATIONS
from pyims.errors import SpecError
from pyims.spec import LayerSplit

__all__ = ["column_reads", "tile_reads", "drift_scale"]


def column_reads(g_pos_s: np.ndarray, g_neg_s: np.ndarray) -> np.ndarray:
    """The wire-free calibration read of each output, ``(n_out,)``: ``sum_i (G+_ij + G-_ij)``, siemens (per volt)."""
    return np.sum(np.asarray(g_pos_s, dtype=np.float64), axis=0) + np.sum(np.asarray(g_neg_s, dtype=np.float64), axis=0)


def tile_reads(g_pos_s: np.ndarray, g_neg_s: np.ndarray, split: LayerSplit) -> np.ndarray:
    """The wire-free calibration read of every array, ``(n_h, n_out)`` siemens (per volt): row ``p`` holds the
    column reads of row partition ``p``'s arrays."""
    starts, sizes = split.row_starts, split.row_sizes
    return np.stack([column_reads(g_pos_s[s : s + n], g_neg_s[s : s + n]) for s, n in zip(starts, sizes)])


def drift_scale(compensation: str, reference: np.ndarray, now: np.ndarray, split: LayerSplit) -> np.ndarray | None:
    """The factor each array's partial sums are multiplied by, ``(n_h, n_out)`` float64, or ``None`` for "none".

    ``reference`` / ``now``: the calibration reads ``(n_h, n_out)`` (``tile_reads``, or through the wires) right
    after programming and at read time; ``split``: the layer's arrays (an array is row partition ``p`` x column
    partition ``c``)."""
    if compensation not in DRIFT_COMPENSATIONS:
        raise SpecError(f"device.drift_compensation={compensation!r} is unknown; use one of "
                        f"{', '.join(repr(c) for c in DRIFT_COMPENSATIONS)}")
    if compensation == "none":
        return None
    ref, cur = np.asarray(reference, dtype=np.float64), np.asarray(now, dtype=np.float64)
    if ref.shape != cur.shape or ref.shape != (len(split.row_sizes), sum(split.out_sizes)):
        raise SpecError(f"drift_scale: calibration reads of shapes {ref.shape} and {cur.shape}; the layer has "
                        f"({len(split.row_sizes)}, {sum(split.out_sizes)}) (row partitions, outputs)")
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(cur)) and np.all(cur > 0.0)):
        raise SpecError("drift_scale: a calibration read is not finite and positive; the array reads no current")
    if compensation == "per_column":
        return ref / cur
    scale = np.empty_like(ref)
    for s, n in zip(split.out_starts, split.out_sizes):
        block = slice(s, s + n)
        scale[:, block] = (np.sum(ref[:, block], axis=1) / np.sum(cur[:, block], axis=1))[:, None]
    return scale
