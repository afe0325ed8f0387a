"""The driver interface the car talks to, and the driver made of one steering and one throttle output.

The car (:class:`jetracer.racecar.Racecar`) owns the meaning of a command: clipping, gains, offsets,
limits and failsafes. A driver only translates a value in [-1, 1] into pulses on the bus: it knows
no cap and no e-stop, so code that moves a car goes through the car (``car.driver`` is a guarded view
that keeps the car's cap and e-stop; the driver object itself is the hardware layer's).
"""
import math
import weakref
from typing import Any, Iterable, Optional


class Driver(object):
    """What a car needs from its hardware. Values are in [-1, 1], already gained, clipped and limited."""

    def set_steering(self, value: float) -> None:
        """-1 -> the steering output's ``min_us`` end, +1 -> its ``max_us`` end."""
        raise NotImplementedError

    def set_throttle(self, value: float) -> None:
        """+1 is full forward, -1 full reverse (the throttle output's ``max_us`` / ``min_us``)."""
        raise NotImplementedError

    def neutral(self) -> None:
        """Throttle to the calibrated neutral (ESC centre pulse, or the motors' profile neutral: brake or coast)."""
        raise NotImplementedError

    def close(self) -> None:
        """Leave the outputs at neutral and release the bus."""
        raise NotImplementedError


def checked_value(value: Any) -> float:
    """``value`` as a float in [-1, 1]; ValueError for NaN/inf so the output keeps its last pulse."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError("output value must be finite, got %r; the output keeps its last pulse" % value)
    return -1.0 if value < -1.0 else 1.0 if value > 1.0 else value


class CarDriver(Driver):
    """A steering output and a throttle output (each with ``set(value)``, ``neutral()``, ``close()``).

    ``claim`` (:class:`~jetracer.hardware.claim.Claim`) is this process's ownership of the motor chips:
    released by :meth:`close` once the outputs are at neutral, or when the driver is garbage-collected.
    """

    def __init__(self, steering: Any, throttle: Any, devices: Iterable[Any] = (), claim: Any = None) -> None:
        self.steering = steering
        self.throttle = throttle
        self._devices = list(devices)
        self._claim = claim
        self._release = weakref.finalize(self, claim.release) if claim is not None else None  # type: Optional[Any]

    def set_steering(self, value: float) -> None:
        self.steering.set(value)

    def set_throttle(self, value: float) -> None:
        self.throttle.set(value)

    def neutral(self) -> None:
        self.throttle.neutral()

    def close(self) -> None:
        """Throttle neutral, steering centred, then the bus handles closed."""
        try:
            self.throttle.neutral()
            self.steering.neutral()
        finally:
            try:
                for device in self._devices:
                    bus = getattr(device, "_bus", None)
                    if bus is not None and hasattr(bus, "close"):
                        bus.close()
                self._devices = []
            finally:
                if self._release is not None:
                    self._release()  # the motors are free for another process

    def __repr__(self) -> str:
        return "CarDriver(steering=%r, throttle=%r)" % (self.steering, self.throttle)
