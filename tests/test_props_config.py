"""#25, property tests of the config and sweep-spec loaders: TOML documents mutated from the shipped examples.

Whatever the document holds -- a field of another type (dates among them), an unknown key, a section that is not a
table, tables nested where a number belongs, text damaged byte by byte -- ``load_config`` / ``load_sweep`` either
return a valid config or raise a ``PyimsError`` subclass naming the file; no other exception escapes. While they run,
an audit hook records every file opened: nothing is read outside the config's own folder except the files the
document names itself (a ``*_file``, ``model.file`` / ``weights``, ``dataset.path``, a sweep's ``base``) and
Python's own modules. A valid config's ``as_dict`` parses back to the same config.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyims
from pyims.errors import ConfigError, PyimsError
from pyims.experiment.config import load_config, parse_config
from pyims.sweeps.spec import load_sweep

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml")) + [ROOT / "examples" / "cnn" / "lenet_fashion.toml"]
SWEEPS = sorted((ROOT / "examples" / "sweeps").glob("*.toml"))
SETTINGS = dict(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                                        HealthCheck.function_scoped_fixture])

# ------------------------------------------------------------------ what the loaders open, while they run
_OPENED: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # one hook for the session (hooks cannot be removed); it records only inside _opened_by
_PYTHON = tuple(str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, Path(pyims.__file__).parent})


def _opened_by(call):
    """``(result or exception, [paths opened])`` of ``call()``."""
    global _OPENED
    _OPENED = []
    try:
        try:
            out = call()
        except Exception as exc:  # judged by the caller: only PyimsError may escape
            out = exc
        return out, _OPENED
    finally:
        _OPENED = None


def _named_paths(data, base: Path) -> set[Path]:
    """Every path a document names in a field that holds one (``*_file``, ``file``, ``weights``, ``path``,
    ``cache_dir``, ``base``), resolved against ``base``, with what lies below it (a dataset folder)."""
    out: set[Path] = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, str) and v and "\x00" not in v and (
                        str(k).endswith("_file") or k in ("file", "weights", "path", "cache_dir", "base")):
                    p = Path(os.path.expanduser(v))
                    out.add((p if p.is_absolute() else base / p).resolve())
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data)
    return out


def _assert_reads_stay_home(opened: list[str], folder: Path, named: set[Path]) -> None:
    for name in opened:
        p = Path(name) if os.path.isabs(name) else Path.cwd() / name
        real = p.resolve()
        if real.is_relative_to(folder.resolve()) or str(real).startswith(_PYTHON):
            continue
        if any(real == n or real.is_relative_to(n) or p == n for n in named):
            continue  # the document names it: the user's pointer, hashed into the key (test_content_keys)
        raise AssertionError(f"the loader opened {name} ({real}), outside the config's folder {folder}, which the "
                             f"document does not name (named: {sorted(map(str, named))})")


def test_the_read_audit_sees_a_read_outside_the_folder(tmp_path):
    """The audit the properties rely on is not blind: a read beside the folder is caught, one inside passes."""
    folder = _outside(tmp_path)
    folder.mkdir()
    (folder / "in.txt").write_text("x")
    _, opened = _opened_by(lambda: (folder / "in.txt").read_text())
    _assert_reads_stay_home(opened, folder, set())
    _, opened = _opened_by(lambda: (tmp_path / "outside.csv").read_text())
    with pytest.raises(AssertionError, match=r"opened .*outside.csv .*outside the config's folder"):
        _assert_reads_stay_home(opened, folder, set())
    _assert_reads_stay_home(opened, folder, {tmp_path / "outside.csv"})  # named by the document: the user's pointer


# ------------------------------------------------------------------ TOML text from a dict (tomllib only reads)
def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string: JSON escapes are TOML escapes
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    raise TypeError(type(v))


def to_toml(data: dict) -> str:
    lines = [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict) and v is not None]
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f"[{json.dumps(str(k))}]")
            lines += [f"{json.dumps(str(kk))} = {_toml_value(vv)}" for kk, vv in v.items() if vv is not None]
    return "\n".join(lines) + "\n"


def test_the_toml_writer_round_trips_every_example():
    """The writer the properties use is itself right: each shipped example, written again, reads back equal."""
    for path in EXAMPLES + SWEEPS:
        data = tomllib.loads(path.read_text())
        assert tomllib.loads(to_toml(data)) == data, path


# ------------------------------------------------------------------ hostile values and mutations
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_PATHLIKE = st.sampled_from(["../outside.csv", "/etc/hostname", "~/nothing-here.csv", "sub/levels.csv", "levels.csv",
                             "..", ".", "", "a" * 300, "nul\x00byte", "../outside"])
_ENUMS = st.sampled_from(["digits", "mnist", "mnist5k", "train", "npz", "csv", "relu", "sigmoid", "hardsigmoid",
                          "analog", "tiled", "ideal", "circuit", "opamp", "diffamp", "linear", "pcm", "rram", "measured",
                          "dac", "pwm", "auto", "schur", "solves", "all", "none", "global", "per_column"])
_SCALAR = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.integers(-3, 70),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e3, 1e3), st.sampled_from([1e-300, 1e300, -0.0, 5e-324]),
    _TEXT, _PATHLIKE, _ENUMS,
    st.dates(), st.datetimes(timezones=st.just(dt.timezone.utc)), st.times(),
)
_JUNK = st.recursive(_SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(_TEXT, inner, max_size=3)), max_leaves=10)


def _paths(data, prefix=()):
    """Every key path of a nested dict (sections and leaves)."""
    for k, v in data.items():
        yield prefix + (k,)
        if isinstance(v, dict):
            yield from _paths(v, prefix + (k,))


@st.composite
def mutated(draw, sources: list[Path]) -> tuple[Path, dict]:
    """A shipped document with one to four mutations: a value of the same type (a number scaled, a bool flipped, a
    list cut or grown, a string another option's name), a value replaced by junk, a key removed, a key added (a near
    miss of a real one, or random), a section replaced, a value nested deep in lists and tables."""
    source = draw(st.sampled_from(sources))
    data = tomllib.loads(source.read_text())
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(data))
        op = draw(st.sampled_from(["set", "delete", "add", "near", "deep", "section", "tweak", "tweak"]))
        path = draw(st.sampled_from(paths)) if paths else ()
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if op == "set" and path:
            parent[path[-1]] = draw(_JUNK)
        elif op == "tweak" and path:  # a plausible value of the same type: reaches the checks beyond the types
            value = parent[path[-1]]
            if isinstance(value, bool):
                parent[path[-1]] = not value
            elif isinstance(value, (int, float)):
                scaled = value * draw(st.sampled_from([0, 0.5, 2, 3, -1, 10]))
                parent[path[-1]] = int(scaled) if isinstance(value, int) else float(scaled)
            elif isinstance(value, str):
                parent[path[-1]] = draw(_ENUMS)
            elif isinstance(value, list) and value:
                parent[path[-1]] = value[: draw(st.integers(0, len(value)))] + value[:1] * draw(st.integers(0, 2))
        elif op == "delete" and path:
            del parent[path[-1]]
        elif op == "add":
            target = parent if draw(st.booleans()) else data
            target[draw(_TEXT)] = draw(_JUNK)
        elif op == "near" and path:  # a misspelt key: a letter dropped or doubled
            k = str(path[-1])
            i = draw(st.integers(0, max(len(k) - 1, 0)))
            parent[k[:i] + k[i + 1:] if draw(st.booleans()) else k[:i] + k[i:i + 1] * 2 + k[i + 1:]] = parent.pop(path[-1])
        elif op == "deep" and path:
            value = parent[path[-1]]
            for _ in range(draw(st.integers(1, 60))):
                value = [value] if draw(st.booleans()) else {"x": value}
            parent[path[-1]] = value
        elif op == "section":
            data[draw(st.sampled_from([*data, "dataset", "adc", "wires", "axes", "experiment"]))] = draw(_JUNK)
    return source, data


def _write(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def _outside(tmp_path: Path) -> Path:
    """The config's folder, below a folder holding files a hostile document may point at."""
    (tmp_path / "outside.csv").write_text("target_s,measured_s\n1e-6,1e-6\n1e-4,1e-4\n")
    (tmp_path / "outside").mkdir(exist_ok=True)
    return tmp_path / "cfg"


