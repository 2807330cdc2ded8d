"""The pyims error tree: one base class, one subclass per kind of failure.

Every message names the object, the bad value and the fix, so a user can act on it
without reading pyims' source.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "PyimsError",
    "SpecError",
    "NonFiniteError",
    "ClusterError",
    "NetlistError",
    "SimulatorNotFound",
    "SimulatorUsageError",
    "SimulationError",
    "SimulationTimeout",
    "ConvergenceError",
    "RawFileError",
    "NgspiceVersionWarning",
    "InputRangeWarning",
    "AdcCalibrationWarning",
    "ConfigError",
    "DatasetError",
    "ChecksumError",
    "ModelFileError",
    "UnsupportedOpError",
]


class PyimsError(Exception):
    """Base class of every error pyims raises on purpose."""


class SpecError(PyimsError, ValueError):
    """A user-supplied specification (shapes, values, names) is invalid."""


class NonFiniteError(PyimsError, FloatingPointError):
    """A forward pass produced NaN or inf (the message names the step and the images); no result is reported."""


class ClusterError(PyimsError, ConnectionError):
    """A Dask scheduler address does not answer as a Dask scheduler within the handshake's limit."""


class ConfigError(SpecError):
    """An experiment config (TOML) names unknown fields or holds bad values: every problem found in one pass.

    ``ConfigError(problem, ...)``: each problem is one line naming the field, the bad value and the fix; the
    message is the problems one per line, the first first. ``problems``: the lines as a tuple."""

    def __init__(self, *problems: str) -> None:
        super().__init__(*problems)
        self.problems: tuple[str, ...] = tuple(str(p) for p in problems)

    def __str__(self) -> str:
        return "\n".join(self.problems)


class DatasetError(PyimsError):
    """A dataset file is missing, unreadable or not in the expected format."""


class ChecksumError(DatasetError):
    """A downloaded or cached file does not match its published checksum."""


class ModelFileError(PyimsError):
    """A model file (.onnx, .npz or CSV) is missing, malformed, or its layer shapes do not chain."""


class UnsupportedOpError(ModelFileError):
    """An ONNX graph uses an operator (or an attribute value) pyims cannot map; the message names the op,
    the node and the supported list."""

    def __init__(self, message: str, *, op: str, node: str) -> None:
        super().__init__(message)
        self.op, self.node = op, node


class NetlistError(PyimsError):
    """A netlist model cannot be written as valid SPICE text."""


class SimulatorNotFound(PyimsError, FileNotFoundError):
    """The simulator executable or shared library is not installed."""


class SimulatorUsageError(PyimsError, RuntimeError):
    """A simulator was used in a way it does not support (e.g. libngspice from two threads)."""


class RawFileError(PyimsError):
    """An ngspice raw file is missing, truncated or not in the expected layout."""


class SimulationError(PyimsError, RuntimeError):
    """A simulation failed. The run directory is kept as evidence and named in the message.

    Attributes:
        rundir: directory holding the netlist, the simulator log and any output (kept).
        cmd: the command line that was run (tuple of strings), or a description.
        returncode: the process exit status, ``None`` when not applicable (shared library).
        output_tail: the last lines of the simulator's output.
    """

    def __init__(
        self,
        message: str,
        *,
        rundir: Path | None,
        cmd: tuple[str, ...] = (),
        returncode: int | None = None,
        output_tail: str = "",
    ) -> None:
        self.rundir = rundir
        self.cmd = tuple(cmd)
        self.returncode = returncode
        self.output_tail = output_tail
        self.message = message
        lines = [message]
        if rundir is not None:
            lines.append(f"  run directory kept at: {rundir}")
        if cmd:
            lines.append("  command: " + " ".join(self.cmd))
        if returncode is not None:
            lines.append(f"  exit status: {returncode}")
        if output_tail:
            lines.append("  last simulator output:")
            lines.extend("    " + line for line in output_tail.splitlines())
        super().__init__("\n".join(lines))

    def __reduce__(self):
        """Pickled whole, so that it crosses from a Dask worker or a process pool intact (its fields are keywords)."""
        import functools

        return (functools.partial(type(self), rundir=self.rundir, cmd=self.cmd, returncode=self.returncode,
                                  output_tail=self.output_tail), (self.message,))


class SimulationTimeout(SimulationError, TimeoutError):
    """The simulator did not finish within its time limit."""


class ConvergenceError(SimulationError):
    """The simulator could not find a solution (singular matrix, iteration limit, ...)."""


class NgspiceVersionWarning(UserWarning):
    """The ngspice in use is older than 42 or lacks KLU: large crossbars will be very slow."""


class AdcCalibrationWarning(UserWarning):
    """An ADC whose ranges (or correction) were not fixed was calibrated on the images of this very call
    (``pyims.infer``): the outputs depend on the batch; ``pyims.calibrate`` fixes them once.

    Attributes:
        n_images: the images it was calibrated on.
        adc: the converter as calibrated and run (a ``pyims.Adc``), or ``None``.
    """

    def __init__(self, message: str, *, n_images: int, adc=None) -> None:
        super().__init__(message)
        self.n_images = n_images
        self.adc = adc


class InputRangeWarning(UserWarning):
    """Inputs lie outside the DAC's input range and were clipped to it (``InputEncoding.clipping``).

    Attributes:
        clipping: the counts (an ``InputClipping``: values and images outside, of how many, the range).
    """

    def __init__(self, message: str, *, clipping) -> None:
        super().__init__(message)
        self.clipping = clipping
