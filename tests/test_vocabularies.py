"""Each vocabulary is declared once, by the code that acts on it (where the floors allow), and the I2C bus has one range."""
import pytest

from jetracer.config import ConfigError, load_config
from jetracer.config_schema import CAMERA, CONFIG_SCHEMA, DRIVE


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_each_vocabulary_is_declared_once():
    from jetracer import pixels
    from jetracer.camera import base, jetcam_cameras
    from jetracer.config_schema import I2C_MODES
    from jetracer.hardware import i2c
    from jetracer.profiles.schema import SCHEMA
    from jetracer.steering_law import THROTTLE_MODES

    assert I2C_MODES is i2c.I2C_MODES and CONFIG_SCHEMA["i2c"].choices is i2c.I2C_MODES
    assert DRIVE["throttle_mode"].choices is THROTTLE_MODES
    assert CAMERA["flip"].choices is pixels.FLIPS and SCHEMA["camera"]["flip"].choices is pixels.FLIPS
    assert base.FLIPS is pixels.FLIPS
    assert set(base.CV2_FLIP_CODES) | {"none"} == set(pixels.FLIPS) == set(jetcam_cameras.CSI_FLIP_METHODS)


@pytest.mark.parametrize("bus, ok", [(0, True), (1, True), (40, True), (255, True), (256, False), (-1, False)])
def test_the_i2c_bus_has_one_range_in_the_profile_and_the_config(tmp_path, bus, ok):
    """A Jetson's camera muxes add buses from i2c-30 up: the profile's old limit of 32 refused real ones."""
    from jetracer.profiles import ProfileError, load_profile

    if ok:
        assert load_profile("latrax", {"i2c_bus": bus}).i2c_bus == bus
        assert load_config(write(tmp_path, "i2c_bus: %d\n" % bus), env={}).i2c_bus == bus
    else:
        with pytest.raises(ProfileError, match=r"i2c_bus: expected a value in \[0, 255\]"):
            load_profile("latrax", {"i2c_bus": bus})
        with pytest.raises(ConfigError, match=r"i2c_bus: expected a value in \[0, 255\]"):
            load_config(write(tmp_path, "i2c_bus: %d\n" % bus), env={})
