"""The ``drive`` section of the user configuration: steering law, throttle, failsafe limits, gamepad.

The keys, their ranges and defaults are :data:`jetracer.config_schema.DRIVE` (the one schema of the
configuration); this module merges a section with command-line overrides and checks the result.
"""
from typing import Any, Dict, Mapping, Optional

from ..config import ConfigError
from ..config_schema import DRIVE, DRIVE_MODES, section_defaults
from ..schema import validate

MODES = DRIVE_MODES
DEFAULTS = section_defaults(DRIVE)


class DriveSettingsError(ConfigError):
    """A ``drive`` configuration key is unknown or has a wrong value."""


def drive_settings(section: Optional[Mapping[str, Any]] = None, where: str = "drive", **overrides: Any) -> Dict[str, Any]:
    """Defaults < ``section`` (the config's ``drive`` mapping) < ``overrides`` (``None`` ignored), validated
    against :data:`jetracer.config_schema.DRIVE`; ``where`` names the source in an error."""
    data = section_defaults(DRIVE)
    data.update(section or {})
    data.update((k, v) for k, v in overrides.items() if v is not None)
    problems = validate(data, DRIVE, "drive")
    if problems:
        raise DriveSettingsError("%s: %s" % (where, "; ".join(problems)) if where != "drive" else "; ".join(problems))
    return data


UPSTREAM_STEERING_GAIN = 0.75


def steering_gain(settings: Mapping[str, Any], world: Any = None) -> float:
    """The configured gain, else the simulator's pure-pursuit gain for ``world``, else upstream's 0.75
    (tuned on real cars for hand-clicked targets)."""
    if settings["steering_gain"] is not None:
        return float(settings["steering_gain"])
    if world is not None:
        from ..sim.labels import pursuit_steering_gain

        return pursuit_steering_gain(world)
    return UPSTREAM_STEERING_GAIN
