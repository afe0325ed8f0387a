"""The one drive setting that needs more than the config to resolve: the steering gain.

The ``drive`` section itself arrives validated and typed (``config.drive``, a
:class:`jetracer.config_schema.DriveSettings`); command-line values go through
``config.with_overrides(drive={...})``, the same check as the file's.
"""
from typing import Any

from ..config import ConfigError
from ..config_schema import DriveSettings

UPSTREAM_STEERING_GAIN = 0.75


class DriveSettingsError(ConfigError):
    """Kept for callers' excepts: a wrong ``drive`` value is a :class:`ConfigError`, raised where it enters."""


def steering_gain(settings: DriveSettings, world: Any = None) -> float:
    """The configured gain (``settings.steering_gain``), else the simulator's pure-pursuit gain for ``world``,
    else upstream's 0.75 (tuned on real cars for hand-clicked targets)."""
    if settings.steering_gain is not None:
        return float(settings.steering_gain)
    if world is not None:
        from ..sim.labels import pursuit_steering_gain

        return pursuit_steering_gain(world)
    return UPSTREAM_STEERING_GAIN
