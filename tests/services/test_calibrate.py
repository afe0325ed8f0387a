"""Calibration on the emulated chips, driven by stdin: pulses seen on the channels, values saved and loaded by the car."""
import os
import subprocess
import sys

import pytest
import yaml

from jetracer.config import load_config
from jetracer.hardware.emulated import reset_shared_bus
from jetracer.services.calibrate import calibrate


def test_calibration_walkthrough_moves_the_servo_and_saves_pulses(monkeypatch, tmp_path):
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    monkeypatch.delenv("JETRACER_PROFILE", raising=False)
    path = str(tmp_path / "config.yaml")
    bus = reset_shared_bus()
    seen = []
    answers = iter(["+", "+", "",          # steering centre 1500 -> 1520
                    "1100", "",            # steering min
                    "--", "1900", "+", "",  # steering max 1910
                    "-", "",               # ESC neutral 1490
                    "1800", "",            # ESC forward
                    "1200", ""])           # ESC reverse

    def ask(prompt):
        seen.append(round(bus.chip(0x40).pulse_us(0 if len(seen) < 9 else 1)))
        return next(answers)

    result = calibrate(load_config(path, must_exist=False), ask=ask, say=lambda text: None, save_path=path)
    assert result == {"steering": {"center_us": 1520, "min_us": 1100, "max_us": 1910},
                      "throttle": {"center_us": 1490, "max_us": 1800, "min_us": 1200}}
    assert abs(seen[2] - 1520) <= 5 and abs(seen[4] - 1100) <= 5  # the servo really got the nudged pulses
    assert abs(bus.chip(0x40).pulse_us(1) - 1490) <= 5, "the ESC is left at the new neutral"
    saved = yaml.safe_load(open(path))
    assert saved["profile_overrides"]["throttle"]["center_us"] == 1490
    from jetracer.car import create_car

    car = create_car(load_config(path))
    assert abs(bus.chip(0x40).pulse_us(0) - 1520) <= 5, "the car starts on the calibrated centre"
    car.close()


def test_cli_abort_saves_nothing(tmp_path):
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=str(tmp_path / "config.yaml"))
    proc = subprocess.run([sys.executable, "-m", "jetracer", "calibrate"], input="+\nq\n", env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert proc.returncode == 1 and "aborted" in proc.stderr
    assert "Steering CENTRE" in proc.stdout
    assert not (tmp_path / "config.yaml").exists()


CONFIG_TEXT = """# my LaTrax, calibrated on the bench
profile: latrax          # the small one
profile_overrides:
  steering: {center_us: 1520, min_us: 1120, max_us: 1900}   # servo saver fitted
  throttle:
    center_us: 1490      # ESC trim
# the car's bus
i2c: emulated
"""


def run_cli(tmp_path, answers, config_path=None):
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=str(config_path or tmp_path / "config.yaml"))
    env.pop("JETRACER_PROFILE", None)
    return subprocess.run([sys.executable, "-m", "jetracer", "calibrate"], input="\n".join(answers) + "\n", env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def test_enter_through_every_step_keeps_the_calibration_and_the_comments(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG_TEXT)
    proc = run_cli(tmp_path, [""] * 6)
    assert proc.returncode == 0, proc.stderr
    saved = yaml.safe_load(path.read_text())["profile_overrides"]
    assert saved == {"steering": {"center_us": 1520, "min_us": 1120, "max_us": 1900},
                     "throttle": {"center_us": 1490, "min_us": 750, "max_us": 2250}}
    text = path.read_text()
    for comment in ("# my LaTrax, calibrated on the bench", "# the small one", "# servo saver fitted", "# ESC trim",
                    "# the car's bus"):
        assert comment in text
    assert text.startswith(CONFIG_TEXT.splitlines()[0]) and "i2c: emulated" in text


def test_extreme_answers_are_kept_inside_the_schema_with_a_margin(tmp_path):
    proc = run_cli(tmp_path, ["2500", "", "9999", "", "0", "", "600", "", "", ""])
    assert proc.returncode == 0, proc.stderr
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())["profile_overrides"]
    steering = saved["steering"]
    assert steering["center_us"] == 2400 and steering["max_us"] == 2500
    assert steering["min_us"] <= steering["center_us"] - 100
    assert saved["throttle"]["center_us"] == 600 and saved["throttle"]["min_us"] == 500
    assert saved["throttle"]["max_us"] >= 700
    load_config(str(tmp_path / "config.yaml")).load_profile()  # the car can load what was saved
    assert run_cli(tmp_path, ["q"]).returncode == 1, "calibrate itself still runs on the saved file"


def test_an_invalid_user_config_is_named_and_calibrate_repairs_it(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("profile: latrax\nprofile_overrides:\n  steering: {center_us: 2500}  # a typo\n")
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=str(path))
    neutral = subprocess.run([sys.executable, "-m", "jetracer", "drive", "--sim", "--model", "expert", "--duration", "1"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert neutral.returncode == 2 and str(path) in neutral.stderr and "latrax.yaml" not in neutral.stderr
    proc = run_cli(tmp_path, [""] * 6)
    assert proc.returncode == 0, proc.stderr
    assert "Starting from the latrax profile's shipped values" in proc.stdout
    saved = yaml.safe_load(path.read_text())["profile_overrides"]["steering"]
    assert saved == {"center_us": 1500, "min_us": 750, "max_us": 2250} and "# a typo" in path.read_text()


def test_a_symlinked_config_is_written_through_to_its_target(tmp_path):
    target_dir = tmp_path / "dotfiles"
    target_dir.mkdir()
    target = target_dir / "jetracer.yaml"
    target.write_text("profile: latrax  # shared\n")
    os.chmod(str(target), 0o640)
    link = tmp_path / "config.yaml"
    os.symlink(str(target), str(link))
    proc = run_cli(tmp_path, ["+", ""] + [""] * 5)
    assert proc.returncode == 0, proc.stderr
    assert os.path.islink(str(link)) and os.readlink(str(link)) == str(target)
    assert yaml.safe_load(target.read_text())["profile_overrides"]["steering"]["center_us"] == 1510
    assert "# shared" in target.read_text() and oct(os.stat(str(target)).st_mode & 0o777) == "0o640"


def test_save_refuses_a_config_the_car_cannot_load(tmp_path):
    from jetracer.config import ConfigError, save_user_settings

    path = tmp_path / "config.yaml"
    path.write_text("profile: latrax  # keep me\n")
    with pytest.raises(ConfigError, match="not saved.*min_us < center_us < max_us"):
        save_user_settings({"profile_overrides": {"steering": {"center_us": 2500}}}, str(path))
    assert path.read_text() == "profile: latrax  # keep me\n"


def test_emulated_neutral_still_works_with_an_invalid_calibration(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("profile: latrax\nprofile_overrides:\n  throttle: {center_us: 2500}\n")
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=str(path), JETRACER_RUNTIME_DIR=str(tmp_path))
    env.pop("JETRACER_STATE", None)
    proc = subprocess.run([sys.executable, "-m", "jetracer", "drive", "--neutral", "--json"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    import json
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert abs(report["outputs"]["throttle_pulse_us"] - 1500) < 5 and str(path) in report["warning"]
