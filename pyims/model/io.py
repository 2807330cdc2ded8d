"""Weight files: ``.npz`` (loaded with ``allow_pickle=False``, never unpickled) and CSV.

* ``.npz``: arrays ``W1, B1, W2, B2, ...``; ``W<l>`` of shape ``(n_in, n_out)``, ``B<l>`` of ``(n_out,)``.
* CSV: one file per layer in one directory, ``W1.csv, W2.csv, ...`` with one line per input and
  one comma-separated column per output, and ``B1.csv, ...`` beside them with one value per
  line (a single line of comma-separated values is accepted too).

The neuron is not stored in the weight files; it comes from the experiment config.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import numpy as np

from pyims.errors import ModelFileError
from pyims.model.mlp import MLP
from pyims.model.neurons import NeuronSpec

__all__ = ["load_npz_weights", "save_npz_weights", "load_csv_weights", "save_csv_weights"]


def _layer_numbers(names: list[str], prefix: str) -> list[int]:
    return sorted(int(m.group(1)) for n in names if (m := re.fullmatch(prefix + r"(\d+)", n)))


def _check_consecutive(numbers: list[int], where: str) -> None:
    if not numbers:
        raise ModelFileError(f"{where} holds no weights named W1, W2, ...; save each layer as W<l> with bias B<l>")
    if numbers != list(range(1, len(numbers) + 1)):
        raise ModelFileError(f"{where}: weight layers {numbers} are not numbered 1..{len(numbers)} without gaps")


def load_npz_weights(path: str | os.PathLike[str], neuron: NeuronSpec = NeuronSpec()) -> MLP:
    """The MLP stored in ``path`` (see the module docstring); pickled objects are refused."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"weights file {path} does not exist; check model.weights in the config")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not a readable .npz file (not a zip archive); save weights with numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except ValueError as exc:  # object arrays need pickle
        raise ModelFileError(f"{path} holds pickled objects, which pyims never loads; save plain float arrays") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{path} is not a readable .npz file ({exc})") from exc
    numbers = _layer_numbers(list(arrays), "W")
    _check_consecutive(numbers, str(path))
    missing = [f"B{l}" for l in numbers if f"B{l}" not in arrays]
    if missing:
        raise ModelFileError(f"{path} lacks bias arrays {missing}; store one B<l> of shape (n_out,) per W<l>")
    return MLP(weights=tuple(arrays[f"W{l}"] for l in numbers), biases=tuple(arrays[f"B{l}"] for l in numbers), neuron=neuron)


def save_npz_weights(mlp: MLP, path: str | os.PathLike[str]) -> None:
    """Write ``mlp``'s weights and biases as ``W1, B1, ...`` to ``path``."""
    arrays = {}
    for l, (w, b) in enumerate(zip(mlp.weights, mlp.biases), start=1):
        arrays[f"W{l}"] = w
        arrays[f"B{l}"] = b
    np.savez(path, **arrays)


def _read_csv(path: Path) -> np.ndarray:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below
            arr = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise ModelFileError(f"{path} is not a CSV of numbers ({exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path} cannot be read ({exc})") from exc
    if arr.size == 0:
        raise ModelFileError(f"{path} is empty")
    return arr


def load_csv_weights(directory: str | os.PathLike[str], neuron: NeuronSpec = NeuronSpec()) -> MLP:
    """The MLP stored as ``W<l>.csv`` / ``B<l>.csv`` files in ``directory``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFileError(f"weights directory {directory} does not exist; check model.weights in the config")
    numbers = _layer_numbers([p.stem for p in directory.glob("W*.csv")], "W")
    _check_consecutive(numbers, str(directory))
    ws, bs = [], []
    for l in numbers:
        bias_path = directory / f"B{l}.csv"
        if not bias_path.is_file():
            raise ModelFileError(f"{bias_path} is missing; each W<l>.csv needs a B<l>.csv with one value per output")
        ws.append(_read_csv(directory / f"W{l}.csv"))
        bs.append(_read_csv(bias_path).reshape(-1))
    return MLP(weights=tuple(ws), biases=tuple(bs), neuron=neuron)


def save_csv_weights(mlp: MLP, directory: str | os.PathLike[str]) -> None:
    """Write ``W<l>.csv`` (row = input) and ``B<l>.csv`` (one value per line) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for l, (w, b) in enumerate(zip(mlp.weights, mlp.biases), start=1):
        np.savetxt(directory / f"W{l}.csv", w, delimiter=",", fmt="%.17g")
        np.savetxt(directory / f"B{l}.csv", b.reshape(-1, 1), delimiter=",", fmt="%.17g")
