"""Renamed config keys keep working: ``[periphery] t_read_s`` is now ``t_energy_window_s`` (the energy window,
not the read time ``simulation.t_read_s``)."""

from __future__ import annotations

import warnings

import pytest

from pyims.errors import ConfigError, SpecError
from pyims.experiment.config import config_key, parse_config
from pyims.spec import PeripherySpec


def test_the_new_key_works_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg = parse_config({"periphery": {"t_energy_window_s": 2e-8}})
    assert cfg.periphery.t_energy_window_s == 2e-8
    assert cfg.as_dict()["periphery"]["t_energy_window_s"] == 2e-8 and "t_read_s" not in cfg.as_dict()["periphery"]


def test_the_old_key_warns_naming_the_new_one_and_still_works():
    with pytest.warns(DeprecationWarning, match=r"x.toml: \[periphery\] t_read_s is deprecated; rename it t_energy_window_s"):
        old = parse_config({"periphery": {"t_read_s": 2e-8}}, source="x.toml")
    assert old.periphery.t_energy_window_s == 2e-8
    assert old == parse_config({"periphery": {"t_energy_window_s": 2e-8}}, base_dir=old.base_dir)
    with pytest.warns(DeprecationWarning, match=r"PeripherySpec\(t_read_s=...\) is deprecated: the energy window is t_energy_window_s"):
        assert PeripherySpec(t_read_s=3e-8).t_energy_window_s == 3e-8


def test_old_and_new_key_together_are_refused():
    with pytest.raises(ConfigError, match=r"periphery.t_read_s is the old name of periphery.t_energy_window_s; give only "
                                          r"t_energy_window_s"):
        parse_config({"periphery": {"t_read_s": 2e-8, "t_energy_window_s": 2e-8}})
    with pytest.warns(DeprecationWarning), pytest.raises(SpecError, match=r"give t_energy_window_s or its old name t_read_s"):
        PeripherySpec(t_read_s=2e-8, t_energy_window_s=3e-8)
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigError, match=r"periphery.t_energy_window_s=0.0 must be > 0"):
        parse_config({"periphery": {"t_read_s": 0.0}})


def test_config_keys_do_not_change_with_the_rename():
    """Keys of earlier configs hold (sweep stores resume): the values pyims 0.1.0 computed before the rename."""
    assert config_key(parse_config({})) == "083d6865ba5e35eb"
    new = parse_config({"periphery": {"t_energy_window_s": 2e-8, "sense": "opamp"}, "wires": {"r_row_ohm": 1.0}})
    assert config_key(new) == "8d27d0deab63e99b"
