"""DC drive motors through Adafruit_MotorHAT (Waveshare JetRacer: PCA9685 at 0x60 + H-bridges).

Each motor's speed PWM channel and two direction channels come from the car profile. A value > 0
runs FORWARD, < 0 BACKWARD, with duty ``|value|`` (quantised to 1/255 by the library); neutral is
RELEASE (both direction channels low) with zero duty.
"""
from typing import Any, List, Mapping, Sequence

from .base import checked_value
from .i2c import i2c_errors


def open_motorhat(provider: Any, address: int, frequency_hz: float) -> Any:
    """An ``Adafruit_MotorHAT`` at ``address`` and ``frequency_hz`` (I2CError if the chip is absent)."""
    from Adafruit_MotorHAT import Adafruit_MotorHAT

    with i2c_errors(provider, address, "the motor driver PCA9685"):
        return Adafruit_MotorHAT(addr=address, freq=frequency_hz, i2c=provider)


class DCMotorOutput(object):
    """The throttle as one or more DC motors on a MotorHAT, all driven with the same command."""

    def __init__(self, hat: Any, motors: Sequence[Mapping[str, int]], provider: Any = None, address: int = 0x60) -> None:
        from Adafruit_MotorHAT import Adafruit_DCMotor

        self.hat = hat
        self.motors = []  # type: List[Any]
        for spec in motors:
            motor = Adafruit_DCMotor(hat, 0)
            motor.PWMpin, motor.IN1pin, motor.IN2pin = spec["pwm_channel"], spec["in1_channel"], spec["in2_channel"]
            self.motors.append(motor)
        self._provider = provider
        self._address = address
        self.speed = 0
        self.direction = "release"

    def set(self, value: float) -> None:
        from Adafruit_MotorHAT import Adafruit_MotorHAT as HAT

        value = checked_value(value)
        speed = int(round(abs(value) * 255))
        if speed == 0:
            self.neutral()
            return
        command = HAT.FORWARD if value > 0 else HAT.BACKWARD
        with i2c_errors(self._provider, self._address, "the motor driver PCA9685"):
            for motor in self.motors:
                motor.setSpeed(speed)
                motor.run(command)
        self.speed, self.direction = speed, "forward" if value > 0 else "backward"

    def neutral(self) -> None:
        """Zero duty and both direction channels low (motors coast)."""
        from Adafruit_MotorHAT import Adafruit_MotorHAT as HAT

        with i2c_errors(self._provider, self._address, "the motor driver PCA9685"):
            for motor in self.motors:
                motor.setSpeed(0)
                motor.run(HAT.RELEASE)
        self.speed, self.direction = 0, "release"

    def __repr__(self) -> str:
        return "DCMotorOutput(%d motors at 0x%02X)" % (len(self.motors), self._address)
