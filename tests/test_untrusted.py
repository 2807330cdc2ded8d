"""User-supplied SPICE text is parsed against an allow-list: it can never run a command or read a file."""

from __future__ import annotations

import pytest

from pyims.components.registry import neuron_for
from pyims.netlist.library import LIBRARY_FILES, circuits_dir, load_library_file
from pyims.netlist.untrusted import UntrustedSpiceError, check_untrusted_spice

GOOD = """* my neuron
.subckt myneuron in out params: k=1
.param half={k/2}
* a comment, then an element with an inline comment
B0 out 0 V = tanh(half * v(in)) ; the curve
R1 in 0 1e12 $ keeps the node defined
M1 out in 0 0 nmod L=1u
+ W=2u
.model nmod nmos level=1 vto=0.4
.ends myneuron
"""


def test_the_allow_list_passes_a_real_subcircuit_and_the_whole_library():
    check_untrusted_spice(GOOD, "good.sub")
    for name in LIBRARY_FILES.values():
        check_untrusted_spice((circuits_dir() / name).read_text(), name)


REFUSED = {
    "control-shell": (".control\nshell touch /tmp/pwned\n.endc\n", r":2: .* is not an allowed element|:1: \.control is refused"),
    "endc": (".endc\n", r":1: \.endc is refused"),
    "include": (".include /etc/passwd\n", r":1: \.include is refused"),
    "inc": (".inc /etc/passwd\n", r":1: \.inc is refused"),
    "lib": (".lib /etc/shadow tt\n", r":1: \.lib is refused"),
    "exec": (".exec shell ls\n", r":1: \.exec is refused"),
    "options": (".options klu\n", r":1: \.options is refused"),
    "analysis": (".tran 1n 1u\n", r":1: \.tran is refused"),
    "op": (".op\n", r":1: \.op is refused"),
    "save": (".save all\n", r":1: \.save is refused"),
    "end": (".end\n", r":1: \.end is refused"),
    "csparam": (".csparam x=1\n", r":1: \.csparam is refused"),
    "func": (".func f(x) x\n", r":1: \.func is refused"),
    "upper-control": (".CONTROL\n", r":1: \.control is refused"),
    "indented-control": ("   .control\n", r":1: \.control is refused"),
    "after-subckt": (".subckt a in out\nR1 in out 1\n.ends\n.control\n", r":4: \.control is refused"),
    "code-model": ("A1 in out filesrc\n", r"'A1' is not an allowed element"),
    "osdi": ("N1 a b c mod\n", r"'N1' is not an allowed element"),
    "bare-word": ("print hi\n", r"'print' is not an allowed element"),
    "path": ("/bin/sh -c ls\n", r"'/bin/sh' is not an allowed element"),
    "digit": ("1 2 3\n", r"'1' is not an allowed element"),
    "backquote": ("R1 a b `ls`\n", r":1: backquotes are refused"),
    "orphan-continuation": ("+ R1 a b 1\n", r":1: a continuation line with nothing to continue"),
    "continued-control": ("R1 a b 1\n.con\n+trol\n", r":2: \.con is refused"),
    "nul": ("R1 a b 1\x00\n", r"holds a NUL byte"),
    "pre-process": (".if (1)\n", r":1: \.if is refused"),
}


@pytest.mark.parametrize("text, match", REFUSED.values(), ids=REFUSED.keys())
def test_refused_text_names_file_and_line(text, match):
    with pytest.raises(UntrustedSpiceError, match=rf"evil\.sub{match}" if match.startswith(":") else match):
        check_untrusted_spice(text, "evil.sub")


def test_a_loaded_file_is_checked_before_it_reaches_any_netlist(tmp_path):
    evil = tmp_path / "evil.sub"
    evil.write_text(".subckt myneuron in out\nR1 in out 1k\n.ends\n.control\nshell touch pwned\n.endc\n")
    with pytest.raises(UntrustedSpiceError, match=rf"{evil}:4: \.control is refused"):
        load_library_file(evil, "myneuron")


@pytest.mark.ngspice
def test_characterize_refuses_a_file_that_would_run_a_shell_command(tmp_path, monkeypatch):
    from pyims.characterize import characterize_neuron

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.sub"
    evil.write_text(f".subckt myneuron in out\nR1 in out 1k\n.ends\n.control\nshell touch {marker}\n.endc\n")
    monkeypatch.setenv("PYIMS_RUN_ROOT", str(tmp_path / "runs"))
    with pytest.raises(UntrustedSpiceError, match=r"\.control is refused"):
        characterize_neuron("myneuron", subckt_file=evil)
    assert not marker.exists() and not (tmp_path / "runs").exists()  # refused before any run


def test_a_measured_neuron_config_with_an_include_is_refused_before_any_run(tmp_path):
    from pyims.model import NeuronSpec

    evil = tmp_path / "evil.sub"
    evil.write_text(".subckt myneuron in out\n.include /etc/passwd\n.ends\n")
    spec = NeuronSpec(kind="measured", curve_in_v=(-1.0, 0.0, 1.0, 2.0), curve_out_v=(1.0, 0.5, 0.0, 0.0),
                      subckt="myneuron", subckt_file=str(evil))
    with pytest.raises(UntrustedSpiceError, match=r"evil\.sub:2: \.include is refused"):
        neuron_for(spec).library()


@pytest.mark.ngspice
def test_runs_ignore_a_spiceinit_in_home(tmp_path, monkeypatch, run_root):
    """ngspice runs with -n: a ~/.spiceinit that would run a command is never read."""
    from pyims.netlist.model import GROUND, Netlist, OperatingPoint, Resistor, VoltageSource
    from pyims.runners.session import NgspiceSession

    home = tmp_path / "home"
    home.mkdir()
    marker = tmp_path / "spiceinit-ran"
    (home / ".spiceinit").write_text(f"shell touch {marker}\n")
    monkeypatch.setenv("HOME", str(home))
    netlist = Netlist(title="* t", elements=(VoltageSource("V1", "a", GROUND, 1.0), Resistor("R1", "a", GROUND, 1e3)),
                      analysis=OperatingPoint())
    out = NgspiceSession(run_root=run_root).run(netlist, expect=["v(a)"])
    assert out.data[0, 0] == 1.0 and not marker.exists()
