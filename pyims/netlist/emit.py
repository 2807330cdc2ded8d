"""Write a netlist model as ngspice text. Deterministic: same model, same bytes.

Numbers are written as ``repr(float(x))``: the shortest text that reads back to the same
double, with no SPICE scale suffixes (``M`` would be milli) and never numpy's repr.
"""

from __future__ import annotations

import io
from typing import TextIO

from pyims.errors import NetlistError
from pyims.netlist.model import (
    Capacitor,
    Ccvs,
    DcSweep,
    Element,
    Netlist,
    OperatingPoint,
    PwlTimeSource,
    PwlVoltageSource,
    Resistor,
    SubcktInstance,
    Transient,
    VoltageSource,
)

__all__ = ["emit", "format_netlist", "format_value", "format_element", "PWL_PAIRS_PER_LINE"]

#: PWL points per continuation line: keeps lines short enough to read and to diff.
PWL_PAIRS_PER_LINE = 8


def format_value(x: float) -> str:
    """Full-precision SPICE number text for ``x`` (round-trips exactly)."""
    return repr(float(x))


def format_element(element: Element) -> str:
    """One element as SPICE text (may span several lines for PWL sources)."""
    if isinstance(element, Resistor):
        return f"{element.name} {element.node_a} {element.node_b} {format_value(element.r_ohm)}"
    if isinstance(element, Capacitor):
        return f"{element.name} {element.node_a} {element.node_b} {format_value(element.c_f)}"
    if isinstance(element, VoltageSource):
        return f"{element.name} {element.node_pos} {element.node_neg} DC {format_value(element.dc_v)}"
    if isinstance(element, PwlVoltageSource):
        pairs = [f"{format_value(x)},{format_value(y)}" for x, y in zip(element.x, element.y)]
        lines = [f"{element.name} {element.node_pos} {element.node_neg} V=pwl(v({element.control_node}),"]
        for k in range(0, len(pairs), PWL_PAIRS_PER_LINE):
            chunk = ", ".join(pairs[k : k + PWL_PAIRS_PER_LINE])
            last = k + PWL_PAIRS_PER_LINE >= len(pairs)
            lines.append(f"+ {chunk}{')' if last else ','}")
        return "\n".join(lines)
    if isinstance(element, PwlTimeSource):
        pairs = [f"{format_value(t)} {format_value(v)}" for t, v in zip(element.t_s, element.v_v)]
        lines = [f"{element.name} {element.node_pos} {element.node_neg} PWL("]
        for k in range(0, len(pairs), PWL_PAIRS_PER_LINE):
            last = k + PWL_PAIRS_PER_LINE >= len(pairs)
            lines.append("+ " + "  ".join(pairs[k : k + PWL_PAIRS_PER_LINE]) + (")" if last else ""))
        return "\n".join(lines)
    if isinstance(element, Ccvs):
        return f"{element.name} {element.node_pos} {element.node_neg} {element.control} {format_value(element.r_ohm)}"
    if isinstance(element, SubcktInstance):
        params = "".join(f" {key}={format_value(value)}" for key, value in element.params)
        return f"{element.name} {' '.join(element.nodes)} {element.subckt}{params}"
    raise NetlistError(f"cannot emit element of type {type(element).__name__}")


def _format_analysis(netlist: Netlist) -> str:
    analysis = netlist.analysis
    if isinstance(analysis, OperatingPoint):
        return ".op"
    if isinstance(analysis, DcSweep):
        return (
            f".dc {analysis.source} {format_value(analysis.start)} "
            f"{format_value(analysis.stop)} {format_value(analysis.step)}"
        )
    if isinstance(analysis, Transient):
        return (
            f".tran {format_value(analysis.t_step_s)} {format_value(analysis.t_stop_s)} 0.0 "
            f"{format_value(analysis.t_max_s)}"
        )
    raise NetlistError(f"cannot emit analysis of type {type(analysis).__name__}")


def write_header(netlist: Netlist, dest: TextIO) -> None:
    """Title line (SPICE ignores the first line's content) and comment lines."""
    dest.write(netlist.title + "\n")
    for comment in netlist.comments:
        for line in comment.splitlines() or [""]:
            dest.write(f"* {line}".rstrip() + "\n")


def write_options(netlist: Netlist, dest: TextIO, options: tuple[str, ...] | None = None) -> None:
    """``.options`` lines: ``options`` when given (a simulator session's), else the netlist's own."""
    for option in netlist.options if options is None else options:
        dest.write(f".options {option}\n")


def write_libraries(netlist: Netlist, dest: TextIO) -> None:
    """Subcircuit definitions, verbatim, each under a comment naming its source."""
    for lib in netlist.libraries:
        dest.write(f"* --- library {lib.name} ---\n")
        dest.write(lib.text.rstrip("\n") + "\n")


def write_elements(netlist: Netlist, dest: TextIO) -> None:
    """Every element, in model order."""
    dest.write("\n".join(format_element(e) for e in netlist.elements))
    dest.write("\n")


def write_control(netlist: Netlist, dest: TextIO) -> None:
    """Saved vectors, the analysis and ``.end``."""
    saves = [f"i({name})" for name in netlist.saved_currents] + [f"v({node})" for node in netlist.saved_voltages]
    if saves:
        for k in range(0, len(saves), 16):
            dest.write(".save " + " ".join(saves[k : k + 16]) + "\n")
    dest.write(_format_analysis(netlist) + "\n")
    dest.write(".end\n")


def emit(netlist: Netlist, dest: TextIO, *, options: tuple[str, ...] | None = None) -> None:
    """Write ``netlist`` as ngspice text to the stream ``dest`` (with ``options`` in place of its own, if given)."""
    write_header(netlist, dest)
    write_options(netlist, dest, options)
    write_libraries(netlist, dest)
    write_elements(netlist, dest)
    write_control(netlist, dest)


def format_netlist(netlist: Netlist, *, options: tuple[str, ...] | None = None) -> str:
    """``netlist`` as one ngspice text string (with ``options`` in place of its own, if given)."""
    buf = io.StringIO()
    emit(netlist, buf, options=options)
    return buf.getvalue()
