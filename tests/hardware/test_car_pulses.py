"""The configured car on the emulated bus: what a servo, an ESC or a motor driver would really receive."""
import os
import math
import time

import pytest
import traitlets

from jetracer.car import create_car
from jetracer.config import load_config
from jetracer.hardware import create_driver, open_i2c
from jetracer.hardware.emulated import reset_shared_bus
from jetracer.profiles import ProfileError, load_profile

STEERING, THROTTLE = 0, 1  # channels in the latrax and tamiya_tt02 profiles


@pytest.fixture
def bus():
    return reset_shared_bus()


def make_car(tmp_path, profile="latrax", **overrides):
    config = load_config(path=os.devnull, env={"JETRACER_I2C": "emulated", "JETRACER_PROFILE": profile})
    if overrides:
        config = config.with_overrides(profile_overrides=overrides)
    return create_car(config)


def tick_us(chip):
    return 1e6 / (chip.frequency_hz * 4096)


def expected_us(value, lo=750.0, center=1500.0, hi=2250.0):
    """The NVIDIA profiles map +-1 to ServoKit's 750-2250 us, as upstream."""
    return center + value * ((hi - center) if value >= 0 else (center - lo))


def assert_pulse(chip, channel, us):
    assert abs(chip.pulse_us(channel) - us) <= tick_us(chip) / 2 + 1e-9, (chip.pulse_us(channel), us)


@pytest.mark.parametrize("steering, throttle, gain, offset", [(0.3, 0.2, -0.65, 0.0), (-1.0, 0.5, 1.0, 0.1),
                                                              (1.0, -0.5, -0.65, -0.2), (0.0, 0.0, 0.5, 0.05)])
def test_pulse_widths_follow_command_gain_and_offset(bus, tmp_path, steering, throttle, gain, offset):
    car = make_car(tmp_path)
    car.steering_gain, car.steering_offset = gain, offset
    car.throttle_gain, car.throttle_offset = 0.8, offset
    car.steering, car.throttle = steering, throttle
    chip = bus.chip(0x40)
    assert chip.frequency_hz == pytest.approx(50.0, abs=0.05)
    assert_pulse(chip, STEERING, expected_us(max(-1, min(1, steering * gain + offset))))
    output = throttle * 0.8 + offset if throttle else 0.0
    output = max(-0.8, min(0.8, output))  # the profile's max_throttle caps the output
    assert_pulse(chip, THROTTLE, expected_us(output))
    car.close()


def test_car_starts_at_neutral_and_centre(bus, tmp_path):
    car = make_car(tmp_path)
    chip = bus.chip(0x40)
    assert not chip.asleep
    assert_pulse(chip, STEERING, 1500.0)
    assert_pulse(chip, THROTTLE, 1500.0)
    assert all(chip.duty(c) == 0.0 for c in range(2, 16))  # the other channels are left off
    car.close()


def test_stop_and_context_exit_put_the_esc_at_its_neutral_pulse(bus, tmp_path):
    chip = bus.chip(0x40)
    with make_car(tmp_path, throttle={"center_us": 1520}) as car:
        car.throttle = 0.4
        assert chip.pulse_us(THROTTLE) > 1600
        car.stop()
        assert_pulse(chip, THROTTLE, 1520.0)
        car.steering, car.throttle = 1.0, -0.3
        assert chip.pulse_us(THROTTLE) < 1500
    assert_pulse(chip, THROTTLE, 1520.0)
    assert_pulse(chip, STEERING, 1500.0)
    car.throttle = 0.5  # ignored after close
    assert_pulse(chip, THROTTLE, 1520.0)


def test_max_throttle_is_enforced_at_the_pulse(bus, tmp_path):
    car = make_car(tmp_path)
    car.throttle_gain = 1.0
    car.max_throttle = 0.25
    car.throttle = 1.0
    assert_pulse(bus.chip(0x40), THROTTLE, 1500 + 0.25 * 750)
    car.throttle = -1.0
    assert_pulse(bus.chip(0x40), THROTTLE, 1500 - 0.25 * 750)
    car.close()


@pytest.mark.parametrize("gain, offset, command", [(3.0, 0.0, 1.0), (3.0, 0.0, -1.0), (0.8, 0.9, 0.01),
                                                    (1.0, 0.5, 0.6), (-3.0, 0.0, -0.5)])
