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

:class:`NeutralWriter` is the profile's throttle built from the car's own output classes
(:class:`~jetracer.hardware.pca9685_servo.PulseOutput`,
:class:`~jetracer.hardware.motorhat_dc.DCMotorOutput`) on the attached chip, afresh for each neutral:
it knows nothing of what the drive process last wrote, so it writes every throttle channel, once,
in the order the car's own neutral uses (speeds to 0, then the direction inputs), and the chip ends
exactly where the car's own ``neutral()`` leaves it: the ESC's centre pulse at the frequency the chip
runs at, or zero duty with each motor braking or coasting as its profile entry says.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from .block_pwm import AI, LED0_ON_L, MODE1, BlockPWM
from .i2c import i2c_errors
from .timing import TICKS

FULL = 0x10  # bit 4 of LEDn_ON_H (full on) and LEDn_OFF_H (full off)
NEUTRAL, DRIVING, OTHER = "neutral", "driving", "other"


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


def attach_pwm(provider: Any, address: int, what: str = "PCA9685") -> AttachedPWM:
    """An :class:`AttachedPWM` on the chip at ``address``; :class:`~jetracer.hardware.i2c.I2CError` if it does not answer.

    Only reads: the chip is not changed until the first write.
    """
    with i2c_errors(provider, address, what):
        pwm = AttachedPWM(provider.get_i2c_device(address))
        pwm.i2c.readU8(MODE1)  # answers?
    return pwm


def throttle_channels(section: Any) -> List[int]:
    """Every channel the profile's throttle drives (ESC channel, or motor speed/direction and pair channels)."""
    if section.driver != "motorhat_dc":
        return [int(section.channel)]
    channels = [c for m in section.motors for c in (m.pwm_channel, m.in1_channel, m.in2_channel)]
    return channels + [c for p in section.get("pwm_pairs", None) or [] for c in (p.forward_channel, p.reverse_channel)]


def throttle_read_back(section: Any, duties: Union[Sequence[float], Dict[int, float]],
                       frequency_hz: Optional[float]) -> Dict[str, Any]:
    """What the profile's throttle channels hold, from each channel's duty (0..1, indexed by channel) and the
    chip's frequency (ESC only): ``throttle_pulse_us`` for an ESC; for DC motors each motor's ``duty``,
    ``in1`` and ``in2`` and each pair's ``forward``/``reverse`` duty. The format of
    :meth:`NeutralWriter.read_back`, so a reader of the wire and the supervisor judge neutral alike."""
    s = section
    if s.driver != "motorhat_dc":
        return {"throttle_pulse_us": duties[int(s.channel)] * 1e6 / frequency_hz}
    return {"motors": [{"duty": duties[int(m.pwm_channel)], "in1": duties[int(m.in1_channel)],
                        "in2": duties[int(m.in2_channel)]} for m in s.motors],
            "pwm_pairs": [{"forward": duties[int(p.forward_channel)], "reverse": duties[int(p.reverse_channel)]}
                          for p in s.get("pwm_pairs", None) or []]}


def throttle_state(section: Any, back: Dict[str, Any], frequency_hz: Optional[float]) -> Tuple[str, Optional[float]]:
    """Whether a :func:`throttle_read_back` is the profile's neutral, and how far from it the throttle is.

    ``(state, off)``: ``neutral`` is the ESC within half a 12-bit count (plus 0.05 us of rounding) of
    ``center_us``, or every speed and pair channel at zero duty with each motor's inputs as its profile
    ``neutral`` says; ``driving`` an ESC pulse off centre or a speed channel above zero; ``other`` no ESC
    pulse at all, or stopped motors whose inputs are not the profile's neutral. ``off`` is the ESC's
    distance from ``center_us`` in us (None without a pulse), or the largest speed or pair duty (0..1).
    """
    s = section
    if s.driver != "motorhat_dc":
        pulse_us = back["throttle_pulse_us"]
        if pulse_us == 0.0:
            return OTHER, None
        off_us = abs(pulse_us - float(s.center_us))
        return (NEUTRAL if off_us <= throttle_half_tick(s, frequency_hz) + 0.05 else DRIVING), off_us
    off = max([0.0] + [m["duty"] for m in back["motors"]]
              + [d for p in back["pwm_pairs"] for d in (p["forward"], p["reverse"])])
    if off > 0:
        return DRIVING, off
    braked = all((m["in1"], m["in2"]) == (0.0, 1.0 if spec.neutral == "brake" else 0.0)
                 for m, spec in zip(back["motors"], s.motors))
    return (NEUTRAL if braked else OTHER), off


