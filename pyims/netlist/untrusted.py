"""SPICE text that pyims did not generate is untrusted: it is parsed and only an allow-list passes.

ngspice in batch mode executes ``.control ... shell ... .endc`` blocks, follows ``.include`` /
``.lib`` to any file (and quotes it in error messages) and loads code models that read files.
A subcircuit file a user names (``[neuron] subckt_file``, ``pyims characterize --file``) may hold
only what a subcircuit library needs:

* comments (``*`` lines, inline ``;`` / `` $ `` / ``//`` comments) and blank lines;
* continuation lines (``+ ...``), judged with the line they continue;
* ``.subckt`` / ``.ends``, ``.model`` and ``.param`` (also ``.params``);
* element lines of the analog devices: R C L K V I E F G H B D Q J M S W T O U X Z.

Everything else -- ``.control``, ``.endc``, ``.include``, ``.inc``, ``.lib``, ``.exec``, ``.options``,
analyses, any other dot-command, XSPICE ``A`` code models (``filesource`` reads files), OSDI
``N`` devices, backquotes and anything that is no element -- is refused with an
``UntrustedSpiceError`` naming the file and line. The library's own ``circuits/`` pass through the
same check.
"""

from __future__ import annotations

import re

from pyims.errors import NetlistError

__all__ = ["UntrustedSpiceError", "check_untrusted_spice", "ALLOWED_DOT_COMMANDS", "ALLOWED_ELEMENTS"]

ALLOWED_DOT_COMMANDS = (".subckt", ".ends", ".model", ".param", ".params")
ALLOWED_ELEMENTS = "RCLKVIEFGHBDQJMSWTOUXZ"
_INLINE_COMMENT = re.compile(r"(;| \$ |//).*$")


class UntrustedSpiceError(NetlistError):
    """User-supplied SPICE text holds something outside the allow-list (``pyims.netlist.untrusted``)."""


def check_untrusted_spice(text: str, source: str) -> None:
    """Raise UntrustedSpiceError unless every line of ``text`` is on the allow-list (module docstring)."""
    if "\x00" in text:
        raise UntrustedSpiceError(f"{source}: holds a NUL byte; a subcircuit file is plain text")
    logical: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("*"):
            continue
        if "`" in line:
            raise UntrustedSpiceError(f"{source}:{number}: backquotes are refused (ngspice runs them as commands): {raw.strip()[:80]!r}")
        if line.startswith("+"):
            if not logical:
                raise UntrustedSpiceError(f"{source}:{number}: a continuation line with nothing to continue")
            logical[-1] = (logical[-1][0], logical[-1][1] + " " + line[1:])
            continue
        logical.append((number, line))
    for number, line in logical:
        body = _INLINE_COMMENT.sub("", line).strip()
        if not body:
            continue
        word = body.split()[0].lower()
        if word.startswith("."):
            if word not in ALLOWED_DOT_COMMANDS:
                raise UntrustedSpiceError(
                    f"{source}:{number}: {word} is refused in a subcircuit file (allowed: "
                    f"{', '.join(ALLOWED_DOT_COMMANDS)}, comments and element lines); SPICE text pyims did not "
                    "write may not run commands, include files or set up analyses"
                )
            continue
        if word[0].upper() not in ALLOWED_ELEMENTS or not word[0].isalpha():
            raise UntrustedSpiceError(
                f"{source}:{number}: {body.split()[0][:40]!r} is not an allowed element (allowed element letters: "
                f"{' '.join(ALLOWED_ELEMENTS)}; XSPICE 'A' code models and OSDI 'N' devices are refused)"
            )
