"""Network inference through ngspice: the fully-analog circuit, or tile-by-tile co-simulation.

Images are batched into one ``.dc`` sweep per netlist (``batch_size`` images at a time), so
ngspice orders the matrix once and refactors per image. Results are read from the binary raw
file; a failed run keeps its directory and names it in the error.

A layer whose device has read noise is read with every vector through its own copy of its tiles,
each with the conductances of that vector's seeded draw (``pyims.inference.read_noise``: the same
draws as the native solver's, keyed by each image's global index, ``run(..., images=...)``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pyims.errors import SpecError
from pyims.components.registry import neuron_for
from pyims.inference.native import UNSET, bind
from pyims.inference.read_noise import build_noisy_layer_netlist, check_read_noise_network, has_read_noise
from pyims.inference.result import NetworkResult
from pyims.mapping import MappedNetwork
from pyims.model.layers import Layer, forward
from pyims.netlist.network import NetworkNetlist, build_layer_netlist, build_network_netlist
from pyims.runners.session import NgspiceSession
from pyims.spec import WireParasitics
from pyims.spec.simulator import DEFAULT_TIMEOUT_S, DEVICE, TIGHT, SimOptions

__all__ = ["SpiceNetwork", "MAX_AUTO_BATCH", "dc_options", "network_vector_names", "read_network_vectors"]

#: Largest batch chosen automatically: network netlists save every vector (see ``pyims.netlist.network``), so the raw
#: file grows with images x circuit size; 64 images of 400x120x84x10 are ~130 MB.
MAX_AUTO_BATCH = 64


def network_vector_names(nn: NetworkNetlist) -> list[str]:
    """What a fully-analog run is read by: neuron-input voltages, every driver's current, the neuron ammeters' voltages."""
    return ([f"v({n})" for nodes in nn.z_nodes for n in nodes] + [f"i({s})" for s in nn.input_sources]
            + [f"i({s})" for s in nn.bias_sources] + [f"i({a})" for a, _ in nn.neuron_ammeters]
            + [f"v({node})" for _, node in nn.neuron_ammeters])


def read_network_vectors(nn: NetworkNetlist, columns: Callable[[list[str]], np.ndarray], v_in_v: np.ndarray,
                         v_bias_v: float) -> tuple[list[np.ndarray], np.ndarray]:
    """Per layer the pre-activations ``(P, n_out)`` (neuron-input volts / ``v_z``) and the power ``(P,)`` in W
    delivered by every row driver -- inputs at ``v_in_v`` ``(P, n_in)``, bias rows, neurons -- at P points
    (images of a DC sweep, or time points). SPICE reports a source's current into its + terminal."""
    pre = [columns([f"v({n})" for n in nodes]) / v_z for nodes, v_z in zip(nn.z_nodes, nn.v_z)]
    power = -np.einsum("ij,ij->i", columns([f"i({s})" for s in nn.input_sources]), v_in_v)
    power -= columns([f"i({s})" for s in nn.bias_sources]).sum(axis=1) * v_bias_v
    if nn.neuron_ammeters:
        i_a = columns([f"i({a})" for a, _ in nn.neuron_ammeters])
        v_a = columns([f"v({node})" for _, node in nn.neuron_ammeters])
        power += np.einsum("ij,ij->i", i_a, v_a)
    return pre, power


def dc_options(net: MappedNetwork) -> SimOptions:
    """The solver settings a DC network run needs: ``DEVICE`` with transistor-level neurons between layers, else ``TIGHT``."""
    return DEVICE if net.neuron is not None and neuron_for(net.neuron).transistor_level and len(net.layers) > 1 else TIGHT


