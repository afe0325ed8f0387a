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


def run_cli(tmp_path, answers, config_path=None, options=("--pulses-only",)):
    """``jetracer calibrate`` with ``answers`` on stdin; by default the centre and end-point pulses only (issue 17's
    walk-through: ``jetracer calibrate`` itself is the guided calibration since issue 21)."""
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=str(config_path or tmp_path / "config.yaml"))
    env.pop("JETRACER_PROFILE", None)
    return subprocess.run([sys.executable, "-m", "jetracer", "calibrate"] + list(options),
                          input="\n".join(answers) + "\n", env=env,
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
    # 600 us as the ESC's neutral is past the throttle limit (898-2098 us): it is sent only once confirmed (y)
    proc = run_cli(tmp_path, ["2500", "", "9999", "", "0", "", "600", "y", "", "", ""])
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


def record_writes(bus):
    """Every (steering us, ESC us) the PCA9685 at 0x40 outputs, as its outputs change."""
    seen = []
    bus.chip(0x40).listeners.append(lambda chip: seen.append((chip.pulse_us(0), chip.pulse_us(1))))
    return seen


def calibrate_in_process(monkeypatch, tmp_path, answers, config_text=CONFIG_TEXT):
    """``calibrate`` on this process's emulated chips, answers fed in order; (result, writes, what it said)."""
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    monkeypatch.delenv("JETRACER_PROFILE", raising=False)
    monkeypatch.delenv("JETRACER_EMULATED_BUS", raising=False)
    path = tmp_path / "config.yaml"
    path.write_text(config_text)
    bus = reset_shared_bus()
    seen = record_writes(bus)
    said = []
    answers = iter(answers)
    result = calibrate(load_config(str(path)), ask=lambda prompt: next(answers), say=said.append, save_path=str(path))
    return result, seen, said


# latrax, max_throttle 0.8, CONFIG_TEXT's ESC neutral 1490: the car may send 1490 +/- 0.8 * (2250 - 1490 | 1490 - 750)
CAP_FORWARD_US, CAP_REVERSE_US = 1490 + 0.8 * 760, 1490 - 0.8 * 740
TICK_US = 1e6 / (50.03 * 4096)


def test_enter_through_every_step_never_puts_a_pulse_past_the_cap_on_the_esc(monkeypatch, tmp_path):
    result, seen, said = calibrate_in_process(monkeypatch, tmp_path, [""] * 6)
    assert result == {"steering": {"center_us": 1520, "min_us": 1120, "max_us": 1900},
                      "throttle": {"center_us": 1490, "min_us": 750, "max_us": 2250}}, "the saved values are kept"
    esc = [t for _, t in seen if t > 0]
    assert esc and all(abs(t - 1490) <= TICK_US for t in esc), "Enter at each step keeps the ESC at neutral"
    steering = [s for s, _ in seen if s > 0]
    assert all(abs(s - 1520) <= TICK_US for s in steering), "and the servo at its centre"
    assert any("max_throttle 0.80: 898-2098 us" in text for text in said), "the person is told the limit"


def test_nudges_stop_at_the_cap_and_only_a_typed_confirmed_pulse_goes_past_it(monkeypatch, tmp_path):
    # steering and ESC neutral kept; forward and reverse nudged until the cap stops them, saved there
    answers = [""] * 4 + ["++"] * 20 + [""] + ["--"] * 20 + [""]
    result, seen, said = calibrate_in_process(monkeypatch, tmp_path, answers)
    esc = [t for _, t in seen if t > 0]
    assert max(esc) <= CAP_FORWARD_US + TICK_US and min(esc) >= CAP_REVERSE_US - TICK_US
    assert abs(max(esc) - CAP_FORWARD_US) <= TICK_US and abs(min(esc) - CAP_REVERSE_US) <= TICK_US
    assert abs(result["throttle"]["max_us"] - CAP_FORWARD_US) <= 5 and abs(result["throttle"]["min_us"] - CAP_REVERSE_US) <= 5
    assert any("the throttle limit stops here" in text for text in said)
    away = [(a, b) for a, b in zip(esc, esc[1:]) if abs(b - 1490) > abs(a - 1490) + TICK_US / 2]
    assert away and all(abs(b - a) <= 50 + TICK_US for a, b in away), "away from neutral only in nudges of <= 50 us"

    # forward: a typed 2200 refused (n), typed again and confirmed (y); a nudge past it stops, one back is taken
    answers = [""] * 4 + ["2200", "n", "2200", "y", "+", "-", ""] + [""]
    result, seen, said = calibrate_in_process(monkeypatch, tmp_path, answers)
    esc = [t for _, t in seen if t > 0]
    assert abs(max(esc) - 2200) <= TICK_US, "the confirmed 2200 us reached the ESC, and no nudge went past it"
    assert result["throttle"]["max_us"] == 2190
    assert said.count("  the throttle limit stops here (max_throttle 0.80: 898-2098 us); type a pulse to go past it") == 1
    before_yes = esc[:[i for i, t in enumerate(esc) if t > CAP_FORWARD_US + TICK_US][0]]
    assert len([t for t in before_yes if t > 1490 + TICK_US]) == 0, "the refused 2200 (n) was never sent"
    assert result["throttle"]["min_us"] == 750 and min(esc) >= 1490 - TICK_US, "reverse kept without being sent"
