"""A register-level model of the NXP PCA9685 16-channel 12-bit PWM controller.

What the model keeps from the datasheet (rev. 4), because the drivers depend on it:

* Power-on state: MODE1 = 0x11 (SLEEP | ALLCALL), MODE2 = 0x04 (OUTDRV), PRESCALE = 0x1E (200 Hz),
  every channel full-off (bit 4 of LEDn_OFF_H).
* PRESCALE is written only while MODE1.SLEEP is set; writes while awake are ignored. Values below 3
  are raised to 3. Output frequency = 25 MHz / (4096 * (PRESCALE + 1)).
* While asleep the oscillator is off and every output is low (duty 0). Going to sleep with a channel
  active sets MODE1.RESTART; writing 1 to RESTART while awake clears it. Writing 0 to RESTART does nothing.
* The register pointer auto-increments after each byte only when MODE1.AI (bit 5) is set; without it
  every byte of a block write lands in the same register.
* The registers change as each byte is acknowledged, but the outputs take the LEDn registers only on
  the I2C STOP (MODE2.OCH = 0, the power-on default) or on every byte's ACK (MODE2.OCH = 1). So a
  4-byte write of LEDn_ON_L..LEDn_OFF_H with OCH = 0 changes a channel in one step, while four
  separate one-byte writes show three intermediate pulses on the way.
* Writing ALL_LED_ON/OFF_L/H writes that byte of every channel; reading them returns 0.
* Bit 4 of LEDn_ON_H is full-on, bit 4 of LEDn_OFF_H is full-off; full-off wins.
* A general-call SWRST (address 0x00, byte 0x06) restores the power-on state.

``pulse_us``, ``duty`` and friends read the outputs (what an oscilloscope shows); ``registers`` is what
an I2C read returns. ``listeners`` are called with the chip each time the outputs take new values.
The whole state is a byte string (``state_bytes``/``load_state``), so a bus can keep it in shared memory.
"""
import threading
from typing import Any, Callable, List, Tuple

from .chip import Chip

OSC_HZ = 25e6
MODE1, MODE2, PRESCALE = 0x00, 0x01, 0xFE
LED0_ON_L = 0x06
LED_END = LED0_ON_L + 4 * 16  # first register after LED15_OFF_H
ALL_LED_ON_L = 0xFA
RESTART, AI, SLEEP = 0x80, 0x20, 0x10
OCH = 0x08
FULL = 0x10
CHANNELS = 16
STATE_SIZE = 256 + 64 + 2


