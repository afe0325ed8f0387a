"""The guided calibration, driven by scripted answers and checked at the wire of the emulated chips.

The answers are what a person would type; the pulses are what the emulated PCA9685s put out while each
question waits, and what the car built from the saved config puts out afterwards.
"""
import os
import subprocess
import sys

import pytest
import yaml

from jetracer.car import create_car
from jetracer.config import load_config
from jetracer.hardware.emulated import reset_shared_bus
from jetracer.profiles import ProfileError, load_profile
from jetracer.services.calibrate import CalibrationAborted
from jetracer.services.guided_calibration import guided_calibrate

TICK_US = 1e6 / (50.03 * 4096)  # one 12-bit count of the 50 Hz PCA9685
FAST = dict(blip_s=0.01, arm_s=0.0, hold_s=0.01)

# latrax, wheels off the ground, a person who confirms what the wheels do
STEERING = ["+", "+", "",        # centre 1500 -> 1520
            "1100", "",          # one end (min_us)
            "1900", ""]          # other end (max_us)
LEFT_RIGHT = ["y", "y"]          # steering -1 turned left, +1 right
ESC = ["y",                      # armed
       "-", ""]                  # neutral 1500 -> 1490: the wheels stop creeping
LIMIT = [""]                     # max_throttle: Enter keeps 0.80
FORWARD = ["y"]                  # the small forward pulse spun the wheels forward
REVERSE = ["y"]                  # the reverse pulse after it spun them backward: direct
ENDS = ["--", "--", "",          # backward end 1490 -> 1390
        "++", "++", ""]          # forward end 1490 -> 1590
PATTERN = ["y"]
ALL = STEERING + LEFT_RIGHT + ESC + LIMIT + FORWARD + REVERSE + ENDS + PATTERN


class Run(object):
    """``guided_calibrate`` on this process's emulated chips; what was said, asked and on the wire, in order."""

    def __init__(self, monkeypatch, tmp_path, config_text="profile: latrax\n"):
        monkeypatch.setenv("JETRACER_I2C", "emulated")
        monkeypatch.delenv("JETRACER_PROFILE", raising=False)
        monkeypatch.delenv("JETRACER_EMULATED_BUS", raising=False)
        self.path = tmp_path / "config.yaml"
        self.path.write_text(config_text)
        self.bus = reset_shared_bus()
        self.chip = self.bus.chip(0x40)
        self.events = []  # ("wire", steering us, esc us) | ("say", text) | ("ask", prompt, answer, steering us, esc us)
        self.chip.listeners.append(lambda chip: self.events.append(("wire", chip.pulse_us(0), chip.pulse_us(1))))

    def __call__(self, answers, **kwargs):
        answers = iter(answers)

        def ask(prompt):
            answer = next(answers)
            self.events.append(("ask", str(prompt), answer, self.chip.pulse_us(0), self.chip.pulse_us(1)))
            return answer

        options = dict(FAST, save_path=str(self.path))
        options.update(kwargs)
        return guided_calibrate(self.config(), ask=ask, say=lambda text: self.events.append(("say", text)), **options)

    def config(self):
        return load_config(str(self.path))

    def saved(self):
        return yaml.safe_load(self.path.read_text())["profile_overrides"]

    def asked(self, needle):
        """(steering us, ESC us) on the wire while each question containing ``needle`` waited."""
        return [(e[3], e[4]) for e in self.events if e[0] == "ask" and needle in e[1]]

    def said_at(self, needle):
        return [i for i, e in enumerate(self.events) if e[0] == "say" and needle in e[1]][0]

    def esc_between(self, start, end=None):
        """ESC pulses put on the wire after the first thing said containing ``start`` (and before ``end``)."""
        events = self.events[self.said_at(start):self.said_at(end) if end else None]
        return [e[2] for e in events if e[0] == "wire" and e[2] > 0]

    def esc_after(self, needle):
        return self.esc_between(needle)

    def car(self):
        return create_car(self.config())


def near(a, b):
    return abs(a - b) <= TICK_US


