"""PCA9685 timing as the chip realises it: the frequency a request gives, and pulse widths in 12-bit ticks.

Both Adafruit drivers (Adafruit_PWM_Servo_Driver and CircuitPython's adafruit_pca9685) program
PRESCALE = round(25 MHz / (4096 * f) - 1); the chip clamps it to 3..255 and then runs at
25 MHz / (4096 * (PRESCALE + 1)). Pulses are counted in 1/4096 of that period. The profile schema and
the drivers both use these functions, so what is validated is what the chip does.
"""
import math

OSC_HZ = 25e6
TICKS = 4096
PRESCALE_MIN, PRESCALE_MAX = 3, 255


def prescale_for(frequency_hz: float) -> int:
    """The PRESCALE value the Adafruit drivers program for ``frequency_hz``, as the chip keeps it."""
    prescale = int(math.floor(OSC_HZ / TICKS / float(frequency_hz) - 1.0 + 0.5))
    return min(PRESCALE_MAX, max(PRESCALE_MIN, prescale))


def frequency_for_prescale(prescale: int) -> float:
    return OSC_HZ / (TICKS * (prescale + 1.0))


def realised_frequency_hz(frequency_hz: float) -> float:
    """The PWM frequency the chip really runs at when ``frequency_hz`` is asked for."""
    return frequency_for_prescale(prescale_for(frequency_hz))


def tick_range(min_us: float, max_us: float, real_hz: float):
    """``(lowest, highest)`` tick counts whose pulse lies inside [min_us, max_us] at ``real_hz``."""
    per_us = real_hz * TICKS / 1e6
    return int(math.ceil(min_us * per_us - 1e-9)), int(math.floor(max_us * per_us + 1e-9))
