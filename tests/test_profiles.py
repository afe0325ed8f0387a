"""Car profiles are validated data: every shipped profile loads, and a wrong key or value is named."""
import os
import re

import pytest

from jetracer.config import ConfigError, load_config, save_user_settings
from jetracer.profiles import ProfileError, available_profiles, load_profile


def test_shipped_profiles_load():
    names = available_profiles()
    assert {"latrax", "tamiya_tt02", "waveshare_ai", "waveshare_pro"} <= set(names)
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
    config = load_config(os.devnull, env={"JETRACER_I2C": "emulated", "JETRACER_CAMERA": "sim"})
    assert config.i2c == "emulated" and config.camera.source == "sim"
    with pytest.raises(ConfigError, match="JETRACER_I2C=emulated"):
        load_config(os.devnull, env={"JETRACER_I2C": "fake"})


def test_bad_user_config_key_is_refused(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("profil: latrax\n")
    with pytest.raises(ConfigError, match="profil"):
        load_config(str(path), env={})


def test_the_shipped_profiles_promise_upstream_pulses_and_a_visible_limit():
    for name in ("latrax", "tamiya_tt02", "waveshare_ai", "waveshare_pro"):
        profile = load_profile(name)
        assert (profile.steering.min_us, profile.steering.center_us, profile.steering.max_us) == (750, 1500, 2250)
        assert profile.car.max_throttle == 0.8 and profile.car.throttle_gain == 0.8
    assert load_profile("waveshare_pro").steering.pwm_frequency_hz == 60
    assert load_profile("waveshare_pro").car.throttle_ramp.to_dict() == {"step": 0.18, "interval_s": 1.2,
                                                                         "immediate_below": 0.1}
    assert "throttle_ramp" not in load_profile("latrax").car


@pytest.mark.parametrize("overrides, keys, fix", [
    ({"throttle": {"channel": 0}}, r"steering\.channel and throttle\.channel are both channel 0 of the PCA9685 at 0x40",
     "give one of them a free channel"),
    ({"throttle": {"pwm_frequency_hz": 60}}, r"steering\.pwm_frequency_hz and throttle\.pwm_frequency_hz share the "
     r"PCA9685 at 0x40 but ask for 50 Hz \(steering\) and 60 Hz \(throttle\)", "make them equal"),
    ({"steering": {"pwm_frequency_hz": 400, "max_us": 2500}, "throttle": {"pwm_frequency_hz": 400}},
     r"steering\.max_us 2500 does not fit the PWM period: steering\.pwm_frequency_hz 400 runs at 406\.90 Hz .*"
     r"PRESCALE 14.*2457\.6 us", r"lower steering\.max_us to 2457 or less or steering\.pwm_frequency_hz to 393 or less"),
    ({"steering": {"pwm_frequency_hz": 40, "min_us": 1502, "center_us": 1503, "max_us": 1505},
      "throttle": {"pwm_frequency_hz": 40}}, r"steering: min_us 1502, center_us 1503, max_us 1505 are less than one "
     r"PCA9685 step apart", "widen the range"),
])
def test_sections_that_would_give_unpromised_pulses_are_refused_by_key_with_the_fix(overrides, keys, fix):
    with pytest.raises(ProfileError) as info:
        load_profile("latrax", overrides)
    assert re.search(keys, str(info.value)), str(info.value)
    assert re.search(fix, str(info.value)), str(info.value)


@pytest.mark.parametrize("throttle, message", [
    ({"motors": [{"pwm_channel": 0, "in1_channel": 1, "in2_channel": 2, "neutral": "brake"},
                 {"pwm_channel": 2, "in1_channel": 6, "in2_channel": 5, "neutral": "brake"}]},
     r"throttle\.motors\[0\]\.in2_channel and throttle\.motors\[1\]\.pwm_channel are both channel 2 of the PCA9685 at 0x60"),
    ({"pwm_pairs": [{"forward_channel": 7, "reverse_channel": 3}]},
     r"throttle\.motors\[1\]\.pwm_channel and throttle\.pwm_pairs\[0\]\.forward_channel are both channel 7"),
    ({"i2c_address": 0x40}, r"throttle\.i2c_address 0x40 is also steering\.i2c_address: a motorhat_dc throttle needs its "
                            r"own PCA9685.*0x60 on the Waveshare kit"),
    ({"motors": [{"pwm_channel": 0, "in1_channel": 1, "in2_channel": 2}]}, r"throttle\.motors\[0\]\.neutral: missing"),
])
def test_motor_driver_channel_maps_that_overlap_are_refused(throttle, message):
    with pytest.raises(ProfileError, match=message):
        load_profile("waveshare_ai", {"throttle": throttle})


def test_a_ramp_with_a_bad_value_is_named():
    with pytest.raises(ProfileError, match=r"car\.throttle_ramp\.step: expected a value in \[0\.01, 1\.0\], found 0\.0"):
        load_profile("waveshare_pro", {"car": {"throttle_ramp": {"step": 0.0}}})
    with pytest.raises(ProfileError, match=r"car\.throttle_ramp\.interval: unknown key"):
        load_profile("waveshare_pro", {"car": {"throttle_ramp": {"interval": 1.0}}})
