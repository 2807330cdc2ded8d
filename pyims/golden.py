"""Golden waveforms: reference circuits simulated in ngspice, stored, and checked against.

Each case is a small circuit whose waveforms every change to pyims is held against
(``tests/golden/``; ``pyims golden check`` / ``pyims golden update``). A golden is two files:
``<name>.npz`` (the arrays, loaded with ``allow_pickle=False``) and ``<name>.json`` (what was
simulated, the ngspice version and options, the tolerances, when). ``assert_waveforms_close``
is the comparison, usable from any test: explicit ``rtol`` and ``atol``; on failure it names
the worst point and writes a plot of both waveforms and their difference.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyims import __version__
from pyims.errors import PyimsError
from pyims.spec.simulator import DEVICE, NETWORK_TRANSIENT, TIGHT, TILE_TRANSIENT, SimOptions

__all__ = [
    "GoldenCase",
    "GoldenError",
    "GoldenMismatch",
    "CASES",
    "assert_waveforms_close",
    "load_golden",
    "update_golden",
    "check_golden",
    "default_golden_dir",
]


class GoldenError(PyimsError):
    """A golden file is missing, unreadable or inconsistent with its case."""


class GoldenMismatch(PyimsError, AssertionError):
    """A waveform differs from its golden by more than the tolerance."""


@dataclass(frozen=True, slots=True)
class GoldenCase:
    """A reference circuit: ``run()`` returns the axis ``x_key`` and waveforms, all float64 arrays."""

    name: str
    description: str
    x_key: str
    rtol: float
    atol: dict[str, float]
    spec: dict[str, Any]
    options: SimOptions
    run: Callable[[], dict[str, np.ndarray]]

    @property
    def option_words(self) -> list[str]:
        """The solver options as the metadata records them (KLU is recorded apart, as ``klu``)."""
        return list(self.options.with_(klu=False).lines(klu_available=False))


def default_golden_dir() -> Path:
    """``$PYIMS_GOLDEN_DIR``, else ``tests/golden`` of the pyims checkout, else the goldens the package ships
    (``pyims.shipped.golden_dir``: read only)."""
    from pyims.shipped import golden_dir

    env = os.environ.get("PYIMS_GOLDEN_DIR")
    return Path(env) if env else golden_dir()


# ---------------------------------------------------------------- the reference circuits

def _tile_8x8_rc_step() -> dict[str, np.ndarray]:
    from pyims.runners.transient import ngspice_tile_transient
    from pyims.spec import Stimulus, TileSpec, TransientSpec, WireParasitics

    case = CASES["tile_8x8_rc_step"]
    s = case.spec
    rng = np.random.default_rng(s["seed"])
    tile = TileSpec(g_s=rng.uniform(1e-6, 1e-4, size=(8, 8)), wires=WireParasitics(**s["wires"]))
    stim = Stimulus.step(rng.uniform(0.0, 0.2, size=8), t_rise_s=s["t_rise_s"], t_delay_s=s["t_delay_s"])
    res = ngspice_tile_transient(tile, stim, TransientSpec(t_stop_s=s["t_stop_s"], t_step_s=s["t_step_s"]),
                                 probes=(("row", 0, 7), ("col", 7, 0)), options=case.options)
    return {"t_s": res.t_s, "i_col_a": res.i_col_a, "i_src_a": res.i_src_a, "v_probe_v": res.v_probe_v}


def _neuron_sigmoid_transfer() -> dict[str, np.ndarray]:
    from pyims.model import NeuronSpec
    from pyims.netlist.library import load_library
    from pyims.netlist.model import GROUND, DcSweep, Netlist, VoltageSource
    from pyims.netlist.network import neuron_instance
    from pyims.runners.session import NgspiceSession

    case = CASES["neuron_sigmoid_transfer"]
    s = case.spec
    neuron = NeuronSpec(**s["neuron"])
    netlist = Netlist(
        title="* pyims golden: sigmoid neuron transfer curve",
        elements=(VoltageSource("VIN", "in", GROUND, 0.0), neuron_instance("XN", "in", "out", neuron, s["v_z"], s["v_read_v"])),
        analysis=DcSweep("VIN", s["v_start_v"], s["v_stop_v"], s["v_step_v"]),
        saved_voltages=("in", "out"), libraries=(load_library("pyims_neuron_sigmoid"),),
    )
    out = NgspiceSession(case.options.with_(timeout_s=600.0)).run(netlist, expect=("v(in)", "v(out)"), prefix="golden-neuron-")
    return {"v_in_v": out.data[:, 0], "v_out_v": out.data[:, 1]}


def _neuron_inverter_characterized() -> dict[str, np.ndarray]:
    from pyims.characterize import characterize_neuron

    s = CASES["neuron_inverter_characterized"].spec
    curve = characterize_neuron(s["subckt"], v_start_v=s["v_start_v"], v_stop_v=s["v_stop_v"], v_step_v=s["v_step_v"],
                                v_fine_v=0.0)
    return {"v_in_v": curve.v_in_v, "v_out_v": curve.v_out_v, "fit_v_out_v": curve.fit(curve.v_in_v)}


def _neuron_relu_rectifier_characterized() -> dict[str, np.ndarray]:
    from pyims.characterize import characterize_neuron

    case = CASES["neuron_relu_rectifier_characterized"]
    s = case.spec
    curve = characterize_neuron(s["subckt"], v_start_v=s["v_start_v"], v_stop_v=s["v_stop_v"], v_step_v=s["v_step_v"],
                                v_fine_v=0.0, options=case.options)
    return {"v_in_v": curve.v_in_v, "v_out_v": curve.v_out_v}


def read_time_case_network():
    """The network (on its wires), the ``ReadAt`` analysis and the inputs of the ``network_read_time`` golden (also
    what tests hold the native read time against)."""
    from pyims.hardware import Hardware
    from pyims.mapping import map_network
    from pyims.model import MLP, NeuronSpec
    from pyims.spec import PartitionPlan, PeripherySpec, WireParasitics
    from pyims.spec.analysis import ReadAt

    s = CASES["network_read_time"].spec
    rng = np.random.default_rng(s["seed"])
    sizes = s["layer_sizes"]
    mlp = MLP(weights=tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
              biases=tuple(0.3 * rng.normal(size=b) for b in sizes[1:]), neuron=NeuronSpec(kind="relu"))
    net = map_network(mlp, Hardware(
        plan=PartitionPlan(horizontal=tuple(s["horizontal"]), vertical=tuple(s["vertical"])),
        periphery=PeripherySpec(sense="diffamp", combine="average", layer_gains_ratio=tuple(s["gains"])),
        wires=WireParasitics(**s["wires"]), topology="analog"))
    u = rng.uniform(size=(s["n_images"], sizes[0]))
    return net, ReadAt(t_read_s=s["t_read_s"], t_rise_s=s["t_rise_s"], t_step_s=s["t_step_s"]), u


def _network_read_time() -> dict[str, np.ndarray]:
    from pyims.inference.read_time import ngspice_read_time

    net, analysis, u = read_time_case_network()
    res = ngspice_read_time(net, analysis, u)
    return {"t_s": analysis.t_grid_s, "output_image0_norm": res.output_t[0], "output_image1_norm": res.output_t[1],
            "read_logits_norm": res.logits.reshape(-1)[None, :].repeat(analysis.t_grid_s.size, axis=0)}


def _network_2layer_step() -> dict[str, np.ndarray]:
    from pyims.inference.transient import network_transient
    from pyims.mapping import map_network
    from pyims.model import MLP, NeuronSpec
    from pyims.spec import PartitionPlan, Stimulus, TransientSpec, WireParasitics

    case = CASES["network_2layer_step"]
    s = case.spec
    rng = np.random.default_rng(s["seed"])
    sizes = s["layer_sizes"]
    mlp = MLP(
        weights=tuple(rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])),
        biases=tuple(0.3 * rng.normal(size=b) for b in sizes[1:]),
        neuron=NeuronSpec(kind="sigmoid"),
    )
    net = map_network(mlp, plan=PartitionPlan(horizontal=tuple(s["horizontal"]), vertical=tuple(s["vertical"])))
    u = rng.uniform(size=sizes[0])
    stim = Stimulus.step(u * net.v_read_v, t_rise_s=s["t_rise_s"], t_delay_s=s["t_delay_s"])
    res = network_transient(net.on(wires=WireParasitics(**s["wires"])), stim, TransientSpec(t_stop_s=s["t_stop_s"], t_step_s=s["t_step_s"]),
                            options=case.options)
    return {"t_s": res.t_s, "pre_layer1_norm": res.pre_norm[0], "pre_layer2_norm": res.pre_norm[1], "power_w": res.power_w}


CASES: dict[str, GoldenCase] = {
    "tile_8x8_rc_step": GoldenCase(
        name="tile_8x8_rc_step",
        description="8x8 RC tile (seeded cells), every row steps 0 -> V in 20 ps after 10 ps; column and source currents, two wire nodes",
        x_key="t_s",
        rtol=1e-6,
        atol={"i_col_a": 1e-12, "i_src_a": 1e-12, "v_probe_v": 1e-9},
        spec={
            "seed": 8, "t_rise_s": 2e-11, "t_delay_s": 1e-11, "t_stop_s": 4e-10, "t_step_s": 1e-12,
            "wires": {"r_row_ohm": 5.0, "r_col_ohm": 5.0, "r_driver_ohm": 100.0, "r_sense_ohm": 50.0,
                      "c_row_f": 2e-15, "c_col_f": 3e-15},
        },
        options=TILE_TRANSIENT,
        run=_tile_8x8_rc_step,
    ),
    "neuron_sigmoid_transfer": GoldenCase(
        name="neuron_sigmoid_transfer",
        description="behavioural sigmoid neuron (circuits/neuron_sigmoid.sub), DC transfer curve",
        x_key="v_in_v",
        rtol=1e-9,
        atol={"v_out_v": 1e-12},
        spec={"neuron": {"kind": "sigmoid", "gain_norm": 1.5, "out_lo_norm": 0.0, "out_hi_norm": 1.0},
              "v_z": 0.05, "v_read_v": 0.2, "v_start_v": -0.5, "v_stop_v": 0.5, "v_step_v": 0.005},
        options=TIGHT.with_(klu=False),
        run=_neuron_sigmoid_transfer,
    ),
    "neuron_inverter_characterized": GoldenCase(
        name="neuron_inverter_characterized",
        description="transistor-level inverter neuron (circuits/neuron_inverter.sub, level-1 MOSFETs) characterised "
        "by pyims.characterize: DC transfer curve and its fitted logistic on the same grid",
        x_key="v_in_v",
        rtol=1e-6,
        atol={"v_out_v": 1e-7, "fit_v_out_v": 1e-6},
        spec={"subckt": "pyims_neuron_inverter", "v_start_v": -1.0, "v_stop_v": 1.0, "v_step_v": 0.005},
        options=TIGHT.with_(klu=False),  # what characterize_neuron uses
        run=_neuron_inverter_characterized,
    ),
    "neuron_relu_rectifier_characterized": GoldenCase(
        name="neuron_relu_rectifier_characterized",
        description="op-amp precision rectifier (circuits/neuron_relu_rectifier.sub: finite-gain op-amp, diode, load) "
        "characterised by pyims.characterize: the DC transfer curve of the circuit-level ReLU",
        x_key="v_in_v",
        rtol=1e-6,
        atol={"v_out_v": 1e-7},
        spec={"subckt": "pyims_neuron_relu_rectifier", "v_start_v": -1.0, "v_stop_v": 1.0, "v_step_v": 0.005},
        options=DEVICE.with_(klu=False),  # what relu_circuit_curve uses: a diode cannot meet abstol=1e-18
        run=_neuron_relu_rectifier_characterized,
    ),
    "network_read_time": GoldenCase(
        name="network_read_time",
        description="fully-analog 16x8x4 ReLU network with difference amplifiers (2/1 x 2/1 partitions, averaged), RC "
        "wires; two images' inputs ramp in 10 ps; outputs over the window and at the read time (ngspice network transients)",
        x_key="t_s",
        rtol=1e-6,
        atol={"output_image0_norm": 1e-9, "output_image1_norm": 1e-9, "read_logits_norm": 1e-9},
        spec={
            "seed": 21, "layer_sizes": [16, 8, 4], "horizontal": [2, 1], "vertical": [2, 1], "gains": [4.0, 3.0],
            "n_images": 2, "t_read_s": 1e-10, "t_rise_s": 1e-11, "t_step_s": 5e-13,
            "wires": {"r_row_ohm": 5.0, "r_col_ohm": 5.0, "r_driver_ohm": 80.0, "r_sense_ohm": 10.0,
                      "c_row_f": 4e-15, "c_col_f": 4e-15},
        },
        options=NETWORK_TRANSIENT,
        run=_network_read_time,
    ),
    "network_2layer_step": GoldenCase(
        name="network_2layer_step",
        description="fully-analog 12x6x3 sigmoid network, 2/1 x 1/1 partitions, RC wires; inputs step; pre-activations and power",
        x_key="t_s",
        rtol=1e-6,
        atol={"pre_layer1_norm": 1e-9, "pre_layer2_norm": 1e-9, "power_w": 1e-12},
        spec={
            "seed": 12, "layer_sizes": [12, 6, 3], "horizontal": [2, 1], "vertical": [1, 1],
            "t_rise_s": 1e-11, "t_delay_s": 1e-11, "t_stop_s": 3e-10, "t_step_s": 1e-12,
            "wires": {"r_row_ohm": 5.0, "r_col_ohm": 5.0, "r_driver_ohm": 100.0, "r_sense_ohm": 10.0,
                      "c_row_f": 5e-15, "c_col_f": 5e-15},
        },
        options=NETWORK_TRANSIENT,
        run=_network_2layer_step,
    ),
}


# ---------------------------------------------------------------- comparison

def assert_waveforms_close(
    actual: np.ndarray,
    expected: np.ndarray,
    *,
    rtol: float,
    atol: float,
    x: np.ndarray | None = None,
    label: str = "waveform",
    plot_path: str | os.PathLike[str] | None = None,
) -> None:
    """Require ``|actual - expected| <= atol + rtol * |expected|`` everywhere.

    On failure raises GoldenMismatch naming the worst point (index, x, both values, the excess
    over the allowance) and, when ``plot_path`` is given, writes both waveforms and their
    difference there (PNG and PDF).
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise GoldenMismatch(f"{label}: shape {a.shape} differs from the golden's {e.shape}")
    allowed = atol + rtol * np.abs(e)
    excess = np.abs(a - e) - allowed
    if not np.all(np.isfinite(a)):
        excess = np.where(np.isfinite(a), excess, np.inf)
    if np.all(excess <= 0.0):
        return
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
    n_bad = int(np.sum(excess > 0.0))
    where = f" at x={float(x[worst[0]]):.6g}" if x is not None else ""
    got, want = float(a[worst]), float(e[worst])
    msg = (
        f"{label}: {n_bad} of {e.size} points outside atol={atol!r} + rtol={rtol!r} * |golden|; worst at index "
        f"{tuple(int(i) for i in worst)}{where}: got {got!r}, golden {want!r}, |diff| {abs(got - want)!r} "
        f"> allowed {float(allowed[worst])!r}"
    )
    if plot_path is not None:
        _diff_plot(a, e, x, label, Path(plot_path), worst)
        msg += f"; diff plot: {plot_path}"
    raise GoldenMismatch(msg)