def throttle_half_tick(section: Any, frequency_hz: Optional[float]) -> float:
    """Half a 12-bit count of the throttle, in :func:`throttle_state`'s units (us for an ESC, duty for DC motors)."""
    if section.driver != "motorhat_dc":
        return 0.5e6 / (frequency_hz * TICKS)
    return 0.5 / TICKS


class NeutralWriter(object):
    """The profile's throttle at neutral through a second handle on its running chip; reads the result back.

    ``neutral()`` is what a tripped supervisor calls; ``read_back()`` says what the chip's throttle
    channels now hold, read over the same handle; ``at_neutral()`` whether that is the profile's neutral.
    """

    def __init__(self, profile: Any, provider: Any) -> None:
        self.section = profile.throttle
        self.driver = self.section.driver
        self.address = int(self.section.i2c_address)
        self.what = "the throttle's PCA9685 (supervisor's handle)"
        self._provider = provider
        self.pwm = attach_pwm(provider, self.address, self.what)
        self.channels = throttle_channels(self.section)
        self._output()  # the chip's PRESCALE reads back

    def _output(self) -> Any:
        """The car's own throttle output on the attached chip, as if nothing were known about its state."""
        if self.driver == "motorhat_dc":
            from .motorhat_dc import DCMotorOutput, motor_specs, pair_specs

            return DCMotorOutput(self.pwm, motor_specs(self.section), pair_specs(self.section), self._provider,
                                 self.address)
        from .pca9685_servo import PulseOutput

        s = self.section
        return PulseOutput(self.pwm, s.channel, s.min_us, s.center_us, s.max_us, provider=self._provider,
                           address=self.address, name="throttle")

    def neutral(self) -> None:
        """Throttle to neutral now: one block write per throttle channel (the ESC pulse from the chip's PRESCALE now)."""
        with i2c_errors(self._provider, self.address, self.what):
            self.pwm.ensure_block_writes()
            self._output().neutral()

    def read_back(self) -> Dict[str, Any]:
        """What the throttle channel(s) hold now (:func:`throttle_read_back`, duties to 4 decimals, the ESC's
        pulse to 0.1 us), read over this handle at the frequency the chip's PRESCALE says."""
        with i2c_errors(self._provider, self.address, self.what):
            block = self.pwm.auto_increment()
            duties = {int(c): round(self.pwm.channel_duty(int(c), block), 4) for c in self.channels}
            back = throttle_read_back(self.section, duties, self._frequency_hz())
        if "throttle_pulse_us" in back:
            back["throttle_pulse_us"] = round(back["throttle_pulse_us"], 1)
        return back

    def _frequency_hz(self) -> Optional[float]:
        """The chip's frequency from its PRESCALE (an ESC's pulse needs it; DC motors do not)."""
        if self.driver == "motorhat_dc":
            return None
        from .pca9685_servo import programmed_frequency_hz

        return programmed_frequency_hz(self.pwm)

    def at_neutral(self) -> bool:
        """Whether the chip holds the profile's neutral (:func:`throttle_state`)."""
        back = self.read_back()
        with i2c_errors(self._provider, self.address, self.what):
            frequency_hz = self._frequency_hz()
        return throttle_state(self.section, back, frequency_hz)[0] == NEUTRAL

    def __repr__(self) -> str:
        return "NeutralWriter(%s at 0x%02X, channels %s)" % (self.driver, self.address, self.channels)
