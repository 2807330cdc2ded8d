"""``load_model(path)``: any model file pyims reads, as a ``Model``.

* ``.onnx``: an ONNX graph (``pyims.model.onnx_import``; needs the ``onnx`` package);
* ``.npz``: dense weights ``W1, B1, ...``; a directory: ``W<l>.csv`` / ``B<l>.csv`` files
  (``pyims.model.io``). Weight files hold no activation: ``neuron`` (default the sigmoid) goes
  between their layers.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyims.errors import ModelFileError
from pyims.model.graph import Model
from pyims.model.neurons import NeuronSpec

__all__ = ["load_model", "MODEL_SUFFIXES"]

MODEL_SUFFIXES = (".onnx", ".npz", "a directory of W<l>.csv / B<l>.csv")


def load_model(path: str | os.PathLike[str], *, neuron: NeuronSpec = NeuronSpec()) -> Model:
    """The model in ``path``; ModelFileError naming the file and what pyims reads otherwise."""
    from pyims.model.io import load_csv_weights, load_npz_weights

    p = Path(path)
    if p.is_dir():
        return Model.from_mlp(load_csv_weights(p, neuron))
    if not p.exists():
        raise ModelFileError(f"model file {p} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        from pyims.model.onnx_import import load_onnx

        return load_onnx(p)
    if suffix == ".npz":
        return Model.from_mlp(load_npz_weights(p, neuron))
    if p.name.lower().endswith(".onnx.data"):  # what torch.onnx.export(..., dynamo=True) writes beside the model
        raise ModelFileError(f"{p} is the external data of an ONNX model; pass the model file beside it ({p.name[:-5]})")
    raise ModelFileError(f"{p}: pyims reads {', '.join(MODEL_SUFFIXES)}; got a {suffix or 'suffix-less'} file")
