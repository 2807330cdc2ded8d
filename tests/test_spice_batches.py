"""ngspice verification as resumable Dask batches (real ngspice, a real LocalCluster)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pyims.cli import main
from pyims.inference.verify import verify_against_ngspice
from pyims.errors import SpecError
from pyims.inference import NativeNetwork, SpiceNetwork
from pyims.inference.spice_batches import BatchStore, SpiceCluster, run_spice_batches
from pyims.mapping import map_network
from pyims.model import MLP, NeuronSpec
from pyims.spec import PartitionPlan, WireParasitics

WIRES = WireParasitics(r_row_ohm=3.0, r_col_ohm=4.0)


def _net():
    rng = np.random.default_rng(3)
    mlp = MLP(weights=(rng.normal(size=(12, 6)), rng.normal(size=(6, 3))), biases=(rng.normal(size=6), rng.normal(size=3)),
              neuron=NeuronSpec(kind="sigmoid"))
    return map_network(mlp, plan=PartitionPlan(horizontal=(2, 1), vertical=(1, 1)))


@pytest.mark.ngspice
def test_batches_on_a_local_cluster_equal_one_run_and_resume(tmp_path):
    net = _net()
    u = np.random.default_rng(4).uniform(size=(9, 12))
    index = np.array([0, 2, 3, 5, 7, 8])
    cluster = SpiceCluster(store_dir=tmp_path / "b", n_workers=2, batch_size=2)
    seen = []
    res, infos = run_spice_batches(net.on(wires=WIRES), u, index, cluster=cluster, run_key="k", progress=seen.append)
    ref = SpiceNetwork(net, WIRES).run(u[index])
    for a, b in zip(res.pre_norm, ref.pre_norm):  # other batches: Newton starts elsewhere, within the solver tolerance
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)
    assert sum(seen) == 6 and [i["images"] for i in infos] == [[0, 2], [3, 5], [7, 8]]
    assert all(i["ngspice_version"] >= 42 and i["host"] and not i["resumed"] for i in infos)
    assert len({i["pid"] for i in infos}) >= 1
    # a re-run reads every batch back and starts no cluster
    again, infos2 = run_spice_batches(net.on(wires=WIRES), u, index, cluster=cluster, run_key="k")
    assert all(i["resumed"] for i in infos2)
    np.testing.assert_array_equal(again.pre_norm[-1], res.pre_norm[-1])
    # a damaged batch runs again, alone (one batch: in this process)
    store = BatchStore(tmp_path / "b", "k")
    victim = sorted(store.dir.glob("*.npz"))[0]
    victim.write_bytes(b"not an npz")
    third, infos3 = run_spice_batches(net.on(wires=WIRES), u, index, cluster=cluster, run_key="k")
    assert sum(not i["resumed"] for i in infos3) == 1
    np.testing.assert_array_equal(third.pre_norm[-1], res.pre_norm[-1])


@pytest.mark.ngspice
def test_verification_through_an_existing_scheduler(tmp_path):
    from dask.distributed import LocalCluster

    net = _net()
    u = np.random.default_rng(5).uniform(size=(4, 12))
    native = NativeNetwork(net, WIRES).run(u)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        cluster = SpiceCluster(store_dir=tmp_path / "b", scheduler=local.scheduler_address, batch_size=2)
        v, _ = verify_against_ngspice(net.on(wires=WIRES), u, native, np.arange(4), cluster=cluster, run_key="s")
    assert v.passed and v.n_images == 4 and len(v.batches) == 2
    assert {tuple(b["images"]) for b in v.batches} == {(0, 1), (2, 3)}


@pytest.mark.ngspice
def test_cli_run_verify_all_in_resumable_batches(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('name = "v"\n[dataset]\nname = "digits"\nmax_test = 10\n[train]\nhidden = [6]\nepochs = 2\n'
                   '[partitions]\nhorizontal = [2, 1]\n[simulation]\nverify_images = 0\nbatch_size = 4\n')
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--verify-images", "all", "--workers", "2"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    v = summary["spice_verification"]
    assert v["n_images"] == 10 and v["passed"] and [len(b["images"]) for b in v["batches"]] == [4, 4, 2]
    assert "finished batches kept in" in capsys.readouterr().out
    store = tmp_path / "out.spice-batches"
    assert len(list(store.rglob("*.npz"))) == 3
    assert main(["run", str(cfg), "--out", str(out), "--verify-images", "all", "--workers", "2"]) == 0
    v = json.loads((out / "summary.json").read_text())["spice_verification"]
    assert all(b["resumed"] for b in v["batches"])  # nothing ran again


def test_bad_cluster_settings_are_refused(tmp_path):
    with pytest.raises(SpecError, match=r"SpiceCluster.batch_size=0 must be an integer >= 1"):
        SpiceCluster(store_dir=tmp_path, batch_size=0)
    with pytest.raises(SystemExit):
        main(["run", "x.toml", "--verify-images", "some"])


def test_a_damaged_or_non_finite_stored_batch_runs_again(tmp_path, caplog):
    """A truncated archive, a file that is no archive, and a stored NaN: each read as missing (it runs again), never
    an internal error, never a PASS from a NaN."""
    store = BatchStore(tmp_path, "k")
    pre, power, out = [np.ones((2, 3))], np.ones(2), np.ones((2, 3))
    store.put("good", pre, power, out, {"host": "h"})
    assert store.get("good", 1) is not None
    npz, _ = store._paths("good")
    whole = npz.read_bytes()
    npz.write_bytes(whole[: len(whole) // 2])  # truncated
    assert store.get("good", 1) is None
    npz.write_bytes(b"not an archive")
    assert store.get("good", 1) is None
    store.put("nan", [np.array([[np.nan, 1.0, 2.0]])], np.ones(1), np.ones((1, 3)), {"host": "h"})
    assert store.get("nan", 1) is None
    assert "damaged" in caplog.text and "NaN or inf" in caplog.text
