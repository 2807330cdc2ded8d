"""The offline demo: scikit-learn's 8x8 digits on a 64x32x10 sigmoid network with wire
resistance and partitions, checked against ngspice, then a small wire-R x partition table."""

from __future__ import annotations

from typing import Any

import numpy as np

from pyims.compare import accuracy_stats
from pyims.experiment.config import ExperimentConfig, parse_config
from pyims.experiment.run import ExperimentResult
from pyims.inference.simulate import simulate
from pyims.mapping import map_network
from pyims.spec import PartitionPlan, WireParasitics

__all__ = ["DEMO_CONFIG", "demo_config", "wire_partition_table"]

#: The demo experiment, as an experiment config (same fields as ``pyims run`` takes).
DEMO_CONFIG: dict[str, Any] = {
    "name": "demo-digits",
    "dataset": {"name": "digits", "test_fraction": 0.25, "seed": 0},
    "train": {"hidden": [32], "epochs": 40, "seed": 0},
    "neuron": {"kind": "sigmoid", "gain_norm": 1.0},
    "encoding": {"kind": "dac", "v_read_v": 0.2, "dac_bits": 4},
    "device": {"g_on_s": 1e-4, "g_off_s": 1e-6, "levels": 32, "variation_sigma_ratio": 0.02, "variation_seed": 1},
    "wires": {"r_row_ohm": 5.0, "r_col_ohm": 5.0, "r_driver_ohm": 5.0, "r_sense_ohm": 5.0},
    "partitions": {"horizontal": [4, 1], "vertical": [2, 1]},
    "periphery": {"sense": "ideal", "combine": "sum"},
    "simulation": {"mode": "analog", "verify_images": 24},
}

WIRE_R_OHM = (0.0, 5.0, 20.0, 50.0)
PLANS = (
    ("1/1 x 1/1", PartitionPlan()),
    ("4/1 x 2/1", PartitionPlan(horizontal=(4, 1), vertical=(2, 1))),
    ("max 16x16 cells", PartitionPlan(max_rows=16, max_cols=16)),
)


def demo_config(verify_images: int | None = None, mode: str | None = None) -> ExperimentConfig:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEMO_CONFIG.items()}
    if verify_images is not None:
        data["simulation"]["verify_images"] = verify_images
    if mode is not None:
        data["simulation"]["mode"] = mode
    return parse_config(data, source="demo")


def wire_partition_table(result: ExperimentResult) -> list[dict[str, Any]]:
    """Analog accuracy of the demo's trained network for each wire resistance and partition plan (native)."""
    cfg = result.config
    u = cfg.encoding.quantized(result.dataset.test.x_norm)
    rows = []
    for r in WIRE_R_OHM:
        wires = WireParasitics(r_row_ohm=r, r_col_ohm=r, r_driver_ohm=r, r_sense_ohm=r)
        for label, plan in PLANS:
            net = map_network(result.mlp, cfg.hardware.replaced(plan=plan, wires=wires))
            out = simulate(net, u)
            acc = accuracy_stats(out.logits, result.dataset.test.y).accuracy
            err = float(np.sqrt(np.mean((out.pre_norm[0] - result.digital_pre[0]) ** 2)) / np.sqrt(np.mean(result.digital_pre[0] ** 2)))
            rows.append({"r_wire_ohm": r, "partitions": label, "accuracy": acc, "layer1_relative_rmse": err})
    return rows
