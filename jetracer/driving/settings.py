"""The ``drive`` section of the user configuration: steering law, throttle, failsafe limits, gamepad.

Every key has a default; an unknown key or a wrong value is refused with a message naming it.
"""
import math
from typing import Any, Dict, Mapping, Optional

MODES = ("manual", "auto-steer", "auto")

DEFAULTS = {
    "mode": "auto",               # manual (gamepad), auto-steer (model steers, gamepad throttle), auto
    "model": None,                # path of the pilot (checkpoint / ONNX / TensorRT), see learning.pilot
    "steering_gain": None,        # steering = steering_gain * x + steering_bias (+ steering_kd * dx/dt);
                                  # None: upstream's 0.75 on the car, the pure-pursuit gain in the simulator
    "steering_bias": 0.0,
    "steering_kd": 0.0,
    "throttle": 0.2,              # throttle command in auto mode (the car's max_throttle still caps it)
    "throttle_mode": "constant",  # or slow-in-turns: throttle * (1 - throttle_slowdown * |x|)
    "throttle_slowdown": 0.5,
    "max_frame_age_s": 0.06,      # stop when the newest camera frame is older than this
    "command_timeout_s": 0.06,    # stop when gamepad commands stop (manual, auto-steer)
    "heartbeat_timeout_s": 0.3,   # stop when the browser heartbeat stops coming back (notebook teleop)
    "watchdog_s": 0.2,            # the car's own watchdog thread if the loop hangs (0: off; real time only)
    "supervisor_timeout_s": 0.08,  # the supervisor process stops the car when the loop's heartbeat is this late
    "self_check_frames": 5,       # refuse a model whose output is NaN or constant over these frames
    "gamepad": "standard",        # a mapping name from jetracer.driving.gamepad.MAPPINGS, or a mapping
    "gamepad_device": None,       # evdev device path for the headless service (None: first gamepad found)
    "record_root": None,          # where the record button saves frames (DatasetWriter layout)
    "record_category": "apex",
    "publish_hz": 2.0,            # how often the state file for the OLED is written
}

_NUMBERS = {
    "steering_gain": (-10.0, 10.0), "steering_bias": (-1.0, 1.0), "steering_kd": (-1.0, 1.0),
    "throttle": (-1.0, 1.0), "throttle_slowdown": (0.0, 1.0), "max_frame_age_s": (0.001, 10.0),
    "command_timeout_s": (0.001, 10.0), "heartbeat_timeout_s": (0.001, 10.0), "watchdog_s": (0.0, 10.0),
    "supervisor_timeout_s": (0.02, 5.0),
    "self_check_frames": (0, 100), "publish_hz": (0.1, 100.0),
}


class DriveSettingsError(ValueError):
    """A ``drive`` configuration key is unknown or has a wrong value."""


def drive_settings(section: Optional[Mapping[str, Any]] = None, **overrides: Any) -> Dict[str, Any]:
    """Defaults < ``section`` (the config's ``drive`` mapping) < ``overrides`` (``None`` ignored), validated."""
    data = dict(DEFAULTS)
    data.update(section or {})
    data.update((k, v) for k, v in overrides.items() if v is not None)
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise DriveSettingsError("drive: unknown key(s) %s; known keys: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    if data["mode"] not in MODES:
        raise DriveSettingsError("drive.mode must be one of %s, found %r" % (", ".join(MODES), data["mode"]))
    if data["throttle_mode"] not in ("constant", "slow-in-turns"):
        raise DriveSettingsError("drive.throttle_mode must be constant or slow-in-turns, found %r" % (data["throttle_mode"],))
    for key, (lo, hi) in _NUMBERS.items():
        value = data[key]
        if key == "steering_gain" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not lo <= value <= hi:
            raise DriveSettingsError("drive.%s must be a number in [%s, %s], found %r" % (key, lo, hi, value))
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
