"""Model stage: the analog neuron's transfer function, the MLP, its trainer and weight files."""

from pyims.model.io import load_csv_weights, load_npz_weights, save_csv_weights, save_npz_weights
from pyims.model.mlp import MLP
from pyims.model.neurons import NEURON_KINDS, NeuronSpec
from pyims.model.train import TrainSpec, train_mlp

__all__ = [
    "MLP",
    "NEURON_KINDS",
    "NeuronSpec",
    "TrainSpec",
    "train_mlp",
    "load_npz_weights",
    "save_npz_weights",
    "load_csv_weights",
    "save_csv_weights",
]
