"""Datasets stage: images and labels in, normalised float arrays and deterministic splits out."""

from pyims.data.datasets import DATASETS, Dataset, Split, load_dataset
from pyims.data.idx import read_idx, write_idx
from pyims.data.mnist import MNIST_FILES, MNIST_MIRRORS, download_mnist
from pyims.data.transforms import resize_images, stratified_split

__all__ = [
    "DATASETS",
    "Dataset",
    "Split",
    "load_dataset",
    "read_idx",
    "write_idx",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "download_mnist",
    "resize_images",
    "stratified_split",
]