def _check_loader(load, folder: Path, path: Path, data: dict) -> None:
    out, opened = _opened_by(lambda: load(path))
    if isinstance(out, Exception) and not isinstance(out, PyimsError):
        raise AssertionError(f"{type(out).__name__} escaped for {data!r}") from out
    _assert_reads_stay_home(opened, folder, _named_paths(data, folder) | ({(folder / "..").resolve() / "outside.csv"}
                                                                          if "outside" in json.dumps(data, default=str)
                                                                          else set()))


@settings(max_examples=400, **SETTINGS)
@given(case=mutated(EXAMPLES))
def test_mutated_experiment_configs_load_or_raise_a_pyims_error(tmp_path, case):
    source, data = case
    folder = _outside(tmp_path)
    path = _write(folder, data)
    _check_loader(load_config, folder, path, data)


@settings(max_examples=100, **SETTINGS)
@given(case=mutated(SWEEPS), base=st.sampled_from(["base.toml", "../outside.csv", "missing.toml", "sub"]))
def test_mutated_sweep_specs_load_or_raise_a_pyims_error(tmp_path, case, base):
    source, data = case
    folder = _outside(tmp_path)
    folder.mkdir(exist_ok=True)
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "base.toml").write_text((ROOT / "examples" / "digits_basic.toml").read_text())
    if "base" in data:
        data["base"] = base
    if isinstance(data.get("axes"), dict):  # keep sweeps small: the property is about parsing, not size
        data["axes"] = {k: (v[:3] if isinstance(v, list) else v) for k, v in list(data["axes"].items())[:3]}
    path = _write(folder, data)
    _check_loader(load_sweep, folder, path, data)


