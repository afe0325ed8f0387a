"""The car as a traitlets object: the meaning of a command, independent of any hardware.

Everything that makes a command safe lives here, so every driver (PCA9685 servo/ESC, MotorHAT DC
motors, the simulator) gets the same behaviour:

* ``steering`` and ``throttle`` are clipped to [-1, 1].
* A NaN or infinite command is refused (``traitlets.TraitError`` naming the value) and the car keeps
  its last safe state.
* The steering sent to the driver is ``clip(steering * gain + offset, -1, 1)``.
* The throttle sent to the driver is ``throttle * gain + offset``, capped to ``|output| <= max_throttle``
  (the limit holds on what the driver gets, whatever gain and offset say). The offset trims a moving
  command but never reverses the direction ``throttle * gain`` gives (the output is neutral instead),
  and a zero throttle is always the driver's neutral (the profile's calibrated neutral pulse): an
  offset never makes a stopped car creep.
* Outputs are recomputed the moment a command, gain, offset or limit changes.
* With a ``throttle_ramp`` (profile data, :mod:`jetracer.throttle_ramp`) ``|throttle output|`` rises
  by at most one step per interval; slowing down and stopping always apply at once.
* ``stop()`` puts the throttle at the driver's neutral; an emergency stop latches neutral until
  ``release_estop()``; with ``command_timeout_s > 0`` a watchdog stops the car when throttle
  commands stop arriving. The car stops on context exit and at interpreter exit.
* ``car.driver`` is a guarded view of the driver (:class:`GuardedDriver`): its ``set_throttle`` and
  ``throttle.set`` are held to ``|value| <= max_throttle`` and to neutral while the car is e-stopped,
  and nothing it is asked reaches the wire once the car is closed. The driver object itself and the
  chips under it (``.pwm``) are the hardware layer's, private to the car: reaching past the view
  bypasses every limit.
* A car built on the motor chips owns them (:mod:`jetracer.hardware.claim`): no other process can
  build one on the same chips until it is closed (``close()``, or the process ends).
"""
import atexit
import logging
import math
import threading
import time
import weakref
from typing import Any, Mapping, Optional, Union

import traitlets

from .hardware.base import Driver
from .throttle_ramp import ThrottleRamp

logger = logging.getLogger(__name__)


def _clip(value: float, lo: float, hi: float) -> float:
    return lo if value < lo else hi if value > hi else value


