"""Sweep specs: a base experiment and axes; the points are the cartesian product of the axes.

TOML layout::

    name = "parasitic-sweep"
    base = "../examples/digits_basic.toml"   # optional: an experiment config to start from
    [experiment]                              # optional: fields set on top of the base
    simulation = { verify_images = 0 }
    [axes]                                    # field path -> list of values
    "wires.r_row_ohm+wires.r_col_ohm" = [0.0, 2.5, 5.0]   # '+' sets several fields to one value
    "partitions" = [{}, { horizontal = [4, 2], vertical = [2, 1] }, { max_rows = 16, max_cols = 16 }]
                                              # a bare section: each value replaces the whole section

Every point is validated before anything runs; an error names the axis and the value.
Relative paths resolve against the base config's folder when there is one, else the sweep's.
"""

from __future__ import annotations

import copy
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyims.errors import ConfigError, SpecError
from pyims.spec._checks import safe_name
from pyims.experiment.config import ExperimentConfig, parse_config, read_toml, unknown_key

__all__ = ["SweepSpec", "load_sweep", "parse_sweep", "is_sweep_file", "MAX_SWEEP_POINTS"]

#: The most points one sweep spec may have (checked from the axes' lengths, before any point is built).
MAX_SWEEP_POINTS = 20_000


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSpec:
    """A named sweep: the base experiment data, the axes, and where relative paths resolve."""

    name: str
    base: dict[str, Any]
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    base_dir: Path

    @property
    def n_points(self) -> int:
        n = 1
        for _, values in self.axes:
            n *= len(values)
        return n

    def points(self) -> list[dict[str, Any]]:
        """One ``{axis: value}`` dict per point, in a deterministic order."""
        names = [a for a, _ in self.axes]
        return [dict(zip(names, combo)) for combo in itertools.product(*(v for _, v in self.axes))]

    def point_data(self, point: dict[str, Any]) -> dict[str, Any]:
        """The experiment config data of ``point`` (base with the axis values set)."""
        data = copy.deepcopy(self.base)
        for axis, value in point.items():
            for path in axis.split("+"):
                section, dot, field = path.partition(".")
                if dot:
                    data.setdefault(section, {})[field] = copy.deepcopy(value)
                else:
                    data[section] = copy.deepcopy(value)
        data["name"] = f"{self.name}"
        return data

    def config(self, point: dict[str, Any]) -> ExperimentConfig:
        return parse_config(self.point_data(point), base_dir=self.base_dir, source=f"sweep {self.name!r} point {point}")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_sweep(data: dict[str, Any], *, base_dir: Path, source: str = "sweep") -> SweepSpec:
    """A validated ``SweepSpec`` from parsed TOML ``data``. ConfigError lists every problem in one pass (``problems``):
    unknown fields (with "did you mean"), bad axes, and each distinct problem of the points (with the first point
    that has it)."""
    allowed = ["axes", "base", "experiment", "name"]
    problems = [f"{source}: {unknown_key(f'field {k!r}', k, allowed)}" for k in data if k not in allowed]
    name = data.get("name", "sweep")
    try:
        safe_name("sweep", "name", name)
    except SpecError as exc:
        problems.append(f"{source}: {exc}")
        name = "sweep"
    base: dict[str, Any] = {}
    if "base" in data:
        path = Path(os.path.expanduser(str(data["base"])))
        path = path if path.is_absolute() else base_dir / path
        try:
            base = read_toml(path, f"{source}: base config")
        except ConfigError as exc:
            raise ConfigError(*problems, *exc.problems) from exc  # nothing to build points from
        base.pop("name", None)
        base_dir = path.parent  # relative paths (weights, datasets) resolve against the base config
    experiment = data.get("experiment", {})
    if not isinstance(experiment, dict):
        problems.append(f"{source}: [experiment] must be a table of experiment sections")
        experiment = {}
    base = _merge(base, experiment)
    axes_data = data.get("axes")
    axes = []
    if not isinstance(axes_data, dict) or not axes_data:
        problems.append(f"{source}: [axes] is missing or empty; give at least one 'section.field' = [values]")
        axes_data = {}
    for axis, values in axes_data.items():
        problem = _axis_problem(axis, values)
        if problem:
            problems.append(f"{source}: {problem}")
        else:
            axes.append((axis, tuple(values)))
    if problems:
        raise ConfigError(*problems)
    spec = SweepSpec(name=name, base=base, axes=tuple(axes), base_dir=base_dir)
    if spec.n_points > MAX_SWEEP_POINTS:
        raise ConfigError(f"{source}: the axes make {spec.n_points:,} points ({' x '.join(str(len(v)) for _, v in axes)}); "
                          f"a sweep holds at most {MAX_SWEEP_POINTS:,}: split it into several sweeps (--append them to "
                          "one store)")
    seen: set[str] = set()
    for point in spec.points():
        where = f"sweep {spec.name!r} point {point}: "
        try:
            cfg = spec.config(point)
            _check_seed_axes(spec, cfg, point, source)
        except ConfigError as exc:
            for p in exc.problems:  # a problem of the base shows in every point: once, with the first point
                bare = p.removeprefix(where)
                if bare not in seen:
                    seen.add(bare)
                    problems.append(f"{source}: point {point} is invalid: {bare}" if p.startswith(where) else p)
    if problems:
        raise ConfigError(*problems)
    return spec


def _axis_problem(axis: str, values: object) -> str | None:
    """Why ``axis = values`` is not an axis, or ``None``."""
    if not isinstance(values, list) or not values:
        return f"axis {axis!r} needs a non-empty list of values"
    for path in axis.split("+"):
        section, dot, field = path.partition(".")
        if not section or (dot and not field):
            return f"axis {axis!r} must name 'section.field' (e.g. 'wires.r_row_ohm') or a section, joined by '+'"
        if not dot and not all(isinstance(v, dict) for v in values):
            return f"axis {axis!r} names a whole section; each value must be a table, e.g. {{ max_rows = 16 }}"
    return None


#: Seeds that Monte Carlo draws replace (``Hardware.redrawn``): an axis over one of them changes nothing then.
REDRAWN_SEEDS = ("device.seed", "device.variation_seed", "adc.seed")


def _check_seed_axes(spec: SweepSpec, cfg: ExperimentConfig, point: dict[str, Any], source: str) -> None:
    """ConfigError when an axis sweeps a seed that ``simulation.repeats`` > 1 replaces by the draws' own seeds."""
    if cfg.simulation.repeats == 1:
        return
    for axis, _ in spec.axes:
        swept = [p for p in axis.split("+") if p in REDRAWN_SEEDS]
        if swept:
            raise ConfigError(
                f"{source}: axis {axis!r} sweeps {swept[0]}, but point {point} runs simulation.repeats = "
                f"{cfg.simulation.repeats} draws, whose seeds replace it (they come from simulation.repeat_seed); "
                "sweep \"simulation.repeat_seed\" instead, or set simulation.repeats = 1")


def is_sweep_file(path: str | os.PathLike[str]) -> bool:
    """Whether the TOML file at ``path`` is a sweep spec: it has an ``axes`` entry, which no experiment config has
    (``pyims check`` checks such a file as ``pyims sweep --dry-run`` does). ConfigError when it cannot be read as TOML."""
    return "axes" in read_toml(path, "config file")


def load_sweep(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and validate the sweep TOML at ``path``."""
    path = Path(path)
    return parse_sweep(read_toml(path, "sweep file"), base_dir=path.resolve().parent, source=str(path))
