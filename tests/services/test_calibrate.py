"""Calibration on the emulated chips, driven by stdin: pulses seen on the channels, values saved and loaded by the car."""
import os
import subprocess
import sys

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

    result = calibrate(load_config(path), ask=ask, say=lambda text: None, save_path=path)
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