def _finite(name: str, value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise traitlets.TraitError("%s must be a number, got %r; the car keeps its last command" % (name, value))
    if not math.isfinite(value):
        raise traitlets.TraitError("%s must be finite, got %r; the car keeps its last command" % (name, value))
    return value


class Racecar(traitlets.HasTraits):
    """A car with normalised ``steering`` (+ is right) and ``throttle`` (+ is forward) in [-1, 1].

    ``driver`` is any object with ``set_steering(v)``, ``set_throttle(v)``, ``neutral()`` and ``close()``
    (see :mod:`jetracer.hardware.base`); ``None`` gives a car whose outputs are only observed
    (``steering_output``/``throttle_output``), as the simulator does.
    """

    steering = traitlets.Float(default_value=0.0)
    throttle = traitlets.Float(default_value=0.0)
    steering_gain = traitlets.Float(default_value=1.0)
    steering_offset = traitlets.Float(default_value=0.0)
    throttle_gain = traitlets.Float(default_value=1.0)
    throttle_offset = traitlets.Float(default_value=0.0)
    max_throttle = traitlets.Float(default_value=1.0)
    command_timeout_s = traitlets.Float(default_value=0.0)

    steering_output = traitlets.Float(default_value=0.0, read_only=True)
    throttle_output = traitlets.Float(default_value=0.0, read_only=True)
    estopped = traitlets.Bool(default_value=False, read_only=True)
    stop_reason = traitlets.Unicode(default_value="", read_only=True)

    def __init__(self, driver: Optional[Driver] = None,
                 throttle_ramp: Union[None, ThrottleRamp, Mapping[str, Any]] = None, **kwargs: Any) -> None:
        self._lock = threading.RLock()
        self._driver = driver
        self._closed = False
        self._last_throttle_command = time.monotonic()
        self._watchdog = None  # type: Optional[threading.Thread]
        if throttle_ramp is not None and not isinstance(throttle_ramp, ThrottleRamp):
            throttle_ramp = ThrottleRamp.from_profile(throttle_ramp)
        self._ramp = throttle_ramp  # type: Optional[ThrottleRamp]
        self._ramp_due = None  # type: Optional[float]
        self._ramp_thread = None  # type: Optional[threading.Thread]
        super(Racecar, self).__init__(**kwargs)
        self._send_steering()
        self._send_throttle(neutral=True)
        _live_cars.add(self)
        if self.command_timeout_s > 0:
            self._start_watchdog()

    @property
    def driver(self) -> Any:
        """The driver behind the car's cap and e-stop (:class:`GuardedDriver`), or None for an observed-only car."""
        return GuardedDriver(self) if self._driver is not None else None

    @property
    def throttle_ramp(self) -> Optional[ThrottleRamp]:
        """The soft start applied to the throttle output, or None."""
        return self._ramp

    # -- validation: runs on every assignment, so it also records command freshness --------------

    @traitlets.validate("steering")
    def _valid_steering(self, proposal: Any) -> float:
        return _clip(_finite("steering", proposal["value"]), -1.0, 1.0)

    @traitlets.validate("throttle")
    def _valid_throttle(self, proposal: Any) -> float:
        value = _finite("throttle", proposal["value"])
        self._last_throttle_command = time.monotonic()
        if self.estopped and value != 0.0:
            logger.warning("throttle %.2f ignored: emergency stop is latched (call release_estop())", value)
            return 0.0
        return _clip(value, -1.0, 1.0)

    @traitlets.validate("steering_gain", "steering_offset", "throttle_gain", "throttle_offset")
    def _valid_gain(self, proposal: Any) -> float:
        return _finite(proposal["trait"].name, proposal["value"])

    @traitlets.validate("max_throttle")
    def _valid_max_throttle(self, proposal: Any) -> float:
        value = _finite("max_throttle", proposal["value"])
        if not 0.0 <= value <= 1.0:
            raise traitlets.TraitError("max_throttle must be in [0, 1], got %r" % value)
        return value

    @traitlets.validate("command_timeout_s")
    def _valid_timeout(self, proposal: Any) -> float:
        value = _finite("command_timeout_s", proposal["value"])
        if value < 0:
            raise traitlets.TraitError("command_timeout_s must be >= 0 (0 disables it), got %r" % value)
        return value

    # -- observers: any change of a command, gain or offset is sent at once ----------------------

    @traitlets.observe("steering", "steering_gain", "steering_offset")
    def _on_steering(self, change: Any) -> None:
        self._send_steering()

    @traitlets.observe("throttle", "throttle_gain", "throttle_offset", "max_throttle")
    def _on_throttle(self, change: Any) -> None:
        self._send_throttle()

    @traitlets.observe("command_timeout_s")
    def _on_timeout(self, change: Any) -> None:
        if change["new"] > 0:
            self._start_watchdog()

    def _send_steering(self) -> None:
        value = _clip(self.steering * self.steering_gain + self.steering_offset, -1.0, 1.0)
        with self._lock:
            if self._closed:
                return
            if self._driver is not None:
                self._driver.set_steering(value)
            self.set_trait("steering_output", value)

    def throttle_target(self) -> float:
        """The throttle output the current command, gain, offset and limit ask for (before any ramp)."""
        if self.estopped or self.throttle == 0.0:
            return 0.0
        wanted = self.throttle * self.throttle_gain
        value = wanted + self.throttle_offset
        if value * wanted <= 0.0:
            return 0.0  # the offset would reverse (or cancel) the direction the command and gain give
        limit = self.max_throttle
        return _clip(value, -limit, limit)

    def _driver_throttle(self, value: Any) -> None:
        """``car.driver.set_throttle(value)``: ``value`` as the driver's, held to the cap and the e-stop."""
        from .hardware.base import checked_value

        value = checked_value(value)  # ValueError for NaN/inf, as the driver's own contract says
        with self._lock:
            if self._closed:
                return
            value = 0.0 if self.estopped else _clip(value, -self.max_throttle, self.max_throttle)
            self._last_throttle_command = time.monotonic()
            if value == 0.0:
                self._driver.neutral()
            else:
                self._driver.set_throttle(value)
            self.set_trait("throttle_output", value)

    def _driver_steering(self, value: Any) -> None:
        """``car.driver.set_steering(value)``: straight to the driver (no cap on steering), not after close."""
        from .hardware.base import checked_value

        value = checked_value(value)
        with self._lock:
            if self._closed:
                return
            self._driver.set_steering(value)
            self.set_trait("steering_output", value)

    def _send_throttle(self, neutral: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            value = 0.0 if neutral else self.throttle_target()
            if self._ramp is not None:
                value, self._ramp_due = self._ramp.advance(self.throttle_output, value, time.monotonic())
                if self._ramp_due is not None and self._ramp_thread is None:
                    self._ramp_thread = threading.Thread(target=_ramp_loop, args=(weakref.ref(self),),
                                                         name="racecar-throttle-ramp", daemon=True)
                    self._ramp_thread.start()
            if self._driver is not None:
                if value == 0.0:
                    self._driver.neutral()
                else:
                    self._driver.set_throttle(value)
            self.set_trait("throttle_output", value)

    # -- stopping ----------------------------------------------------------------------------------

    def stop(self, reason: str = "stop()") -> None:
        """Throttle to the driver's neutral (the profile's neutral pulse, no offset) now."""
        with self._lock:
            self.set_trait("stop_reason", reason)
            self.throttle = 0.0
            self._send_throttle(neutral=True)

    def estop(self, reason: str = "emergency stop") -> None:
        """Latch an emergency stop: throttle neutral, and every throttle command refused until released."""
        with self._lock:
            self.set_trait("estopped", True)
            self.stop(reason)
        logger.warning("emergency stop latched: %s", reason)

    def release_estop(self) -> None:
        """Release a latched emergency stop; the car stays at neutral until the next command."""
        with self._lock:
            self.set_trait("estopped", False)
            self.set_trait("stop_reason", "")

    def heartbeat(self) -> None:
        """Count as a fresh throttle command without changing it (for the command watchdog)."""
        self._last_throttle_command = time.monotonic()

    def close(self) -> None:
        """Stop, centre the steering and release the driver; later commands are ignored."""
        with self._lock:
            if self._closed:
                return
            try:
                self.stop("close()")
                if self._driver is not None:
                    self._driver.set_steering(0.0)
                    self._driver.close()
            finally:
                self._closed = True
                _live_cars.discard(self)

    def __enter__(self) -> "Racecar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- command watchdog --------------------------------------------------------------------------

    def _start_watchdog(self) -> None:
        if self._watchdog is not None and self._watchdog.is_alive():
            return
        ref = weakref.ref(self)
        self._watchdog = threading.Thread(target=_watchdog_loop, args=(ref,), name="racecar-watchdog", daemon=True)
        self._watchdog.start()

    def command_age_s(self) -> float:
        """Seconds since the last throttle command or heartbeat."""
        return time.monotonic() - self._last_throttle_command


class _GuardedOutput(object):
    """``car.driver.throttle`` / ``.steering``: ``set()`` and ``neutral()`` go through the car; the rest is read."""

    def __init__(self, car: Racecar, output: Any, throttle: bool) -> None:
        self._car = car
        self._output = output
        self._throttle = throttle

    def set(self, value: float) -> None:
        if self._throttle:
            self._car._driver_throttle(value)
        else:
            self._car._driver_steering(value)

    def neutral(self) -> None:
        self.set(0.0)

    def close(self) -> None:
        self._car.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._output, name)

    def __repr__(self) -> str:
        return "guarded %r" % (self._output,)


class GuardedDriver(object):
    """What ``car.driver`` returns: the car's driver, held to the car's cap and e-stop.

    ``set_throttle(v)`` puts ``clip(v, -max_throttle, max_throttle)`` on the wire, neutral while the
    car is e-stopped, and counts as a throttle command for the car's watchdog; ``set_steering(v)``
    goes straight to the driver (steering has no cap); both are ignored once the car is closed, as
    the car's commands are, and both keep ``throttle_output``/``steering_output`` true to the wire.
    Gains, offsets and the soft start are the car's (``car.throttle``), not the driver's.
    ``close()`` closes the car. Other attributes are the driver's, read-only in spirit: its outputs'
    chip (``.pwm``) is the hardware layer's and writing to it bypasses every limit.
    """

    def __init__(self, car: Racecar) -> None:
        self._car = car

    @property
    def throttle(self) -> Any:
        output = getattr(self._car._driver, "throttle", None)
        return _GuardedOutput(self._car, output, True) if output is not None else None

    @property
    def steering(self) -> Any:
        output = getattr(self._car._driver, "steering", None)
        return _GuardedOutput(self._car, output, False) if output is not None else None

    def set_throttle(self, value: float) -> None:
        self._car._driver_throttle(value)

    def set_steering(self, value: float) -> None:
        self._car._driver_steering(value)

    def neutral(self) -> None:
        self._car._driver_throttle(0.0)

    def close(self) -> None:
        self._car.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._car._driver, name)

    def __repr__(self) -> str:
        return "GuardedDriver(%r)" % (self._car._driver,)


