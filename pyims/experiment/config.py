"""Experiment configs: a TOML file -> frozen, validated specs. Errors name the field.

Sections (all optional; every field has a default, see ``examples/*.toml``):
``[dataset] [model] [train] [neuron] [encoding] [device] [wires] [partitions] [periphery]
[adc] [simulation]``, plus a top-level ``name``. ``[adc]`` is optional (no section: ideal readout). Seeds live where they act: ``dataset.seed`` (split),
``train.seed`` (initialisation, batch order), ``device.variation_seed`` (variation).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import tomllib
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyims.data import DATASETS
from pyims.data.mnist import MNIST_MIRRORS
from pyims.errors import ConfigError, SpecError
from pyims.inference import MODES
from pyims.inference.infer import ACTIVATIONS
from pyims.runners.native import resolve_port_method
from pyims.model import NeuronSpec, TrainSpec
from pyims.spec._checks import positive, real_scalar, safe_name
from pyims.components.adc import Adc
from pyims.hardware import Hardware
from pyims.spec import DeviceSpec, InputEncoding, PartitionPlan, PeripherySpec, WireGeometry, WireParasitics

__all__ = ["DatasetSpec", "ModelSpec", "SimulationSpec", "ExperimentConfig", "load_config", "parse_config"]

MODEL_SOURCES = ("train", "npz", "csv")


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetSpec:
    """Which images (see ``pyims.data.load_dataset``); ``path`` / ``cache_dir`` resolve against the config's folder.
    ``name = "arrays"``: a user's own arrays, ``path`` an ``.npz`` file or a folder of ``.npy`` files
    (``pyims.data.arrays``)."""

    name: str = "digits"
    path: str | None = None
    download: bool = False
    cache_dir: str | None = None
    mirrors: tuple[str, ...] = MNIST_MIRRORS
    resize: tuple[int, int] | None = None
    test_fraction: float = 0.25
    seed: int = 0
    max_train: int | None = None
    max_test: int | None = None

    def __post_init__(self) -> None:
        if self.name not in DATASETS:
            raise SpecError(f"dataset.name={self.name!r} is unknown; use one of {', '.join(DATASETS)}")
        if self.name == "arrays" and not self.path:
            raise SpecError('dataset.name="arrays" needs dataset.path: an .npz file holding x_train, y_train, x_test and '
                            'y_test, or a folder of those four .npy files, e.g. path = "mydata.npz"')
        if self.resize is not None:
            if len(self.resize) != 2 or any(not isinstance(s, int) or s < 1 for s in self.resize):
                raise SpecError(f"dataset.resize={list(self.resize)} must be two positive integers [h, w], e.g. [20, 20]")
            object.__setattr__(self, "resize", tuple(self.resize))
        object.__setattr__(self, "mirrors", tuple(self.mirrors))
        for name in ("max_train", "max_test"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise SpecError(f"dataset.{name}={value!r} must be a positive integer")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """Where the model comes from: trained here ("train"), an ``.npz`` file, or a folder of CSV files
    (``source`` + ``weights``) -- or ``file``: any model file ``pyims.load_model`` reads (``.onnx``,
    ``.npz``, a CSV folder). An ONNX graph brings its own activations; ``[neuron]`` then does not apply."""

    source: str = "train"
    weights: str | None = None
    file: str | None = None

    def __post_init__(self) -> None:
        if self.source not in MODEL_SOURCES:
            raise SpecError(f"model.source={self.source!r} is unknown; use one of {', '.join(MODEL_SOURCES)}")
        if self.file is not None:
            if self.source != "train" or self.weights is not None:
                raise SpecError(f"model.file={self.file!r} names the model alone; remove model.source and model.weights")
            if not self.file:
                raise SpecError("model.file is empty; give the path of an .onnx / .npz file or a CSV folder")
        elif self.source != "train" and not self.weights:
            raise SpecError(f"model.source={self.source!r} needs model.weights (a path)")


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationSpec:
    """How inference runs.

    Attributes:
        mode: "analog" (fully-analog circuit) or "tiled" (co-simulation).
        verify_images: images also run through ngspice (0: no SPICE verification; "all": the whole
            test set, which wants a cluster: ``pyims run --verify-images all``, ``docs/cluster.md``).
        energy: compute read power natively (costs m extra solves per tile).
        batch_size: images per ngspice run (``None``: the sample split over the workers, at most 64 per run).
        ngspice_workers: ngspice processes run side by side (results do not depend on it).
        native_workers: processes sharing the native solves (``None``: automatic -- the machine's
            cores for large networks, 1 for small ones where starting processes costs more).
        port_method: how the native solver forms each tile's port matrices: "auto" (one CHOLMOD
            factorization where scikit-sparse is installed, else solves), "schur" or "solves"
            (``pyims.runners.native.PORT_METHODS``; results agree to ~1e-12).
        timeout_s: wall-clock limit of one ngspice run.
        keep_run_dirs: keep ngspice run directories after success.
        tie_atol: logits within this of the top count as tied.
        activations: "ideal" (the model's activation functions) or "circuit" (every ReLU as the
            characterised op-amp precision rectifier, ``pyims.characterize.relu_circuit_neuron``).
        t_read_s: read the outputs at this time under the wires' capacitance (native network
            transient, ``docs/capacitance.md``) instead of settled (DC); ``None``: DC.
        t_rise_s: the inputs' rise time (they ramp from 0 at ``t = 0``; the circuit starts at DC); unset: one step
            of the time grid (``pyims.ReadAt``).
        t_step_s: the transient's step (``None``: chosen -- the fewest steps, at least 200 to the read time, whose
            grid hits the rise time and every read time).
        read_times_s: more read times (<= ``t_read_s``) at which accuracy is also reported (the grid hits them).
        repeats: Monte Carlo draws of the hardware (``pyims.Repeat``): the test set runs on this many seeded draws of
            the devices (programming noise, stuck cells, drift exponents, read noise, variation) and the
            converters' errors. 1: one run on the config's own seeds (``device.seed``, ``device.variation_seed``,
            ``adc.seed``); N > 1: draw k takes seed ``pyims.Repeat(inner, n=N, seed=repeat_seed).seeds[k]`` for
            all of them (as ``pyims.simulate`` does), and ngspice checks draw 0.
        repeat_seed: the seed the draws' seeds come from (with ``repeats`` > 1).
    """

    mode: str = "analog"
    verify_images: int | str = 16
    energy: bool = True
    batch_size: int | None = None
    ngspice_workers: int = 1
    native_workers: int | None = None
    port_method: str = "auto"
    timeout_s: float = 3600.0
    keep_run_dirs: bool = False
    tie_atol: float = 0.0
    activations: str = "ideal"
    t_read_s: float | None = None
    t_rise_s: float | None = None
    t_step_s: float | None = None
    read_times_s: tuple[float, ...] = ()
    repeats: int = 1
    repeat_seed: int = 0

    def n_verify(self, n_test: int) -> int:
        """How many of ``n_test`` test images run through ngspice."""
        return n_test if self.verify_images == "all" else min(int(self.verify_images), n_test)

    @property
    def verifies(self) -> bool:
        return self.verify_images == "all" or int(self.verify_images) > 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SpecError(f"simulation.mode={self.mode!r} is unknown; use one of {', '.join(MODES)}")
        if self.verify_images != "all" and (isinstance(self.verify_images, bool) or not isinstance(self.verify_images, int)
                                            or self.verify_images < 0):
            raise SpecError(f"simulation.verify_images={self.verify_images!r} must be an integer >= 0 (0 turns ngspice off) "
                            'or "all"')
        if self.native_workers is not None and (not isinstance(self.native_workers, int) or self.native_workers < 1):
            raise SpecError(f"simulation.native_workers={self.native_workers!r} must be an integer >= 1 (omit it for automatic)")
        try:
            resolve_port_method(self.port_method)  # the name, and CHOLMOD when "schur" is asked for
        except SpecError as exc:
            raise SpecError(f"simulation.{exc}") from exc
        if not isinstance(self.ngspice_workers, int) or self.ngspice_workers < 1:
            raise SpecError(f"simulation.ngspice_workers={self.ngspice_workers!r} must be an integer >= 1")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise SpecError(f"simulation.batch_size={self.batch_size!r} must be a positive integer")
        positive("simulation", "timeout_s", self.timeout_s)
        if real_scalar("simulation", "tie_atol", self.tie_atol) < 0.0:
            raise SpecError(f"simulation.tie_atol={self.tie_atol!r} must be >= 0 (0: only exact ties)")
        object.__setattr__(self, "read_times_s", tuple(self.read_times_s))
        if self.t_read_s is not None:
            from pyims.spec.analysis import ReadAt

            ReadAt(t_read_s=self.t_read_s, t_rise_s=self.t_rise_s, t_step_s=self.t_step_s,
                   read_times_s=self.read_times_s)  # checks the times, the window and the grid
        elif self.read_times_s:
            raise SpecError("simulation.read_times_s needs simulation.t_read_s (the simulated window)")
        if self.activations not in ACTIVATIONS:
            raise SpecError(f"simulation.activations={self.activations!r} is unknown; use one of {', '.join(ACTIVATIONS)}")
        for name in ("energy", "keep_run_dirs"):
            if not isinstance(getattr(self, name), bool):
                raise SpecError(f"simulation.{name}={getattr(self, name)!r} must be true or false")
        for name, lo, what in (("repeats", 1, "the number of hardware draws; 1: one run on the config's own seeds"),
                               ("repeat_seed", 0, "the seed the draws' seeds come from")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise SpecError(f"simulation.{name}={value!r} must be an integer >= {lo} ({what})")
        from pyims.spec.analysis import MAX_DRAWS

        if self.repeats > MAX_DRAWS:
            raise SpecError(f"simulation.repeats={self.repeats!r} must be at most {MAX_DRAWS:,} (each draw maps and runs the "
                            "network again); a few hundred draws give a tight spread")
        if self.repeats == 1 and self.repeat_seed != 0:
            raise SpecError(f"simulation.repeat_seed={self.repeat_seed!r} has no effect with simulation.repeats = 1 (the one "
                            "run uses device.seed, device.variation_seed and adc.seed); set simulation.repeats = 2 or more, "
                            "or remove repeat_seed")

    @property
    def repeat(self):
        """The ``pyims.Repeat`` these draws are (of ``Dc()``, or of the read time; ``None`` with ``repeats`` = 1: one run
        on the config's own seeds)."""
        if self.repeats == 1:
            return None
        from pyims.spec.analysis import Dc, ReadAt, Repeat

        inner = Dc() if self.t_read_s is None else ReadAt(t_read_s=self.t_read_s, t_rise_s=self.t_rise_s,
                                                          t_step_s=self.t_step_s, read_times_s=self.read_times_s)
        return Repeat(inner, n=self.repeats, seed=self.repeat_seed)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentConfig:
    """A whole experiment. ``base_dir`` is the config file's folder (relative paths resolve there)."""

    name: str = "experiment"
    dataset: DatasetSpec = DatasetSpec()
    model: ModelSpec = ModelSpec()
    train: TrainSpec = TrainSpec()
    neuron: NeuronSpec = NeuronSpec()
    encoding: InputEncoding = InputEncoding()
    device: DeviceSpec = DeviceSpec()
    wires: WireParasitics = WireParasitics()
    partitions: PartitionPlan = PartitionPlan()
    periphery: PeripherySpec = PeripherySpec()
    adc: Adc | None = None
    simulation: SimulationSpec = SimulationSpec()
    base_dir: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        safe_name("config", "name", self.name)  # it names the default output folder

    @property
    def hardware(self) -> Hardware:
        """The hardware these sections describe: ``[device] [encoding] [wires] [partitions] [periphery] [adc]`` and
        ``simulation.mode`` (the topology)."""
        return Hardware(devices=self.device, wires=self.wires, plan=self.partitions, encoding=self.encoding,
                        periphery=self.periphery, adc=self.adc, topology=self.simulation.mode)

    def resolve_path(self, path: str) -> Path:
        p = Path(os.path.expanduser(path))
        return p if p.is_absolute() else self.base_dir / p

    def as_dict(self) -> dict[str, Any]:
        """The fully resolved config as plain JSON-able data."""
        out: dict[str, Any] = {"name": self.name}
        for section in _SECTIONS:
            if getattr(self, section) is None:  # an optional section left out ([adc])
                continue
            out[section] = {
                f.name: _plain(getattr(getattr(self, section), f.name))
                for f in dataclasses.fields(getattr(self, section))
                if not f.name.startswith("_") and not (section == "device" and f.name == "params")
            }
        out["device"].update({k: _plain(v) for k, v in self.device.params})  # a kind's own fields, as in the TOML
        if self.device.kind != "linear":  # another kind's range is its own fields
            for name in ("g_on_s", "g_off_s"):
                if out["device"][name] == getattr(DeviceSpec(), name):
                    del out["device"][name]
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


_SECTIONS: dict[str, type] = {
    "dataset": DatasetSpec,
    "model": ModelSpec,
    "train": TrainSpec,
    "neuron": NeuronSpec,
    "encoding": InputEncoding,
    "device": DeviceSpec,
    "wires": WireParasitics,
    "partitions": PartitionPlan,
    "periphery": PeripherySpec,
    "adc": Adc,
    "simulation": SimulationSpec,
}
_GEOMETRY_FIELDS = tuple(f.name for f in dataclasses.fields(WireGeometry))


def _allowed(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")]


def _type_error(where: str, value: Any, want: str) -> ConfigError:
    return ConfigError(f"{where}={value!r} must be {want}")


#: Fields that change how a point runs, not its results; left out of the key.
NEUTRAL_FIELDS = {"simulation": ("native_workers", "port_method", "ngspice_workers", "keep_run_dirs", "timeout_s", "batch_size")}


#: TOML keys renamed, ``{section: {old: new}}``: the old key still works, with a DeprecationWarning.
RENAMED_FIELDS = {"periphery": {"t_read_s": "t_energy_window_s"}}


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: the text hashes are taken of."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def config_key(cfg: ExperimentConfig) -> str:
    """SHA-256 (hex, 16 chars) of the fully resolved config, without run-only fields."""
    data = cfg.as_dict()
    for section, renames in RENAMED_FIELDS.items():  # hashed under their old names: keys of earlier configs hold
        for old, new in renames.items():
            if section in data and new in data[section]:
                data[section][old] = data[section].pop(new)
    for section, fields in NEUTRAL_FIELDS.items():
        for f in fields:
            data[section].pop(f, None)
    data.pop("name", None)
    # fields added with ONNX import: at their defaults they leave the keys of earlier configs as they were
    if data["model"].get("file") is None:
        data["model"].pop("file", None)
    if data["device"].get("kind") == "linear":  # the device kind, added with device components: the default
        data["device"].pop("kind", None)  # leaves earlier keys as they were
    for name in ("x_min_norm", "x_max_norm", "x_mean_norm", "x_std_norm"):  # the DAC's input range, added later:
        if data["encoding"].get(name) is None:  # unset, earlier keys hold
            data["encoding"].pop(name, None)
    for name, default in (("t_since_program_s", 0.0), ("drift_compensation", "none"), ("stuck_off_ratio", 0.0),
                          ("stuck_on_ratio", 0.0), ("seed", 0)):
        if data["device"].get(name, default) == default:  # the device fields of real devices: at their defaults,
            data["device"].pop(name, None)  # earlier keys hold
    for name, default in (("activations", "ideal"), ("t_read_s", None), ("t_rise_s", None), ("t_step_s", None),
                          ("read_times_s", []), ("repeats", 1), ("repeat_seed", 0)):
        if data["simulation"].get(name, default) == default:  # read-time / repeat fields at defaults: earlier keys hold
            data["simulation"].pop(name, None)
    if "adc" in data:  # converter fields added with INL and the near-memory correction: at their defaults, earlier
        from pyims.components.adc import Adc  # keys hold

        for f in dataclasses.fields(Adc):
            if f.name.startswith(("inl_", "correction")) and data["adc"].get(f.name, f.default) == _plain(f.default):
                data["adc"].pop(f.name, None)
    files = file_digests(cfg)
    if files:  # what the named files hold, not only their paths: a model replaced in place is a new point
        data["files"] = files
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:16]


def named_files(cfg: ExperimentConfig) -> dict[str, Path]:
    """Every file or folder ``cfg`` names, by its field (``model.file``, ``model.weights``, ``dataset.path``, a
    ``*_file`` of ``[device]`` or ``[adc]``), resolved against the config's folder. An ONNX model's external data
    files are named too (``model.file:<location>``)."""
    out: dict[str, Path] = {}
    for field_name in ("file", "weights"):
        value = getattr(cfg.model, field_name)
        if value:
            out[f"model.{field_name}"] = cfg.resolve_path(value)
    if cfg.dataset.path:
        out["dataset.path"] = cfg.resolve_path(cfg.dataset.path)
    for k, v in cfg.device.params:
        if k.endswith("_file") and isinstance(v, str) and v:
            out[f"device.{k}"] = cfg.resolve_path(v)
    if cfg.adc is not None:
        for f in dataclasses.fields(cfg.adc):
            v = getattr(cfg.adc, f.name)
            if f.name.endswith("_file") and isinstance(v, str) and v:
                out[f"adc.{f.name}"] = cfg.resolve_path(v)
    model = out.get("model.file")
    if model is not None and model.suffix.lower() == ".onnx":
        folder = model.parent.resolve()
        for loc in _onnx_external_locations(model):
            target = (model.parent / loc).resolve()
            if target.parent == folder and not Path(loc).is_absolute():  # only inside the model's folder (the loader
                out[f"model.file:{loc}"] = target  # refuses any other location, so nothing else is read for a key)
    return out


def _onnx_external_locations(path: Path) -> list[str]:
    """The external-data file names an ONNX model declares (none when it cannot be read: the run will say why)."""
    try:
        import onnx
        from onnx.external_data_helper import _get_all_tensors

        model = onnx.load(str(path), load_external_data=False)
        locs = set()
        for tensor in _get_all_tensors(model):
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                for entry in tensor.external_data:
                    if entry.key == "location":
                        locs.add(entry.value)
        return sorted(locs)
    except Exception:  # an unreadable model: the key keeps its bytes' digest; the loader refuses it with the reason
        return []


def file_digests(cfg: ExperimentConfig) -> dict[str, str]:
    """``{field: content digest}`` of every file ``cfg`` names (``named_files``; ``pyims.fileio.content_digest``)."""
    from pyims.fileio import content_digest

    return {name: content_digest(path) for name, path in sorted(named_files(cfg).items())}


def check_value_type(where: str, tp: Any, value: Any) -> None:
    """ConfigError unless ``value`` (from TOML) has type ``tp`` strictly: a bool is no integer, an integer
    no bool, a float finite, a tuple a list of its item type. ``where`` names the field (``train.epochs``)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return
        if len(args) == 1:
            return check_value_type(where, args[0], value)
        return
    if tp is bool:
        if not isinstance(value, bool):
            raise _type_error(where, value, "true or false")
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(where, value, "an integer")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(where, value, "a number")
        if not math.isfinite(value):
            raise _type_error(where, value, "a finite number")
    elif tp is str or tp is Path:
        if not isinstance(value, str):
            raise _type_error(where, value, "a string")
    elif origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _type_error(where, value, "a list")
        args = typing.get_args(tp)
        items = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(items) != len(value):
            raise _type_error(where, value, f"a list of {len(items)} values")
        for k, (item_tp, item) in enumerate(zip(items, value)):
            check_value_type(f"{where}[{k}]", item_tp, item)


def _table_type_problems(section: str, cls: type, table: dict[str, Any]) -> dict[str, str]:
    """``{key: problem}`` for every value of ``table`` whose type is not its field's (``check_value_type``)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for key, value in table.items():
        if key in hints and not (section == "device" and key == "params"):  # a kind's own fields: its class checks
            try:
                check_value_type(f"{section}.{key}", hints[key], value)
            except ConfigError as exc:
                out[key] = str(exc)
    return out


def did_you_mean(word: object, choices: typing.Iterable[str]) -> str:
    """``"did you mean 'x'?"`` when ``word`` is close to one of ``choices`` (``difflib``), else ``""``."""
    import difflib

    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def unknown_key(what: str, key: str, allowed: typing.Sequence[str]) -> str:
    """The problem of an unknown key: ``unknown field train.epoch; did you mean 'epochs'? allowed: ...``."""
    hint = did_you_mean(key, allowed)
    return f"unknown {what}; {hint + ' ' if hint else ''}allowed: {', '.join(allowed)}"


_UNKNOWN_VALUE = re.compile(r"=(?P<value>'[^']*'|\"[^\"]*\") is unknown; use one of (?P<choices>[^;(]+)")
_UNKNOWN_KEY = re.compile(r"\.(?P<value>\w+) is unknown for [^;]*; use (?P<choices>[^(;]+?)(?: \(and every kind's: "
                          r"(?P<more>[^)]*)\))?$")


def with_suggestion(problem: str) -> str:
    """``problem`` with a "did you mean" when it names an unknown value or key among listed choices (a message of the
    form ``field='x' is unknown; use one of a, b, c`` or ``device.x is unknown for ...; use a, b``)."""
    if "did you mean" in problem:
        return problem
    m = _UNKNOWN_VALUE.search(problem) or _UNKNOWN_KEY.search(problem)
    if m is None:
        return problem
    value = m.group("value").strip("'\"")
    choices = m.group("choices").split(",") + ((m.groupdict().get("more") or "").split(","))
    hint = did_you_mean(value, [c.strip().strip("'\"") for c in choices if c.strip()])
    return f"{problem}; {hint}" if hint else problem


def _wires(table: dict[str, Any]) -> WireParasitics:
    """``[wires]``: per-segment values, or ``[wires.row_geometry]`` + ``[wires.col_geometry]`` with drivers."""
    table = dict(table)
    geo = {k: table.pop(k) for k in ("row_geometry", "col_geometry") if k in table}
    if not geo:
        return WireParasitics(**table)
    if set(geo) != {"row_geometry", "col_geometry"}:
        raise ConfigError("wires: give both wires.row_geometry and wires.col_geometry, or neither")
    extra = set(table) - {"r_driver_ohm", "r_sense_ohm", "row_node_per_pair"}
    if extra:
        raise ConfigError(f"wires: with geometry, only r_driver_ohm, r_sense_ohm and row_node_per_pair may be set beside it; remove {sorted(extra)}")
    parts, problems = {}, []
    for key, sub in geo.items():
        if not isinstance(sub, dict):
            problems.append(f"wires.{key} must be a table with {', '.join(_GEOMETRY_FIELDS)}")
            continue
        unknown = [k for k in sub if k not in _GEOMETRY_FIELDS]
        problems += [unknown_key(f"field wires.{key}.{k}", k, _GEOMETRY_FIELDS) for k in unknown]
        bad = _table_type_problems(f"wires.{key}", WireGeometry, sub)
        problems += list(bad.values())
        if unknown or bad:
            continue
        try:
            parts[key] = WireGeometry(**sub)
        except (SpecError, TypeError) as exc:  # TypeError: a field missing
            problems.append(f"wires.{key}: {exc}")
    if problems:
        raise ConfigError(*problems)
    return WireParasitics.from_geometry(row=parts["row_geometry"], col=parts["col_geometry"], **table)


def _problems_of(exc: Exception, section: str) -> list[str]:
    if isinstance(exc, ConfigError):
        return list(exc.problems)
    if isinstance(exc, TypeError):
        return [f"[{section}] {exc}"]
    return [str(exc)]


def _built(section: str, table: dict[str, Any], build: typing.Callable[[dict[str, Any]], Any]) -> tuple[Any, list[str]]:
    """``(build(table) or None, problems)``: every independent problem of one section. A problem that names one of
    the table's fields (``section.field...``) is noted, that field dropped, and the section built again, so the next
    field's problem shows too; a problem that names a field already dropped follows from it and is not repeated."""
    table = {k: (dict(v) if k == "params" and isinstance(v, dict) else v) for k, v in table.items()}
    problems: list[str] = []
    dropped: set[str] = set()
    for _ in range(len(table) + len(table.get("params", {})) + 1):
        try:
            return build(table), problems
        except (SpecError, TypeError) as exc:
            found = _problems_of(exc, section)
        named = [m.group(1) for p in found for m in [re.match(rf"(?:\[{section}\] |unknown field )?{re.escape(section)}"
                                                               rf"\.(\w+)", p)] if m]
        follows = [p for p in found if any(re.search(rf"\b{re.escape(section)}\.{d}\b|'{d}'", p) for d in dropped)]
        problems += [p for p in found if p not in follows]
        keys = [k for k in named if k in table or k in table.get("params", {})]
        if len(keys) < len(found):  # a problem of the section as a whole: nothing to drop and build again
            return None, problems
        for key in keys:
            dropped.add(key)
            if key in table:
                del table[key]
            else:
                del table["params"][key]
        if "params" in table and not table["params"]:
            del table["params"]
    return None, problems


def _renamed(section: str, table: dict[str, Any], source: str) -> dict[str, Any]:
    """``table`` with renamed keys under their new names (a DeprecationWarning names each)."""
    renames = RENAMED_FIELDS.get(section, {})
    if not any(old in table for old in renames):
        return table
    table = dict(table)
    for old, new in renames.items():
        if old not in table:
            continue
        if new in table:
            raise ConfigError(f"{source}: {section}.{old} is the old name of {section}.{new}; give only {new}")
        warnings.warn(f"{source}: [{section}] {old} is deprecated; rename it {new} (same meaning and value)",
                      DeprecationWarning, stacklevel=4)
        table[new] = table.pop(old)
    return table


def _files_resolved(table: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """``table`` with every string field named ``*_file`` (a device's or converter's measured data; in a device's
    ``params`` too) made absolute against ``base_dir``, the config file's folder (``~`` expanded)."""

    def fix(values: dict[str, Any]) -> dict[str, Any]:
        out = dict(values)
        for key, value in values.items():
            if key.endswith("_file") and isinstance(value, str) and value:
                p = Path(os.path.expanduser(value))
                out[key] = str(p if p.is_absolute() else (base_dir / p))
        return out

    table = fix(table)
    if isinstance(table.get("params"), dict):
        table["params"] = fix(table["params"])
    return table


def parse_config(data: dict[str, Any], *, base_dir: Path | None = None, source: str = "config") -> ExperimentConfig:
    """An ``ExperimentConfig`` from parsed TOML ``data``. ConfigError lists every problem found, one per line, each
    naming the field, its value and the fix (``problems``): unknown sections and fields (with "did you mean"), values
    of the wrong type, values out of range -- in every section, in one pass."""
    top = dict(data)
    kwargs: dict[str, Any] = {"base_dir": base_dir or Path.cwd()}
    problems: list[str] = []
    if "name" in top:
        try:
            kwargs["name"] = safe_name("config", "name", top.pop("name"))
        except SpecError as exc:
            problems.append(str(exc))
    failed: set[str] = set()  # sections that could not be built: checks across sections would see their defaults
    for section, table in top.items():
        if section not in _SECTIONS:
            problems.append(unknown_key(f"section or field {section!r}", section, ["name", *_SECTIONS]))
            continue
        if not isinstance(table, dict):
            problems.append(f"{section} must be a table ([{section}])")
            failed.add(section)
            continue
        built, found = _section(section, table, kwargs["base_dir"], source)
        problems += found
        if built is None:
            failed.add(section)
        else:
            kwargs[section] = built
    cfg = ExperimentConfig(**kwargs)
    if not failed & _HARDWARE_SECTIONS:  # the sections together (the topology one the periphery supports): only
        try:  # when each of them stands, else a default in place of a bad one would be blamed
            cfg.hardware
        except SpecError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError(*(f"{source}: {with_suggestion(p)}" for p in problems))
    return cfg


def _device(table: dict[str, Any]) -> DeviceSpec:
    """``[device]``: the spec and its kind's device (an unknown kind or a field the kind does not have fails here)."""
    from pyims.devices import device_for

    spec = DeviceSpec(**table)
    device_for(spec)
    return spec


_BUILDERS: dict[str, typing.Callable[[dict[str, Any]], Any]] = {"wires": _wires, "device": _device}
_HARDWARE_SECTIONS = {"device", "encoding", "wires", "partitions", "periphery", "adc", "simulation"}


def _section(section: str, table: dict[str, Any], base_dir: Path, source: str) -> tuple[Any, list[str]]:
    """``(the section's object or None, its problems)``: unknown fields, wrong types and bad values, all of them."""
    cls = _SECTIONS[section]
    problems: list[str] = []
    try:
        table = _renamed(section, table, source)
    except ConfigError as exc:
        return None, list(exc.problems)
    allowed = _allowed(cls) + (["row_geometry", "col_geometry"] if section == "wires" else [])
    if section == "device":  # fields beyond DeviceSpec's are the kind's own: its class checks them
        allowed.remove("params")
        own = {k: v for k, v in table.items() if k not in allowed}
        for k, v in own.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                problems.append(f"device.{k}={v!r} must be a number or a string")
        own = {k: v for k, v in own.items() if not (isinstance(v, bool) or not isinstance(v, (int, float, str)))}
        table = {k: v for k, v in table.items() if k in allowed} | ({"params": own} if own else {})
        allowed.append("params")
    unknown = [k for k in table if k not in allowed]
    problems += [unknown_key(f"field {section}.{k}", k, allowed) for k in unknown]
    bad = _table_type_problems(section, cls, table)
    problems += list(bad.values())
    table = {k: v for k, v in table.items() if k not in unknown and k not in bad}
    if section in ("device", "adc"):  # a measured curve's file (``*_file``): relative to the config's folder
        table = _files_resolved(table, base_dir)
    built, found = _built(section, table, _BUILDERS.get(section, lambda t: cls(**t)))
    problems += found
    return (built if not problems else None), problems


def read_toml(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """The parsed TOML file at ``path``; ConfigError naming ``what`` it is when missing or invalid."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist; see examples/ for files to start from")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:  # TOML is UTF-8 text
        raise ConfigError(f"{path} is not valid TOML: byte {exc.start} is not UTF-8 text; save it as UTF-8") from exc
    except RecursionError as exc:  # arrays or inline tables nested thousands deep
        raise ConfigError(f"{path} is not valid TOML for pyims: its arrays or tables are nested too deep to read; "
                          "no pyims config nests more than three levels") from exc
    except OSError as exc:  # permission denied, a read error
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror or exc}") from exc


def load_config(path: str | os.PathLike[str]) -> ExperimentConfig:
    """Read and validate the TOML experiment config at ``path``."""
    path = Path(path)
    return parse_config(read_toml(path, "config file"), base_dir=path.resolve().parent, source=str(path))
