"""``busio.I2C``'s interface over an emulated bus, for CircuitPython drivers (adafruit_pca9685, ServoKit).

Upstream JetRacer code drives its PCA9685s through ``adafruit_servokit`` and ``adafruit_pca9685``
(CircuitPython libraries over Blinka's ``busio.I2C``). Handing them a :class:`BusioI2C` instead
(``ServoKit(channels=16, i2c=BusioI2C(bus))``) runs that code unchanged on the emulated chips, so its
pulses can be compared with ours at the wire. Each ``writeto`` / ``readfrom_into`` is one transaction;
``writeto_then_readfrom`` is a write followed by a repeated-START read, as Linux's I2C_RDWR does.
"""
import threading
from typing import Any, List, Optional


class BusioI2C(object):
    """The ``busio.I2C`` methods CircuitPython's ``adafruit_bus_device.I2CDevice`` calls."""

    def __init__(self, bus: Any = None) -> None:
        if bus is None:
            from . import shared_bus

            bus = shared_bus()
        self.bus = bus
        self._locked = threading.Lock()

    def try_lock(self) -> bool:
        return self._locked.acquire(False)

    def unlock(self) -> None:
        self._locked.release()

    def scan(self) -> List[int]:
        return self.bus.scan()

    def writeto(self, address: int, buffer: Any, *, start: int = 0, end: Optional[int] = None) -> None:
        self.bus.write(address, bytes(buffer[start:end]))

    def readfrom_into(self, address: int, buffer: Any, *, start: int = 0, end: Optional[int] = None) -> None:
        end = len(buffer) if end is None else end
        buffer[start:end] = self.bus.write_read(address, [], end - start)

    def writeto_then_readfrom(self, address: int, buffer_out: Any, buffer_in: Any, *, out_start: int = 0,
                              out_end: Optional[int] = None, in_start: int = 0, in_end: Optional[int] = None) -> None:
        in_end = len(buffer_in) if in_end is None else in_end
        buffer_in[in_start:in_end] = self.bus.write_read(address, bytes(buffer_out[out_start:out_end]), in_end - in_start)

    def deinit(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> "BusioI2C":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.deinit()
