"""`import pyims` stays light: heavy or optional libraries load only when used."""

import subprocess
import sys


def test_import_does_not_load_heavy_libraries():
    code = (
        "import sys, pyims\n"
        "heavy = [m for m in ('matplotlib', 'dask', 'distributed', 'PySpice', 'sklearn', 'tqdm', 'mlxtend') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_is_curated():
    import pyims

    assert {"simulate_tile", "tile_netlist", "TileSpec", "WireParasitics", "get_runner"} <= set(pyims.__all__)
    for name in pyims.__all__:
        assert hasattr(pyims, name), name
