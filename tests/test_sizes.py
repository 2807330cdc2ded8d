"""#25, sizes: every count a config can type has a documented bound, checked before any work or allocation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pyims.errors import ConfigError, SpecError
from pyims.experiment.config import parse_config
from pyims.model.train import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_HIDDEN
from pyims.sweeps.spec import MAX_SWEEP_POINTS, parse_sweep


@pytest.mark.parametrize("train, match", [
    ({"epochs": 2**63}, rf"train.epochs=9223372036854775808 must be an integer in 1..{MAX_EPOCHS}"),
    ({"epochs": 0}, r"train.epochs=0 must be an integer in 1\.\."),
    ({"batch_size": MAX_BATCH_SIZE + 1}, rf"train.batch_size={MAX_BATCH_SIZE + 1} must be an integer in 1\.\."),
    ({"hidden": [10, 10**9]}, rf"train.hidden=\[10, 1000000000\] must be integers in 1..{MAX_HIDDEN}"),
    ({"hidden": [4] * 65}, r"train.hidden has 65 layers; at most 64"),
])
def test_training_sizes_are_bounded(train, match):
    with pytest.raises(ConfigError, match=match):
        parse_config({"train": train})
    parse_config({"train": {"epochs": MAX_EPOCHS, "hidden": [MAX_HIDDEN]}})  # the bounds themselves are fine


def test_a_huge_sweep_is_refused_at_once():
    axes = {f"wires.r_{k}_ohm": [float(v) for v in range(50)] for k in ("row", "col")}
    axes["wires.r_driver_ohm"] = [float(v) for v in range(50)]  # 125,000 points
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match=rf"the axes make 125,000 points \(50 x 50 x 50\); a sweep holds at most "
                                          rf"{MAX_SWEEP_POINTS:,}"):
        parse_sweep({"name": "big", "experiment": {}, "axes": axes}, base_dir=Path("."))
    assert time.monotonic() - t0 < 5.0  # not one point was built
