"""Car profiles are validated data: every shipped profile loads, and a wrong key or value is named."""
import pytest

from jetracer.config import ConfigError, load_config, save_user_settings
from jetracer.profiles import ProfileError, available_profiles, load_profile


def test_shipped_profiles_load():
    names = available_profiles()
    assert {"latrax", "tamiya_tt02", "waveshare_ai"} <= set(names)
    for name in names:
        profile = load_profile(name)
        assert profile.name == name
        assert profile.steering.min_us < profile.steering.center_us < profile.steering.max_us


def test_unknown_profile_lists_the_choices():
    with pytest.raises(ProfileError, match="latrax"):
        load_profile("latrx")


def test_unknown_key_is_named():
    with pytest.raises(ProfileError, match=r"steering\.centre_us: unknown key"):
        load_profile("latrax", {"steering": {"centre_us": 1500}})


def test_bad_value_is_named_with_the_expected_range():
    with pytest.raises(ProfileError, match=r"steering\.channel: expected a value in \[0, 15\], found 16"):
        load_profile("latrax", {"steering": {"channel": 16}})
    with pytest.raises(ProfileError, match=r"min_us < center_us < max_us"):
        load_profile("latrax", {"throttle": {"center_us": 2100, "max_us": 2000}})
    with pytest.raises(ProfileError, match=r"throttle\.driver: expected one of"):
        load_profile("latrax", {"throttle": {"driver": "l298n"}})


def test_user_config_overrides_the_profile(tmp_path):
    path = str(tmp_path / "config.yaml")
    save_user_settings({"profile": "tamiya_tt02", "profile_overrides": {"steering": {"center_us": 1520}}}, path)
    config = load_config(path, env={})
    profile = config.load_profile()
    assert profile.name == "tamiya_tt02" and profile.steering.center_us == 1520
    assert config.i2c == "hardware"


def test_environment_switches_to_the_emulated_bus(tmp_path):
    config = load_config(str(tmp_path / "none.yaml"), env={"JETRACER_I2C": "emulated", "JETRACER_CAMERA": "sim"})
    assert config.i2c == "emulated" and config.camera["source"] == "sim"
    with pytest.raises(ConfigError, match="JETRACER_I2C=emulated"):
        load_config(str(tmp_path / "none.yaml"), env={"JETRACER_I2C": "fake"})


def test_bad_user_config_key_is_refused(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("profil: latrax\n")
    with pytest.raises(ConfigError, match="profil"):
        load_config(str(path), env={})
