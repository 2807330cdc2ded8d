"""CI executes every notebook end to end (they run on small offline settings): the two studies and "bring your own
PyTorch model" (an ONNX file as torch.onnx.export writes it, hardware, calibration, accuracy, figures)."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.ngspice
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("PYIMS_NOTEBOOK_OUT", str(tmp_path))  # the kernel inherits it; users get notebooks/outputs/
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    stores = [p for p in tmp_path.iterdir() if (p / "records").is_dir()]
    assert stores and all(list((p / "plots").glob("*.png")) for p in stores)  # results kept where the notebook says


def test_the_notebooks_ship_without_outputs():
    assert {p.stem for p in NOTEBOOKS} == {"parasitic_sweep", "partition_exploration", "bring_your_own_pytorch"}
    nbformat = pytest.importorskip("nbformat")
    for path in NOTEBOOKS:  # committed clean: what a reader sees is what their own run writes
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and not any(c.get("outputs") or c.get("execution_count") for c in code), path.name
