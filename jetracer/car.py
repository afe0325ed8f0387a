"""Build the configured car: profile + I2C bus (real or emulated) + driver -> a Racecar.

A car built here owns the motor chips (:mod:`jetracer.hardware.claim`) until it is closed: building
one while another process owns them raises :class:`~jetracer.hardware.claim.MotorsClaimed` naming
that process, before anything is written to the chips.
"""
import logging
from typing import Any, Dict, Optional

from .config import Config, load_config
from .profiles import Profile
from .racecar import Racecar

logger = logging.getLogger(__name__)


def car_defaults(profile: Profile) -> Dict[str, Any]:
    """What a profile sets on a car: gains, offsets and the throttle limit (floats), and ``throttle_ramp`` if any."""
    values = {}  # type: Dict[str, Any]
    for key, value in profile.car.to_dict().items():
        values[key] = value if key == "throttle_ramp" else float(value)
    return values


def create_driver(config: Config, profile: Profile, i2c: Any = None) -> Any:
    """Open the configured I2C bus (or use ``i2c``), claim its motor chips and build the profile's driver on it.

    ``MotorsClaimed`` when another process owns them; the driver's ``close()`` releases the claim.
    """
    from .hardware import create_driver as _create_driver, open_i2c

    provider = i2c if i2c is not None else open_i2c(config.i2c, config.i2c_bus)
    return _create_driver(profile, provider)


class ConfiguredRacecar(Racecar):
    """A Racecar whose driver and defaults come from the configuration (``jetracer.config``).

    It logs its throttle limit once, when created: the profile, ``max_throttle`` as a fraction of
    full travel and what that is on the wire (ESC pulses or motor duty).
    """

    def __init__(self, config: Optional[Config] = None, i2c: Any = None, **traits: Any) -> None:
        config = config or load_config()
        profile = config.load_profile()
        values = car_defaults(profile)
        values.update(traits)
        self.config = config
        self.profile = profile
        driver = create_driver(config, profile, i2c)
        try:
            super(ConfiguredRacecar, self).__init__(driver=driver, **values)
        except BaseException:
            driver.close()  # a bad trait must not keep the motors claimed
            raise
        logger.info("%s", self.describe_throttle_limit())

    def describe_throttle_limit(self) -> str:
        """``max_throttle`` in words: the fraction of full travel and what the driver may put on the wire."""
        text = "car profile %s: throttle output limited to |%.2f| of full travel: %s" % (
            self.profile.name, self.max_throttle, self._driver.throttle.describe_limit(self.max_throttle))
        if self.throttle_ramp is not None:
            text += "; soft start %s" % (self.throttle_ramp,)
        return text


def create_car(config: Optional[Config] = None, i2c: Any = None, **traits: Any) -> Racecar:
    """The configured car; ``JETRACER_I2C=emulated`` puts it on the emulated chips."""
    return ConfiguredRacecar(config=config, i2c=i2c, **traits)