def test_the_saved_config_reproduces_the_confirmed_pulses(monkeypatch, tmp_path):
    run = Run(monkeypatch, tmp_path)
    result = run(ALL)
    assert result["confirmed"] is True
    assert run.saved() == {"steering": {"center_us": 1520, "min_us": 1100, "max_us": 1900},
                           "car": {"steering_gain": -0.65, "max_throttle": 0.8, "throttle_gain": 0.8},
                           "throttle": {"center_us": 1490, "reverse": "direct", "min_us": 1390, "max_us": 1590}}
    centre_ok = run.asked("pulse 1520 us (Enter = ok)")[-1]
    left = run.asked("Did the wheels turn LEFT?")[-1]
    neutral_ok = run.asked("pulse 1490 us (Enter = ok)")[0]
    assert near(centre_ok[0], 1520) and near(neutral_ok[1], 1490), "the confirmed pulses were on the wire"
    assert left[0] > 1520 + 200, "LEFT is a longer pulse on the LaTrax (steering_gain -0.65)"

    car = run.car()
    assert near(run.chip.pulse_us(0), centre_ok[0]) and near(run.chip.pulse_us(1), neutral_ok[1])
    car.steering = -1.0
    assert near(run.chip.pulse_us(0), left[0]), "steering -1 is the pulse the person saw turn the wheels left"
    car.steering_gain = 1.0
    assert near(run.chip.pulse_us(0), 1100)
    car.steering = 1.0
    assert near(run.chip.pulse_us(0), 1900)
    car.max_throttle = 1.0
    car.throttle_gain = 1.0
    car.throttle = 1.0
    assert near(run.chip.pulse_us(1), 1590)
    car.throttle = -1.0
    assert near(run.chip.pulse_us(1), 1390)
    car.close()
    assert near(run.chip.pulse_us(1), 1490), "and stops at the confirmed neutral"


def test_a_no_at_the_steering_question_flips_the_steering_sign(monkeypatch, tmp_path):
    run = Run(monkeypatch, tmp_path)
    car = run.car()
    car.steering = 0.5
    before = run.chip.pulse_us(0) - 1500
    car.close()
    run(["", "", ""] + ["n", "y", "y"] + ESC + LIMIT + FORWARD + REVERSE + ["", ""] + PATTERN)
    first, second = run.asked("Did the wheels turn LEFT?")
    assert (first[0] - 1500) * (second[0] - 1500) < 0, "after the no, 'left' is a pulse on the other side"
    assert run.saved()["car"]["steering_gain"] == 0.65
    car = run.car()
    car.steering = 0.5
    after = run.chip.pulse_us(0) - 1500
    car.close()
    assert before < -100 and after > 100, "car.steering = 0.5 now moves the pulse the other way (%.0f, %.0f)" % (
        before, after)


def test_a_no_at_the_throttle_direction_question_flips_the_throttle_sign(monkeypatch, tmp_path):
    run = Run(monkeypatch, tmp_path)
    car = run.car()
    car.throttle = 0.2
    before = run.chip.pulse_us(1) - 1500
    car.close()
    run(["", "", ""] + LEFT_RIGHT + ["y", ""] + LIMIT + ["n", "y"] + REVERSE + ["", ""] + PATTERN)
    assert run.saved()["car"]["throttle_gain"] == -0.8
    blips = run.esc_between("Throttle DIRECTION", "ESC REVERSE")
    assert max(blips) > 1600 and min(blips) < 1400, "the check after the no sent the other pulse"
    car = run.car()
    car.throttle = 0.2
    after = run.chip.pulse_us(1) - 1500
    car.close()
    assert before > 100 and after < -100, "car.throttle = 0.2 now moves the pulse the other way (%.0f, %.0f)" % (
        before, after)


def test_the_throttle_limit_holds_every_pulse_after_it_and_the_test_pattern(monkeypatch, tmp_path):
    run = Run(monkeypatch, tmp_path)
    run(["", "", ""] + LEFT_RIGHT + ["y", ""] + ["1.5", "abc", "0.1"] + FORWARD + ["n", "y"] + ["", ""] + PATTERN)
    saved = run.saved()
    assert saved["car"]["max_throttle"] == 0.1 and saved["throttle"]["reverse"] == "double-tap"
    cap_hi, cap_lo = 1500 + 0.1 * 750, 1500 - 0.1 * 750
    after = run.esc_after("saved car.max_throttle")
    assert after and all(cap_lo - TICK_US <= t <= cap_hi + TICK_US for t in after), (min(after), max(after))
    pattern = run.esc_after("TEST PATTERN")
    assert near(max(pattern), cap_hi), "the pattern's forward blip went to the cap, not past it"
    assert min(pattern) >= 1500 - TICK_US, "the pattern never reversed"
    assert near(run.chip.pulse_us(1), 1500), "and ended at neutral"
    steering = [e[1] for e in run.events[run.said_at("TEST PATTERN"):] if e[0] == "wire" and e[1] > 0]
    assert near(max(steering), 1500 + 0.65 * 750) and near(min(steering), 1500 - 0.65 * 750)
    assert near(run.chip.pulse_us(0), 1500)
    assert any("type a number from 0 to 1" in e[1] for e in run.events if e[0] == "say")