def test_the_throttle_limit_holds_after_gain_and_offset(bus, tmp_path, gain, offset, command):
    """Gain 3 or an offset of 0.9 used to reach full throttle (throttle 0.01 gave 1952 us); the cap is on the output."""
    car = make_car(tmp_path)
    car.throttle_gain, car.throttle_offset = gain, offset
    car.throttle = command
    pulse = bus.chip(0x40).pulse_us(THROTTLE)
    assert 1500 - 600 - tick_us(bus.chip(0x40)) <= pulse <= 1500 + 600 + tick_us(bus.chip(0x40))
    assert abs(car.throttle_output) <= 0.8
    car.close()


@pytest.mark.parametrize("command, offset", [(0.05, -0.2), (-0.05, 0.2), (0.3, -0.5)])
def test_an_offset_never_reverses_the_command(bus, tmp_path, command, offset):
    car = make_car(tmp_path)  # throttle_gain 0.8 > 0: + is forward
    car.throttle_offset = offset
    car.throttle = command
    assert_pulse(bus.chip(0x40), THROTTLE, 1500.0)  # neutral, not the other way
    assert car.throttle_output == 0.0
    car.throttle = 1.0 if command > 0 else -1.0  # a larger command passes the offset and moves the car its own way
    pulse = bus.chip(0x40).pulse_us(THROTTLE)
    assert (pulse - 1500) * command > 0
    car.close()


def test_nan_command_is_refused_and_the_pulse_is_unchanged(bus, tmp_path):
    car = make_car(tmp_path)
    car.steering, car.throttle = 0.5, 0.3
    chip = bus.chip(0x40)
    before = chip.pulse_us(STEERING), chip.pulse_us(THROTTLE)
    for name in ("steering", "throttle", "steering_gain", "throttle_offset"):
        with pytest.raises(traitlets.TraitError):
            setattr(car, name, float("nan"))
    assert (chip.pulse_us(STEERING), chip.pulse_us(THROTTLE)) == before
    with pytest.raises(ValueError):
        car.driver.set_steering(float("nan"))  # the driver refuses too, keeping the pulse
    assert chip.pulse_us(STEERING) == before[0]
    car.close()


def test_gain_change_moves_the_pulse_immediately(bus, tmp_path):
    car = make_car(tmp_path)
    car.steering = 0.5
    car.throttle = 0.4
    chip = bus.chip(0x40)
    assert_pulse(chip, STEERING, expected_us(-0.325))
    car.steering_gain = 1.0
    assert_pulse(chip, STEERING, expected_us(0.5))
    car.throttle_gain = 0.5
    assert_pulse(chip, THROTTLE, expected_us(0.2))
    car.close()


def test_servo_and_esc_share_one_chip_and_one_frequency(bus, tmp_path):
    car = make_car(tmp_path)
    assert car.driver.steering.pwm is car.driver.throttle.pwm
    car.close()
    with pytest.raises(ProfileError, match=r"0x40 .*50 Hz \(steering\) and 60 Hz \(throttle\)"):
        load_profile("latrax", {"throttle": {"pwm_frequency_hz": 60}})


def test_ticks_never_pass_the_calibrated_end_stops(bus, tmp_path):
    car = make_car(tmp_path, steering={"min_us": 1003, "max_us": 1997})
    chip = bus.chip(0x40)
    car.steering_gain = 1.0
    car.steering = 1.0
    assert 1997 - tick_us(chip) < chip.pulse_us(STEERING) <= 1997
    car.steering = -1.0
    assert 1003 <= chip.pulse_us(STEERING) < 1003 + tick_us(chip)
    car.close()


def test_waveshare_dc_motors_direction_pins_duty_and_brake(bus, tmp_path):
    car = make_car(tmp_path, profile="waveshare_ai")
    hat = bus.chip(0x60)
    assert hat.frequency_hz == pytest.approx(1525.9, abs=0.1)  # the chip's top rate for the 1600 Hz request
    motors = [(0, 1, 2), (7, 6, 5)]  # (pwm, in1, in2) from the profile
    forward, reverse = 4, 3  # the PWM pair upstream also drives
    for pwm, in1, in2 in motors:  # neutral at start: speed 0, IN2 high (brake), as upstream at throttle 0
        assert hat.duty(pwm) == 0.0 and hat.is_full_off(in1) and hat.is_full_on(in2)
    assert hat.duty(forward) == 0.0 and hat.duty(reverse) == 0.0
    car.throttle_gain = 1.0
    car.throttle = 0.4
    for pwm, in1, in2 in motors:
        assert hat.duty(pwm) == pytest.approx(0.4, abs=1 / 4096.0)
        assert hat.is_full_on(in1) and hat.is_full_off(in2)
    assert hat.duty(forward) == pytest.approx(0.4, abs=1 / 4096.0) and hat.duty(reverse) == 0.0
    car.throttle = -0.25
    for pwm, in1, in2 in motors:
        assert hat.duty(pwm) == pytest.approx(0.25, abs=1 / 4096.0)
        assert hat.is_full_off(in1) and hat.is_full_on(in2)
    assert hat.duty(reverse) == pytest.approx(0.25, abs=1 / 4096.0) and hat.duty(forward) == 0.0
    car.throttle = 1.0
    assert all(hat.duty(pwm) == pytest.approx(0.8, abs=1 / 4096.0) for pwm, _, _ in motors)  # max_throttle 0.8
    car.steering = 0.5  # the steering servo is still on the 0x40 PCA9685 at 50 Hz
    assert_pulse(bus.chip(0x40), STEERING, expected_us(0.5 * -0.65))
    car.stop()
    for pwm, in1, in2 in motors:
        assert hat.duty(pwm) == 0.0 and hat.is_full_off(in1) and hat.is_full_on(in2)
    assert hat.duty(forward) == 0.0 and hat.duty(reverse) == 0.0
    car.close()


