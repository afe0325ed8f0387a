"""The driver interface the car talks to, the output a driver is made of, and the driver of two outputs.

The car (:class:`jetracer.racecar.Racecar`) owns the meaning of a command: clipping, gains, offsets,
limits and failsafes. A driver only translates a value in [-1, 1] into pulses on the bus: it knows
no cap and no e-stop, so code that moves a car goes through the car (``car.driver`` is a guarded view
that keeps the car's cap and e-stop; the driver object itself is the hardware layer's).

An :class:`Output` is one kind of device a profile's ``driver:`` names (a servo or ESC on a PCA9685
channel, DC motors on a motor driver); :data:`jetracer.hardware.outputs.OUTPUTS` finds its class by
that name, so what differs between kinds (the channels, what neutral looks like on the wire) is said
once, by the class, instead of by comparing the name wherever it matters.
"""
import math
import weakref
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .block_pwm import BlockPWM
from .i2c import I2CProvider

NEUTRAL, DRIVING, OTHER = "neutral", "driving", "other"  # what an output's channels hold (Output.state_of)


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


class Output(object):
    """One output of the car (the steering or the throttle): a value in [-1, 1] on a PCA9685's channels.

    An instance drives its channels (:meth:`set`, :meth:`neutral`) and judges a read-back of them
    (:meth:`channels`, :meth:`is_neutral`). The class methods say the same for a profile section of
    this kind, for whoever has the profile and the chip's registers but no output (the supervisor's
    second handle, a scope on the shared bus, the profile check): which channels it drives, what they
    hold, whether that is its neutral. A section is the profile's (``profile.throttle``) or a mapping
    with its keys; an output's own is ``spec``, so both are judged by one rule.
    """

    kinds = ()  # type: Tuple[str, ...]  # the profile ``driver:`` values this class drives
    pulses = False  # a pulse width (servo, ESC: calibrated in microseconds), else a duty (DC motors)
    unit = ""  # what state_of's distance from neutral is measured in
    own_chip = False  # its PCA9685 runs at a frequency no servo pulse fits, so it shares the chip with no one
    chip = "PCA9685"  # the chip, as a message names it

    spec = {}  # type: Mapping[str, Any]  # this output as a profile section (the keys the class methods read)
    frequency_hz = 0.0  # the PWM frequency its chip runs at

    @classmethod
    def from_section(cls, pwm: BlockPWM, section: Any, provider: Optional[I2CProvider] = None,
                     name: str = "") -> "Output":
        """The output of a profile section on ``pwm`` (the section's PCA9685, already open)."""
        raise NotImplementedError

    @classmethod
    def open(cls, provider: I2CProvider, section: Any, name: str, chips: Dict[int, BlockPWM]) -> "Output":
        """The output of ``section`` (``name``: steering or throttle) on ``provider``, opening its chip unless
        ``chips`` (by address) has it; the chip it opens goes into ``chips``."""
        raise NotImplementedError

    def set(self, value: float) -> None:
        """Drive ``value`` in [-1, 1] (clipped; ValueError if not finite, the output keeps its last value)."""
        raise NotImplementedError

    def neutral(self) -> None:
        """The profile's neutral: steering straight, ESC at its centre pulse, motors braking or coasting."""
        raise NotImplementedError

    def describe_limit(self, limit: float) -> str:
        """What ``|value| <= limit`` means on the wire (pulses or duty, channels)."""
        raise NotImplementedError

    def channels(self) -> List[int]:
        """Every channel this output drives."""
        return self.channels_of(self.spec)

    def is_neutral(self, back: Dict[str, Any], frequency_hz: Optional[float] = None) -> bool:
        """Whether a read-back of this output's channels (:meth:`read_back_of`'s format) is its neutral;
        ``frequency_hz`` is the chip's now (default: the one it ran at when this output was made)."""
        return self.state_of(self.spec, back, self.frequency_hz if frequency_hz is None else frequency_hz)[0] == NEUTRAL

    @classmethod
    def named_channels_of(cls, section: Any, where: str = "") -> List[Tuple[str, int]]:
        """``(key, channel)`` of every channel ``section`` drives; ``where`` prefixes the keys (``throttle``)."""
        raise NotImplementedError

    @classmethod
    def channels_of(cls, section: Any) -> List[int]:
        """Every channel ``section`` drives, in :meth:`named_channels_of`'s order."""
        return [channel for _, channel in cls.named_channels_of(section)]

    @classmethod
    def read_back_of(cls, section: Any, duties: Union[Sequence[float], Dict[int, float]],
                     frequency_hz: Optional[float]) -> Dict[str, Any]:
        """What ``section``'s channels hold, from each channel's duty (0..1, indexed by channel) and the chip's
        frequency (pulse outputs only)."""
        raise NotImplementedError

    @classmethod
    def state_of(cls, section: Any, back: Dict[str, Any], frequency_hz: Optional[float]) -> Tuple[str, Optional[float]]:
        """``(state, off)``: whether a :meth:`read_back_of` is ``section``'s neutral (:data:`NEUTRAL`,
        :data:`DRIVING` or :data:`OTHER`), and how far from it the output is, in :attr:`unit`."""
        raise NotImplementedError

    @classmethod
    def half_tick_of(cls, section: Any, frequency_hz: Optional[float]) -> float:
        """Half a 12-bit count of the chip, in :attr:`unit`."""
        raise NotImplementedError


def join_key(where: str, key: str) -> str:
    """``throttle`` + ``channel`` -> ``throttle.channel`` (just ``channel`` without a prefix)."""
    return "%s.%s" % (where, key) if where else key


class CarDriver(Driver):
    """A steering output and a throttle output (:class:`Output`).

    ``claim`` (:class:`~jetracer.hardware.claim.Claim`) is this process's ownership of the motor chips:
    released by :meth:`close` once the outputs are at neutral, or when the driver is garbage-collected.
    """

    def __init__(self, steering: Output, throttle: Output, devices: Iterable[Any] = (), claim: Any = None) -> None:
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
