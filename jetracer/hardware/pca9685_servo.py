"""A servo or ESC on one PCA9685 channel, through Adafruit's PCA9685 driver.

The value in [-1, 1] maps linearly on each side of centre: -1 -> ``min_us``, 0 -> ``center_us``,
+1 -> ``max_us``. The pulse is converted to 12-bit ticks with the frequency the chip really runs at
(read back from PRESCALE), not the one asked for, so the pulse is right however the chip rounds.
"""
import math
from typing import Any, Optional

from .base import checked_value
from .i2c import i2c_errors

PRESCALE = 0xFE
OSC_HZ = 25e6


def open_pca9685(provider: Any, address: int, frequency_hz: float, what: str = "PCA9685") -> Any:
    """An ``Adafruit_PWM_Servo_Driver.PWM`` at ``address`` set to ``frequency_hz`` (I2CError if absent)."""
    from Adafruit_MotorHAT.Adafruit_PWM_Servo_Driver import PWM

    with i2c_errors(provider, address, what):
        pwm = PWM(address, i2c=provider)
        pwm.setPWMFreq(frequency_hz)
    return pwm


def programmed_frequency_hz(pwm: Any) -> float:
    """The PWM frequency the chip's PRESCALE register gives (25 MHz internal oscillator)."""
    return OSC_HZ / (4096.0 * (pwm.i2c.readU8(PRESCALE) + 1))


class PulseOutput(object):
    """One PCA9685 channel driving a servo or an ESC with pulses of ``min_us``..``max_us``."""

    def __init__(self, pwm: Any, channel: int, min_us: float, center_us: float, max_us: float,
                 provider: Any = None, address: int = 0, name: str = "servo") -> None:
        if not min_us < center_us < max_us:
            raise ValueError("%s pulses must satisfy min_us < center_us < max_us, got %s" % (name, (min_us, center_us, max_us)))
        self.pwm = pwm
        self.channel = int(channel)
        self.min_us, self.center_us, self.max_us = float(min_us), float(center_us), float(max_us)
        self.name = name
        self._provider = provider
        self._address = address
        with i2c_errors(provider, address, "the %s PCA9685" % name):
            self.frequency_hz = programmed_frequency_hz(pwm)
        self.pulse_us = None  # type: Optional[float]

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
        per_us = self.frequency_hz * 4096 / 1e6
        lo, hi = math.ceil(self.min_us * per_us), math.floor(self.max_us * per_us)
        return int(min(hi, max(lo, math.floor(pulse_us * per_us + 0.5))))

    def set(self, value: float) -> None:
        pulse = self.pulse_for(value)
        with i2c_errors(self._provider, self._address, "the %s PCA9685 (channel %d)" % (self.name, self.channel)):
            self.pwm.setPWM(self.channel, 0, self.ticks_for(pulse))
        self.pulse_us = pulse

    def neutral(self) -> None:
        """The centre pulse (servo straight, ESC neutral)."""
        self.set(0.0)

    def __repr__(self) -> str:
        return "PulseOutput(%s, channel %d, %g/%g/%g us at %.1f Hz)" % (
            self.name, self.channel, self.min_us, self.center_us, self.max_us, self.frequency_hz)
