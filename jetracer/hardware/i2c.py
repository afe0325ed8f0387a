"""I2C bus providers for the Adafruit libraries, and errors that say what to check.

``open_i2c(mode, bus)`` returns an object with ``get_i2c_device(address)``, the ``i2c=`` argument of
Adafruit_MotorHAT, Adafruit_PWM_Servo_Driver.PWM and Adafruit_SSD1306. Both modes hand out the real
``Adafruit_GPIO.I2C.Device``; only the SMBus underneath differs (``/dev/i2c-N`` through
Adafruit_PureIO, or the process-wide emulated bus), so the whole Adafruit stack runs unchanged.
Opening the bus is lazy: nothing touches I2C until a device is requested.
"""
import contextlib
import errno
from typing import Any, Iterator, Optional

from ..errors import Failure

I2C_MODES = ("hardware", "emulated")
# errno values the Linux I2C stack uses when nothing acknowledges or the transfer dies
_NO_ACK = (errno.EREMOTEIO, errno.ENXIO, errno.EIO, errno.ETIMEDOUT, errno.EAGAIN)


class I2CError(OSError, Failure):
    """The I2C bus cannot be opened or a chip does not answer; the message names bus, address and the fix."""


class I2CProvider(object):
    """Where the Adafruit libraries get their devices (their ``i2c=`` argument): ``get_i2c_device(address)``.

    ``mode`` is the config's ``i2c`` value; each provider's ``bus_number`` is the N of ``/dev/i2c-N`` (error
    messages name it).
    """

    mode = ""

    def get_i2c_device(self, address: int) -> Any:
        """An ``Adafruit_GPIO.I2C.Device`` at ``address``."""
        raise NotImplementedError


def _emulated_hint() -> str:
    return "or set JETRACER_I2C=emulated to run without a car"


def explain(error: OSError, bus: Any, address: int, what: str = "", emulated_chips: Optional[str] = None) -> I2CError:
    """An :class:`I2CError` for ``error`` raised while talking to ``address`` on ``bus``.

    ``emulated_chips`` (the addresses that answer) marks an emulated bus. An emulated wiring fault
    (``$JETRACER_EMULATED_FAULTS``: the error carries ``emulated_fault``) gets the advice the real bus
    would get for the same errno, and says that the fault is emulated.
    """
    fault = getattr(error, "emulated_fault", None) if emulated_chips is not None else None
    emulated = emulated_chips is not None and not fault
    where = "%s at I2C address 0x%02X on %sbus %s" % (what or "the chip", address, "the emulated " if emulated else "", bus)
    code = getattr(error, "errno", None)
    if emulated:
        return I2CError("no emulated chip answered for %s (%s); the emulated bus has chips at %s. Check the "
                        "car profile's i2c_address." % (where, error, emulated_chips))
    if fault:
        real = explain(error, bus, address, what)  # without emulated_chips: the real bus's message
        return I2CError("%s (This fault is emulated: %s in JETRACER_EMULATED_FAULTS; the emulated bus answers at %s; "
                        "unset the variable for a car wired right.)" % (real, fault, emulated_chips or "no address"))
    if code == errno.ENOENT:
        return I2CError("cannot open I2C bus %s for %s: /dev/i2c-%s does not exist (%s). Check the bus number "
                        "(i2c_bus in the car profile or config; the Jetson Nano's 40-pin header is bus 1), "
                        "list the buses with `ls /dev/i2c-*` or `sudo i2cdetect -l`, %s."
                        % (bus, where, bus, error, _emulated_hint()))
    if code in (errno.EACCES, errno.EPERM):
        return I2CError("permission denied opening /dev/i2c-%s for %s (%s). Add yourself to the i2c group: "
                        "`sudo usermod -aG i2c $USER`, then log out and in again; %s."
                        % (bus, where, error, _emulated_hint()))
    if code in _NO_ACK:
        return I2CError("no answer from %s (%s). Check the board's wiring and power (is the car's battery on "
                        "and the board seated on the 40-pin header?), run `sudo i2cdetect -y -r %s` and look for "
                        "%02x, check the car profile's i2c_address, %s."
                        % (where, error, bus, address, _emulated_hint()))
    return I2CError("I2C error with %s: %s; run `sudo i2cdetect -y -r %s` to see which addresses answer, %s."
                    % (where, error, bus, _emulated_hint()))


@contextlib.contextmanager
def i2c_errors(provider: Optional[I2CProvider], address: int, what: str = "") -> Iterator[None]:
    """Turn an ``OSError`` raised inside the block into an :class:`I2CError` naming bus and address."""
    try:
        yield
    except I2CError:
        raise
    except OSError as e:
        bus = getattr(provider, "bus", None)
        chips = bus.scan_text() if hasattr(bus, "scan_text") else None
        raise explain(e, getattr(provider, "bus_number", "?"), address, what, chips) from e


class LinuxI2C(I2CProvider):
    """Devices on ``/dev/i2c-<bus_number>`` through Adafruit_PureIO's SMBus."""

    mode = "hardware"

    def __init__(self, bus_number: int) -> None:
        self.bus_number = int(bus_number)

    def get_i2c_device(self, address: int) -> Any:
        """An ``Adafruit_GPIO.I2C.Device``; :class:`I2CError` if the bus cannot be opened."""
        from Adafruit_GPIO.I2C import Device

        with i2c_errors(self, address):
            return Device(address, self.bus_number)

    def __repr__(self) -> str:
        return "LinuxI2C(/dev/i2c-%d)" % self.bus_number


class EmulatedI2C(I2CProvider):
    """Devices on an :class:`~jetracer.hardware.emulated.bus.EmulatedBus` (the shared one by default)."""

    mode = "emulated"

    def __init__(self, bus: Any = None, bus_number: int = 1) -> None:
        if bus is None:
            from .emulated import shared_bus

            bus = shared_bus()
        self.bus = bus
        self.bus_number = bus_number

    def get_i2c_device(self, address: int) -> Any:
        """An ``Adafruit_GPIO.I2C.Device`` whose SMBus is the emulated bus."""
        from Adafruit_GPIO.I2C import Device

        return Device(address, self.bus_number, i2c_interface=self.bus)

    def __repr__(self) -> str:
        return "EmulatedI2C(chips at %s)" % self.bus.scan_text()


def open_i2c(mode: Any, bus: Any = None) -> I2CProvider:
    """The I2C provider for ``mode`` ("hardware" or "emulated", or a Config) on bus number ``bus``.

    ``bus`` defaults to the Config's ``i2c_bus`` when a Config is given, else 1.
    """
    if not isinstance(mode, str):
        config = mode
        mode = config.i2c
        bus = config.i2c_bus if bus is None else bus
    bus = 1 if bus is None else int(bus)
    if mode == "hardware":
        return LinuxI2C(bus)
    if mode == "emulated":
        return EmulatedI2C(bus_number=bus)
    raise ValueError("I2C mode must be one of %s, got %r (set JETRACER_I2C=emulated to run without a car)"
                     % (", ".join(I2C_MODES), mode))
