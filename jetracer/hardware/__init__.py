"""The car's hardware: I2C bus providers (Linux or emulated) and the drivers the profile names.

``create_driver(profile, provider)`` reads ``profile.steering.driver`` and ``profile.throttle.driver``
(``pca9685_servo``, ``pca9685_esc``, ``motorhat_dc``: the classes of :data:`~jetracer.hardware.outputs.OUTPUTS`);
addresses, channels, pulses and frequencies all come from the profile, which
:func:`jetracer.profiles.load_profile` has already checked as a whole (no shared channel, one
frequency per chip, pulses that fit the period). A servo and an ESC on the same PCA9685 share one
chip object. Importing this package touches no bus.

Before it writes anything, :func:`create_driver` claims the motor chips for this process
(:mod:`jetracer.hardware.claim`): a second process gets :class:`MotorsClaimed` naming the owner.
"""
from typing import Any, Dict

from .base import CarDriver, Driver, Output
from .block_pwm import BlockPWM
from .claim import Claim, MotorsClaimed, claim_motors
from .i2c import I2CError, I2CProvider, open_i2c
from .outputs import OUTPUTS

DRIVERS = tuple(OUTPUTS)


def create_driver(profile: Any, provider: I2CProvider) -> CarDriver:
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


def _build_driver(profile: Any, provider: I2CProvider, claim: Claim) -> CarDriver:
    chips = {}  # type: Dict[int, BlockPWM]  # by address: the chips opened so far (a servo and an ESC share one)
    steering = OUTPUTS[profile.steering.driver].open(provider, profile.steering, "steering", chips)
    throttle = OUTPUTS[profile.throttle.driver].open(provider, profile.throttle, "throttle", chips)
    driver = CarDriver(steering, throttle, devices=[pwm.i2c for pwm in chips.values()], claim=claim)
    throttle.neutral()
    steering.neutral()
    return driver


__all__ = ["CarDriver", "Driver", "I2CError", "I2CProvider", "MotorsClaimed", "OUTPUTS", "Output", "claim_motors",
           "create_driver", "open_i2c", "DRIVERS"]
