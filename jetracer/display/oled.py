"""The SSD1306 OLED through Adafruit_SSD1306 on the configured I2C provider (real or emulated)."""
from typing import Any

from ..hardware.i2c import I2CProvider, i2c_errors

DEFAULT_ADDRESS = 0x3C


class _NoResetPin(object):
    """The JetRacer OLEDs have no reset line; Adafruit_GPIO cannot detect a Jetson, so it gets this instead."""


class Oled(object):
    """A 128x32 or 128x64 SSD1306 at ``address``; opened (initialised and switched on) when created.

    Raises :class:`jetracer.hardware.I2CError` naming bus and address when the panel does not answer.
    """

    def __init__(self, provider: I2CProvider, height: int = 32, address: int = DEFAULT_ADDRESS) -> None:
        import Adafruit_SSD1306

        if height not in (32, 64):
            raise ValueError("OLED height must be 32 or 64, got %r" % (height,))
        cls = Adafruit_SSD1306.SSD1306_128_32 if height == 32 else Adafruit_SSD1306.SSD1306_128_64
        self.height = height
        self.address = address
        self.provider = provider
        with i2c_errors(provider, address, "the OLED display"):
            self._display = cls(rst=None, i2c=provider, gpio=_NoResetPin(), i2c_address=address)
            self._display.begin()
            self._display.clear()
            self._display.display()

    def show(self, image: Any) -> None:
        """Send a PIL image of the panel's size (converted to 1 bit) to the panel."""
        with i2c_errors(self.provider, self.address, "the OLED display"):
            self._display.image(image.convert("1"))
            self._display.display()

    def clear(self) -> None:
        """Blank the panel."""
        with i2c_errors(self.provider, self.address, "the OLED display"):
            self._display.clear()
            self._display.display()
