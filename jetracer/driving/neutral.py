"""The throttle's neutral written through a second I2C handle onto chips that are already running.

The supervisor (:mod:`jetracer.driving.supervisor`) must be able to stop the car while the drive
process holds its own handle on the same PCA9685 and may be hung. Opening the chip the usual way
(``Adafruit_PWM_Servo_Driver.PWM(...)``) would reset every channel and re-program the frequency; the
classes here attach Adafruit's own drivers to the chip *as it is* (no reset, no frequency change) and
reuse the project's output classes, so the neutral pulse is computed exactly as the car computes it
(from the chip's programmed PRESCALE and the profile's calibrated ``center_us``).
"""
from typing import Any, Dict, List, Optional

LED0_ON_L = 0x06


def attached_pwm(provider: Any, address: int) -> Any:
    """Adafruit's PCA9685 driver on the chip at ``address`` without its reset-on-open."""
    from Adafruit_MotorHAT.Adafruit_PWM_Servo_Driver import PWM

    class AttachedPWM(PWM):
        def __init__(self) -> None:  # noqa: D401 - skips PWM.__init__'s setAllPWM(0, 0) and mode writes
            self.i2c = provider.get_i2c_device(address)

    return AttachedPWM()


def attached_motorhat(provider: Any, address: int) -> Any:
    """Adafruit's MotorHAT on the chip at ``address`` without its reset and frequency change."""
    from Adafruit_MotorHAT import Adafruit_MotorHAT

    class AttachedMotorHAT(Adafruit_MotorHAT):
        def __init__(self) -> None:
            self._frequency = None
            self.motors = []
            self._pwm = attached_pwm(provider, address)

    return AttachedMotorHAT()


class NeutralWriter(object):
    """Puts the profile's throttle output(s) at neutral through its own handle; reads the result back.

    ``neutral()`` is what a tripped supervisor calls; ``read_back()`` reports what the chip now holds
    (pulse in us for an ESC, the duty and direction pins for DC motors), read over the same handle.
    """

    def __init__(self, profile: Any, provider: Any) -> None:
        from ..hardware.i2c import i2c_errors

        section = profile.throttle
        self.driver = section.driver
        self.address = section.i2c_address
        self._provider = provider
        with i2c_errors(provider, self.address, "the supervisor's throttle PCA9685"):
            if self.driver == "motorhat_dc":
                from ..hardware.motorhat_dc import DCMotorOutput

                self.output = DCMotorOutput(attached_motorhat(provider, self.address),
                                            [m.to_dict() for m in section.motors], provider, self.address)
                self.channels = [c for m in section.motors for c in (m.pwm_channel, m.in1_channel, m.in2_channel)]
            else:
                from ..hardware.pca9685_servo import PulseOutput

                pwm = attached_pwm(provider, self.address)
                self.output = PulseOutput(pwm, section.channel, section.min_us, section.center_us, section.max_us,
                                          provider=provider, address=self.address, name="supervisor throttle")
                self.channels = [section.channel]
        self.center_us = float(section.center_us) if self.driver != "motorhat_dc" else None

    def neutral(self) -> None:
        """Throttle to neutral now (the ESC pulse is recomputed from the chip's PRESCALE as it is now)."""
        if self.driver != "motorhat_dc":
            from ..hardware.pca9685_servo import programmed_frequency_hz

            self.output.frequency_hz = programmed_frequency_hz(self.output.pwm)
        self.output.neutral()

    def _counts(self, channel: int) -> List[int]:
        device = self.output.pwm.i2c if self.driver != "motorhat_dc" else self.output.hat._pwm.i2c
        base = LED0_ON_L + 4 * channel
        on = device.readU8(base) | device.readU8(base + 1) << 8
        off = device.readU8(base + 2) | device.readU8(base + 3) << 8
        return [on, off]

    def read_back(self) -> Dict[str, Any]:
        """What the throttle channel(s) hold now, read over this handle."""
        from ..hardware.i2c import i2c_errors

        with i2c_errors(self._provider, self.address, "the supervisor's throttle PCA9685"):
            if self.driver == "motorhat_dc":
                return {"channels": dict((c, self._counts(c)) for c in self.channels)}
            on, off = self._counts(self.channels[0])
            out = self.output
            ticks = (off & 0x0FFF) - (on & 0x0FFF)
            pulse_us = None if off & 0x1000 else ticks * 1e6 / (out.frequency_hz * 4096)
            return {"throttle_pulse_us": round(pulse_us, 1) if pulse_us is not None else None}

    def at_neutral(self) -> bool:
        """Whether the chip holds neutral: the ESC pulse within one 12-bit count of ``center_us``, or every
        motor channel at zero duty and not full-on."""
        back = self.read_back()
        if self.driver == "motorhat_dc":
            return all(not on & 0x1000 and (off & 0x1000 or (off - on) & 0x0FFF == 0)
                       for on, off in back["channels"].values())
        pulse = back["throttle_pulse_us"]
        return pulse is not None and abs(pulse - self.center_us) < 1e6 / (self.output.frequency_hz * 4096) + 0.5
