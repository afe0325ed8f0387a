"""The car's hardware: I2C bus providers (Linux or emulated) and the drivers the profile names.

``create_driver(profile, provider)`` reads ``profile.steering.driver`` and ``profile.throttle.driver``
(``pca9685_servo``, ``pca9685_esc``, ``motorhat_dc``); addresses, channels, pulses and frequencies all
come from the profile. A servo and an ESC on the same PCA9685 share one chip object (one frequency).
Importing this package touches no bus.
"""
from typing import Any, Dict, Tuple

from .base import CarDriver, Driver
from .i2c import I2CError, open_i2c

DRIVERS = ("pca9685_servo", "pca9685_esc", "motorhat_dc")


def _chip_conflict(address: int, first: Tuple[str, float], second: Tuple[str, float]) -> ValueError:
    from ..profiles import ProfileError

    (a, a_hz), (b, b_hz) = sorted([first, second])
    return ProfileError("%s and %s share the PCA9685 at 0x%02X but ask for %g Hz (%s) and %g Hz (%s); one chip has "
                        "one PWM frequency: make pwm_frequency_hz equal in the car profile"
                        % (a, b, address, a_hz, a, b_hz, b))


def create_driver(profile: Any, provider: Any) -> CarDriver:
    """The profile's steering and throttle outputs on ``provider``, left at neutral.

    Raises :class:`I2CError` naming the bus, address and what to check when a chip does not answer.
    """
    from .motorhat_dc import DCMotorOutput, open_motorhat
    from .pca9685_servo import PulseOutput, open_pca9685

    chips = {}  # type: Dict[int, Tuple[Any, float, str]]

    def pwm_at(address: int, frequency_hz: float, name: str) -> Any:
        if address in chips:
            pwm, have, owner = chips[address]
            if have != frequency_hz:
                raise _chip_conflict(address, (owner, have), (name, frequency_hz))
            return pwm
        pwm = open_pca9685(provider, address, frequency_hz, "the %s PCA9685" % name)
        chips[address] = (pwm, frequency_hz, name)
        return pwm

    def pulse_output(section: Any, name: str) -> PulseOutput:
        pwm = pwm_at(section.i2c_address, section.pwm_frequency_hz, name)
        return PulseOutput(pwm, section.channel, section.min_us, section.center_us, section.max_us,
                           provider=provider, address=section.i2c_address, name=name)

    throttle_section = profile.throttle
    _check_driver("steering", profile.steering.driver, ("pca9685_servo",))
    _check_driver("throttle", throttle_section.driver, ("pca9685_esc", "motorhat_dc"))
    steering = pulse_output(profile.steering, "steering")
    if throttle_section.driver == "motorhat_dc":
        address = throttle_section.i2c_address
        if address in chips:
            from ..profiles import ProfileError

            raise ProfileError("throttle.i2c_address 0x%02X: a motorhat_dc throttle needs its own PCA9685, but the "
                               "steering servo is on it too" % address)
        hat = open_motorhat(provider, address, throttle_section.pwm_frequency_hz)
        chips[address] = (hat._pwm, throttle_section.pwm_frequency_hz, "throttle")
        throttle = DCMotorOutput(hat, [m.to_dict() for m in throttle_section.motors], provider, address)
    else:
        throttle = pulse_output(throttle_section, "throttle")
    driver = CarDriver(steering, throttle, devices=[chip[0].i2c for chip in chips.values()])
    throttle.neutral()
    steering.neutral()
    return driver


def _check_driver(section: str, name: str, allowed: Tuple[str, ...]) -> None:
    if name not in allowed:
        from ..profiles import ProfileError

        raise ProfileError("%s.driver must be one of %s, found %r" % (section, ", ".join(allowed), name))


__all__ = ["CarDriver", "Driver", "I2CError", "create_driver", "open_i2c", "DRIVERS"]
