"""Time every backend side by side on crossbar tiles, in one run, and print ratios.

    .venv/bin/python benchmarks/bench_tiles.py            # both tables (~15 min on 2 cores)
    .venv/bin/python benchmarks/bench_tiles.py --quick    # 32x32 and 64x64; ports of 200x120, 400x120
    .venv/bin/python benchmarks/bench_tiles.py --only ports      # the port-matrix table alone

Every tile: cells uniform in [1 uS, 100 uS], inputs uniform in [0, 0.2] V, 2.5 ohm per row
and column segment, 10 ohm driver and sense resistance.

Table 1, port matrices (issue #13), for 400x120, 401x240, 512x512 and 1024x1024: the time of one
scipy SuperLU factorization of the tile's interior nodal matrix (symmetric mode, MMD_AT_PLUS_A) as
the unit; the new path (method "schur": T, S and Y from one CHOLMOD factorization with the ports
last); the old path (method "solves": that SuperLU factorization plus min(m, n) solves for T);
their ratios, the agreement of T, and each one's peak memory (max RSS of a fresh process). The
old path stops early and reports its projection when it would exceed 10 minutes.

Table 2, backends, for 32x32 .. 256x256 and 400x120 (native only at 512x512), with the native
solver on its default path:

* ngspice  — one batched subprocess run of K vectors (DC sweep + PWL sources, KLU);
* pyspice  — the same netlist through libngspice in this process;
* native solve    — assemble + factor once + K sparse solves;
* native transfer — assemble + factor + transfer matrix T, then I = V @ T for N vectors
  (N = 10,000 by default: the MNIST test set), per-vector cost amortised over N.

Per-vector ratios compare each backend's per-vector cost with native transfer's. Agreement is
max |I - I_native| / max |I_native| on the K shared vectors. Native peak memory (max RSS) is
measured in a fresh subprocess per size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from pyims import TileSpec, WireParasitics, find_ngspice  # noqa: E402
from pyims.runners import TileJob, get_runner  # noqa: E402
from pyims.runners.native import NativeTileSolver  # noqa: E402

SIZES = [(32, 32), (64, 64), (128, 128), (256, 256), (400, 120)]
NATIVE_ONLY = [(512, 512)]
WIRES = WireParasitics(r_row_ohm=2.5, r_col_ohm=2.5, r_driver_ohm=10.0, r_sense_ohm=10.0)

# Peak RSS from VmHWM: ru_maxrss would carry the parent's high-water mark across fork+exec.
_MEMORY_PROBE = """
import re, sys, time, numpy as np
from pyims import TileSpec, WireParasitics
from pyims.runners.native import NativeTileSolver
m, n = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
tile = TileSpec(g_s=rng.uniform(1e-6, 1e-4, (m, n)), wires=WireParasitics(r_row_ohm=2.5, r_col_ohm=2.5,
                r_driver_ohm=10.0, r_sense_ohm=10.0))