def _diff_plot(a: np.ndarray, e: np.ndarray, x: np.ndarray | None, label: str, path: Path, worst: tuple) -> None:
    from pyims.figures import pyplot, save_figure

    plt = pyplot()

    a2 = a.reshape(a.shape[0], -1)
    e2 = e.reshape(e.shape[0], -1)
    col = worst[1] if len(worst) > 1 else 0
    xs = x if x is not None else np.arange(a2.shape[0])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    top.plot(xs, e2[:, col], label="golden", lw=2, color="#999")
    top.plot(xs, a2[:, col], label="now", lw=1, color="#c53")
    top.set_title(f"{label} [column {col}]", fontsize=9)
    top.legend(fontsize=8)
    bottom.plot(xs, a2[:, col] - e2[:, col], color="#35c")
    bottom.axvline(xs[worst[0]], color="k", lw=0.5, ls="--")
    bottom.set_ylabel("now - golden (same unit)")
    top.set_ylabel(f"{label} (its SI unit)")
    for ax in (top, bottom):
        ax.set_xlabel("x (the case's axis, SI unit)" if x is not None else "sample (index)")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)


# ---------------------------------------------------------------- files

def _paths(name: str, directory: Path) -> tuple[Path, Path]:
    return directory / f"{name}.npz", directory / f"{name}.json"


