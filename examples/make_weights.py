"""Regenerate the example weight files (examples/weights/) used by weights_npz.toml and weights_csv.toml.

    python examples/make_weights.py
"""

from pathlib import Path

from pyims.data import load_dataset
from pyims.model import NeuronSpec, TrainSpec, save_csv_weights, save_npz_weights, train_mlp

if __name__ == "__main__":
    here = Path(__file__).resolve().parent / "weights"
    ds = load_dataset("digits", seed=0)
    mlp = train_mlp(ds.train.x_norm, ds.train.y, n_classes=10, neuron=NeuronSpec(), spec=TrainSpec(hidden=(16,), epochs=30))
    here.mkdir(exist_ok=True)
    save_npz_weights(mlp, here / "digits_64x16x10.npz")
    save_csv_weights(mlp, here / "digits_64x16x10_csv")
    print(f"wrote {here}")
