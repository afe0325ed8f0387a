"""A servo or ESC on one PCA9685 channel, through Adafruit's PCA9685 driver (one block write per change).

The value in [-1, 1] maps linearly on each side of centre: -1 -> ``min_us``, 0 -> ``center_us``,
+1 -> ``max_us``. The pulse is converted to 12-bit ticks with the frequency the chip really runs at
(read back from PRESCALE), not the one asked for, so the pulse is right however the chip rounds.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from .base import DRIVING, NEUTRAL, OTHER, Output, checked_value, join_key
from .block_pwm import BlockPWM
from .i2c import I2CProvider, i2c_errors
from .timing import TICKS, frequency_for_prescale, tick_range

PRESCALE = 0xFE


def open_pca9685(provider: I2CProvider, address: int, frequency_hz: float, what: str = "PCA9685") -> BlockPWM:
    """A :class:`~jetracer.hardware.block_pwm.BlockPWM` at ``address`` set to ``frequency_hz`` (I2CError if absent)."""
    with i2c_errors(provider, address, what):
        pwm = BlockPWM(address, i2c=provider)
        pwm.setPWMFreq(frequency_hz)
    return pwm


def programmed_frequency_hz(pwm: BlockPWM) -> float:
    """The PWM frequency the chip's PRESCALE register gives (25 MHz internal oscillator)."""
    return frequency_for_prescale(pwm.i2c.readU8(PRESCALE))


class PulseOutput(Output):
    """One PCA9685 channel driving a servo or an ESC with pulses of ``min_us``..``max_us``.

    Neutral on the wire is the centre pulse, within half a 12-bit count (plus 0.05 us of rounding);
    no pulse at all is neither neutral nor driving.
    """

    kinds = ("pca9685_servo", "pca9685_esc")
    pulses = True
    unit = "us"

    def __init__(self, pwm: BlockPWM, channel: int, min_us: float, center_us: float, max_us: float,
                 provider: Optional[I2CProvider] = None, address: int = 0, name: str = "servo") -> None:
        if not min_us < center_us < max_us:
            raise ValueError("%s pulses must satisfy min_us < center_us < max_us, got %s" % (name, (min_us, center_us, max_us)))
        self.pwm = pwm
        self.channel = int(channel)
        self.min_us, self.center_us, self.max_us = float(min_us), float(center_us), float(max_us)
        self.name = name
        self.spec = {"channel": self.channel, "min_us": self.min_us, "center_us": self.center_us, "max_us": self.max_us}
        self._provider = provider
        self._address = address
        with i2c_errors(provider, address, "the %s PCA9685" % name):
            self.frequency_hz = programmed_frequency_hz(pwm)
        self._ticks_lo, self._ticks_hi = tick_range(self.min_us, self.max_us, self.frequency_hz)
        self.pulse_us = None  # type: Optional[float]

    @classmethod
    def from_section(cls, pwm: BlockPWM, section: Any, provider: Optional[I2CProvider] = None,
                     name: str = "servo") -> "PulseOutput":
        return cls(pwm, section.channel, section.min_us, section.center_us, section.max_us, provider=provider,
                   address=section.i2c_address, name=name)

    @classmethod
    def open(cls, provider: I2CProvider, section: Any, name: str, chips: Dict[int, BlockPWM]) -> "PulseOutput":
        """A servo and an ESC on one PCA9685 share its chip object (one frequency, checked by the profile)."""
        address = section.i2c_address
        if address not in chips:
            chips[address] = open_pca9685(provider, address, section.pwm_frequency_hz, "the %s PCA9685" % name)
        return cls.from_section(chips[address], section, provider, name)

    def pulse_for(self, value: float) -> float:
        """Pulse width in microseconds for ``value`` (clipped to [-1, 1]; ValueError if not finite)."""
        value = checked_value(value)
        span = self.max_us - self.center_us if value >= 0 else self.center_us - self.min_us
        return self.center_us + value * span

    def ticks_for(self, pulse_us: float) -> int:
        """12-bit counts of a ``pulse_us`` high time at the programmed frequency.

        Rounded to the nearest count but kept inside [min_us, max_us], so quantisation never takes the
        pulse past a calibrated end stop.
        """
        per_us = self.frequency_hz * TICKS / 1e6
        return int(min(self._ticks_hi, max(self._ticks_lo, int(pulse_us * per_us + 0.5))))

    def pulse_of_ticks(self, ticks: int) -> float:
        return ticks * 1e6 / (self.frequency_hz * TICKS)

    def set(self, value: float) -> None:
        pulse = self.pulse_for(value)
        with i2c_errors(self._provider, self._address, "the %s PCA9685 (channel %d)" % (self.name, self.channel)):
            self.pwm.setPWM(self.channel, 0, self.ticks_for(pulse))
        self.pulse_us = pulse

    def neutral(self) -> None:
        """The centre pulse (servo straight, ESC neutral)."""
        self.set(0.0)

    def describe_limit(self, limit: float) -> str:
        """What ``|value| <= limit`` means on the wire, e.g. ``ESC pulses 900-2100 us (neutral 1500 us)``."""
        lo, hi = (self.pulse_of_ticks(self.ticks_for(self.pulse_for(v))) for v in (-limit, limit))
        return "pulses %.0f-%.0f us on channel %d (neutral %.0f us, full travel %.0f-%.0f us)" % (
            lo, hi, self.channel, self.center_us, self.min_us, self.max_us)

    @classmethod
    def named_channels_of(cls, section: Any, where: str = "") -> List[Tuple[str, int]]:
        return [(join_key(where, "channel"), int(section["channel"]))]

    @classmethod
    def read_back_of(cls, section: Any, duties: Union[Sequence[float], Dict[int, float]],
                     frequency_hz: Optional[float]) -> Dict[str, Any]:
        """``{"throttle_pulse_us": the channel's pulse}`` (the supervisor's report names the throttle)."""
        return {"throttle_pulse_us": duties[int(section["channel"])] * 1e6 / frequency_hz}

    @classmethod
    def state_of(cls, section: Any, back: Dict[str, Any], frequency_hz: Optional[float]) -> Tuple[str, Optional[float]]:
        """Off is the distance from ``center_us`` in us (None without a pulse: :data:`OTHER`)."""
        pulse_us = back["throttle_pulse_us"]
        if pulse_us == 0.0:
            return OTHER, None
        off_us = abs(pulse_us - float(section["center_us"]))
        return (NEUTRAL if off_us <= cls.half_tick_of(section, frequency_hz) + 0.05 else DRIVING), off_us

    @classmethod
    def half_tick_of(cls, section: Any, frequency_hz: Optional[float]) -> float:
        return 0.5e6 / (frequency_hz * TICKS)

    def __repr__(self) -> str:
        return "PulseOutput(%s, channel %d, %g/%g/%g us at %.1f Hz)" % (
            self.name, self.channel, self.min_us, self.center_us, self.max_us, self.frequency_hz)
