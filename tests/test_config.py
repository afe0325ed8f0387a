"""The one validated configuration: every section, key, default, file problem and environment override."""
import os

import numpy as np
import pytest
import yaml

from jetracer.config import ConfigError, load_config, save_user_settings, sim_world_args
from jetracer.config_schema import (CONFIG_SCHEMA, DISPLAY, DRIVE, GAMEPAD_MAPPINGS, SECTIONS, SIM, config_defaults,
                                    default_settings, section_data)


def write(tmp_path, text, name="config.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_defaults_are_the_schema_s_and_every_reader_sees_them():
    config = load_config(os.devnull, env={})
    assert config.drive == default_settings("drive")
    assert section_data(config.drive) == dict(config_defaults()["drive"], gamepad=GAMEPAD_MAPPINGS["standard"])
    assert config.display._asdict() == {"height": 32, "i2c_address": 0x3C}
    assert config.sim._asdict() == {"track": "oval", "seed": 0, "fps": None, "randomize": True, "obstacles": 0}
    assert config.camera.source == "csi" and config.profile_name == "latrax" and config.i2c == "hardware"
    assert set(config.data) == set(CONFIG_SCHEMA)


@pytest.mark.parametrize("section", sorted(SECTIONS) + ["top"])
def test_an_unknown_key_is_refused_by_name_in_every_section(tmp_path, section):
    text = "heigth: 64\n" if section == "top" else "%s: {heigth: 64}\n" % section
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    message = str(info.value)
    key = "heigth" if section == "top" else "%s.heigth" % section
    assert "%s: unknown key" % key in message and str(tmp_path) in message and "\n" not in message
    if section == "display":
        assert "did you mean height?" in message


def test_a_gamepad_mapping_key_is_checked_in_the_config(tmp_path):
    with pytest.raises(ConfigError, match=r"drive\.gamepad\.throttle_axes: unknown key .*did you mean throttle_axis"):
        load_config(write(tmp_path, "drive: {gamepad: {throttle_axes: 3}}\n"), env={})
    with pytest.raises(ConfigError, match=r"drive\.gamepad: expected one of f710-dinput, standard, standard-two-stick"):
        load_config(write(tmp_path, "drive: {gamepad: xbox}\n"), env={})
    config = load_config(write(tmp_path, "drive: {gamepad: {base: standard-two-stick, deadzone: 0.1}}\n"), env={})
    assert config.data["drive"]["gamepad"] == {"base": "standard-two-stick", "deadzone": 0.1}
    assert config.drive.gamepad._asdict() == dict(GAMEPAD_MAPPINGS["standard-two-stick"], deadzone=0.1)


@pytest.mark.parametrize("text, message", [
    ("profile: 123\n", r"profile: expected a string, found 123"),
    ("profile: latrx\n", r"profile: unknown car profile 'latrx'; choose one of latrax"),
    ("i2c_bus: abc\n", r"i2c_bus: expected an integer or null \(not set\), found 'abc'.*40-pin header is bus 1"),
    ("i2c: emulatd\n", r"i2c: expected one of hardware, emulated, found 'emulatd'; did you mean emulated"),
    ("camera: {width: 100000}\n", r"camera\.width: expected a value in \[16, 1024\], found 100000"),
    ("sim: {fps: .nan}\n", r"sim\.fps: expected a finite number"),
    ("sim: {randomize: maybe}\n", r"sim\.randomize: expected true or false, found 'maybe'"),
    ("display: {height: 48}\n", r"display\.height: expected one of 32, 64, found 48"),
    ("drive: {throttle: 2}\n", r"drive\.throttle: expected a value in \[-1\.0, 1\.0\], found 2"),
    ("drive: {self_check_frames: 2.5}\n", r"drive\.self_check_frames: expected an integer, found 2\.5"),
    ("drive: [1, 2]\n", r"drive: expected a mapping, found \[1, 2\]"),
    ("profile_overrides: 5\n", r"profile_overrides: expected a mapping, found 5"),
])
def test_a_wrong_value_names_the_file_the_key_and_what_is_expected(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path, env={})
    assert str(info.value).startswith("config file %s: " % path) and "\n" not in str(info.value)


def test_files_that_are_not_yaml_mappings_get_one_line(tmp_path):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(bytearray(range(256))))
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    fifo = str(tmp_path / "fifo.yaml")
    os.mkfifo(fifo)
    cases = [
        (str(binary), "is not a text file"),
        (str(folder), "is a directory; name the YAML file itself"),
        (fifo, "is not a regular file"),
        (write(tmp_path, "- profile\n- latrax\n", "list.yaml"), "must hold a mapping of keys (e.g. `profile: latrax`), found a list"),
        (write(tmp_path, "profile: [latrax\n", "broken.yaml"), "is not valid YAML"),
        (write(tmp_path, "[" * 100000, "deep.yaml"), "config file"),
        (write(tmp_path, "a: 1\n" * 300000, "huge.yaml"), "larger than 1024 KiB"),
    ]
    for path, message in cases:
        with pytest.raises(ConfigError) as info:
            load_config(path, env={})
        assert message in str(info.value) and path in str(info.value) and "\n" not in str(info.value), path


