"""Settings are validated once, where they enter, and handed down typed (tests/test_vocabularies.py: their words)."""
import inspect
import os

import pytest

from jetracer.config import ConfigError, load_config
from jetracer.config_schema import (CAMERA, CAMERA_SOURCES, CONFIG_SCHEMA, DRIVE, GAMEPAD_MAPPINGS, GAMEPAD_SCHEMA,
                                    SECTION_TYPES, GamepadMapping)


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_each_typed_section_has_exactly_its_schema_keys_and_no_defaults_of_its_own():
    for name, cls in SECTION_TYPES.items():
        assert cls._fields == tuple(CONFIG_SCHEMA[name].schema), name
        assert not cls._field_defaults, "%s: the defaults are the schema's" % cls.__name__
    keys = tuple(k for k in GAMEPAD_SCHEMA if k != "base")
    assert GamepadMapping._fields == keys and not GamepadMapping._field_defaults
    for name, mapping in GAMEPAD_MAPPINGS.items():
        assert tuple(mapping) == keys, name


def test_the_loop_and_the_law_take_no_default_that_the_schema_holds():
    from jetracer.driving.loop import DriveLoop
    from jetracer.steering_law import SteeringLaw

    loop_parameters = set(inspect.signature(DriveLoop.__init__).parameters)
    assert not loop_parameters & set(DRIVE), "DriveLoop reads these from its settings"
    law = inspect.signature(SteeringLaw.__init__).parameters.values()
    assert all(p.default is inspect.Parameter.empty for p in law)


def test_a_number_setting_written_as_an_integer_arrives_as_a_float(tmp_path):
    config = load_config(write(tmp_path, "drive: {throttle: 1, gamepad: {deadzone: 0}}\n"), env={})
    assert config.drive.throttle == 1.0 and isinstance(config.drive.throttle, float)
    assert isinstance(config.drive.gamepad.deadzone, float)
    assert isinstance(config.drive.self_check_frames, int)


def test_a_command_line_value_is_checked_once_and_keeps_the_section_s_other_keys(tmp_path):
    config = load_config(write(tmp_path, "drive: {throttle: 0.3, model: road.onnx}\n"), env={})
    manual = config.with_overrides(source="--model/--mode", drive={"mode": "manual", "model": None})
    assert (manual.drive.mode, manual.drive.throttle, manual.drive.model) == ("manual", 0.3, "road.onnx")
    assert manual.where("drive") == "--model/--mode" and config.drive.mode == "auto"
    with pytest.raises(ConfigError, match=r"^--model/--mode: drive\.mode: expected one of manual, auto-steer, auto"):
        config.with_overrides(source="--model/--mode", drive={"mode": "autopilot"})
    sim = config.with_overrides(camera=config.camera._replace(source="sim", width=96))
    assert (sim.camera.source, sim.camera.width, config.camera.source) == ("sim", 96, "csi")


def test_a_mapping_given_typed_passes_and_one_given_as_data_is_checked():
    from jetracer.driving.gamepad import GamepadMappingError, Teleop, gamepad_mapping

    mapping = load_config(os.devnull, env={}).drive.gamepad
    assert gamepad_mapping(mapping) is mapping and Teleop(mapping).mapping is mapping
    assert gamepad_mapping("standard-two-stick", deadzone=0.2) == GamepadMapping(
        **dict(GAMEPAD_MAPPINGS["standard-two-stick"], deadzone=0.2))
    with pytest.raises(GamepadMappingError, match=r"drive\.gamepad\.deadzone: expected a value in \[0\.0, 0\.5\]"):
        gamepad_mapping(mapping, deadzone=0.9)
    with pytest.raises(GamepadMappingError, match="did you mean standard"):
        gamepad_mapping("standart")


def test_every_camera_source_has_its_builder():
    from jetracer.camera.factory import BUILDERS

    assert set(BUILDERS) == set(CAMERA_SOURCES) == set(CAMERA["source"].choices)
