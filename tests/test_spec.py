import math

import numpy as np
import pytest

from pyims import SpecError, TileSpec, WireGeometry, WireParasitics
from pyims.runners import TileJob


def test_geometry_formula_by_hand():
    # 100 nm pitch, 50 nm x 100 nm copper line: R = 1.72e-8 * 1e-7 / (5e-8 * 1e-7) = 0.344 ohm
    geo = WireGeometry(width_m=50e-9, thickness_m=100e-9, pitch_m=100e-9, c_per_length_f_per_m=2e-10)
    assert math.isclose(geo.r_segment_ohm, 0.344, rel_tol=1e-12)
    assert math.isclose(geo.c_segment_f, 2e-17, rel_tol=1e-12)
    wires = WireParasitics.from_geometry(row=geo, col=WireGeometry(width_m=25e-9, thickness_m=100e-9, pitch_m=100e-9),
                                         r_driver_ohm=5.0)
    assert math.isclose(wires.r_row_ohm, 0.344, rel_tol=1e-12)
    assert math.isclose(wires.r_col_ohm, 0.688, rel_tol=1e-12)
    assert wires.r_driver_ohm == 5.0 and wires.c_col_f == 0.0


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("r_row_ohm", -1.0, r"WireParasitics.r_row_ohm=-1.0 is negative"),
        ("r_col_ohm", float("nan"), r"WireParasitics.r_col_ohm=nan is not finite"),
        ("r_driver_ohm", float("inf"), r"r_driver_ohm=inf is not finite"),
        ("r_sense_ohm", "10", r"r_sense_ohm='10' is not a real number"),
        ("c_row_f", True, r"c_row_f=True is not a real number"),
        ("c_col_f", -1e-15, r"c_col_f=-1e-15 is negative"),
    ],
)
def test_wire_parasitics_rejects_bad_values(field, value, match):
    with pytest.raises(SpecError, match=match):
        WireParasitics(**{field: value})


@pytest.mark.parametrize("field", ["width_m", "thickness_m", "pitch_m", "resistivity_ohm_m"])
def test_geometry_rejects_non_positive(field):
    kwargs = dict(width_m=1e-7, thickness_m=1e-7, pitch_m=1e-7)
    kwargs[field] = 0.0
    with pytest.raises(SpecError, match=rf"WireGeometry.{field}=0.0 must be > 0"):
        WireGeometry(**kwargs)


def test_spec_error_is_a_value_error():
    with pytest.raises(ValueError):
        WireParasitics(r_row_ohm=-1)


@pytest.mark.parametrize(
    "g, match",
    [
        (np.array([[1e-5, 0.0]]), r"g_s\[0,1\]=0.0 S is not positive"),
        (np.array([[1e-5], [-1e-5]]), r"g_s\[1,0\]=-1e-05 S is not positive"),
        (np.array([[1e-5, np.nan]]), r"g_s\[0,1\]=nan is not finite"),
        (np.array([[np.inf]]), r"g_s\[0,0\]=inf is not finite"),
        (np.zeros((0, 3)), r"empty"),
        (np.ones(3) * 1e-5, r"shape \(3,\); pass a 2-D array"),
        ([["a", "b"]], r"cannot be read as a float array"),
    ],
)
def test_tile_rejects_bad_conductances(g, match):
    with pytest.raises(SpecError, match=match):
        TileSpec(g_s=g)


def test_tile_rejects_non_wire_object():
    with pytest.raises(SpecError, match=r"TileSpec.wires is a dict, not a WireParasitics"):
        TileSpec(g_s=np.ones((2, 2)), wires={"r_row_ohm": 1.0})


def test_tile_is_a_frozen_read_only_copy_with_content_equality():
    g = np.full((2, 3), 1e-5)
    tile = TileSpec(g_s=g, wires=WireParasitics(r_row_ohm=1.0))
    g[0, 0] = 5.0  # the caller's array is not aliased
    assert tile.g_s[0, 0] == 1e-5
    with pytest.raises(ValueError):
        tile.g_s[0, 0] = 1.0
    same = TileSpec(g_s=np.full((2, 3), 1e-5), wires=WireParasitics(r_row_ohm=1.0))
    other = TileSpec(g_s=np.full((2, 3), 1e-5), wires=WireParasitics(r_row_ohm=2.0))
    assert tile == same and hash(tile) == hash(same) and len({tile, same, other}) == 2
    assert tile != other
    assert (tile.n_rows, tile.n_cols) == (2, 3)


@pytest.mark.parametrize(
    "v, match",
    [
        (np.ones((1, 3)), r"v_in_v has shape \(1, 3\) but the tile has 2 rows"),
        (np.ones(2), r"shape \(2,\); pass a 2-D array"),
        (np.array([[0.1, np.nan]]), r"v_in_v\[0,1\]=nan is not finite"),
        (np.zeros((0, 2)), r"empty"),
    ],
)
def test_job_rejects_bad_inputs(v, match):
    with pytest.raises(SpecError, match=match):
        TileJob(tile=TileSpec(g_s=np.ones((2, 2))), v_in_v=v)


def test_job_rejects_non_tile():
    with pytest.raises(SpecError, match=r"TileJob.tile is a ndarray, not a TileSpec"):
        TileJob(tile=np.ones((2, 2)), v_in_v=np.ones((1, 2)))
