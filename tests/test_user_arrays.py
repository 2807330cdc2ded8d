"""#26: a user's own arrays as a dataset in TOML (``[dataset] name = "arrays"``, ``path = "mydata.npz"``)."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from pyims.cli import main
from pyims.data import load_dataset
from pyims.data.arrays import arrays_info, load_arrays
from pyims.errors import ConfigError, DatasetError
from pyims.experiment.config import config_key, load_config, parse_config

RUN = """
[dataset]
name = "{name}"
{path}
[train]
hidden = [8]
epochs = 10
[simulation]
verify_images = 0
"""


def _digits_arrays():
    """The digits dataset's own split, as the arrays a user would save: images (N, 8, 8), labels (N,)."""
    ds = load_dataset("digits")
    return dict(x_train=ds.train.x_norm.reshape(-1, 8, 8), y_train=ds.train.y, x_test=ds.test.x_norm.reshape(-1, 8, 8),
                y_test=ds.test.y)


def test_arrays_run_as_the_dataset_they_hold(tmp_path, capsys, monkeypatch):
    """The digits split saved as an .npz and run as "arrays" gives the digits run's very accuracies."""
    data = tmp_path / "data"
    data.mkdir()
    np.savez(data / "mydata.npz", **_digits_arrays())
    (tmp_path / "arrays.toml").write_text(RUN.format(name="arrays", path='path = "data/mydata.npz"'))
    (tmp_path / "digits.toml").write_text(RUN.format(name="digits", path=""))
    monkeypatch.chdir(tmp_path / "data")  # the path resolves against the config's folder, not the working directory
    assert main(["check", str(tmp_path / "arrays.toml")]) == 0
    out = capsys.readouterr().out
    assert f"dataset: arrays {tmp_path / 'data' / 'mydata.npz'}: 1347 train / 450 test images 8x8, 10 classes" in out
    assert "estimate for this machine" in out
    summaries = {}
    for name in ("arrays", "digits"):
        assert main(["-q", "run", str(tmp_path / f"{name}.toml"), "--out", str(tmp_path / f"out-{name}")]) == 0
        summaries[name] = json.loads((tmp_path / f"out-{name}" / "summary.json").read_text())
    a, d = summaries["arrays"], summaries["digits"]
    assert a["dataset"]["n_test"] == d["dataset"]["n_test"] == 450 and a["dataset"]["n_classes"] == 10
    for path in ("digital", "analog"):
        assert a["accuracy"][path]["accuracy"] == d["accuracy"][path]["accuracy"]
    assert a["accuracy"]["digital"]["accuracy"] > 0.5  # it learnt


