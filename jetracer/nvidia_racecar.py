"""Upstream-compatible entry point: ``from jetracer.nvidia_racecar import NvidiaRacecar``.

Upstream notebooks create ``NvidiaRacecar()`` with no arguments; here it builds the configured car
(profile and bus from ``jetracer.config``), so the same cells drive a LaTrax, a TT-02, a Waveshare
kit or the emulated chips.
"""
from .car import ConfiguredRacecar


class NvidiaRacecar(ConfiguredRacecar):
    """The configured car under upstream's name."""


__all__ = ["NvidiaRacecar"]
