"""The reproduction command on a tiny setting, and the exact voltage-mode layer model it trains through."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from pyims.experiment.reproduce import ReproductionResult

from pyims.cli import main
from pyims.inference import NativeNetwork
from pyims.model import MLP, NeuronSpec
from pyims.presets.imac import ImacPreset, VoltageModeLayers
from pyims.spec import PartitionPlan, WireParasitics


def _network(rng, sizes):
    pre = ImacPreset(gains_ratio=(30.0, 10.0), opamp_gain_ratio=1e12)
    raw = MLP(weights=tuple(np.where(rng.uniform(size=(a, b)) < 0.5, -1.0, 1.0) for a, b in zip(sizes[:-1], sizes[1:])),
              biases=tuple(np.where(rng.uniform(size=b) < 0.5, -1.0, 1.0) for b in sizes[1:]),
              neuron=NeuronSpec(kind="sigmoid", gain_norm=2.0))
    return pre, pre.scale_binary(raw)


@pytest.mark.parametrize("plan", [PartitionPlan(), PartitionPlan(horizontal=(3, 2), vertical=(2, 1))])
def test_voltage_mode_layers_are_the_no_wire_circuit(plan):
    rng = np.random.default_rng(0)
    sizes = (9, 6, 3)
    pre, mlp = _network(rng, sizes)
    u = np.where(rng.uniform(size=(5, 9)) < 0.5, -1.0, 1.0)
    circuit = NativeNetwork(pre.map(mlp, plan), WireParasitics(row_node_per_pair=True)).run(u)
    model = VoltageModeLayers(pre, sizes, plan).forward_all(mlp, u)
    for a, b in zip(circuit.pre_norm, model):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-10)


def test_voltage_mode_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    sizes = (9, 6, 3)
    pre, mlp = _network(rng, sizes)
    vm = VoltageModeLayers(pre, sizes, PartitionPlan(horizontal=(3, 2), vertical=(1, 1)))
    w, b = mlp.weights[0], mlp.biases[0]
    a = rng.uniform(size=(4, 9))
    dz = rng.normal(size=(4, 6))
    _, cache = vm.forward(0, a, w, b)
    da, dw, db = vm.backward(0, cache, dz)

    def loss(a_, w_, b_):
        return float(np.sum(vm.forward(0, a_, w_, b_)[0] * dz))

    h = 1e-6
    for arr, grad, which in ((a, da, 0), (w, dw, 1), (b, db, 2)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            e = np.zeros_like(arr)
            e[i] = h
            args_p, args_m = [a, w, b], [a, w, b]
            args_p[which], args_m[which] = arr + e, arr - e
            num[i] = (loss(*args_p) - loss(*args_m)) / (2 * h)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9 * np.max(np.abs(num)))


@pytest.mark.ngspice
def test_reproduce_tiny(tmp_path, monkeypatch, capsys):
    import pyims.figures as figures

    drawn, save = [], figures.save_figure
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: (drawn.append(fig), save(fig, path))[1])
    out = tmp_path / "rep"
    md = tmp_path / "reproduction.md"
    assert main(["reproduce", "--tiny", "--out", str(out), "--markdown", str(md)]) == 0
    assert len(drawn) == 2  # the study's figures: one column wide, no text under 7 pt there (#26)
    for fig in drawn:
        assert fig.get_figwidth() == pytest.approx(figures.COLUMN_WIDTH_IN) and figures.small_text(fig) == []
    data = json.loads((out / "results.json").read_text())
    assert data["schema_version"] == 1
    r = ReproductionResult.from_dict(data)  # results.json reads back into the types
    assert r.to_dict() == data
    assert r.layer_sizes == [64, 12, 8, 10] and r.dataset.n_test == 450
    assert set(r.plans) == {"unpartitioned", "16/8/8 x 8/8/1", "13/4/3 x 4/3/1"}
    for label, e in r.plans.items():
        assert [p.wire_scale_ratio for p in e.sweep] == [0.0, 1.0, 64.0]
        # the circuit-trained network's digital reference is the no-wire circuit
        assert e.digital_accuracy == pytest.approx(e.no_wires_accuracy, abs=1 / 450 + 1e-12)
        assert 0.0 <= e.accuracy <= 1.0
        assert e.spice.n_images == 2 and e.spice.max_rel_diff < 1e-6 and e.spice.passed
        assert e.spice.top1_agreement_native_vs_ngspice == 1.0
        assert (out / f"weights_{label.replace('/', '-').replace(' x ', '_x_').replace(' ', '_')}.npz").is_file()
    # the sweep's wire values are the preset's, scaled
    sweep = r.plans["unpartitioned"].sweep
    assert sweep[1].r_output_line_ohm == pytest.approx(11.55, abs=0.01)
    assert sweep[2].r_output_line_ohm == pytest.approx(64 * sweep[1].r_output_line_ohm)
    text = md.read_text()
    assert "pyims reproduce --tiny" in text and "| 16/8/8 x 8/8/1 |" in text and "94.84 %" in text
    # #26 bug H: the circuit-trained network without wires is the no-wire circuit, never "digital" (the software
    # model is the one of the study's "digital" network)
    printed = capsys.readouterr().out
    e = r.plans["unpartitioned"]
    assert f"unpartitioned {100 * e.accuracy:.2f} % (no-wire circuit {100 * e.digital_accuracy:.2f} %)" in printed
    assert "(digital " not in printed
    assert "| circuit-trained: no-wire circuit |" in text and "digital (no wires)" not in text
    assert (f"| unpartitioned | {100 * e.software_network_accuracy:.2f} % | {100 * e.digital_accuracy:.2f} % | "
            f"**{100 * e.accuracy:.2f} %** |") in text
    assert "](rep/accuracy_vs_wire_r.png)" in text
    for name in ("accuracy_vs_wire_r.png", "neuron_curve.png", "accuracy_vs_wire_r.pdf", "neuron_curve.pdf",
                 "neuron_curve.csv", "weights_software.npz"):
        assert (out / name).stat().st_size > 0


@pytest.mark.ngspice
def test_reproduce_uses_full_mnist_where_available(tmp_path):
    """With MNIST's IDX files at hand the reproduction trains and tests on them (here a small fake set)."""
    from dataclasses import asdict, replace

    from conftest import write_fake_mnist
    from pyims.experiment.reproduce import TINY, run_reproduction

    write_fake_mnist(tmp_path / "mnist", n_train=40, n_test=25)
    settings = replace(TINY, dataset="mnist", mnist_path=str(tmp_path / "mnist"), resize=(20, 20), verify_images=0,
                       epochs=1, wire_scales=(0.0, 1.0))
    r = run_reproduction(settings, tmp_path / "out")
    assert asdict(r.dataset) == {"name": "mnist", "n_train": 40, "n_test": 25, "image_shape": [20, 20], "n_classes": 10}
    assert r.layer_sizes == [400, 12, 8, 10]
    assert all(e.spice is None for e in r.plans.values())


