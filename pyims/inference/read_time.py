"""Outputs at a read time under wire capacitance, for whole test sets: the native read as a strategy of ``forward``.

A ``ReadAt`` analysis reads a mapped network at a time after its inputs start to rise. Every crossbar
layer is a linear time-invariant system with BDF2 step-response kernels (``pyims.runners.lti``); the
network is walked by the one forward routine (``pyims.model.layers.forward``) with an evaluation
strategy that applies them, depending on the topology:

* ``FullyAnalog`` (the network is one circuit in time): every step between crossbar layers sees
  *waveforms*, time folded into the batch axis (``(N * (K+1), n)``: image-major, the grid's samples
  of one image together), so neurons and other element-wise layers run on them unchanged. The first
  layer's inputs all follow one ramp: its outputs are ``u @ P[k]`` with ``P`` the ramp convolved
  with the kernel once (a product per image, no convolution); later layers convolve their input
  waveforms with their kernels (FFT).
* ``Tiled`` (every tile alone): each layer's inputs step at t = 0 (after the previous layer's read)
  and its tiles are read at the read time -- a static map per layer, one forward per read time.

Each layer's outputs go through the topology's readout (``Topology.read_out``): partial results
converted where the ADC sits -- every sample of the waveform -- then combined by the periphery's
combiner. So ``ReadTimeResult.output_t`` and the outputs at every reported read time are what the
converter delivers. Settling times are computed when asked for (``run(u, settling=True)``) from the
layers' DC maps, which the kernels carry (no DC network is built).

``ngspice_read_time`` runs the same read as fully-analog ngspice network transients, the ADC as its
SPICE converters; ``pyims.inference.verify`` holds the two against each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyims.errors import SpecError
from pyims.mapping import MappedNetwork
from pyims.inference.drift_calibration import with_wired_drift_factors
from pyims.model.layers import Layer, forward
from pyims.progress import BAR_DELAY_S, progress_bar
from pyims.runners.lti import StepKernels, causal_conv, conv_scalar, kernel_work, layer_blocks, step_kernels
from pyims.spec.analysis import ReadAt
from pyims.spec.simulator import NativeOptions

__all__ = ["ReadTimeResult", "NativeReadTime", "ngspice_read_time", "READ_TIME_TOLERANCE_REL"]

#: Native (BDF2 on a fixed grid) vs ngspice (Gear, adaptive steps <= h) at the read time, relative to the
#: largest output: what the tests hold them to (measured ~1e-5 at 100+ steps per time constant).
READ_TIME_TOLERANCE_REL = 2e-3


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ReadTimeResult:
    """What a read time returns for ``N`` images (outputs in pre-activation units, converted where the ADC sits).

    Attributes:
        t_s: float64 ``(K+1,)`` seconds, the grid (0 .. t_delay + t_read).
        read_times_s: every reported read time, ascending (``ReadAt.all_read_times_s``).
        read_outputs: float64 ``(R, N, n_out)``: the network's outputs at each of ``read_times_s``.
        logits: float64 ``(N, n_out)``: the outputs at ``t_read_s`` (the last of ``read_outputs``).
        output_t: float64 ``(N, K+1, n_out)``: the outputs over the whole grid (fully-analog; every sample
            converted by the ADC when there is one), or ``None`` (tiled: each layer is read once).
        adc_input_t: float64 ``(N, K+1, n_out)``: with an ADC on the fully-analog outputs, what it converts
            (the last layer's analog outputs over the grid); else ``None``.
        pre_norm: per crossbar layer ``(N, n_out_l)`` at ``t_read_s``.
        settling_s: float64 ``(N,)``: when every output of an image has come within ``band_ratio`` of its DC
            value for good, after the inputs start (``inf``: not by the read time); ``None`` unless asked for.
        energy_j: float64 ``(N,)``: energy the row drivers deliver from t = 0 to the read time, or ``None``.
        wall_time_s, build_time_s: timings, seconds.
        adc: the converter that ran (ranges calibrated), or ``None``.
    """

    t_s: np.ndarray
    read_times_s: tuple[float, ...]
    read_outputs: np.ndarray
    logits: np.ndarray
    output_t: np.ndarray | None
    adc_input_t: np.ndarray | None
    pre_norm: tuple[np.ndarray, ...]
    settling_s: np.ndarray | None
    energy_j: np.ndarray | None
    wall_time_s: float
    build_time_s: float
    adc: Any = None

    def at(self, t_read_s: float) -> np.ndarray:
        """The outputs ``(N, n_out)`` at one of the reported read times (``read_times_s``)."""
        times = np.asarray(self.read_times_s)
        hit = np.flatnonzero(np.abs(times - t_read_s) <= 1e-9 * max(abs(t_read_s), float(times.max())))
        if not hit.size:
            raise SpecError(f"read time {t_read_s!r} s was not reported; this result has {list(self.read_times_s)} "
                            "(add it to ReadAt(read_times_s=...))")
        return self.read_outputs[int(hit[0])]


class NativeReadTime:
    """A mapped network's outputs at a read time under its wires' R and C, natively (module docstring).

    ``analysis``: the ``ReadAt`` (grid, ramp, read times, settling band). ``options``: ``NativeOptions``;
    ``energy=True`` also builds the source-current kernels for the drivers' energy (fully-analog only).
    Settling times come from the kernels' own DC maps (no DC network is built). The network's ADC, if any, must be
    calibrated (``pyims.inference.simulate.calibrated``). Building costs ``K`` sparse solves per layer with
    ``min(m, n)`` right-hand sides (minutes for a LeNet's 400x120 layer on 128x128-cell tiles, several times more
    without CHOLMOD; a progress bar with the time left moves at every step); ``run`` is dense products and FFTs.
    """

    #: images per chunk of the per-image products (bounds memory at ~K x n x 8 B per image and layer)
    CHUNK = 256

    def __init__(self, net: MappedNetwork, analysis: ReadAt, *, options: NativeOptions | None = None) -> None:
        if not isinstance(net, MappedNetwork):
            raise SpecError(f"net is a {type(net).__name__}; pass a MappedNetwork (pyims.mapping.map_network)")
        if not isinstance(analysis, ReadAt):
            raise SpecError(f"analysis is a {type(analysis).__name__}; pass a pyims.ReadAt(t_read_s)")
        opts = options if options is not None else NativeOptions()
        if not isinstance(opts, NativeOptions):
            raise SpecError(f"options is a {type(opts).__name__}; pass a pyims.NativeOptions")
        net = with_wired_drift_factors(net)  # drift compensation: the calibration reads through the network's wires
        topo = net.topology
        if any(layer.read_noise for layer in net.layers):
            raise SpecError("a read time under read noise is not simulated yet: every input vector would need its own "
                            "transient kernels; read the settled outputs (pyims.Dc()) with read noise, or the read time "
                            "without it (e.g. pyims.devices.PCM(read_noise_scale_ratio=0.0))")
        if opts.energy and not topo.one_circuit_in_time:
            raise SpecError(f"energy from a read time is computed for a network that is one circuit in time "
                            f"(pyims.FullyAnalog()); the {topo.name} topology reads each layer alone: "
                            "use NativeOptions(energy=False)")
        if net.adc is not None and not net.adc.calibrated:
            raise SpecError("NativeReadTime needs a calibrated ADC (fixed full_scale_norm); calibrate it at DC first: "
                            "net = pyims.inference.simulate.calibrated(net, u)")
        self.net, self.analysis, self.options, self.energy = net, analysis, opts, opts.energy
        t0 = time.perf_counter()
        h, k_max = analysis.step_s, analysis.n_steps
        self.kernels: list[StepKernels] = []
        # every layer's blocks first (cheap: ~0.3 s for the LeNet's 190k-unknown layer), so the bar's total weighs each
        # layer's solves by their size and its time left holds across layers; it moves at every step of the recursion
        blocks: list[list | None] = [layer_blocks(net, l) for l in range(len(net.layers))]
        total = sum(kernel_work(b, k_max, energy=self.energy) for b in blocks)
        with progress_bar(total, f"read time: step kernels ({k_max + 1} steps, {len(net.layers)} layers)",
                          delay_s=BAR_DELAY_S) as bar:
            for l, layer in enumerate(net.layers):
                bar.set_postfix_str(f"layer {l + 1}/{len(net.layers)}")
                n_z = topo.partial_outputs(layer) * layer.n_out
                self.kernels.append(step_kernels(blocks[l], layer.n_rows, n_z, h, k_max, energy=self.energy,
                                                 progress=bar.update))
                blocks[l] = None  # its matrices are no longer needed
        # inputs that all follow the ramp: z[k] = V0 @ z_dc + v_in @ P[k], P[k] = sum_j dramp[j] S[k - j]
        d_ramp = np.diff(analysis.ramp(), prepend=0.0)
        self.ramped = [conv_scalar(d_ramp, kern.z_step) for kern in self.kernels]
        self.build_time_s = time.perf_counter() - t0

    @property
    def t_s(self) -> np.ndarray:
        return self.analysis.t_grid_s

    # ------------------------------------------------------------ helpers of the strategies
    def _bias_v(self, layer: Layer) -> np.ndarray:
        """Row voltages with only the bias row on (it is at DC from t = 0)."""
        v = np.zeros(layer.n_rows)  # type: ignore[attr-defined]
        v[-1] = self.net.periphery.v_bias_v
        return v

    def _parts(self, layer: Layer, z: np.ndarray) -> list[np.ndarray]:
        """A layer's kernel outputs ``(..., n_parts * n_out)`` as the topology's partial results, ``(..., n_out)`` each."""
        n_parts = self.net.topology.partial_outputs(layer)
        if n_parts == 1:
            return [z]
        n_out = layer.n_out  # type: ignore[attr-defined]
        return [z[..., p * n_out : (p + 1) * n_out] for p in range(n_parts)]

    def _energy(self, k: int, v_t: np.ndarray) -> np.ndarray:
        """Energy the rows deliver over the grid: ``sum_k w_k h V[k] . i[k]`` (trapezoid), ``v_t (N, K+1, m)``."""
        kern = self.kernels[k]
        dv = np.diff(v_t, axis=1, prepend=v_t[:, :1] * 0.0)
        dv[:, 0] = 0.0
        i_t = v_t[:, :1] @ kern.i_dc + causal_conv(dv, kern.i_step)
        p = np.einsum("nkm,nkm->nk", v_t, i_t)
        return np.sum(0.5 * (p[:, 1:] + p[:, :-1]), axis=1) * self.analysis.step_s

    def waveform_evaluate(self, n_images: int, *, energy: np.ndarray | None = None,
                          adc_input: list[np.ndarray] | None = None) -> Callable[[int, Layer, np.ndarray], np.ndarray]:
        """The fully-analog strategy for ``forward`` on ``n_images`` images: crossbar layer ``k`` returns its outputs
        over the grid, time folded into the batch axis (``(n_images * (K+1), n_out)``), read out (converted where the
        ADC sits) at every sample. The first layer gets the images' input values ``(n_images, n_in)`` (they follow the
        ramp); later ones waveforms. ``energy`` ``(n_images,)`` accumulates the drivers' energy when given;
        ``adc_input`` receives the last layer's outputs before the readout ``(n_images, K+1, n_out)``."""
        net, analysis = self.net, self.analysis
        n_t = analysis.n_steps + 1
        topo, adc, last = net.topology, net.adc, len(net.layers) - 1
        v_bias = net.periphery.v_bias_v

        def evaluate(k: int, layer: Layer, rows: np.ndarray) -> np.ndarray:
            kern = self.kernels[k]
            v_t = None
            if k == 0:
                if rows.shape[0] != n_images:
                    raise SpecError(f"a fully-analog read time needs one input vector per image at the first crossbar layer "
                                    f"({layer.describe()} reads {rows.shape[0]} for {n_images} images); use pyims.Tiled()")
                v_in = rows * net.v_read_v
                z_t = (self._bias_v(layer) @ kern.z_dc)[None, None, :] + np.tensordot(v_in, self.ramped[0][:, :-1, :],
                                                                                       axes=([1], [1]))
                if energy is not None:
                    v_t = np.concatenate([v_in[:, None, :] * analysis.ramp()[None, :, None],
                                          np.broadcast_to(v_bias, (n_images, n_t, 1))], axis=2)
            else:
                a_t = rows.reshape(n_images, n_t, -1)
                v_t = np.concatenate([a_t * net.v_read_v, np.broadcast_to(v_bias, a_t.shape[:2] + (1,))], axis=2)
                dv = np.diff(v_t, axis=1, prepend=v_t[:, :1])
                z_t = (v_t[:, :1] @ kern.z_dc) + causal_conv(dv, kern.z_step)
            if energy is not None:
                energy[:] += self._energy(k, v_t)  # type: ignore[arg-type]
            if k == last and adc_input is not None:
                adc_input.append(z_t)
            out = topo.read_out(net, adc, k, self._parts(layer, z_t))
            return out.reshape(n_images * n_t, -1)

        return evaluate

    def read_evaluate(self, t_read_s: float) -> Callable[[int, Layer, np.ndarray], np.ndarray]:
        """The tiled strategy for ``forward``: crossbar layer ``k``'s tiles read ``t_read_s`` after their inputs step
        (the bias row on from t = 0), partial results read out (converted, combined) by the topology."""
        net, j = self.net, self.analysis.index_of(t_read_s)
        topo, adc = net.topology, net.adc

        def evaluate(k: int, layer: Layer, rows: np.ndarray) -> np.ndarray:
            kern = self.kernels[k]
            z = (self._bias_v(layer) @ kern.z_dc)[None, :] + (rows * net.v_read_v) @ self.ramped[k][j, :-1, :]
            return topo.read_out(net, adc, k, self._parts(layer, z))

        return evaluate

    def settled_evaluate(self, k: int, layer: Layer, rows: np.ndarray) -> np.ndarray:
        """The settled (DC) outputs from the kernels' DC maps, before any converter (for settling times)."""
        z = (self.net.augment(rows) * self.net.v_read_v) @ self.kernels[k].z_dc
        return sum(self._parts(layer, z))  # type: ignore[return-value]

    # ------------------------------------------------------------ running
    def run(self, u: np.ndarray, *, settling: bool = False, energy: bool | None = None) -> ReadTimeResult:
        """Outputs at the read times for hardware inputs ``u`` ``(N, *input_shape)`` (units of ``v_read_v``).

        ``settling=True``: also each image's settling time (fully-analog). ``energy``: the drivers' energy
        (default: as built, ``options.energy``; ``False`` skips it)."""
        t0 = time.perf_counter()
        want_energy = self.energy if energy is None else energy
        if want_energy and not self.energy:
            raise SpecError("energy needs NativeReadTime(..., options=NativeOptions(energy=True)) (its source-current kernels)")
        net, topo = self.net, self.net.topology
        if settling and not topo.one_circuit_in_time:
            raise SpecError(f"settling times follow the outputs' waveforms of a network that is one circuit in time "
                            f"(pyims.FullyAnalog()); the {topo.name} topology reads each layer once: run(u, settling=False)")
        a_all = net.check_inputs(u)
        chunks = []
        # images in blocks: a bar with the time left once the blocks take a while (one block: nothing to report)
        with progress_bar(a_all.shape[0], "read time: images", enabled=None if a_all.shape[0] > self.CHUNK else False,
                          delay_s=BAR_DELAY_S, unit="image") as bar:
            for s in range(0, a_all.shape[0], self.CHUNK):
                a = a_all[s : s + self.CHUNK]
                chunks.append(self._analog(a, want_energy, settling) if topo.one_circuit_in_time else self._tiled(a))
                bar.update(a.shape[0])

        def cat(key: str, axis: int = 0) -> np.ndarray | None:
            parts = [c[key] for c in chunks]
            return None if parts[0] is None else np.concatenate(parts, axis=axis)

        read_outputs = cat("read", axis=1)
        return ReadTimeResult(
            t_s=self.t_s, read_times_s=self.analysis.all_read_times_s, read_outputs=read_outputs,
            logits=read_outputs[-1], output_t=cat("output_t"), adc_input_t=cat("adc_input_t"),
            pre_norm=tuple(np.concatenate([c["pre"][l] for c in chunks]) for l in range(len(net.layers))),
            settling_s=cat("settling"), energy_j=cat("energy") if want_energy else None,
            wall_time_s=time.perf_counter() - t0, build_time_s=self.build_time_s, adc=net.adc,
        )

    def _analog(self, a: np.ndarray, want_energy: bool, settling: bool) -> dict:
        net, analysis = self.net, self.analysis
        n, n_t = a.shape[0], analysis.n_steps + 1
        energy = np.zeros(n) if want_energy else None
        adc_input: list[np.ndarray] = []
        trace = forward(net.sequence, a, self.waveform_evaluate(n, energy=energy, adc_input=adc_input), keep_inputs=False)
        output_t = trace.output.reshape(n, n_t, -1)  # type: ignore[union-attr]
        idx = [analysis.index_of(t) for t in analysis.all_read_times_s]
        raw = adc_input[0] if adc_input else None
        return {
            "read": output_t[:, idx].transpose(1, 0, 2), "output_t": output_t,
            "adc_input_t": raw if net.adc is not None else None,
            "pre": [p.reshape(n, n_t, -1)[:, -1] for p in trace.pre],
            "settling": self._settling(a, raw if raw is not None else output_t) if settling else None,
            "energy": energy,
        }

    def _tiled(self, a: np.ndarray) -> dict:
        net = self.net
        reads, pre = [], []
        for t in self.analysis.all_read_times_s:  # ascending: t_read_s is the last
            trace = forward(net.sequence, a, self.read_evaluate(t), keep_inputs=False)
            reads.append(trace.output.reshape(a.shape[0], -1))  # type: ignore[union-attr]
            pre = trace.pre
        return {"read": np.stack(reads), "output_t": None, "adc_input_t": None, "pre": pre, "settling": None,
                "energy": None}

    def _settling(self, u: np.ndarray, z_t: np.ndarray) -> np.ndarray:
        """Per image: the time after the inputs start from which every output stays within ``band_ratio`` of
        the image's largest output swing around its DC value (``inf``: not by the read time); ``z_t`` the last
        layer's analog outputs ``(N, K+1, n_out)``."""
        final = forward(self.net.sequence, u, self.settled_evaluate, keep_inputs=False, keep_pre=False).output
        final = final.reshape(u.shape[0], -1)  # type: ignore[union-attr]
        swing = np.max(np.abs(final - z_t[:, 0]), axis=1)  # (N,)
        band = self.analysis.band_ratio * np.maximum(swing, np.finfo(float).tiny)
        outside = (np.abs(z_t - final[:, None, :]) > band[:, None, None]).any(axis=2)  # (N, K+1)
        k_idx = np.arange(z_t.shape[1])
        last = np.where(outside, k_idx[None, :], -1).max(axis=1)  # last grid index outside the band
        t = self.t_s
        settled = np.where(last + 1 < t.size, t[np.clip(last + 1, 0, t.size - 1)] - self.analysis.t_delay_s, np.inf)
        return np.maximum(settled, 0.0)