@settings(max_examples=200, **SETTINGS)
@given(source=st.sampled_from(EXAMPLES + SWEEPS), cut=st.floats(0.0, 1.0), junk=st.binary(max_size=6),
       at=st.floats(0.0, 1.0))
def test_damaged_toml_text_loads_or_raises_a_pyims_error(tmp_path, source, cut, junk, at):
    """The example's bytes cut short and with a few random bytes put in (invalid UTF-8, stray brackets)."""
    raw = source.read_bytes()
    raw = raw[: int(len(raw) * (1 - cut / 4))]
    i = int(len(raw) * at)
    folder = _outside(tmp_path)
    folder.mkdir(exist_ok=True)
    path = folder / "config.toml"
    path.write_bytes(raw[:i] + junk + raw[i:])
    load = load_sweep if source in SWEEPS else load_config
    out, opened = _opened_by(lambda: load(path))
    if isinstance(out, Exception) and not isinstance(out, PyimsError):
        raise AssertionError(f"{type(out).__name__} escaped for {raw[:i] + junk + raw[i:]!r}") from out


@settings(max_examples=150, **SETTINGS)
@given(case=mutated(EXAMPLES))
def test_a_valid_config_parses_back_from_its_dict(tmp_path, case):
    """Correct results: whatever a mutated document still loads as, ``as_dict`` describes it fully."""
    source, data = case
    folder = _outside(tmp_path)
    try:
        cfg = load_config(_write(folder, data))
    except PyimsError:
        return
    again = parse_config(cfg.as_dict(), base_dir=cfg.base_dir, source="round trip")
    assert again.as_dict() == cfg.as_dict()


# ------------------------------------------------------------------ regressions the properties found
def test_a_config_that_is_not_utf8_is_a_config_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(b'name = "caf\xe9"\n')  # Latin-1
    with pytest.raises(ConfigError, match=r"c.toml is not valid TOML: byte 11 is not UTF-8 text; save it as UTF-8"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"is not valid TOML: byte 11 is not UTF-8 text"):
        load_sweep(path)


def test_toml_nested_thousands_deep_is_a_config_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nhidden = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"c.toml is not valid TOML for pyims: its arrays or tables are nested too deep"):
        load_config(path)


def test_an_unreadable_config_is_a_config_error(tmp_path, monkeypatch):
    path = tmp_path / "c.toml"
    path.write_text('name = "x"\n')

    def refuse(self, *args, **kwargs):  # as a file of mode 000 read by anyone but root
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(ConfigError, match=r"config file .*c.toml cannot be read: Permission denied"):
        load_config(path)


# ------------------------------------------------------------------ #25 root cause 4: a reported time is a simulated time
@settings(max_examples=150, **SETTINGS)
@given(t_read=st.floats(1e-12, 1e-6), fracs=st.lists(st.floats(1e-3, 1.0), max_size=3),
       step=st.one_of(st.none(), st.floats(1e-14, 1e-9)), rise=st.one_of(st.none(), st.floats(1e-13, 1e-9)))
def test_every_read_time_a_config_accepts_lies_on_its_simulated_grid(t_read, fracs, step, rise):
    """``simulation.read_times_s`` anywhere in the window, with or without a step and a rise time: the config is
    refused (ConfigError naming the time and the grid), or every read time it reports is a point of the grid the
    transient runs on (it was rounded to the nearest step before #25)."""
    from pyims.spec.analysis import ReadAt

    sim = {"t_read_s": t_read, "read_times_s": [t_read * f for f in fracs]}
    sim |= {"t_step_s": step} if step is not None else {}
    sim |= {"t_rise_s": rise} if rise is not None else {}
    try:
        cfg = parse_config({"simulation": sim, "wires": {"c_row_f": 1e-15, "c_col_f": 1e-15}})
    except ConfigError as exc:
        assert "simulation" in str(exc)
        return
    s = cfg.simulation
    a = ReadAt(t_read_s=s.t_read_s, t_rise_s=s.t_rise_s, t_step_s=s.t_step_s, read_times_s=s.read_times_s)
    grid = a.t_grid_s
    for t in a.all_read_times_s:
        assert grid[a.index_of(t)] == pytest.approx(a.t_delay_s + t, rel=1e-9, abs=0.0), (t, a.step_s)


def test_a_read_time_off_an_explicit_grid_is_refused():
    with pytest.raises(ConfigError, match=r"simulation.read_times_s\[0\]: t = 3.5e-11 s is not on the grid of step 1e-11 s; "
                                          r"leave t_step_s unset"):
        parse_config({"simulation": {"t_read_s": 1e-10, "t_step_s": 1e-11, "read_times_s": [3.5e-11]},
                      "wires": {"c_row_f": 1e-15, "c_col_f": 1e-15}})