def test_a_coasting_motor_releases_both_inputs(bus, tmp_path):
    motors = [{"pwm_channel": 0, "in1_channel": 1, "in2_channel": 2, "neutral": "coast"}]
    car = make_car(tmp_path, profile="waveshare_ai", throttle={"motors": motors, "pwm_pairs": []})
    hat = bus.chip(0x60)
    car.throttle = 0.5
    assert hat.is_full_on(1) and hat.duty(0) > 0.3
    car.throttle = 0.0
    assert hat.duty(0) == 0.0 and hat.is_full_off(1) and hat.is_full_off(2)
    assert all(hat.duty(c) == 0.0 for c in range(3, 16))  # the channels the profile does not name stay off
    car.close()


def test_command_watchdog_returns_the_esc_to_neutral(bus, tmp_path):
    car = make_car(tmp_path)
    car.command_timeout_s = 0.05
    car.throttle = 0.4
    chip = bus.chip(0x40)
    assert chip.pulse_us(THROTTLE) > 1600
    deadline = time.monotonic() + 2.0
    while abs(chip.pulse_us(THROTTLE) - 1500) > tick_us(chip) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert_pulse(chip, THROTTLE, 1500.0)
    assert "no throttle command" in car.stop_reason
    car.close()


def test_estop_latches_neutral_at_the_pulse(bus, tmp_path):
    car = make_car(tmp_path)
    car.throttle = 0.4
    chip = bus.chip(0x40)
    car.estop("test")
    assert_pulse(chip, THROTTLE, 1500.0)
    car.throttle = 0.5
    assert_pulse(chip, THROTTLE, 1500.0)
    car.steering = 1.0  # steering still works, to steer clear while stopped
    assert_pulse(chip, STEERING, expected_us(-0.65))
    car.release_estop()
    car.throttle = 0.5
    assert_pulse(chip, THROTTLE, expected_us(0.4))
    car.close()


def test_upstream_basic_motion_cells(bus, tmp_path, monkeypatch):
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    monkeypatch.setenv("JETRACER_CONFIG", os.devnull)
    monkeypatch.delenv("JETRACER_PROFILE", raising=False)
    from jetracer.nvidia_racecar import NvidiaRacecar

    car = NvidiaRacecar()
    car.steering = 0.3
    car.throttle_gain = 0.5
    car.throttle = 0.2
    chip = bus.chip(0x40)
    assert_pulse(chip, STEERING, expected_us(0.3 * -0.65))
    assert_pulse(chip, THROTTLE, expected_us(0.1))
    car.throttle = 0.0
    assert_pulse(chip, THROTTLE, 1500.0)
    car.close()
    assert math.isclose(chip.frequency_hz, 50.0, abs_tol=0.05)


@pytest.mark.parametrize("profile, wire", [("latrax", "pulses 898-2098 us on channel 1 (neutral 1500 us, full travel 750-2250 us)"),
                                           ("waveshare_ai", "motor duty at most 80.0% (3277/4096) on channels 0, 3, 4, 7 at 1526 Hz")])
def test_a_car_logs_its_throttle_limit_once_when_created(bus, tmp_path, caplog, profile, wire):
    import logging

    with caplog.at_level(logging.INFO, logger="jetracer.car"):
        car = make_car(tmp_path, profile=profile)
        car.throttle = 0.5
        car.max_throttle = 0.8
    records = [r.getMessage() for r in caplog.records if "throttle output limited" in r.getMessage()]
    assert records == ["car profile %s: throttle output limited to |0.80| of full travel: %s" % (profile, wire)]
    car.close()
