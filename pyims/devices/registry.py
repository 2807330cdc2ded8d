"""``[device] kind`` -> device class: the one registry of device kinds, and the device a spec names.

A kind registers itself with ``@DEVICES.register`` in its own file; importing ``pyims.devices``
imports every module of the package, so a new kind needs no other edit.
"""

from __future__ import annotations

from pyims.devices.base import Device
from pyims.errors import SpecError
from pyims.registry import Registry
from pyims.spec import DeviceSpec

__all__ = ["DEVICES", "DEFAULT_KIND", "device_for"]

DEVICES: Registry = Registry("device.kind")
#: The default kind (``DeviceSpec.kind``): today's ideal linear cell.
DEFAULT_KIND = "linear"


def device_for(spec: DeviceSpec | Device) -> Device:
    """The device ``spec`` describes: a ``Device`` is returned as it is; a ``DeviceSpec`` builds its kind's
    class (``spec.kind``)."""
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, DeviceSpec):
        raise SpecError(f"device is a {type(spec).__name__}; pass a pyims.DeviceSpec or a pyims.devices.Device")
    return DEVICES.get(spec.kind).from_spec(spec)
