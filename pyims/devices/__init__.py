"""Devices: what one crossbar cell conducts, as components (``Device`` and its kinds).

Each kind is one class in one file of this package, registered under its ``[device] kind`` name
in ``DEVICES``. Every module here is imported below, so a kind registers itself by existing:
adding one is one new file plus its test (``docs/architecture.md``, "Add a device model").
"""

import importlib
import pkgutil

from pyims.devices.base import Device
from pyims.devices.linear import LinearDevice
from pyims.devices.registry import DEVICES, device_for

# Every kind in the package registers on import: built-in first (the order error messages list them),
# then the rest alphabetically.
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
del _module

from pyims.devices.measured import MeasuredDevice  # noqa: E402  (the kinds users name: pyims.devices.PCM, ...)
from pyims.devices.pcm import PCM  # noqa: E402
from pyims.devices.rram import RRAM  # noqa: E402

__all__ = ["Device", "LinearDevice", "PCM", "RRAM", "MeasuredDevice", "DEVICES", "device_for"]
