"""Adafruit's PCA9685 driver with every channel change in one I2C transaction.

``Adafruit_PWM_Servo_Driver.PWM.setPWM`` writes LEDn_ON_L, ON_H, OFF_L and OFF_H in four separate
transactions. The chip's outputs take new register values at each STOP, so between those writes a
channel carries a pulse made of half the old and half the new value: a steering command from 1274
to 1225 us passes through 2474 us, and a running ESC can see a reverse pulse. :class:`BlockPWM`
sets MODE1.AI (register auto-increment) and writes the four registers in one block write, so with
MODE2.OCH = 0 (outputs change on STOP, which the library's init programs) a channel goes from the
old pulse to the new one in a single step. Initialisation and frequency stay the library's own.
"""
from typing import Any

from Adafruit_MotorHAT.Adafruit_PWM_Servo_Driver import PWM

MODE1, MODE2 = 0x00, 0x01
LED0_ON_L, ALL_LED_ON_L = 0x06, 0xFA
AI, RESTART = 0x20, 0x80
OCH = 0x08


class BlockPWM(PWM):
    """``PWM`` whose ``setPWM``/``setAllPWM`` are single 4-byte block writes (MODE1.AI set)."""

    def __init__(self, address: int = 0x40, debug: bool = False, i2c: Any = None, i2c_bus: Any = None) -> None:
        super(BlockPWM, self).__init__(address, debug=debug, i2c=i2c, i2c_bus=i2c_bus)
        # the library's init writes MODE1 = ALLCALL, which clears AI again
        self._enable_auto_increment()

    def _enable_auto_increment(self) -> None:
        mode1 = self.i2c.readU8(MODE1)
        if not mode1 & AI:
            # RESTART reads back 1 after a sleep; writing it as 0 changes nothing
            self.i2c.write8(MODE1, (mode1 & ~RESTART & 0xFF) | AI)
        mode2 = self.i2c.readU8(MODE2)
        if mode2 & OCH:
            self.i2c.write8(MODE2, mode2 & ~OCH & 0xFF)  # outputs change on STOP, not per byte

    def setPWM(self, channel: int, on: int, off: int) -> None:
        """LEDn_ON_L..LEDn_OFF_H of ``channel`` in one transaction."""
        self.i2c.writeList(LED0_ON_L + 4 * channel, [on & 0xFF, on >> 8, off & 0xFF, off >> 8])

    def setAllPWM(self, on: int, off: int) -> None:
        """ALL_LED_ON_L..ALL_LED_OFF_H in one transaction (the library's init calls this first)."""
        self._enable_auto_increment()
        self.i2c.writeList(ALL_LED_ON_L, [on & 0xFF, on >> 8, off & 0xFF, off >> 8])

    def set_full(self, channel: int, high: bool) -> None:
        """A channel constantly high or low, encoded as Adafruit_MotorHAT.setPin does (bit 4 of ON_H / OFF_H)."""
        if high:
            self.setPWM(channel, 4096, 0)
        else:
            self.setPWM(channel, 0, 4096)
