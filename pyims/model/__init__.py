"""Model stage: the layer model (dense, conv, pooling, ...), the analog neuron's transfer function, the MLP,
its trainer, weight files and ONNX import (``load_model``)."""

from pyims.model.io import load_csv_weights, load_npz_weights, save_csv_weights, save_npz_weights
from pyims.model.mlp import MLP
from pyims.model.neurons import NEURON_KINDS, NeuronSpec
from pyims.model.train import TrainSpec, train_mlp
from pyims.model.graph import Model, as_model
from pyims.model.loader import load_model

__all__ = [
    "MLP",
    "Model",
    "as_model",
    "load_model",
    "NEURON_KINDS",
    "NeuronSpec",
    "TrainSpec",
    "train_mlp",
    "load_npz_weights",
    "save_npz_weights",
    "load_csv_weights",
    "save_csv_weights",
]
