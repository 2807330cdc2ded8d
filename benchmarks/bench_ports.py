"""A tile's port matrices two ways, side by side in one run: solves (today's default) vs one Cholesky.

    .venv/bin/python benchmarks/bench_ports.py            # 400x120, 401x240, 512x512, 1024x1024
    .venv/bin/python benchmarks/bench_ports.py --quick    # 200x120, 400x120

For each tile (cells uniform in [1 uS, 100 uS], 2.5 ohm per segment, 10 ohm drivers and sense):
one scipy SuperLU factorization of the interior nodal matrix (symmetric mode, MMD_AT_PLUS_A) as the
unit; T by solves (``port_block``: that factorization plus min(m, n) solves); T, S and Y from one
CHOLMOD factorization with the ports last (``port_matrices``, needs scikit-sparse); their ratios and
the agreement of T. Each measurement runs in a fresh process so its peak memory (max RSS) is its own.
At 1024x1024 the solves are not run (1,024 solves on a 2M-unknown factor: 512x512 already takes
~100 s for 512 of them on a quarter of the unknowns).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _measure(m: int, n: int, what: str) -> dict:
    import resource

    import numpy as np
    import scipy.sparse.linalg as spla

    from pyims.runners.native import NativeTileSolver
    from pyims.spec import TileSpec, WireParasitics

    rng = np.random.default_rng(0)
    tile = TileSpec(g_s=rng.uniform(1e-6, 1e-4, size=(m, n)),
                    wires=WireParasitics(r_row_ohm=2.5, r_col_ohm=2.5, r_driver_ohm=10.0, r_sense_ohm=10.0))
    solver = NativeTileSolver(tile)
    t0 = time.perf_counter()
    if what == "factor":
        spla.splu(solver._blocks.l_uu, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        t = None
    elif what == "solves":
        t = solver.port_block("rows", 0, m)[0] if m <= n else solver.port_block("cols", 0, n)[0]
    else:
        t = solver.port_matrices()[0]
    wall = time.perf_counter() - t0
    if t is not None:
        np.save(f"/tmp/bench_ports_{what}_{m}x{n}.npy", t)
    return {"wall_s": wall, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_measure(int(args.one[0]), int(args.one[1]), args.one[2])))
        return
    import numpy as np

    sizes = [(200, 120), (400, 120)] if args.quick else [(400, 120), (401, 240), (512, 512), (1024, 1024)]
    print(f"{'tile':>9} {'factor s':>9} {'solves T s':>11} {'schur T,S,Y s':>14} {'solves/factor':>14} "
          f"{'schur/factor':>13} {'speed-up':>9} {'T rel diff':>11} {'peak MB solves/schur':>21}")
    for m, n in sizes:
        res = {}
        skip_solves = m * n > 512 * 512
        for what in ("factor", "schur") if skip_solves else ("factor", "solves", "schur"):
            out = subprocess.run([sys.executable, __file__, "--one", str(m), str(n), what], capture_output=True, text=True, check=True)
            res[what] = json.loads(out.stdout)
        f, c = res["factor"]["wall_s"], res["schur"]["wall_s"]
        if skip_solves:
            print(f"{m:>4}x{n:<4} {f:>9.2f} {'(not run)':>11} {c:>14.2f} {'':>14} {c / f:>13.1f} {'':>9} {'':>11} "
                  f"{'-':>10}/{res['schur']['peak_mb']:<10.0f}")
            continue
        a = np.load(f"/tmp/bench_ports_solves_{m}x{n}.npy")
        b = np.load(f"/tmp/bench_ports_schur_{m}x{n}.npy")
        s_ = res["solves"]["wall_s"]
        print(f"{m:>4}x{n:<4} {f:>9.2f} {s_:>11.2f} {c:>14.2f} {s_ / f:>14.1f} {c / f:>13.1f} {s_ / c:>8.1f}x "
              f"{np.abs(a - b).max() / np.abs(a).max():>11.1e} {res['solves']['peak_mb']:>10.0f}/{res['schur']['peak_mb']:<10.0f}")


if __name__ == "__main__":
    main()