def ngspice_read_time(net: MappedNetwork, analysis: ReadAt, u: np.ndarray, *, timeout_s: float | None = 3600.0,
                      run_root=None, keep_run_dir: bool = False, workers: int = 1,
                      progress: Callable[[int], None] | None = None) -> ReadTimeResult:
    """The same read time in ngspice: one fully-analog network transient per image (Gear, steps <= the grid's),
    the ADC as its SPICE converters (``circuits/adc.sub``) on the last layer's outputs; read on the grid, energy
    from the drivers' power over the window. ``workers`` ngspice processes run images side by side;
    ``progress(1)`` is called per image."""
    from pyims.inference.transient import network_transient
    from pyims.spec import Stimulus, TransientSpec

    if not isinstance(analysis, ReadAt):
        raise SpecError(f"analysis is a {type(analysis).__name__}; pass a pyims.ReadAt(t_read_s)")
    if not net.topology.one_circuit_in_time:
        raise SpecError(f"ngspice reads a read time from the fully-analog network transient; the {net.topology.name} "
                        "topology is read natively only (pyims.FullyAnalog(), or the native backend)")
    if net.adc is not None and not net.adc.calibrated:
        raise SpecError("ngspice_read_time needs a calibrated ADC (fixed full_scale_norm); calibrate it at DC first: "
                        "net = pyims.inference.simulate.calibrated(net, u)")
    if not isinstance(workers, int) or workers < 1:
        raise SpecError(f"workers={workers!r} must be an integer >= 1")
    t0 = time.perf_counter()
    a = net.check_inputs(u)
    grid = TransientSpec(t_stop_s=analysis.t_delay_s + analysis.t_read_s, t_step_s=analysis.step_s)

    def one(row: np.ndarray):
        stim = Stimulus.step(row * net.v_read_v, t_rise_s=analysis.rise_s, t_delay_s=analysis.t_delay_s)
        res = network_transient(net, stim, grid, timeout_s=timeout_s, run_root=run_root, keep_run_dir=keep_run_dir)
        if progress is not None:
            progress(1)
        return res

    if workers == 1 or a.shape[0] == 1:
        runs = [one(row) for row in a]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            runs = list(pool.map(one, a))
    output_t = np.stack([r.pre_norm[-1] for r in runs])
    idx = [analysis.index_of(t) for t in analysis.all_read_times_s]
    read_outputs = output_t[:, idx].transpose(1, 0, 2)
    return ReadTimeResult(
        t_s=analysis.t_grid_s, read_times_s=analysis.all_read_times_s, read_outputs=read_outputs, logits=read_outputs[-1],
        output_t=output_t, adc_input_t=np.stack([r.adc_input_norm for r in runs]) if net.adc is not None else None,
        pre_norm=tuple(np.stack([r.pre_norm[l][-1] for r in runs]) for l in range(len(net.layers))),
        settling_s=None, energy_j=np.array([r.energy_j() for r in runs]), wall_time_s=time.perf_counter() - t0,
        build_time_s=0.0, adc=net.adc,
    )
