"""Golden waveforms: the stored references hold, and every way they can go wrong is caught."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pyims.cli import main
from pyims.golden import (
    CASES,
    GoldenError,
    GoldenMismatch,
    assert_waveforms_close,
    check_golden,
    default_golden_dir,
    load_golden,
    update_golden,
)

GOLDEN = default_golden_dir()


@pytest.mark.ngspice
@pytest.mark.parametrize("name", list(CASES))
def test_golden_waveforms_hold(name, tmp_path):
    ratios = check_golden(name, GOLDEN, plot_dir=tmp_path)
    assert set(ratios) == set(CASES[name].atol) and max(ratios.values()) <= 1.0


@pytest.mark.parametrize("name", list(CASES))
def test_golden_files_are_complete(name):
    arrays, meta = load_golden(name, GOLDEN)
    case = CASES[name]
    assert meta["rtol"] == case.rtol and meta["atol"] == case.atol and meta["ngspice_version"] >= 42
    assert meta["options"] == case.option_words
    x = arrays[case.x_key]
    assert np.all(np.diff(x) > 0)
    for key in case.atol:
        assert arrays[key].shape[0] == x.size and np.all(np.isfinite(arrays[key]))


@pytest.mark.parametrize("name", list(CASES))
def test_a_perturbed_waveform_is_caught_with_its_worst_point_and_a_plot(name, tmp_path):
    arrays, _ = load_golden(name, GOLDEN)
    case = CASES[name]
    key = next(iter(case.atol))
    bad = {k: v.copy() for k, v in arrays.items()}
    flat = bad[key].reshape(bad[key].shape[0], -1)
    k = flat.shape[0] // 2
    flat[k, 0] += 100 * (case.atol[key] + case.rtol * abs(flat[k, 0]))
    bad[key] = flat.reshape(arrays[key].shape)
    index = rf"\({k}, 0\)" if arrays[key].ndim > 1 else rf"\({k},\)"
    with pytest.raises(GoldenMismatch, match=rf"{name}\.{key}: 1 of .* worst at index {index}") as info:
        check_golden(name, GOLDEN, plot_dir=tmp_path, actual=bad)
    assert (tmp_path / f"{name}.{key}.png").stat().st_size > 0
    assert "diff plot" in str(info.value)
    # within the tolerance it passes
    ok = {k: v.copy() for k, v in arrays.items()}
    ok[key] = ok[key] + 0.5 * case.atol[key]
    assert max(check_golden(name, GOLDEN, actual=ok).values()) <= 1.0


def _copy(tmp_path):
    d = tmp_path / "golden"
    shutil.copytree(GOLDEN, d)
    return d


def test_missing_and_corrupt_goldens_name_the_fix(tmp_path):
    d = _copy(tmp_path)
    (d / "tile_8x8_rc_step.npz").unlink()
    with pytest.raises(GoldenError, match="is missing; create it with `pyims golden update tile_8x8_rc_step`"):
        load_golden("tile_8x8_rc_step", d)
    (d / "neuron_sigmoid_transfer.npz").write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(GoldenError, match="is corrupt"):
        load_golden("neuron_sigmoid_transfer", d)
    (d / "network_2layer_step.json").write_text("{ not json")
    with pytest.raises(GoldenError, match="not valid JSON"):
        load_golden("network_2layer_step", d)
    with pytest.raises(GoldenError, match="unknown; use one of"):
        load_golden("nope", d)


def test_golden_of_another_circuit_is_refused(tmp_path):
    d = _copy(tmp_path)
    meta = json.loads((d / "tile_8x8_rc_step.json").read_text())
    meta["spec"]["seed"] = 9
    (d / "tile_8x8_rc_step.json").write_text(json.dumps(meta))
    with pytest.raises(GoldenError, match="different circuit spec"):
        load_golden("tile_8x8_rc_step", d)
    arrays, _ = load_golden("neuron_sigmoid_transfer", GOLDEN)
    np.savez(d / "neuron_sigmoid_transfer.npz", v_in_v=arrays["v_in_v"])
    with pytest.raises(GoldenError, match=r"holds \['v_in_v'\] but case"):
        load_golden("neuron_sigmoid_transfer", d)


def test_assert_waveforms_close():
    x = np.linspace(0, 1, 11)
    e = np.sin(x)
    assert_waveforms_close(e * (1 + 1e-7), e, rtol=1e-6, atol=0.0)
    with pytest.raises(GoldenMismatch, match="shape"):
        assert_waveforms_close(e[:5], e, rtol=1e-6, atol=0.0)
    a = e.copy()
    a[3] = np.nan
    with pytest.raises(GoldenMismatch, match=r"worst at index \(3,\) at x=0.3: got nan"):
        assert_waveforms_close(a, e, rtol=1e-6, atol=1e-9, x=x)


@pytest.mark.ngspice
def test_cli_update_then_check(tmp_path, capsys):
    d = tmp_path / "g"
    assert main(["golden", "update", "neuron_sigmoid_transfer", "--dir", str(d)]) == 0
    assert (d / "neuron_sigmoid_transfer.npz").exists()
    assert main(["golden", "check", "neuron_sigmoid_transfer", "--dir", str(d), "--plots", str(tmp_path / "p")]) == 0
    assert "ok   neuron_sigmoid_transfer" in capsys.readouterr().out
    arrays, _ = load_golden("neuron_sigmoid_transfer", d)
    arrays["v_out_v"][10] += 1e-3
    np.savez(d / "neuron_sigmoid_transfer.npz", **arrays)
    assert main(["golden", "check", "neuron_sigmoid_transfer", "--dir", str(d), "--plots", str(tmp_path / "p")]) == 1
    out = capsys.readouterr().out
    assert "FAIL neuron_sigmoid_transfer" in out and "pyims golden update" in out
    assert (tmp_path / "p" / "neuron_sigmoid_transfer.v_out_v.png").exists()
    # the files written by update are what load_golden reads back
    npz, meta = update_golden("neuron_sigmoid_transfer", d)
    assert json.loads(meta.read_text())["name"] == "neuron_sigmoid_transfer"


def test_the_docs_count_the_golden_cases():
    """docs/transient.md names how many golden circuits there are; keep it true when a case is added."""
    from pathlib import Path

    from pyims.golden import CASES

    words = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}
    text = (Path(__file__).resolve().parents[1] / "docs" / "transient.md").read_text()
    assert f"reference waveforms of {words[len(CASES)]} circuits" in text


@pytest.mark.ngspice
def test_cli_takes_the_cases_before_or_after_the_options(tmp_path, capsys, monkeypatch):
    """#26 bug D: ``golden update --dir DIR NAME`` (the refusal's hint) and ``golden check --dir DIR NAME`` parse as the
    other orders do; the refusal of the installed copy names a command that works, as printed."""
    import shlex

    import pyims.shipped as shipped

    fake_pkg = tmp_path / "site" / "pyims"
    (fake_pkg / "_golden").mkdir(parents=True)
    monkeypatch.setattr(shipped, "_PACKAGE", fake_pkg)
    monkeypatch.setattr(shipped, "_CHECKOUT", tmp_path / "site")  # an installed package
    capsys.readouterr()
    assert main(["golden", "update", "neuron_sigmoid_transfer"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("give a folder of yours: pyims golden update neuron_sigmoid_transfer --dir DIR"), err
    hint = err.rsplit("give a folder of yours: ", 1)[1]
    d = tmp_path / "mine"
    argv = [str(d) if word == "DIR" else word for word in shlex.split(hint)]
    assert argv[0] == "pyims" and main(argv[1:]) == 0  # the hint, as printed
    assert sorted(p.name for p in d.iterdir()) == ["neuron_sigmoid_transfer.json", "neuron_sigmoid_transfer.npz"]
    (d / "neuron_sigmoid_transfer.npz").unlink()
    assert main(["golden", "update", "--dir", str(d), "neuron_sigmoid_transfer"]) == 0  # options first
    assert (d / "neuron_sigmoid_transfer.npz").exists()
    capsys.readouterr()
    plots = str(tmp_path / "p")
    for argv in (["golden", "check", "--dir", str(d), "neuron_sigmoid_transfer"],
                 ["golden", "check", "neuron_sigmoid_transfer", "--dir", str(d), "--plots", plots],
                 ["golden", "check", "--plots", plots, "--dir", str(d), "neuron_sigmoid_transfer"],
                 ["golden", "--dir", str(d), "check", "neuron_sigmoid_transfer"]):
        assert main(argv) == 0, argv
        out = capsys.readouterr().out
        assert out.startswith("ok   neuron_sigmoid_transfer") and out.count("ok ") == 1, (argv, out)  # that case only
    assert main(["golden", "--dir", str(tmp_path / "none"), "check", "--dir", str(d), "neuron_sigmoid_transfer"]) == 0
    assert main(["golden", "--dir", str(d), "check", "--dir", str(tmp_path / "none"), "neuron_sigmoid_transfer"]) == 2
    assert "is missing; create it with `pyims golden update neuron_sigmoid_transfer`" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["golden", "--dir", str(d)])  # no action
    assert "required: {check,update}" in capsys.readouterr().err
