"""The car's hardware: I2C bus providers (Linux or emulated) and the drivers the profile names.

``create_driver(profile, provider)`` reads ``profile.steering.driver`` and ``profile.throttle.driver``
(``pca9685_servo``, ``pca9685_esc``, ``motorhat_dc``); addresses, channels, pulses and frequencies all
come from the profile, which :func:`jetracer.profiles.load_profile` has already checked as a whole
(no shared channel, one frequency per chip, pulses that fit the period). A servo and an ESC on the
same PCA9685 share one chip object. Importing this package touches no bus.

Before it writes anything, :func:`create_driver` claims the motor chips for this process
(:mod:`jetracer.hardware.claim`): a second process gets :class:`MotorsClaimed` naming the owner.
"""
from typing import Any, Dict

from .base import CarDriver, Driver
from .claim import MotorsClaimed, claim_motors
from .i2c import I2CError, open_i2c

DRIVERS = ("pca9685_servo", "pca9685_esc", "motorhat_dc")


def create_driver(profile: Any, provider: Any) -> CarDriver:
    """The profile's steering and throttle outputs on ``provider``, left at neutral.

    Raises :class:`MotorsClaimed` naming the owner when another process owns the motor chips (nothing
    is written then), and :class:`I2CError` naming the bus, address and what to check when a chip
    does not answer. The driver's ``close()`` gives the claim back.
    """
    claim = claim_motors(provider, (profile.steering.i2c_address, profile.throttle.i2c_address))
    try:
        return _build_driver(profile, provider, claim)
    except BaseException:
        claim.release()
        raise


def _build_driver(profile: Any, provider: Any, claim: Any) -> CarDriver:
    from .motorhat_dc import DCMotorOutput, motor_specs, open_motor_driver, pair_specs
    from .pca9685_servo import PulseOutput, open_pca9685

    chips = {}  # type: Dict[int, Any]

    def pulse_output(section: Any, name: str) -> PulseOutput:
        address = section.i2c_address
        if address not in chips:
            chips[address] = open_pca9685(provider, address, section.pwm_frequency_hz, "the %s PCA9685" % name)
        return PulseOutput(chips[address], section.channel, section.min_us, section.center_us, section.max_us,
                           provider=provider, address=address, name=name)

    steering = pulse_output(profile.steering, "steering")
    section = profile.throttle
    if section.driver == "motorhat_dc":
        pwm = chips[section.i2c_address] = open_motor_driver(provider, section.i2c_address, section.pwm_frequency_hz)
        throttle = DCMotorOutput(pwm, motor_specs(section), pair_specs(section), provider, section.i2c_address)
    else:
        throttle = pulse_output(section, "throttle")
    driver = CarDriver(steering, throttle, devices=[pwm.i2c for pwm in chips.values()], claim=claim)
    throttle.neutral()
    steering.neutral()
    return driver


__all__ = ["CarDriver", "Driver", "I2CError", "MotorsClaimed", "claim_motors", "create_driver", "open_i2c", "DRIVERS"]