def test_each_confirmed_step_stays_saved_when_the_person_quits_later(monkeypatch, tmp_path):
    run = Run(monkeypatch, tmp_path, config_text="profile: latrax  # my car\n")
    with pytest.raises(CalibrationAborted) as aborted:
        run(STEERING + LEFT_RIGHT + ESC + ["q"])
    message = str(aborted.value)
    assert "calibration aborted; kept what was confirmed (steering.center_us" in message and str(run.path) in message
    assert run.saved() == {"steering": {"center_us": 1520, "min_us": 1100, "max_us": 1900},
                           "car": {"steering_gain": -0.65}, "throttle": {"center_us": 1490}}
    assert "# my car" in run.path.read_text()
    assert near(run.chip.pulse_us(0), 1520) and near(run.chip.pulse_us(1), 1490), "outputs left at the new centres"
    create_car(run.config()).close()  # what was kept is a config the car loads


def test_a_centre_saved_alone_moves_a_saved_end_point_only_as_far_as_it_must(monkeypatch, tmp_path):
    run = Run(monkeypatch, tmp_path)
    with pytest.raises(CalibrationAborted):
        run(["2200", "", "q"])
    assert run.saved() == {"steering": {"center_us": 2200, "max_us": 2300}}
    assert any("steering.max_us moves to 2300 us" in e[1] for e in run.events if e[0] == "say")


def test_a_broken_calibration_is_replaced_at_the_first_confirmed_step(monkeypatch, tmp_path):
    run = Run(monkeypatch, tmp_path, config_text="profile: latrax\nprofile_overrides:\n  throttle: {center_us: 2500}\n")
    with pytest.raises(CalibrationAborted):
        run(["", "q"])
    assert run.saved() == {"throttle": {"center_us": 1500}, "steering": {"center_us": 1500}}
    assert any("Starting from the latrax profile's shipped values" in e[1] for e in run.events if e[0] == "say")


def test_dc_motor_kit_checks_each_motor_and_a_no_swaps_its_direction_inputs(monkeypatch, tmp_path):
    run = Run(monkeypatch, tmp_path, config_text="profile: waveshare_ai\n")
    hat = run.bus.chip(0x60)
    duties = []
    hat.listeners.append(lambda chip: duties.append(max(chip.duty(c) for c in (0, 7, 3, 4))))
    result = run(["", "", ""] + LEFT_RIGHT + LIMIT + ["y"] + ["n", "y"] + ["y"] + ["s"] + PATTERN)
    assert result["confirmed"] is True
    saved = run.saved()
    assert saved["throttle"] == {"motors": [{"pwm_channel": 0, "in1_channel": 2, "in2_channel": 1, "neutral": "brake"},
                                            {"pwm_channel": 7, "in1_channel": 6, "in2_channel": 5, "neutral": "brake"}]}
    assert max(duties) <= 0.2 + 1 / 4096.0, "the checks and the pattern spin the motors slowly"
    assert any("Nothing moved" in e[1] for e in run.events if e[0] == "say")
    car = run.car()
    car.throttle = 0.3
    assert hat.is_full_on(2) and hat.is_full_off(1), "motor 1 forward now drives its other input"
    assert hat.is_full_on(6) and hat.is_full_off(5), "motor 2 unchanged"
    assert hat.duty(0) == pytest.approx(0.24, abs=1 / 4096.0)
    car.close()
    assert hat.duty(0) == 0.0 and hat.duty(7) == 0.0


def test_the_esc_reverse_sequence_is_profile_data_the_schema_checks():
    profile = load_profile("latrax", {"throttle": {"reverse": "double-tap"}})
    assert profile.throttle.reverse == "double-tap"
    with pytest.raises(ProfileError, match="throttle.reverse: expected one of direct, double-tap, none"):
        load_profile("latrax", {"throttle": {"reverse": "sometimes"}})
    with pytest.raises(ProfileError, match="steering.reverse: unknown key"):
        load_profile("latrax", {"steering": {"reverse": "direct"}})
    with pytest.raises(ProfileError, match="throttle.reverse: unknown key"):
        load_profile("waveshare_ai", {"throttle": {"reverse": "direct"}})


def cli(config_path, answers, *options):
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=str(config_path))
    env.pop("JETRACER_PROFILE", None)
    env.pop("JETRACER_EMULATED_BUS", None)
    return subprocess.run([sys.executable, "-m", "jetracer", "calibrate"] + list(options),
                          input="".join(a + "\n" for a in answers), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120)


