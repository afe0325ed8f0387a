"""Emulated I2C chips (PCA9685, SSD1306) behind an SMBus-compatible bus, for running without a car.

``shared_bus()`` is the one bus of this process, populated like a JetRacer: PCA9685s at 0x40 (servo
and ESC board) and 0x60 (Waveshare motor driver) and a 128x32 SSD1306 OLED at 0x3C. Everything that
opens the bus in ``emulated`` mode (the car, the display) talks to the same chips, so a test or a
notebook can look at the pulses and pixels they produced.

With ``JETRACER_EMULATED_BUS=/path/bus.bin`` set, that bus is a
:class:`~jetracer.hardware.emulated.shared_file.SharedFileBus` on the file, shared by every process
that sets the same path (a drive service and ``jetracer emulator show`` in another terminal, or a
supervisor that SIGKILLs the drive process and then reads and resets the pulses).

With ``JETRACER_EMULATED_FAULTS`` set (``absent:0x40``, ``moved:0x40:0x41``, ``error:0x40``, comma-separated)
every bus this process makes is wired like that miswired car (:mod:`jetracer.hardware.emulated.bus`);
``shared_bus()`` rewires the process's bus when the variable changed (a ``set_faults`` call stays until then).
"""
import os
import threading
from typing import List, Optional, Tuple

from .bus import FAULTS_ENV, EmulatedBus, EmulatedFaultsError, faults_from_env
from .chip import Chip
from .pca9685 import PCA9685
from .ssd1306 import SSD1306

OLED_ADDRESS = 0x3C
PCA9685_ADDRESSES = (0x40, 0x60)
BUS_FILE_ENV = "JETRACER_EMULATED_BUS"

_lock = threading.Lock()
_shared = None  # type: Optional[EmulatedBus]


def jetracer_chips(oled_height: int = 32) -> List[Tuple[int, Chip]]:
    """Powered-on chips as on a JetRacer: PCA9685s at 0x40 and 0x60, an SSD1306 (128 x ``oled_height``) at 0x3C."""
    return [(a, PCA9685()) for a in PCA9685_ADDRESSES] + [(OLED_ADDRESS, SSD1306(height=oled_height))]


def make_bus(oled_height: int = 32) -> EmulatedBus:
    """A new in-process bus with PCA9685s at 0x40 and 0x60 and an SSD1306 (128 x ``oled_height``) at 0x3C."""
    bus = EmulatedBus()
    for address, chip in jetracer_chips(oled_height):
        bus.attach(address, chip)
    return bus


def bus_file() -> Optional[str]:
    """The shared bus file named by ``$JETRACER_EMULATED_BUS``, or None (the bus is private to this process)."""
    return os.environ.get(BUS_FILE_ENV) or None


def _open_file_bus(path: str, oled_height: int = 32) -> EmulatedBus:
    from .shared_file import SharedFileBus

    return SharedFileBus(path, default_chips=lambda: jetracer_chips(oled_height))


def shared_bus() -> EmulatedBus:
    """The process-wide emulated bus (created on first use with a 128x32 OLED; in the shared file if one is named)."""
    global _shared
    with _lock:
        path = bus_file()
        faults = faults_from_env()
        if _shared is None or getattr(_shared, "path", None) != (os.path.abspath(path) if path else None):
            _shared = _open_file_bus(path) if path else make_bus()
        elif faults != _shared.env_faults:
            _shared.set_faults(faults)
        _shared.env_faults = faults
        return _shared


def reset_shared_bus(oled_height: int = 32) -> EmulatedBus:
    """Replace the process-wide bus with freshly powered-on chips (tests, or a 128x64 OLED).

    With a shared bus file, its chips are powered on again for every process that uses it.
    """
    global _shared
    with _lock:
        path = bus_file()
        if path:
            _shared = _open_file_bus(path, oled_height)
            _shared.reinitialise()
        else:
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


__all__ = ["Chip", "EmulatedBus", "PCA9685", "SSD1306", "make_bus", "shared_bus", "reset_shared_bus", "fit_oled",
           "OLED_ADDRESS", "BUS_FILE_ENV", "bus_file", "jetracer_chips", "FAULTS_ENV", "EmulatedFaultsError"]