def hwm_mb():
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024
before = hwm_mb()
t0 = time.perf_counter(); NativeTileSolver(tile).transfer_matrix(); t = time.perf_counter() - t0
print(hwm_mb(), before, t)
"""


OLD_PATH_BUDGET_S = 600.0
PORT_SIZES = [(400, 120), (401, 240), (512, 512), (1024, 1024)]


def _port_measure(m: int, n: int, what: str, out_npy: str) -> dict:
    """In a fresh process: one SuperLU factorization ("factor"), T by solves ("solves"), or T, S, Y by
    one CHOLMOD factorization ("schur"); wall time and peak RSS."""
    import resource

    from pyims.runners.factor import SpdFactor

    rng = np.random.default_rng(0)
    tile = TileSpec(g_s=rng.uniform(1e-6, 1e-4, size=(m, n)), wires=WIRES)
    row: dict = {}
    t0 = time.perf_counter()
    if what == "factor":
        SpdFactor(NativeTileSolver(tile, method="solves")._blocks.l_uu, "superlu")
    elif what == "schur":
        np.save(out_npy, NativeTileSolver(tile, method="schur").port_matrices()[0])
    else:  # the old path block by block, so it can stop once its projection passes the budget
        solver = NativeTileSolver(tile, method="solves")
        solver._factor()
        t_factor = time.perf_counter() - t0
        side, r = ("rows", m) if m <= n else ("cols", n)
        t_mat = np.empty((m, n))
        for a in range(0, r, 32):
            b = min(a + 32, r)
            block = solver.port_block(side, a, b)[0]
            if side == "rows":
                t_mat[a:b] = block
            else:
                t_mat[:, a:b] = block
            done = time.perf_counter() - t0
            projected = t_factor + (done - t_factor) * r / b
            if b < r and projected > OLD_PATH_BUDGET_S:
                row.update(skipped=True, projected_s=projected, solves_done=b)
                break
        else:
            np.save(out_npy, t_mat)
    row["wall_s"] = time.perf_counter() - t0
    row["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def port_table(sizes: list[tuple[int, int]]) -> list[dict]:
    import tempfile

    rows = []
    print("| tile | unknowns | SuperLU factor s | new T s (schur) | old T s (solves) | new ÷ factor | old ÷ factor "
          "| old ÷ new | T rel diff | peak MB new / old |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for m, n in sizes:
            print(f"  ports {m}x{n} ...", file=sys.stderr, flush=True)
            res = {}
            for what in ("factor", "schur", "solves"):
                npy = os.path.join(tmp, f"{what}_{m}x{n}.npy")
                out = subprocess.run([sys.executable, __file__, "--port-one", str(m), str(n), what, npy],
                                     capture_output=True, text=True, check=True)
                res[what] = json.loads(out.stdout.splitlines()[-1])
            f, new, old = res["factor"]["wall_s"], res["schur"]["wall_s"], res["solves"]
            t_new = np.load(os.path.join(tmp, f"schur_{m}x{n}.npy"))
            row = {"size": f"{m}x{n}", "unknowns": NativeTileSolver(_tile(m, n, 1, 0)[0], method="solves").n_unknowns,
                   "factor_s": f, "new_s": new, "new_peak_mb": res["schur"]["peak_mb"], "old": old,
                   "new_over_factor": new / f}
            if old.get("skipped"):
                old_txt = f"> {OLD_PATH_BUDGET_S:.0f} (stopped after {old['solves_done']} solves; projected {old['projected_s']:.0f})"
                ratio_old, ratio_on, diff = "—", f"≥ {old['projected_s'] / new:.0f}x (projected)", "—"
            else:
                t_old = np.load(os.path.join(tmp, f"solves_{m}x{n}.npy"))
                row["t_rel_diff"] = float(np.abs(t_new - t_old).max() / np.abs(t_old).max())
                old_txt, ratio_old = f"{old['wall_s']:.2f}", f"{old['wall_s'] / f:.1f}x"
                ratio_on, diff = f"{old['wall_s'] / new:.1f}x", f"{row['t_rel_diff']:.1e}"
            rows.append(row)
            print(f"| {m}x{n} | {row['unknowns']:,} | {f:.2f} | {new:.2f} | {old_txt} | {new / f:.2f}x | {ratio_old} "
                  f"| {ratio_on} | {diff} | {res['schur']['peak_mb']:.0f} / {old['peak_mb']:.0f} |", flush=True)
    return rows


def _tile(m: int, n: int, k: int, seed: int) -> tuple[TileSpec, np.ndarray]:
    rng = np.random.default_rng(seed)
    return TileSpec(g_s=rng.uniform(1e-6, 1e-4, (m, n)), wires=WIRES), rng.uniform(0.0, 0.2, (k, m))


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _peak_memory_mb(m: int, n: int) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(m), str(n)], capture_output=True, text=True, check=True)
    peak, base, t = (float(x) for x in out.stdout.split())
    return peak, base, t


def bench(m: int, n: int, k: int, n_native: int, spice: bool) -> dict:
    tile, v = _tile(m, n, k, seed=m * 1000 + n)
    job = TileJob(tile=tile, v_in_v=v)
    row: dict = {"size": f"{m}x{n}", "k": k, "n_native": n_native}

    t0 = time.perf_counter()
    solver = NativeTileSolver(tile)
    t_matrix = solver.transfer_matrix()
    row["native_transfer_setup_s"] = time.perf_counter() - t0
    v_many = np.random.default_rng(1).uniform(0.0, 0.2, (n_native, m))
    t0 = time.perf_counter()
    _ = v_many @ t_matrix
    row["native_transfer_apply_s"] = time.perf_counter() - t0
    row["native_transfer_per_vec_s"] = (row["native_transfer_setup_s"] + row["native_transfer_apply_s"]) / n_native

    t0 = time.perf_counter()
    solve_res = get_runner("native", method="solve").run(job)
    row["native_solve_s"] = time.perf_counter() - t0
    row["native_solve_per_vec_s"] = row["native_solve_s"] / k
    reference = solve_res.i_col_a
    row["transfer_vs_solve_rel"] = _rel(v @ t_matrix, reference)

    peak, base, _ = _peak_memory_mb(m, n)
    row["native_peak_rss_mb"] = peak
    row["python_baseline_rss_mb"] = base

    if spice:
        for backend in ("ngspice", "pyspice"):
            res = get_runner(backend).run(job)
            row[f"{backend}_s"] = res.info.wall_time_s
            row[f"{backend}_per_vec_s"] = res.info.wall_time_s / k
            row[f"{backend}_rel_vs_native"] = _rel(res.i_col_a, reference)
            row[f"{backend}_per_vec_ratio"] = row[f"{backend}_per_vec_s"] / row["native_transfer_per_vec_s"]
            row[f"{backend}_vs_native_solve_ratio"] = row[f"{backend}_per_vec_s"] / row["native_solve_per_vec_s"]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="32x32 and 64x64 only")
    parser.add_argument("--vectors", type=int, default=8, help="K vectors per SPICE run (default 8)")
    parser.add_argument("--native-vectors", type=int, default=10_000, help="N vectors for native transfer (default 10000)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--only", choices=("ports", "backends"), help="run one table")
    parser.add_argument("--port-one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.port_one:
        m, n, what, npy = args.port_one
        print(json.dumps(_port_measure(int(m), int(n), what, npy)))
        return 0

    info = find_ngspice()
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}; ngspice-{info.version} (KLU: {info.klu})")
    from pyims.runners.factor import cholmod_available

    result: dict = {}
    if args.only != "backends":
        if not cholmod_available():
            print("port table skipped: scikit-sparse (CHOLMOD) is not installed (pip install 'pyims-spice[fast]')")
        else:
            print("\nTable 1: port matrices, new (one CHOLMOD factorization, ports last) vs old (SuperLU + solves)")
            result["ports"] = port_table([(200, 120), (400, 120)] if args.quick else PORT_SIZES)
    if args.only == "ports":
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(result, fh, indent=2)
        return 0
    print("\nTable 2: backends")
    sizes = SIZES[:2] if args.quick else SIZES
    plan = [(m, n, True) for m, n in sizes] + ([] if args.quick else [(m, n, False) for m, n in NATIVE_ONLY])
    rows = []
    for k, (m, n, spice) in enumerate(plan, 1):
        print(f"[{k}/{len(plan)}] {m}x{n} ...", file=sys.stderr, flush=True)
        rows.append(bench(m, n, args.vectors, args.native_vectors, spice=spice))

    print()
    print(f"K = {args.vectors} vectors per SPICE run; native transfer amortised over N = {args.native_vectors} vectors")
    print("| tile | ngspice s (K) | pyspice s (K) | native solve s (K) | native T setup s | ngspice/vec ÷ native-T/vec "
          "| ngspice/vec ÷ native-solve/vec | pyspice/vec ÷ native-T/vec | ngspice rel diff | pyspice rel diff "
          "| T vs solve rel | native peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        def f(key: str, fmt: str) -> str:
            return format(r[key], fmt) if key in r else "—"
        print(f"| {r['size']} | {f('ngspice_s', '.2f')} | {f('pyspice_s', '.2f')} | {f('native_solve_s', '.3f')} "
              f"| {f('native_transfer_setup_s', '.2f')} | {f('ngspice_per_vec_ratio', '.0f')}x "
              f"| {f('ngspice_vs_native_solve_ratio', '.0f')}x | {f('pyspice_per_vec_ratio', '.0f')}x "
              f"| {f('ngspice_rel_vs_native', '.1e')} | {f('pyspice_rel_vs_native', '.1e')} "
              f"| {f('transfer_vs_solve_rel', '.1e')} | {f('native_peak_rss_mb', '.0f')} |")
    if args.json:
        result["backends"] = rows
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