# a person who flips the steering, types pulses, is refused a value, sees an ESC that brakes first
WIDGET_ANSWERS = (["++", "-", "", "1000", "", "2000", "", "n", "y", "y", "y", "-", "", "0.6", "y", "n", "y"] +
                  ["--", "--", "--", "", "++", "++", "+", ""] + PATTERN)


def test_the_widget_with_button_clicks_saves_what_the_terminal_saves(monkeypatch, tmp_path):
    from jetracer.notebook.calibration import CalibrationPanel

    text = "profile: latrax  # bench car\ni2c: emulated\n"
    terminal = tmp_path / "terminal.yaml"
    terminal.write_text(text)
    proc = cli(terminal, WIDGET_ANSWERS)
    assert proc.returncode == 0, proc.stderr
    assert "Did the wheels turn LEFT?" in proc.stdout and "Calibration complete" in proc.stdout

    run = Run(monkeypatch, tmp_path, config_text=text)
    panel = CalibrationPanel(run.config(), save_path=str(run.path), **FAST)
    panel.start()
    clicked = []
    for answer in WIDGET_ANSWERS:
        assert panel.running
        clicked.append(answer in panel.choices)
        panel.press(answer)
    assert not panel.running and panel.error is None and panel.result["confirmed"] is True
    assert all(clicked[:3]) and not clicked[3], "nudges are buttons, a typed pulse goes through the Send box"
    assert yaml.safe_load(run.path.read_text()) == yaml.safe_load(terminal.read_text())
    assert run.saved()["car"]["steering_gain"] == 0.65 and run.saved()["throttle"]["reverse"] == "double-tap"
    assert near(run.chip.pulse_us(1), run.saved()["throttle"]["center_us"])


def test_the_widget_quit_button_leaves_neutral_and_keeps_the_confirmed_steps(monkeypatch, tmp_path):
    from jetracer.notebook.calibration import CalibrationPanel

    run = Run(monkeypatch, tmp_path)
    panel = CalibrationPanel(run.config(), save_path=str(run.path), **FAST)
    panel.start()
    for answer in ["+", "", "", ""]:
        panel.press(answer)
    assert "Did the wheels turn LEFT?" in panel.question.value and panel.choices == ("y", "n", "s", "r")
    assert near(run.chip.pulse_us(0), 1510 + 0.65 * 740), "the wheels are turned left while the question waits"
    panel.quit_button.click()
    assert not panel.running and "kept what was confirmed (steering.center_us" in panel.error
    assert near(run.chip.pulse_us(0), 1510) and near(run.chip.pulse_us(1), 1500)
    assert run.saved() == {"steering": {"center_us": 1510, "min_us": 750, "max_us": 2250}}
    assert "Stopped:" in panel.question.value


def test_cli_input_that_ends_keeps_the_confirmed_steps_in_one_line(tmp_path):
    path = tmp_path / "config.yaml"
    proc = cli(path, STEERING + ["y"])
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "input ended; kept what was confirmed (steering.center_us, steering.min_us, steering.max_us)" in proc.stderr
    assert yaml.safe_load(path.read_text())["profile_overrides"] == {
        "steering": {"center_us": 1520, "min_us": 1100, "max_us": 1900}}


def test_cli_a_test_pattern_not_confirmed_fails_in_one_line_and_keeps_the_steps(tmp_path):
    path = tmp_path / "config.yaml"
    proc = cli(path, ["", "", ""] + LEFT_RIGHT + ["n"], "--steering-only")
    errors = [line for line in proc.stderr.splitlines() if not line.startswith("INFO ")]  # the car logs its limit
    assert proc.returncode == 1 and len(errors) == 1 and "the test pattern was not confirmed" in errors[0]
    assert "ESC" not in proc.stdout, "--steering-only leaves the ESC out"
    assert yaml.safe_load(path.read_text())["profile_overrides"]["car"] == {"steering_gain": -0.65}


def test_a_second_panel_in_the_same_kernel_first_stops_the_one_under_way(monkeypatch, tmp_path):
    from jetracer.notebook.calibration import CalibrationPanel

    run = Run(monkeypatch, tmp_path)
    first = CalibrationPanel(run.config(), save_path=str(run.path), **FAST)
    first.start()
    first.press("++")
    assert near(run.chip.pulse_us(0), 1550)
    second = CalibrationPanel(run.config(), save_path=str(run.path), **FAST)  # the cell run again
    second.start()
    assert not first.running and "calibration aborted; nothing saved" in first.error
    assert second.running and near(run.chip.pulse_us(0), 1500), "the new panel starts from the saved centre"
    second.close()
    assert not second.running and not (tmp_path / "config.yaml").read_text().count("profile_overrides")
