"""From the pilot's target point to a steering and throttle command.

``steering = gain * x + bias (+ kd * dx/dt)``, clipped to [-1, 1], as upstream's live demo. The result
is the car's *command* (``car.steering``); the car's own ``steering_gain``/``steering_offset`` are
applied once, inside :class:`jetracer.racecar.Racecar` (upstream multiplied the bias by the car's
gain a second time).
"""
import math
from typing import Any, Optional, Tuple

THROTTLE_MODES = ("constant", "slow-in-turns")  # the config schema's drive.throttle_mode choices


def _clip(value: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return lo if value < lo else hi if value > hi else value


class SteeringLaw(object):
    """A proportional(-derivative) steering law and a throttle policy.

    ``x`` is the pilot's normalised horizontal target in [-1, 1] (positive: right of the image);
    ``t_s`` the capture time of the frame in seconds (any monotonic clock), used for the derivative.
    ``throttle_mode="slow-in-turns"`` scales the throttle by ``1 - slowdown * min(|x|, 1)``.
    Non-finite inputs raise ``ValueError``: the caller must stop the car, never steer on NaN.
    """

    def __init__(self, gain: float, bias: float, kd: float, throttle: float, throttle_mode: str,
                 slowdown: float) -> None:
        if throttle_mode not in THROTTLE_MODES:
            raise ValueError("throttle_mode must be one of %s, got %r" % (", ".join(THROTTLE_MODES), throttle_mode))
        if not 0.0 <= slowdown <= 1.0:
            raise ValueError("slowdown must be in [0, 1], got %r" % (slowdown,))
        for name, value in (("gain", gain), ("bias", bias), ("kd", kd), ("throttle", throttle)):
            if not math.isfinite(value):
                raise ValueError("%s must be finite, got %r" % (name, value))
        self.gain = float(gain)
        self.bias = float(bias)
        self.kd = float(kd)
        self.throttle = float(throttle)
        self.throttle_mode = throttle_mode
        self.slowdown = float(slowdown)
        self._last = None  # type: Optional[Tuple[float, float]]

    @classmethod
    def from_settings(cls, drive: Any, gain: float) -> "SteeringLaw":
        """The law of the ``drive`` settings (:class:`jetracer.config_schema.DriveSettings`, whose schema holds
        the defaults) with ``gain``: the configured one resolved (``drive.steering_gain`` may be null, meaning
        upstream's or the simulator's: see :func:`jetracer.driving.settings.steering_gain`)."""
        return cls(gain, drive.steering_bias, drive.steering_kd, drive.throttle, drive.throttle_mode,
                   drive.throttle_slowdown)

    def reset(self) -> None:
        """Forget the previous target (call after a pause so the derivative does not kick)."""
        self._last = None

    def steering(self, x: float, t_s: float) -> float:
        """The steering command in [-1, 1] for target ``x`` seen at time ``t_s``."""
        if not math.isfinite(x):
            raise ValueError("pilot target x must be finite, got %r" % (x,))
        derivative = 0.0
        if self._last is not None and self.kd != 0.0:
            dt = t_s - self._last[1]
            if dt > 0:
                derivative = (x - self._last[0]) / dt
        self._last = (x, t_s)
        return _clip(self.gain * x + self.bias + self.kd * derivative)

    def throttle_for(self, x: float) -> float:
        """The throttle command for target ``x`` (before the car's ``max_throttle``)."""
        if self.throttle_mode == "constant" or not math.isfinite(x):
            return _clip(self.throttle)
        return _clip(self.throttle * (1.0 - self.slowdown * min(abs(x), 1.0)))

    def __call__(self, x: float, t_s: float) -> Tuple[float, float]:
        """``(steering, throttle)`` for target ``x`` at time ``t_s``."""
        return self.steering(x, t_s), self.throttle_for(x)

    def x_for_steering(self, steering: float) -> float:
        """The target ``x`` that this law would turn into ``steering`` (for labelling manual driving)."""
        if self.gain == 0.0:
            return 0.0
        return _clip((steering - self.bias) / self.gain)
