"""A second handle on a PCA9685 that is already running: no reset, no frequency change, block writes only.

The supervisor (:mod:`jetracer.driving.supervisor`) puts the throttle at neutral while the drive
process holds its own handle on the same chip and may be hung in the middle of a command. Opening the
chip the usual way (:func:`~jetracer.hardware.pca9685_servo.open_pca9685`, Adafruit's ``PWM(...)``)
would switch every channel off and put the chip through sleep to program the frequency, a glitch of
its own on a moving car. :func:`attach_pwm` takes the chip as it is: a
:class:`~jetracer.hardware.block_pwm.BlockPWM` without its initialisation, which before each neutral
only makes sure of MODE1.AI (register auto-increment: without it the four bytes of a block write all
land in LEDn_ON_L) and MODE2.OCH = 0 (outputs change at the STOP), writing MODE1 or MODE2 only when a
bit is wrong and then changing no other bit (SLEEP, ALLCALL, RESTART and PRESCALE stay as they are).

:class:`NeutralWriter` is the profile's throttle built from the car's own output class (the one
:data:`~jetracer.hardware.outputs.OUTPUTS` names for its ``driver:``) on the attached chip, afresh for
each neutral: it knows nothing of what the drive process last wrote, so it writes every throttle
channel, once, in the order the car's own neutral uses (speeds to 0, then the direction inputs), and the chip ends
exactly where the car's own ``neutral()`` leaves it: the ESC's centre pulse at the frequency the chip
runs at, or zero duty with each motor braking or coasting as its profile entry says.
"""
from typing import Any, Dict, Optional, Type

from .base import Output
from .block_pwm import AI, LED0_ON_L, MODE1, BlockPWM
from .i2c import I2CProvider, i2c_errors
from .outputs import OUTPUTS
from .pca9685_servo import programmed_frequency_hz
from .timing import TICKS

FULL = 0x10  # bit 4 of LEDn_ON_H (full on) and LEDn_OFF_H (full off)


class AttachedPWM(BlockPWM):
    """A :class:`BlockPWM` on a chip someone else initialised (no reset, no frequency change)."""

    def __init__(self, device: Any) -> None:  # noqa: D107 - BlockPWM/PWM.__init__ would reset every channel
        self.i2c = device

    def ensure_block_writes(self) -> None:
        """MODE1.AI set and MODE2.OCH clear, changing no other bit; writes only what is wrong.

        A chip reset (power cycle, general-call SWRST) clears AI; this puts it back before the next
        block write. It is a read-modify-write: it must not run while another handle is programming
        the frequency (the drive process does that only while it opens the chip, before it starts
        its supervisor).
        """
        self._enable_auto_increment()

    def channel_duty(self, channel: int, block: bool = True) -> float:
        """The fraction of each period ``channel`` is high, from its LEDn registers (as the chip decodes them).

        ``block`` reads the four registers in one transaction (needs MODE1.AI), else one by one.
        """
        base = LED0_ON_L + 4 * channel
        if block:
            on_l, on_h, off_l, off_h = self.i2c.readList(base, 4)
        else:
            on_l, on_h, off_l, off_h = (self.i2c.readU8(base + i) for i in range(4))
        if off_h & FULL:
            return 0.0
        if on_h & FULL:
            return 1.0
        on, off = on_l | (on_h & 0x0F) << 8, off_l | (off_h & 0x0F) << 8
        return ((off - on) % TICKS) / float(TICKS)

    def auto_increment(self) -> bool:
        return bool(self.i2c.readU8(MODE1) & AI)


def attach_pwm(provider: I2CProvider, address: int, what: str = "PCA9685") -> AttachedPWM:
    """An :class:`AttachedPWM` on the chip at ``address``; :class:`~jetracer.hardware.i2c.I2CError` if it does not answer.

    Only reads: the chip is not changed until the first write.
    """
    with i2c_errors(provider, address, what):
        pwm = AttachedPWM(provider.get_i2c_device(address))
        pwm.i2c.readU8(MODE1)  # answers?
    return pwm


class NeutralWriter(object):
    """The profile's throttle at neutral through a second handle on its running chip; reads the result back.

    ``neutral()`` is what a tripped supervisor calls; ``read_back()`` says what the chip's throttle
    channels now hold, read over the same handle; ``at_neutral()`` whether that is the profile's neutral.
    """

    def __init__(self, profile: Any, provider: I2CProvider) -> None:
        self.section = profile.throttle
        self.driver = self.section.driver
        self.kind = OUTPUTS[self.driver]  # type: Type[Output]
        self.address = int(self.section.i2c_address)
        self.what = "the throttle's PCA9685 (supervisor's handle)"
        self._provider = provider
        self.pwm = attach_pwm(provider, self.address, self.what)
        self.output = self._output()  # the chip's PRESCALE reads back; judges what the channels hold
        self.channels = self.output.channels()

    def _output(self) -> Output:
        """The car's own throttle output on the attached chip, as if nothing were known about its state."""
        return self.kind.from_section(self.pwm, self.section, self._provider, "throttle")

    def neutral(self) -> None:
        """Throttle to neutral now: one block write per throttle channel (the ESC pulse from the chip's PRESCALE now)."""
        with i2c_errors(self._provider, self.address, self.what):
            self.pwm.ensure_block_writes()
            self._output().neutral()

    def read_back(self) -> Dict[str, Any]:
        """What the throttle channel(s) hold now (:meth:`~jetracer.hardware.base.Output.read_back_of`, duties to
        4 decimals, the ESC's pulse to 0.1 us), read over this handle at the frequency the chip's PRESCALE says."""
        with i2c_errors(self._provider, self.address, self.what):
            block = self.pwm.auto_increment()
            duties = {int(c): round(self.pwm.channel_duty(int(c), block), 4) for c in self.channels}
            back = self.kind.read_back_of(self.section, duties, self._frequency_hz())
        if "throttle_pulse_us" in back:
            back["throttle_pulse_us"] = round(back["throttle_pulse_us"], 1)
        return back

    def _frequency_hz(self) -> Optional[float]:
        """The chip's frequency from its PRESCALE (an ESC's pulse needs it; DC motors do not)."""
        return programmed_frequency_hz(self.pwm) if self.kind.pulses else None

    def at_neutral(self) -> bool:
        """Whether the chip holds the profile's neutral (the throttle's own rule:
        :meth:`~jetracer.hardware.base.Output.is_neutral`)."""
        back = self.read_back()
        with i2c_errors(self._provider, self.address, self.what):
            frequency_hz = self._frequency_hz()
        return self.output.is_neutral(back, frequency_hz)

    def __repr__(self) -> str:
        return "NeutralWriter(%s at 0x%02X, channels %s)" % (self.driver, self.address, self.channels)