def test_a_named_config_file_must_exist_the_default_one_may_not(tmp_path):
    missing = str(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="named by JETRACER_CONFIG\\) does not exist.*unset JETRACER_CONFIG"):
        load_config(env={"JETRACER_CONFIG": missing})
    with pytest.raises(ConfigError, match=r"named by --config\) does not exist"):
        load_config(missing, env={}, source="--config")
    config = load_config(env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})  # nothing there: the defaults
    assert config.profile_name == "latrax" and config.path == str(tmp_path / "xdg" / "jetracer" / "config.yaml")
    assert load_config(missing, env={}, must_exist=False).profile_name == "latrax"  # calibrate creates it


@pytest.mark.parametrize("name, value, message", [
    ("JETRACER_I2C", "fake", r"i2c: expected one of hardware, emulated, found 'fake'"),
    ("JETRACER_PROFILE", "nope", r"unknown car profile 'nope'"),
    ("JETRACER_CAMERA", "webcam", r"camera\.source: expected one of csi, usb, sim, replay, found 'webcam'"),
])
def test_an_environment_override_error_names_the_variable_not_the_file(tmp_path, name, value, message):
    path = write(tmp_path, "profile: latrax\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path, env={name: value})
    assert str(info.value).startswith("environment variable %s=%r: " % (name, value))
    assert "fix or unset %s" % name in str(info.value)


def test_command_line_overrides_are_checked_and_named(tmp_path):
    config = load_config(os.devnull, env={})
    with pytest.raises(ConfigError, match=r"^--profile: profile: unknown car profile 'latrx'"):
        config.with_overrides(source="--profile", profile="latrx")
    with pytest.raises(ConfigError, match=r"^create_camera: camera\.flip: expected one of"):
        config.with_overrides(source="create_camera", camera={"flip": "sideways"})
    assert config.with_overrides(source="--profile", profile="waveshare_ai").load_profile().name == "waveshare_ai"


def test_a_profile_problem_says_where_the_profile_was_chosen(tmp_path):
    profile = write(tmp_path, "name: broken\n", "broken.yaml")
    config = load_config(os.devnull, env={"JETRACER_PROFILE": profile})
    with pytest.raises(Exception, match=r"broken\.yaml.*from environment variable JETRACER_PROFILE") as info:
        config.load_profile()
    assert "\n" not in str(info.value)


def test_saving_refuses_what_the_schema_refuses_and_writes_nothing(tmp_path):
    path = write(tmp_path, "profile: latrax  # mine\n")
    with pytest.raises(ConfigError, match=r"display\.height: expected one of 32, 64"):
        save_user_settings({"display": {"height": 50}}, path)
    assert open(path).read() == "profile: latrax  # mine\n"
    save_user_settings({"display": {"height": 64}}, path)
    assert yaml.safe_load(open(path)) == {"profile": "latrax", "display": {"height": 64}}
    assert load_config(path, env={}).display._asdict() == {"height": 64, "i2c_address": 0x3C}


def test_the_display_at_a_motor_chips_address_is_refused_naming_both_devices(tmp_path):
    """Issue 17: the OLED at the servo/ESC board's address puts that PCA9685 to sleep at every refresh."""
    clash = write(tmp_path, "display: {i2c_address: 0x40}\n")
    with pytest.raises(ConfigError) as info:
        load_config(clash, env={})
    message = str(info.value)
    assert message.startswith("config file %s: display.i2c_address 0x40 is also the latrax profile's "
                              "steering/throttle PCA9685 on I2C bus 1" % clash), message
    assert "an SSD1306 is usually at 0x3C" in message and "\n" not in message
    # the same address on another profile's motor driver, from the environment or an option
    on_60 = write(tmp_path, "display: {i2c_address: 0x60}\n", "on60.yaml")
    assert load_config(on_60, env={}).display.i2c_address == 0x60  # latrax has no chip at 0x60
    with pytest.raises(ConfigError, match=r"^config file .*on60\.yaml: display\.i2c_address 0x60 is also the "
                                          r"waveshare_ai profile's throttle motor-driver PCA9685 on I2C bus 1"):
        load_config(on_60, env={"JETRACER_PROFILE": "waveshare_ai"})
    with pytest.raises(ConfigError, match=r"^config file .*on60\.yaml: display\.i2c_address 0x60 is also the "
                                          r"waveshare_ai profile's throttle"):
        load_config(on_60, env={}).with_overrides(source="--profile", profile="waveshare_ai")
    # the bus named is the one the display shares with the car
    with pytest.raises(ConfigError, match=r"steering/throttle PCA9685 on I2C bus 7"):
        load_config(write(tmp_path, "i2c_bus: 7\ndisplay: {i2c_address: 0x40}\n", "bus7.yaml"), env={})


def test_a_motor_chip_moved_onto_the_oled_or_the_all_call_address_is_refused(tmp_path):
    moved = write(tmp_path, "profile_overrides: {steering: {i2c_address: 0x3C}}\n")
    with pytest.raises(ConfigError, match=r"display\.i2c_address 0x3C is also the latrax profile's steering PCA9685 "
                                          r"on I2C bus 1.*give the chip its own address again \(steering\.i2c_address"):
        load_config(moved, env={})
    with pytest.raises(ConfigError, match=r"0x70 is the PCA9685 All Call address, which the waveshare_ai profile's "
                                          r"steering PCA9685 at 0x40 and the waveshare_ai profile's throttle "
                                          r"motor-driver PCA9685 at 0x60 also answer on I2C bus 1"):
        load_config(write(tmp_path, "profile: waveshare_ai\ndisplay: {i2c_address: 0x70}\n", "allcall.yaml"), env={})
    # servo and ESC on one PCA9685 (every shipped profile but waveshare_ai) and the OLED at 0x3D are fine
    fine = load_config(write(tmp_path, "display: {i2c_address: 0x3D}\n", "ok.yaml"), env={})
    assert fine.load_profile().name == "latrax" and fine.display.i2c_address == 0x3D


def test_saving_a_display_address_that_clashes_writes_nothing(tmp_path):
    path = write(tmp_path, "profile: latrax  # mine\n")
    with pytest.raises(ConfigError, match=r"not saved: display\.i2c_address 0x40 is also the latrax profile's"):
        save_user_settings({"display": {"i2c_address": 0x40}}, path)
    assert open(path).read() == "profile: latrax  # mine\n"


def test_the_simulator_is_built_from_the_config_one_way(tmp_path):
    """drive --sim, the sim camera and jetracer sim take seed, randomize, track, fps and size alike."""
    import argparse

    from jetracer.camera import create_camera
    from jetracer.cli.sim import _world_args
    from jetracer.sim_mode import build_world
    from jetracer.sim.world import SimWorld

    path = write(tmp_path, "sim: {track: twisty, seed: 7, randomize: false, fps: 15}\ncamera: {width: 96, height: 64}\n")
    config = load_config(path, env={})
    args = sim_world_args(config)
    assert (args["track"], args["seed"], args["randomize"], args["fps"], args["width"], args["height"]) == \
        ("twisty", 7, False, 15.0, 96, 64)
    cli = argparse.Namespace(track=None, track_seed=None, seed=None, fps=None, no_randomize=False)
    camera = create_camera(config.with_overrides(camera=config.camera._replace(source="sim")))
    worlds = [build_world(config), SimWorld(**_world_args(cli, config)), camera.world]
    try:
        frames = [w.render() for w in worlds]
        for world in worlds:
            assert (world.track.name, world.seed, world.randomize, world.fps) == ("twisty", 7, False, 15.0)
        assert [f.shape for f in frames] == [(64, 96, 3)] * 3
        assert all(np.array_equal(frames[0], f) for f in frames[1:])
        assert sim_world_args(config, seed=3, randomize=True)["seed"] == 3
    finally:
        camera.release()
        for world in worlds[:2]:
            world.close()


def test_every_schema_field_has_a_default_that_validates():
    from jetracer.profiles.schema import validate

    defaults = config_defaults()
    assert validate(defaults, CONFIG_SCHEMA) == []
    for section in (DRIVE, SIM, DISPLAY):
        for key, field in section.items():
            assert not field.required, key