class PCA9685(Chip):
    """The chip's 256 registers, its latched output stage, and what an oscilloscope would read off each channel."""

    kind = "pca9685"

    def __init__(self) -> None:
        self._lock = threading.RLock()  # type: Any
        self.listeners = []  # type: List[Callable[["PCA9685"], None]]
        self.software_reset()

    def software_reset(self) -> None:
        """The power-on register state."""
        with self._lock:
            self._regs = bytearray(256)
            self._regs[MODE1] = SLEEP | 0x01
            self._regs[MODE2] = 0x04
            self._regs[0x02], self._regs[0x03], self._regs[0x04] = 0xE2, 0xE4, 0xE8
            self._regs[0x05] = 0xE0
            self._regs[PRESCALE] = 0x1E
            for channel in range(CHANNELS):
                self._regs[LED0_ON_L + 4 * channel + 3] = FULL
            self._out = bytearray(self._regs[LED0_ON_L:LED_END])
            self._pointer = 0
            self._restart_pending = False
            self._shown_asleep = True
            for listener in list(self.listeners):
                listener(self)

    @property
    def registers(self) -> bytearray:
        """The 256 registers as an I2C read would return them (MODE1's RESTART aside)."""
        with self._lock:
            return self._regs

    @property
    def outputs(self) -> bytearray:
        """The LEDn_ON_L..LED15_OFF_H values the output stage uses (latched at STOP or ACK)."""
        with self._lock:
            return self._out

    # -- state as bytes (for a shared-memory bus) -------------------------------------------------

    def state_bytes(self) -> bytes:
        """Registers, latched outputs, register pointer and the RESTART flag."""
        with self._lock:
            return bytes(self._regs) + bytes(self._out) + bytes([self._pointer, int(self._restart_pending)])

    def load_state(self, state: bytes) -> None:
        with self._lock:
            self._regs = bytearray(state[:256])
            self._out = bytearray(state[256:320])
            self._pointer, self._restart_pending = state[320], bool(state[321])
            self._shown_asleep = self.asleep

    # -- I2C transactions --------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """One write transaction (START, bytes, STOP): the first byte sets the register pointer, the rest are written."""
        with self._lock:
            if not data:
                return
            self._pointer = data[0]
            per_ack = bool(self._regs[MODE2] & OCH)
            for value in bytearray(data[1:]):
                self._write_register(self._pointer, value)
                self._advance()
                if per_ack:
                    self._latch()
            self._latch()  # STOP

    def read(self, length: int) -> bytes:
        """Read ``length`` bytes from the register pointer (auto-increment only with MODE1.AI)."""
        with self._lock:
            out = bytearray()
            for _ in range(length):
                out.append(self._read_register(self._pointer))
                self._advance()
            return bytes(out)

    def _advance(self) -> None:
        if self._regs[MODE1] & AI:
            self._pointer = (self._pointer + 1) & 0xFF

    def _latch(self) -> None:
        new = self._regs[LED0_ON_L:LED_END]
        asleep = self.asleep
        if new != self._out or asleep != self._shown_asleep:
            self._out = bytearray(new)
            self._shown_asleep = asleep
            for listener in list(self.listeners):
                listener(self)

    def _read_register(self, register: int) -> int:
        if ALL_LED_ON_L <= register <= ALL_LED_ON_L + 3:
            return 0
        if register == MODE1:
            return (self._regs[MODE1] & ~RESTART & 0xFF) | (RESTART if self._restart_pending else 0)
        return self._regs[register]

    def _write_register(self, register: int, value: int) -> None:
        if register == MODE1:
            self._write_mode1(value)
        elif register == PRESCALE:
            if self._regs[MODE1] & SLEEP:
                self._regs[PRESCALE] = max(3, value)
        elif ALL_LED_ON_L <= register <= ALL_LED_ON_L + 3:
            for channel in range(CHANNELS):
                self._regs[LED0_ON_L + 4 * channel + register - ALL_LED_ON_L] = value
        elif 0xFA > register >= LED_END:
            return  # reserved registers ignore writes
        else:
            self._regs[register] = value

    def _write_mode1(self, value: int) -> None:
        was_asleep = bool(self._regs[MODE1] & SLEEP)
        asleep = bool(value & SLEEP)
        if asleep and not was_asleep and any(self._active(c) for c in range(CHANNELS)):
            self._restart_pending = True
        if value & RESTART and not asleep and self._restart_pending:
            self._restart_pending = False
        self._regs[MODE1] = value & ~RESTART & 0xFF

    # -- what the outputs do -------------------------------------------------------------------------

    @property
    def asleep(self) -> bool:
        with self._lock:
            return bool(self._regs[MODE1] & SLEEP)

    @property
    def auto_increment(self) -> bool:
        """MODE1.AI: block writes fill consecutive registers."""
        with self._lock:
            return bool(self._regs[MODE1] & AI)

    @property
    def restart_pending(self) -> bool:
        """MODE1.RESTART as read back: PWM was running when the chip was put to sleep."""
        with self._lock:
            return self._restart_pending

    @property
    def prescale(self) -> int:
        with self._lock:
            return self._regs[PRESCALE]

    @property
    def frequency_hz(self) -> float:
        """The PWM frequency the programmed PRESCALE gives (25 MHz internal oscillator)."""
        with self._lock:
            return OSC_HZ / (4096.0 * (self._regs[PRESCALE] + 1))

    def counts(self, channel: int) -> List[int]:
        """``[on, off]`` 12-bit counts a channel's output uses (without the full-on/off bits)."""
        with self._lock:
            base = 4 * self._check(channel)
            r = self._out
            return [r[base] | (r[base + 1] & 0x0F) << 8, r[base + 2] | (r[base + 3] & 0x0F) << 8]

    def is_full_on(self, channel: int) -> bool:
        with self._lock:
            return bool(self._out[4 * self._check(channel) + 1] & FULL) and not self.is_full_off(channel)

    def is_full_off(self, channel: int) -> bool:
        with self._lock:
            return bool(self._out[4 * self._check(channel) + 3] & FULL)

    def _active(self, channel: int) -> bool:
        return not self.is_full_off(channel) and (self.is_full_on(channel) or len(set(self.counts(channel))) == 2)

    def duty(self, channel: int) -> float:
        """Fraction of each period the output is high, in [0, 1] (0 while asleep)."""
        with self._lock:
            if self.asleep or self.is_full_off(channel):
                return 0.0
            if self.is_full_on(channel):
                return 1.0
            on, off = self.counts(channel)
            return ((off - on) % 4096) / 4096.0

    def pulse_us(self, channel: int) -> float:
        """High time of one period in microseconds (what a servo or ESC reads)."""
        with self._lock:
            return self.duty(channel) * 1e6 / self.frequency_hz

    def duties(self) -> Tuple[float, ...]:
        """Every channel's duty at one instant."""
        with self._lock:
            return tuple(self.duty(c) for c in range(CHANNELS))

    def _check(self, channel: int) -> int:
        if not 0 <= channel < CHANNELS:
            raise ValueError("PCA9685 channel must be in 0..15, got %r" % (channel,))
        return channel

    def __repr__(self) -> str:
        return "PCA9685(%s, %.1f Hz)" % ("asleep" if self.asleep else "awake", self.frequency_hz)