@pytest.mark.parametrize("where", ["folder", "no_parent"])
def test_reproduce_refuses_an_unwritable_markdown_path_before_the_study(tmp_path, monkeypatch, capsys, where):
    """#25: the --markdown path is checked before the reproduction runs, not after it."""
    import pyims.experiment.reproduce as reproduce

    def must_not_run(*a, **k):
        raise AssertionError("the study ran before the --markdown path was checked")

    monkeypatch.setattr(reproduce, "run_reproduction", must_not_run)
    if where == "folder":
        md, want = tmp_path, r"--markdown .* is a folder; give a file path"
    else:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        md, want = blocker / "sub" / "report.md", r"--markdown .* cannot be written: no writable folder above it"
    assert main(["reproduce", "--tiny", "--out", str(tmp_path / "out"), "--markdown", str(md)]) == 2
    assert re.search(want, capsys.readouterr().err)


@pytest.mark.ngspice
def test_an_ngspice_timeout_keeps_the_study_and_exits_3(tmp_path, monkeypatch, capsys):
    """#25: a timed-out ngspice sample marks each plan's verification failed; the training and native results, the
    report and results.json are written, and the command exits 3 (a failed comparison)."""
    from dataclasses import replace

    import pyims.experiment.reproduce as reproduce
    from pyims.cli import EXIT_VERIFICATION_FAILED
    from pyims.experiment.summary import VerificationIncomplete

    small = replace(reproduce.TINY, epochs=2, wire_scales=(0.0, 1.0), verify_images=1)
    monkeypatch.setattr(reproduce, "TINY", small)
    out, md = tmp_path / "rep", tmp_path / "rep.md"
    assert main(["reproduce", "--tiny", "--timeout-s", "0.001", "--out", str(out), "--markdown", str(md)]) \
        == EXIT_VERIFICATION_FAILED
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("pyims:")]
    assert len(err) == 3 and all(re.match(r"pyims: verification \(plan .*\) FAILED: SimulationTimeout: ngspice did not "
                                          r"finish within timeout_s=0.001", line) for line in err)
    assert all(f"training and native results kept in {out / 'results.json'} and {md}" in line for line in err)
    r = ReproductionResult.from_dict(json.loads((out / "results.json").read_text()))
    reference = _without_ngspice(small, tmp_path / "ref")
    assert set(r.plans) == set(reference.plans) and r.software_accuracy == reference.software_accuracy
    for label, e in r.plans.items():
        stopped = e.spice_incomplete
        assert e.spice is None and isinstance(stopped, VerificationIncomplete)
        assert stopped.status == "failed" and stopped.n_images == 1
        assert stopped.reason.startswith("SimulationTimeout: ngspice did not finish within timeout_s=0.001")
        assert (Path(stopped.run_dir) / "circuit.cir").is_file()  # the evidence is kept
        ref = reference.plans[label]  # the same training and native results as a run without ngspice
        assert [p.accuracy for p in e.sweep] == [p.accuracy for p in ref.sweep]
        assert (e.digital_accuracy, e.accuracy) == (ref.digital_accuracy, ref.accuracy)
    text = md.read_text()
    assert text.count("| 1 | **verification failed**: SimulationTimeout: ngspice did not finish within "
                      "timeout_s=0.001") == 3
    assert "| unpartitioned |" in text and (out / "accuracy_vs_wire_r.png").is_file()


def _without_ngspice(settings, out):
    from dataclasses import replace

    from pyims.experiment.reproduce import run_reproduction

    return run_reproduction(replace(settings, verify_images=0), out)
