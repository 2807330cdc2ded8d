"""The hardware a network runs on, described once: devices, wires, partitions, periphery, DAC, ADC, topology.

    hw = pyims.Hardware(wires=pyims.WireParasitics(r_row_ohm=2.0, r_col_ohm=2.0),
                        plan=pyims.PartitionPlan(max_rows=128, max_cols=128),
                        adc=pyims.Adc(bits=8))
    y = pyims.infer(model, x, hardware=hw)

It holds component and spec objects (never a flat bag of fields); every part is optional and
the defaults are ideal hardware. It maps to and from the TOML sections ``[device] [encoding]
[wires] [partitions] [periphery] [adc]`` and ``simulation.mode`` (``ExperimentConfig.hardware``).
A mapped network carries it (``MappedNetwork.hardware``), wires included, so solvers take the
network alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pyims.components.adc import Adc
from pyims.devices import Device, device_for
from pyims.devices.base import COMMON_FIELDS
from pyims.errors import SpecError
from pyims.hardware.topology import FullyAnalog, Topology, as_topology
from pyims.spec import DeviceSpec, InputEncoding, PartitionPlan, PeripherySpec, WireParasitics

__all__ = ["Hardware"]


def _typed(name: str, value: object, cls: type, what: str) -> None:
    if not isinstance(value, cls):
        raise SpecError(f"Hardware.{name} is a {type(value).__name__}; pass a pyims.{cls.__name__} ({what})")


@dataclass(frozen=True, slots=True, kw_only=True)
class Hardware:
    """The crossbar hardware (see the module docstring).

    Attributes:
        devices: the cells and how weights become their conductances: a ``DeviceSpec`` (the ``[device]`` config:
            kind, g_on/g_off, levels, variation) or a device object of ``pyims.devices`` (then the mapping takes
            ``DeviceSpec``'s defaults for the range).
        wires: per-segment wire R and C of every tile.
        plan: how each layer's array is split into tiles.
        encoding: the input DAC (read voltage, bits).
        periphery: sense amplifiers, partial-sum combination, bias row.
        adc: the output converter, or ``None`` (ideal readout).
        topology: ``FullyAnalog()``, ``Tiled()`` or "auto" (fully-analog where the network can be one
            circuit); strings "analog" / "tiled" / "auto" are accepted.
    """

    devices: DeviceSpec | Device = field(default_factory=DeviceSpec)
    wires: WireParasitics = field(default_factory=WireParasitics)
    plan: PartitionPlan = field(default_factory=PartitionPlan)
    encoding: InputEncoding = field(default_factory=InputEncoding)
    periphery: PeripherySpec = field(default_factory=PeripherySpec)
    adc: Adc | None = None
    topology: Topology = field(default="auto")  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if not isinstance(self.devices, (DeviceSpec, Device)):
            raise SpecError(f"Hardware.devices is a {type(self.devices).__name__}; pass a pyims.DeviceSpec (g_on/g_off, levels, "
                            "variation) or a device of pyims.devices")
        device_for(self.devices)  # an unknown device.kind fails here, naming the kinds there are
        for name, cls, what in (("wires", WireParasitics, "per-segment R and C"),
                                ("plan", PartitionPlan, "partition counts or a maximum tile"),
                                ("encoding", InputEncoding, "the input DAC"),
                                ("periphery", PeripherySpec, "sense amplifiers")):
            _typed(name, getattr(self, name), cls, what)
        if self.adc is not None:
            _typed("adc", self.adc, Adc, "bits, full scale")
        object.__setattr__(self, "topology", as_topology(self.topology))
        why = self.fully_analog_problem
        if why is not None and isinstance(self.topology, FullyAnalog):
            raise SpecError(f'topology="analog" (simulation.mode = "analog", the config\'s default) builds one circuit, '
                            f'but {why}; use topology="tiled" (simulation.mode = "tiled") or "auto"')

    @property
    def device(self) -> Device:
        """The cell model (``pyims.devices``) every crosspoint is."""
        return device_for(self.devices)

    @property
    def device_spec(self) -> DeviceSpec:
        """The ``[device]`` table of this hardware: kind, the device's range (``g_off_s`` / ``g_on_s``), levels,
        variation, the common device fields and the kind's own (``params``)."""
        device = self.device
        g_off, g_on = device.g_range_s
        own = {k: v for k, v in device.own_params().items() if k not in ("g_on_s", "g_off_s")}
        base = self.devices if isinstance(self.devices, DeviceSpec) else DeviceSpec(kind=device.kind)
        return replace(base, kind=device.kind, g_on_s=g_on, g_off_s=g_off, params=tuple(sorted(own.items())),
                       **{name: getattr(device, name) for name in COMMON_FIELDS})

    def redrawn(self, seed: int) -> "Hardware":
        """This hardware with its randomness drawn again from ``seed``: device variation and the device's own draws
        (programming, stuck cells, drift, read noise) and the converters' errors."""
        devices: DeviceSpec | Device = self.devices
        if isinstance(devices, DeviceSpec):
            devices = replace(devices, variation_seed=int(seed), seed=int(seed))
        else:
            devices = replace(devices, seed=int(seed))
        adc = None
        if self.adc is not None:  # a new draw's converters: their errors drawn again, the correction fitted again
            adc = replace(self.adc, seed=int(seed))
            if adc.correction != "none":
                adc = replace(adc, correction_scale_ratio=None, correction_offset_norm=None)
        return replace(self, devices=devices, adc=adc)

    @property
    def fully_analog_problem(self) -> str | None:
        """Why this hardware needs a digital step between layers (so no fully-analog circuit), or ``None``."""
        device = self.device
        comp = device.drift_compensation
        if comp != "none":
            return (f"device.drift_compensation={comp!r} scales every layer's outputs digitally after its ADC, between "
                    "layers; the fully-analog circuit has no digital step")
        if device.t_since_program_s > 0.0 and device.read_sigma_s(np.ones(1) * device.g_range_s[1], np.ones(1) * device.g_range_s[1],
                                                                   device.t_since_program_s).any():
            return (f"device.kind={device.kind!r} read {device.t_since_program_s:g} s after programming draws fresh read noise "
                    "on every cell for every input vector; the tiled topology solves each tile per vector, the "
                    "fully-analog circuit does not yet")
        return None

    def replaced(self, **changes: Any) -> "Hardware":
        """This hardware with some parts replaced (``hw.replaced(wires=...)``)."""
        return replace(self, **changes)

    def describe(self) -> str:
        parts = [f"wires {self.wires.r_row_ohm:g}/{self.wires.r_col_ohm:g} ohm"]
        if self.wires.c_row_f or self.wires.c_col_f:
            parts.append(f"C {self.wires.c_row_f:g}/{self.wires.c_col_f:g} F")
        if self.adc is not None:
            parts.append(self.adc.describe())
        parts.append(f"{self.topology.name} topology")
        return ", ".join(parts)