def test_npy_folder_and_flat_features(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "arrays"
    folder.mkdir()
    arrays = dict(x_train=rng.random((30, 12), dtype=np.float32), y_train=rng.integers(0, 3, 30),
                  x_test=rng.random((9, 12)), y_test=rng.integers(0, 3, 9).astype(np.uint8))
    for k, v in arrays.items():
        np.save(folder / f"{k}.npy", v)
    info = arrays_info(folder)
    assert (info.image_shape, info.n_train, info.n_test) == ((1, 12), 30, 9)
    ds = load_dataset("arrays", path=folder)
    assert ds.image_shape == (1, 12) and ds.train.x_norm.dtype == np.float64 and ds.test.y.dtype == np.int64
    np.testing.assert_array_equal(ds.train.x_norm, arrays["x_train"].astype(np.float64))
    np.testing.assert_array_equal(ds.test.y, arrays["y_test"])


def test_the_content_of_the_file_is_in_the_result_key(tmp_path):
    arrays = _digits_arrays()
    np.savez(tmp_path / "d.npz", **arrays)
    cfg = parse_config({"dataset": {"name": "arrays", "path": "d.npz"}}, base_dir=tmp_path)
    before = config_key(cfg)
    assert config_key(cfg) == before
    arrays["y_test"] = arrays["y_test"][::-1].copy()
    os.utime(tmp_path / "d.npz", ns=(1, 1))
    np.savez(tmp_path / "d.npz", **arrays)  # replaced in place, same path
    assert config_key(cfg) != before


def test_arrays_without_a_path_is_a_config_error():
    with pytest.raises(ConfigError, match=r'dataset.name="arrays" needs dataset.path: an .npz file'):
        parse_config({"dataset": {"name": "arrays"}})


def _bad(tmp_path, **change):
    arrays = dict(x_train=np.zeros((4, 2, 2)), y_train=np.array([0, 1, 0, 1]), x_test=np.zeros((2, 2, 2)),
                  y_test=np.array([0, 1]))
    arrays.update(change)
    for k in [k for k, v in arrays.items() if v is None]:
        del arrays[k]
    np.savez(tmp_path / "bad.npz", **arrays)
    return tmp_path / "bad.npz"


BAD = {
    "a key missing": (dict(y_test=None), r"bad.npz: key 'y_test' is missing \(the file holds \['x_test', 'x_train', "
                                         r"'y_train'\]\)"),
    "float labels": (dict(y_train=np.array([0.0, 1.0, 0.0, 1.0])), r"bad.npz \[y_train\] holds float64 values; labels are "
                                                                   r"integers"),
    "complex images": (dict(x_test=np.zeros((2, 2, 2), complex)), r"bad.npz \[x_test\] holds complex128 values"),
    "bool images": (dict(x_test=np.zeros((2, 2, 2), bool)), r"bad.npz \[x_test\] holds bool values"),
    "object images": (dict(x_train=np.array([None] * 4, dtype=object)), r"bad.npz \[x_train\] holds object values"),
    "NaN": (dict(x_train=np.where(np.arange(16).reshape(4, 2, 2) == 5, np.nan, 0.0)),
            r"bad.npz \[x_train\]: value nan at \(1, 0, 1\) is not finite"),
    "inf": (dict(x_test=np.full((2, 2, 2), np.inf)), r"bad.npz \[x_test\]: value inf at \(0, 0, 0\) is not finite"),
    "negative label": (dict(y_test=np.array([0, -1])), r"bad.npz \[y_test\]: label -1 at position 1 is outside 0..9999"),
    "huge label": (dict(y_train=np.array([0, 1, 10**9, 0])), r"label 1000000000 at position 2 is outside 0..9999"),
    "labels per image": (dict(y_train=np.array([0, 1, 0])), r"bad.npz \[y_train\] holds 3 labels but x_train holds 4 "
                                                             r"images"),
    "one-hot labels": (dict(y_test=np.eye(2, dtype=int)), r"bad.npz \[y_test\] has shape \(2, 2\); labels are one integer "
                                                          r"per image.*argmax"),
    "image shapes differ": (dict(x_test=np.zeros((2, 3, 2))), r"bad.npz \[x_test\] has images of shape \(3, 2\) but "
                                                              r"x_train \(2, 2\)"),
    "4-d images": (dict(x_train=np.zeros((4, 1, 2, 2))), r"bad.npz \[x_train\] has shape \(4, 1, 2, 2\); give images"),
    "no images": (dict(x_test=np.zeros((0, 2, 2)), y_test=np.zeros(0, int)), r"x_test\] has shape \(0, 2, 2\)"),
}


@pytest.mark.parametrize("change, match", BAD.values(), ids=BAD.keys())
def test_bad_arrays_name_the_file_and_key(tmp_path, change, match):
    path = _bad(tmp_path, **change)
    with pytest.raises(DatasetError, match=match):
        load_arrays(path)


def test_check_refuses_bad_arrays_before_any_work(tmp_path, capsys):
    _bad(tmp_path, x_train=np.full((4, 2, 2), np.nan))
    (tmp_path / "c.toml").write_text(RUN.format(name="arrays", path='path = "bad.npz"'))
    assert main(["check", str(tmp_path / "c.toml")]) == 2
    assert "bad.npz [x_train]: value nan at (0, 0, 0) is not finite" in capsys.readouterr().err


def test_files_that_are_not_arrays(tmp_path):
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DatasetError, match=r"text.npz' is not an .npz file"):
        load_arrays(tmp_path / "text.npz")
    with zipfile.ZipFile(tmp_path / "junk.npz", "w") as z:
        for k in ("x_train", "y_train", "x_test", "y_test"):
            z.writestr(f"{k}.npy", b"garbage")
    with pytest.raises(DatasetError, match=r"junk.npz \[x_train\] is not a plain .npy array"):
        load_arrays(tmp_path / "junk.npz")
    with pytest.raises(DatasetError, match=r"missing.npz' does not exist"):
        load_arrays(tmp_path / "missing.npz")
    (tmp_path / "folder").mkdir()
    with pytest.raises(DatasetError, match=r"x_train.npy is missing; an arrays folder holds"):
        load_arrays(tmp_path / "folder")
    with pytest.raises(DatasetError, match=r"dataset.name='arrays' needs dataset.path"):
        load_dataset("arrays")


def test_arrays_beyond_the_size_bound_are_refused_from_their_headers(tmp_path, monkeypatch):
    import pyims.data.arrays as arrays_module

    path = _bad(tmp_path)
    monkeypatch.setattr(arrays_module, "MAX_ARRAY_BYTES", 100)
    with pytest.raises(DatasetError, match=r"the arrays hold 0.0 GiB, more than 0 GiB"):
        load_arrays(path)


def test_load_config_then_check_in_python(tmp_path):
    np.savez(tmp_path / "d.npz", **_digits_arrays())
    (tmp_path / "c.toml").write_text(RUN.format(name="arrays", path='path = "d.npz"'))
    from pyims.experiment.preflight import preflight

    report = preflight(load_config(tmp_path / "c.toml"))
    assert report.layer_sizes == (64, 8, 10)
