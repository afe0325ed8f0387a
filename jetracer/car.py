"""Build the configured car: profile + I2C bus (real or emulated) + driver -> a Racecar."""
from typing import Any, Dict, Optional

from .config import Config, load_config
from .profiles import Profile
from .racecar import Racecar


def car_defaults(profile: Profile) -> Dict[str, float]:
    """The trait values a profile sets on a car (gains, offsets, throttle limit)."""
    return dict((key, float(value)) for key, value in profile.car.to_dict().items())


def create_driver(config: Config, profile: Profile, i2c: Any = None) -> Any:
    """Open the configured I2C bus (or use ``i2c``) and build the profile's driver on it."""
    from .hardware import create_driver as _create_driver, open_i2c

    provider = i2c if i2c is not None else open_i2c(config.i2c, config.i2c_bus)
    return _create_driver(profile, provider)


class ConfiguredRacecar(Racecar):
    """A Racecar whose driver and defaults come from the configuration (``jetracer.config``)."""

    def __init__(self, config: Optional[Config] = None, i2c: Any = None, **traits: Any) -> None:
        config = config or load_config()
        profile = config.load_profile()
        values = car_defaults(profile)
        values.update(traits)
        self.config = config
        self.profile = profile
        super(ConfiguredRacecar, self).__init__(driver=create_driver(config, profile, i2c), **values)


def create_car(config: Optional[Config] = None, i2c: Any = None, **traits: Any) -> Racecar:
    """The configured car; ``JETRACER_I2C=emulated`` puts it on the emulated chips."""
    return ConfiguredRacecar(config=config, i2c=i2c, **traits)
