"""Emulated I2C chips (PCA9685, SSD1306) behind an SMBus-compatible bus, for running without a car.

``shared_bus()`` is the one bus of this process, populated like a JetRacer: PCA9685s at 0x40 (servo
and ESC board) and 0x60 (Waveshare motor driver) and a 128x32 SSD1306 OLED at 0x3C. Everything that
opens the bus in ``emulated`` mode (the car, the display) talks to the same chips, so a test or a
notebook can look at the pulses and pixels they produced.
"""
import threading
from typing import Optional

from .bus import EmulatedBus
from .pca9685 import PCA9685
from .ssd1306 import SSD1306

OLED_ADDRESS = 0x3C
PCA9685_ADDRESSES = (0x40, 0x60)

_lock = threading.Lock()
_shared = None  # type: Optional[EmulatedBus]


def make_bus(oled_height: int = 32) -> EmulatedBus:
    """A new bus with PCA9685s at 0x40 and 0x60 and an SSD1306 (128 x ``oled_height``) at 0x3C."""
    bus = EmulatedBus()
    for address in PCA9685_ADDRESSES:
        bus.attach(address, PCA9685())
    bus.attach(OLED_ADDRESS, SSD1306(height=oled_height))
    return bus


def shared_bus() -> EmulatedBus:
    """The process-wide emulated bus (created on first use with a 128x32 OLED)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = make_bus()
        return _shared


def reset_shared_bus(oled_height: int = 32) -> EmulatedBus:
    """Replace the process-wide bus with freshly powered-on chips (tests, or a 128x64 OLED)."""
    global _shared
    with _lock:
        _shared = make_bus(oled_height)
        return _shared


def fit_oled(bus: EmulatedBus, height: int, address: int = OLED_ADDRESS) -> Optional[SSD1306]:
    """Make the emulated OLED at ``address`` a 128 x ``height`` panel (like fitting that module instead).

    An address with no chip stays empty (a fault test may have unplugged it); returns the chip or None.
    """
    if address not in bus.scan():
        return None
    chip = bus.chip(address)
    if isinstance(chip, SSD1306) and chip.height != height:
        chip = bus.attach(address, SSD1306(height=height))
    return chip


__all__ = ["EmulatedBus", "PCA9685", "SSD1306", "make_bus", "shared_bus", "reset_shared_bus", "fit_oled",
           "OLED_ADDRESS"]
