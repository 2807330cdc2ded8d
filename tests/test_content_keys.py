"""#25 failure 2: a stored result is keyed by the content of every file its config names, not only their paths."""

from __future__ import annotations

import numpy as np
import pytest


# ---------------------------------------------------------------- #25 failure 2: keys follow the files' content
def test_a_model_replaced_in_place_is_a_new_point(tmp_path):
    from pyims.experiment.config import config_key, parse_config

    weights = tmp_path / "w.npz"
    np.savez(weights, W1=np.ones((4, 3)), B1=np.zeros(3))
    cfg = parse_config({"model": {"source": "npz", "weights": "w.npz"}}, base_dir=tmp_path)
    before = config_key(cfg)
    assert config_key(cfg) == before  # the same bytes, the same key
    np.savez(weights, W1=2 * np.ones((4, 3)), B1=np.zeros(3))  # replaced in place: same path, new content
    assert config_key(cfg) != before
    np.savez(weights, W1=np.ones((4, 3)), B1=np.zeros(3))
    assert config_key(cfg) == before  # back to the first bytes: the first key


def test_a_dataset_folder_and_a_device_file_are_keyed_by_content(tmp_path):
    from pyims.experiment.config import config_key, parse_config

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.bin").write_bytes(b"1234")
    levels = tmp_path / "levels.csv"
    levels.write_text("target_s,measured_s\n1e-6,1.1e-6\n1e-5,0.9e-5\n")
    cfg = parse_config({"dataset": {"name": "fashion-mnist", "path": "data"},
                        "device": {"kind": "measured", "levels_file": "levels.csv"}}, base_dir=tmp_path)
    k0 = config_key(cfg)
    (data / "a.bin").write_bytes(b"1235")
    k1 = config_key(cfg)
    levels.write_text("target_s,measured_s\n1e-6,1.2e-6\n1e-5,0.9e-5\n")
    k2 = config_key(cfg)
    assert len({k0, k1, k2}) == 3


def test_keys_without_named_files_are_unchanged():
    from pyims.experiment.config import config_key, parse_config

    assert config_key(parse_config({})) == "083d6865ba5e35eb"  # the key earlier stores hold


def test_a_sweep_over_a_replaced_model_runs_the_points_again(tmp_path):
    from pyims.sweeps import ResultStore, parse_sweep
    from pyims.sweeps.run import run_sweep

    rng = np.random.default_rng(0)
    weights = tmp_path / "w.npz"
    np.savez(weights, W1=rng.normal(size=(64, 10)), B1=np.zeros(10))
    spec = parse_sweep({"name": "replaced", "experiment": {
        "dataset": {"name": "digits", "max_test": 20}, "model": {"source": "npz", "weights": str(weights)},
        "simulation": {"verify_images": 0}}, "axes": {"wires.r_row_ohm": [1.0, 2.0]}}, base_dir=tmp_path)
    store = ResultStore(tmp_path / "store")
    first = run_sweep(spec, store, serial=True)
    assert first.n_ran == 2
    again = run_sweep(spec, store, serial=True, append=True)
    assert again.n_skipped == 2 and again.n_ran == 0
    np.savez(weights, W1=rng.normal(size=(64, 10)), B1=np.zeros(10))
    from pyims.errors import SpecError

    with pytest.raises(SpecError, match=r"sweep 'replaced' now has other points \([0-9a-f]{16}\): its axes changed, or a "
                                        r"file its configs name .* changed content since those were stored"):
        run_sweep(spec, store, serial=True)  # without --append: refused, saying why
    third = run_sweep(spec, store, serial=True, append=True)
    assert third.n_ran == 2 and third.n_skipped == 0  # the old accuracies are not served for the new weights


# ---------------------------------------------------------------- #25 failure 8: two sweeps never both claim a store
def _claim(root: str, name: str, keys: list, go, results) -> None:
    import time

    from pyims.errors import SpecError
    from pyims.sweeps import ResultStore

    read = ResultStore.manifest

    def slow_manifest(self):  # a slow disk: the manifest is read, then some time passes before the rewrite
        data = read(self)
        time.sleep(0.5)
        return data

    ResultStore.manifest = slow_manifest
    go.wait(30)
    try:
        ResultStore(root).claim(name, keys, {"x": [1]})
        results.put((name, "claimed"))
    except SpecError as exc:
        results.put((name, str(exc)))


def test_two_sweeps_started_together_never_both_claim_one_store(tmp_path):
    import json
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(str(tmp_path / "store"), name, keys, go, results))
             for name, keys in (("first", ["a", "b"]), ("second", ["c", "d"]))]
    for p in procs:
        p.start()
    go.set()
    outcome = dict(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(60)
    claimed = [n for n, r in outcome.items() if r == "claimed"]
    assert len(claimed) == 1, outcome  # without the lock both read an empty manifest and both "succeed"
    loser = ({"first", "second"} - set(claimed)).pop()
    assert "belongs to sweep" in outcome[loser] and f"{claimed[0]!r}" in outcome[loser]
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert [e["name"] for e in manifest["specs"]] == claimed