def _case(name: str) -> GoldenCase:
    if name not in CASES:
        raise GoldenError(f"golden case {name!r} is unknown; use one of {', '.join(CASES)}")
    return CASES[name]


def load_golden(name: str, directory: str | os.PathLike[str] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The stored arrays and metadata of case ``name``; GoldenError when missing or corrupt."""
    case = _case(name)
    directory = Path(directory) if directory is not None else default_golden_dir()
    npz, meta_path = _paths(name, directory)
    for path in (npz, meta_path):
        if not path.is_file():
            raise GoldenError(f"golden file {path} is missing; create it with `pyims golden update {name}` (see tests/golden/README.md)")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GoldenError(f"golden metadata {meta_path} is not valid JSON ({exc}); restore it or run `pyims golden update {name}`") from exc
    try:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise GoldenError(f"golden file {npz} is corrupt ({exc}); restore it or run `pyims golden update {name}`") from exc
    expected = {case.x_key, *case.atol}
    if set(arrays) != expected:
        raise GoldenError(f"golden file {npz} holds {sorted(arrays)} but case {name} defines {sorted(expected)}; run `pyims golden update {name}`")
    if meta.get("spec") != json.loads(json.dumps(case.spec)):
        raise GoldenError(f"golden {name} was made from a different circuit spec than the case now defines; run `pyims golden update {name}`")
    return arrays, meta


def update_golden(name: str, directory: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Simulate case ``name`` in ngspice and (re)write its golden files atomically."""
    from pyims.runners.ngspice_env import find_ngspice

    case = _case(name)
    directory = Path(directory) if directory is not None else default_golden_dir()
    from pyims.shipped import is_installed_copy

    if is_installed_copy(directory):
        raise GoldenError(f"{directory} is the installed package's copy of the goldens, which pyims never writes (it "
                          "would compare the installed code with itself); give a folder of yours: "
                          f"pyims golden update {name} --dir DIR")
    directory.mkdir(parents=True, exist_ok=True)
    arrays = case.run()
    info = find_ngspice()
    meta = {
        "name": name,
        "description": case.description,
        "spec": case.spec,
        "x_key": case.x_key,
        "rtol": case.rtol,
        "atol": case.atol,
        "ngspice_version": info.version,
        "klu": info.klu,
        "options": case.option_words,
        "pyims_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    npz, meta_path = _paths(name, directory)
    for path, write in ((npz, lambda f: np.savez(f, **arrays)), (meta_path, lambda f: f.write(json.dumps(meta, indent=2).encode() + b"\n"))):
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return npz, meta_path


def check_golden(
    name: str,
    directory: str | os.PathLike[str] | None = None,
    *,
    plot_dir: str | os.PathLike[str] | None = None,
    actual: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """Simulate case ``name`` (or take ``actual``) and compare with its golden.

    Returns, per waveform, the worst ``|diff| / allowance`` (<= 1 passes); raises GoldenMismatch
    (with a diff plot in ``plot_dir``) otherwise.
    """
    case = _case(name)
    golden, meta = load_golden(name, directory)
    now = case.run() if actual is None else actual
    x = golden[case.x_key]
    assert_waveforms_close(now[case.x_key], x, rtol=0.0, atol=1e-18 + 1e-12 * float(np.max(np.abs(x))),
                           label=f"{name}.{case.x_key}")
    ratios = {}
    for key, atol in case.atol.items():
        plot = Path(plot_dir) / f"{name}.{key}.png" if plot_dir is not None else None
        assert_waveforms_close(now[key], golden[key], rtol=case.rtol, atol=atol, x=x, label=f"{name}.{key}", plot_path=plot)
        ratios[key] = float(np.max(np.abs(now[key] - golden[key]) / (atol + case.rtol * np.abs(golden[key]))))
    return ratios
