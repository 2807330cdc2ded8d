"""Presets: complete hardware descriptions of published simulators, as pyims specs."""

from pyims.presets.imac import ImacPreset

__all__ = ["ImacPreset"]
