"""Network inference through ngspice: the fully-analog circuit, or tile-by-tile co-simulation.

Images are batched into one ``.dc`` sweep per netlist (``batch_size`` images at a time), so
ngspice orders the matrix once and refactors per image. Results are read from the binary raw
file; a failed run keeps its directory and names it in the error.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from pyims.errors import RawFileError, SimulationError, SpecError
from pyims.inference.result import NetworkResult, check_mode
from pyims.mapping import MappedNetwork
from pyims.netlist import format_netlist
from pyims.netlist.network import build_layer_netlist, build_network_netlist, network_options
from pyims.runners.base import make_run_dir
from pyims.runners.ngspice import run_ngspice_netlist
from pyims.runners.ngspice_env import find_ngspice
from pyims.runners.rawfile import RawPlot
from pyims.spec import WireParasitics

__all__ = ["SpiceNetwork", "MAX_AUTO_BATCH"]

#: Largest batch chosen automatically: network netlists save every vector (see ``pyims.netlist.network``), so the raw
#: file grows with images x circuit size; 64 images of 400x120x84x10 are ~130 MB.
MAX_AUTO_BATCH = 64


class SpiceNetwork:
    """ngspice inference of ``net`` with ``wires`` in ``mode`` ("analog" | "tiled").

    Args:
        executable, timeout_s, run_root, keep_run_dir, klu: as for ``NgspiceRunner``.
        batch_size: images per ngspice run (``None``: split evenly over ``workers``, at most
            ``MAX_AUTO_BATCH`` per run, which bounds the raw file: ~2 MB per image at 400x120x84x10).
        options: extra ``.options`` (default ``network_options(net)``: tight tolerances, looser
            with transistor-level neurons).
        workers: ngspice processes run side by side on separate batches (threads only wait on
            them; each process has its own memory, so this scales with cores).
    """

    def __init__(
        self,
        net: MappedNetwork,
        wires: WireParasitics,
        *,
        mode: str = "analog",
        executable: str | os.PathLike[str] | None = None,
        timeout_s: float | None = 3600.0,
        run_root: str | os.PathLike[str] | None = None,
        keep_run_dir: bool = False,
        klu: bool | None = None,
        batch_size: int | None = None,
        options: tuple[str, ...] | None = None,
        workers: int = 1,
    ) -> None:
        check_mode(net, mode)
        if batch_size is not None and batch_size < 1:
            raise SpecError(f"batch_size={batch_size!r} must be >= 1")
        self.net, self.wires, self.mode = net, wires, mode
        self.info = find_ngspice(executable)
        self.timeout_s = timeout_s
        self.run_root = Path(run_root) if run_root is not None else None
        self.keep_run_dir = keep_run_dir
        self.klu = self.info.klu if klu is None else bool(klu)
        self.batch_size = batch_size
        self.options = network_options(net) if options is None else tuple(options)
        if not isinstance(workers, int) or workers < 1:
            raise SpecError(f"workers={workers!r} must be an integer >= 1")
        self.workers = workers

    def _run(self, text: str, prefix: str, n_points: int, kept: list[str]) -> tuple[RawPlot, Path]:
        rundir = make_run_dir(self.run_root, prefix)
        plots = run_ngspice_netlist(text, rundir, info=self.info, timeout_s=self.timeout_s)
        plot = plots[-1]
        if plot.data.shape[0] != n_points:
            raise SimulationError(
                f"ngspice returned {plot.data.shape[0]} points, expected {n_points} (one per image)", rundir=rundir
            )
        if self.keep_run_dir:
            kept.append(str(rundir))
        return plot, rundir

    def _done(self, rundir: Path) -> None:
        if not self.keep_run_dir:
            shutil.rmtree(rundir, ignore_errors=True)

    @staticmethod
    def _columns(plot: RawPlot, names: list[str], rundir: Path) -> np.ndarray:
        try:
            return plot.columns(names)
        except RawFileError as exc:
            raise SimulationError(f"ngspice output is incomplete ({exc})", rundir=rundir) from exc

    def _analog(self, u: np.ndarray, kept: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
        nn = build_network_netlist(self.net, self.wires, u, klu=self.klu, options=self.options)
        plot, rundir = self._run(format_netlist(nn.netlist), "net-analog-", nn.n_images, kept)
        col = lambda names: self._columns(plot, names, rundir)  # noqa: E731
        pre = [col([f"v({n})" for n in nodes]) / v_z for nodes, v_z in zip(nn.z_nodes, nn.v_z)]
        v_in = u * self.net.v_read_v
        power = -np.einsum("ij,ij->i", col([f"i({s})" for s in nn.input_sources]), v_in)
        power -= col([f"i({s})" for s in nn.bias_sources]).sum(axis=1) * self.net.periphery.v_bias_v
        if nn.neuron_ammeters:
            i_a = col([f"i({a})" for a, _ in nn.neuron_ammeters])
            v_a = col([f"v({node})" for _, node in nn.neuron_ammeters])
            power += np.einsum("ij,ij->i", i_a, v_a)
        self._done(rundir)
        return pre, power

    def _tiled(self, u: np.ndarray, kept: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
        net, per = self.net, self.net.periphery
        a = u
        pre, power = [], np.zeros(u.shape[0])
        for l, layer in enumerate(net.layers):
            ln = build_layer_netlist(net, self.wires, l, a, klu=self.klu, options=self.options)
            plot, rundir = self._run(format_netlist(ln.netlist), f"net-tiled-l{l + 1}-", ln.n_images, kept)
            v_rows = net.augment(a) * net.v_read_v
            power -= np.einsum("ij,ij->i", self._columns(plot, [f"i({s})" for s in ln.input_sources], rundir), v_rows)
            scale = layer.w_max / (layer.dg_s * net.v_read_v)
            z = np.zeros((u.shape[0], layer.n_out))
            for c in range(layer.n_v):
                outs = layer.outs_of(c)
                parts = []
                for p in range(layer.n_h):
                    i_col = self._columns(plot, [f"i({s})" for s in ln.sense_sources[(p, c)]], rundir)
                    parts.append((i_col[:, 0::2] - i_col[:, 1::2]) * scale)
                # Python's combination: currents summed at one virtual ground, or the
                # partitions' outputs (each with gain h) averaged; equal for ideal arithmetic.
                z[:, outs] = sum(parts) if per.combine == "sum" else np.mean([layer.n_h * q for q in parts], axis=0)
            self._done(rundir)
            pre.append(z)
            if l < len(net.layers) - 1:
                a = net.neuron(z)
        return pre, power

    def run(self, u: np.ndarray, progress: Callable[[int], None] | None = None) -> NetworkResult:
        """Inference on hardware inputs ``u`` ``(N, n_in)`` (units of ``v_read_v``)."""
        t0 = time.perf_counter()
        u = self.net.check_inputs(u)
        step = self.batch_size or min(MAX_AUTO_BATCH, -(-u.shape[0] // self.workers))
        chunks = [u[start : start + step] for start in range(0, u.shape[0], step)]
        infer = self._analog if self.mode == "analog" else self._tiled

        def one(chunk: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
            kept: list[str] = []
            pre, power = infer(chunk, kept)
            if progress is not None:
                progress(chunk.shape[0])
            return pre, power, kept

        if self.workers == 1 or len(chunks) == 1:
            outs = [one(c) for c in chunks]
        else:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                outs = list(pool.map(one, chunks))
        pres = [o[0] for o in outs]
        powers = [o[1] for o in outs]
        kept = [d for o in outs for d in o[2]]
        n_layers = len(self.net.layers)
        return NetworkResult(
            pre_norm=tuple(np.concatenate([p[l] for p in pres]) for l in range(n_layers)),
            power_w=np.concatenate(powers),
            backend="ngspice",
            mode=self.mode,
            wall_time_s=time.perf_counter() - t0,
            ngspice_version=self.info.version,
            run_dirs=tuple(kept),
        )