RAMP_STALL_S = 0.05  # longer than this between two looks of the ramp thread (20 ms apart): a stall


def _ramp_loop(ref: "weakref.ref[Racecar]") -> None:
    """Take the throttle ramp's next steps while one is due (ends at the target, at neutral or on close).

    The thread looks at least every 20 ms. When a step is due but more than :data:`RAMP_STALL_S`
    passed since it last looked (the process was stopped by SIGSTOP or Ctrl-Z, or starved, or the
    car's lock was held that long), it writes nothing and puts the step one interval later: the
    first write of a resumed process is then not a step up. A drive loop latches its e-stop on
    resume (it checks for the same stall before its next throttle write; the supervisor has put
    neutral on the wire meanwhile), which ends the ramp; a car that was only slow ramps on, one
    interval late. 50 ms is under the supervisor's 80 ms default.
    """
    looked_s = time.monotonic()
    while True:
        car = ref()
        if car is None:
            return
        with car._lock:
            due = car._ramp_due
            if due is None or car._closed:
                car._ramp_thread = None
                return
            now = time.monotonic()
            if due <= now and now - looked_s > RAMP_STALL_S:
                due = car._ramp_due = now + car._ramp.interval_s
                logger.warning("throttle ramp: %.0f ms without a look (process stopped or starved); no step up now, "
                               "the next in %.1f s", 1000.0 * (now - looked_s), car._ramp.interval_s)
            elif due <= now:
                try:
                    car._send_throttle()
                except Exception:  # noqa: BLE001 - a failed step must not leave a thread spinning
                    logger.exception("throttle ramp step failed; the ramp stops")
                    car._ramp_due, car._ramp_thread = None, None
                    return
        del car
        looked_s = time.monotonic()
        time.sleep(min(max(due - looked_s, 0.0), 0.02))


def _watchdog_loop(ref: "weakref.ref[Racecar]") -> None:
    while True:
        car = ref()
        if car is None or car._closed or car.command_timeout_s <= 0:
            return
        timeout = car.command_timeout_s
        if car.throttle_output != 0.0 and car.command_age_s() > timeout:
            car.stop("no throttle command for %.0f ms" % (1000 * timeout))
            logger.warning("car stopped: no throttle command for %.0f ms", 1000 * timeout)
        del car
        time.sleep(min(0.01, timeout / 4.0))


_live_cars = weakref.WeakSet()  # type: weakref.WeakSet


@atexit.register
def _stop_all_cars() -> None:
    """Leave no PCA9685 holding a driving pulse when the interpreter exits."""
    for car in list(_live_cars):
        try:
            car.close()
        except Exception:  # noqa: BLE001 - at exit, stopping every other car matters more
            logger.exception("could not stop %r at exit", car)