class SpiceNetwork:
    """ngspice inference of ``net`` on its hardware: the circuit its topology builds (one fully-analog
    circuit, or layer by layer with every tile alone), its wires, its ADC (the converters' SPICE form).
    ``wires`` / ``mode`` / ``adc`` are the earlier keywords (``docs/migration.md``).

    Args:
        executable, timeout_s, run_root, keep_run_dir, klu: as for ``NgspiceRunner``.
        batch_size: images per ngspice run (``None``: split evenly over ``workers``, at most
            ``MAX_AUTO_BATCH`` per run, which bounds the raw file: ~2 MB per image at 400x120x84x10).
        options: solver settings (default ``dc_options(net)``: tight tolerances, looser with
            transistor-level neurons); a ``SimOptions``, or raw ``.options`` words replacing them.
        workers: ngspice processes run side by side on separate batches (threads only wait on
            them; each process has its own memory, so this scales with cores).
    """

    def __init__(
        self,
        net: MappedNetwork,
        wires: WireParasitics | None = None,
        *,
        mode: str | None = None,
        executable: str | os.PathLike[str] | None = None,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        run_root: str | os.PathLike[str] | None = None,
        keep_run_dir: bool = False,
        klu: bool | None = None,
        batch_size: int | None = None,
        options: SimOptions | tuple[str, ...] | None = None,
        workers: int = 1,
        adc=UNSET,
    ) -> None:
        net = bind(net, wires, mode, adc)
        adc = net.adc
        if adc is not None and not adc.calibrated:
            raise SpecError("SpiceNetwork needs a calibrated ADC (fixed full_scale_norm); calibrate it natively first: "
                            "NativeNetwork(..., adc=adc).calibrate_adc(u)")
        self.adc = adc
        check_read_noise_network(net)
        if batch_size is not None and batch_size < 1:
            raise SpecError(f"batch_size={batch_size!r} must be >= 1")
        if not isinstance(workers, int) or workers < 1:
            raise SpecError(f"workers={workers!r} must be an integer >= 1")
        if options is None:
            options = dc_options(net)
        elif not isinstance(options, SimOptions):
            options = SimOptions(extra=tuple(options))
        options = options.overridden(timeout_s=timeout_s, klu=klu)
        self.net = net
        self.session = NgspiceSession(options, executable=executable, run_root=run_root, keep_run_dir=keep_run_dir)
        self.info = self.session.info
        self.batch_size = batch_size
        self.workers = workers

    @property
    def wires(self) -> WireParasitics:
        return self.net.wires

    @property
    def mode(self) -> str:
        """The topology's name ("analog" | "tiled")."""
        return self.net.topology.name

    def run_whole_network(self, u: np.ndarray, kept: list[str]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """The fully-analog circuit of images ``u`` (what ``FullyAnalog.spice_run`` asks for)."""
        nn = build_network_netlist(self.net, u)
        out = self.session.run(nn.netlist, expect=network_vector_names(nn), n_points=nn.n_images, prefix="net-analog-")
        if out.rundir is not None:
            kept.append(str(out.rundir))
        read, power = read_network_vectors(nn, out.columns, u * self.net.v_read_v, self.net.periphery.v_bias_v)
        # SPICE result reading is the forward routine with the measured pre-activations
        trace = forward(self.net.sequence, u, lambda k, layer, a: read[k], keep_inputs=False)
        return trace.pre, power, trace.output.reshape(u.shape[0], -1)  # type: ignore[union-attr]

    def run_layer_by_layer(self, u: np.ndarray, kept: list[str],
                           images: np.ndarray | None = None) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Every layer's tiles alone, partial sums combined in Python (what ``Tiled.spice_run`` asks for). ``images``:
        the global indices of ``u``'s images, which key the draws of a layer with read noise (default 0, 1, ...)."""
        net = self.net
        power = np.zeros(u.shape[0])
        images = np.arange(u.shape[0]) if images is None else np.asarray(images, dtype=np.int64)

        def evaluate(l: int, layer: Layer, a: np.ndarray) -> np.ndarray:
            if layer.read_noise:  # type: ignore[attr-defined]
                return self._noisy_layer(l, layer, a, images, power, kept)  # type: ignore[arg-type]
            ln = build_layer_netlist(net, l, a)
            sense_names = {key: [f"i({s})" for s in srcs] for key, srcs in ln.sense_sources.items()}
            adc_names = {key: [f"v({n})" for n in nodes] for key, nodes in (ln.adc_nodes or {}).items()}
            input_names = [f"i({s})" for s in ln.input_sources]
            out = self.session.run(ln.netlist, expect=input_names + [n for v in sense_names.values() for n in v]
                                   + [n for v in adc_names.values() for n in v],
                                   n_points=ln.n_images, prefix=f"net-tiled-l{l + 1}-")
            if out.rundir is not None:
                kept.append(str(out.rundir))
            v_rows = net.augment(a) * net.v_read_v
            # a convolution reads its tiles once per output position: an image's power is the sum
            power[:] -= np.einsum("ij,ij->i", out.columns(input_names), v_rows).reshape(u.shape[0], -1).sum(axis=1)
            scale = layer.w_max / (layer.dg_s * net.v_read_v)  # type: ignore[attr-defined]
            parts = [np.zeros((a.shape[0], layer.n_out)) for _ in range(layer.n_h)]  # type: ignore[attr-defined]
            for c in range(layer.n_v):  # type: ignore[attr-defined]
                outs = layer.outs_of(c)  # type: ignore[attr-defined]
                for p in range(layer.n_h):  # type: ignore[attr-defined]
                    if adc_names:  # the converters' outputs, back in pre-activation units
                        parts[p][:, outs] = out.columns(adc_names[(p, c)]) / ln.v_z
                        continue
                    i_col = out.columns(sense_names[(p, c)])
                    parts[p][:, outs] = (i_col[:, 0::2] - i_col[:, 1::2]) * scale
            # Python's combination: each array's drift compensation, then currents summed at one virtual ground, or
            # the partitions' outputs (each with gain h) averaged; equal for ideal arithmetic. Then the digital steps.
            return net.digital_out(l, net.combine(l, parts))

        trace = forward(net.sequence, u, evaluate, keep_inputs=False)
        return trace.pre, power, trace.output.reshape(u.shape[0], -1)  # type: ignore[union-attr]

    def _noisy_layer(self, l: int, layer, a: np.ndarray, images: np.ndarray, power: np.ndarray,
                     kept: list[str]) -> np.ndarray:
        """Layer ``l`` with read noise: every vector through its own tiles, each with its seeded draw
        (``build_noisy_layer_netlist``); adds the rows' power per image to ``power``; returns the outputs."""
        net = self.net
        nl = build_noisy_layer_netlist(net, l, a, images)
        n_vec, n_cols = nl.n_vectors, [2 * layer.split.out_sizes[c] for c in range(layer.n_v)]
        inputs = [f"i({s})" for srcs in nl.input_sources for s in srcs]
        senses = [f"i({s})" for key in sorted(nl.sense_sources) for s in nl.sense_sources[key]]
        out = self.session.run(nl.netlist, expect=inputs + senses, n_points=1, prefix=f"net-noisy-l{l + 1}-")
        if out.rundir is not None:
            kept.append(str(out.rundir))
        v_rows = net.augment(a) * net.v_read_v
        i_in = out.columns(inputs)[0].reshape(n_vec, layer.n_rows)
        power[:] -= np.einsum("ij,ij->i", i_in, v_rows).reshape(images.size, -1).sum(axis=1)
        currents = dict(zip(sorted(nl.sense_sources), np.split(out.columns(senses)[0], np.cumsum(
            [n_cols[c] for (_, _, c) in sorted(nl.sense_sources)])[:-1])))
        scale = layer.w_max / (layer.dg_s * net.v_read_v)
        parts = [np.zeros((n_vec, layer.n_out)) for _ in range(layer.n_h)]  # each horizontal partition's partial sums
        for c in range(layer.n_v):
            for p in range(layer.n_h):
                i_col = np.stack([currents[(q, p, c)] for q in range(n_vec)])
                parts[p][:, layer.outs_of(c)] = (i_col[:, 0::2] - i_col[:, 1::2]) * scale
        # the read-out as the native solver's: each partial sum converted by its tile's ADC (the converter's function,
        # applied to the currents ngspice computed; its behavioural netlist form is held to it in tests/test_adc_*),
        # combined, then the digital steps (drift compensation, correction)
        return net.topology.read_out(net, self.adc, l, parts)

    def run(self, u: np.ndarray, progress: Callable[[int], None] | None = None, *,
            images: np.ndarray | None = None) -> NetworkResult:
        """Inference on hardware inputs ``u`` ``(N, n_in)`` (units of ``v_read_v``). ``images``: the global indices of
        ``u``'s images in their test set, ``(N,)`` (default 0 .. N-1): a device's read-noise draws are keyed by them,
        so a sample of images reads in ngspice as it read natively (``verify_against_ngspice`` passes its index)."""
        t0 = time.perf_counter()
        u = self.net.check_inputs(u)
        if images is None:
            index = np.arange(u.shape[0])
        else:
            index = np.asarray(images)
            if index.shape != (u.shape[0],) or not np.issubdtype(index.dtype, np.integer) or (index < 0).any():
                raise SpecError(f"images has shape {index.shape} (dtype {index.dtype}); pass one global index >= 0 per "
                                f"image: an integer array of shape ({u.shape[0]},)")
        noisy = has_read_noise(self.net)
        step = self.batch_size or min(MAX_AUTO_BATCH, -(-u.shape[0] // self.workers))
        chunks = [(u[start : start + step], index[start : start + step]) for start in range(0, u.shape[0], step)]
        def one(job: tuple[np.ndarray, np.ndarray]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, list[str]]:
            chunk, idx = job
            kept: list[str] = []
            if noisy:  # read noise implies the tiled topology; its draws need the images' global indices
                pre, power, output = self.run_layer_by_layer(chunk, kept, images=idx)
            else:
                pre, power, output = self.net.topology.spice_run(self, chunk, kept)
            if progress is not None:
                progress(chunk.shape[0])
            return pre, power, output, kept

        if self.workers == 1 or len(chunks) == 1:
            outs = [one(c) for c in chunks]
        else:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                outs = list(pool.map(one, chunks))
        kept = [d for o in outs for d in o[3]]
        n_layers = len(self.net.layers)
        return NetworkResult(
            pre_norm=tuple(np.concatenate([o[0][l] for o in outs]) for l in range(n_layers)),
            power_w=np.concatenate([o[1] for o in outs]),
            output=np.concatenate([o[2] for o in outs]),
            backend="ngspice",
            mode=self.mode,
            wall_time_s=time.perf_counter() - t0,
            ngspice_version=self.info.version,
            run_dirs=tuple(kept),
            adc=self.adc,
        )
