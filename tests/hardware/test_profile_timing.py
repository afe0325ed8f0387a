"""At every PWM frequency a profile may ask for, full commands give the promised end pulses on the chip,
and a profile whose pulses do not fit the period the chip really runs at is refused before it drives."""
import pytest

from jetracer.hardware import create_driver
from jetracer.hardware.emulated import EmulatedBus, PCA9685, make_bus
from jetracer.hardware.i2c import EmulatedI2C
from jetracer.hardware.pca9685_servo import PulseOutput
from jetracer.hardware.timing import realised_frequency_hz
from jetracer.profiles import ProfileError, deep_merge, load_profile, profile_from_mapping

LATRAX = load_profile("latrax").to_dict()


def pulse_profile(frequency_hz, lo, mid, hi):
    section = {"pwm_frequency_hz": frequency_hz, "min_us": lo, "center_us": mid, "max_us": hi}
    return profile_from_mapping(deep_merge(LATRAX, {"steering": section, "throttle": section}))


def assert_full_range(chip, output, channel):
    tick = 1e6 / (chip.frequency_hz * 4096)
    for value, promised in ((-1.0, output.min_us), (0.0, output.center_us), (1.0, output.max_us)):
        output.set(value)
        pulse = chip.pulse_us(channel)
        assert output.min_us <= pulse <= output.max_us, (chip.frequency_hz, value, pulse)
        assert abs(pulse - promised) <= (tick / 2 if value == 0.0 else tick) + 1e-9, (chip.frequency_hz, value, pulse)


def outputs(pwm, profile):
    return [PulseOutput(pwm, s.channel, s.min_us, s.center_us, s.max_us) for s in (profile.steering, profile.throttle)]


def test_full_range_pulses_at_every_allowed_servo_frequency():
    bus = EmulatedBus()
    bus.attach(0x40, PCA9685())
    chip = bus.chip(0x40)
    pwm = create_driver(pulse_profile(50, 750, 1500, 2250), EmulatedI2C(bus)).steering.pwm
    refused = []
    for frequency in range(40, 401):
        profile = pulse_profile(frequency, 750, 1500, 2250)
        pwm.setPWMFreq(frequency)  # what the driver does with the profile's frequency
        assert chip.frequency_hz == pytest.approx(realised_frequency_hz(frequency))  # what the schema predicts
        for channel, output in enumerate(outputs(pwm, profile)):
            assert_full_range(chip, output, channel)
        try:
            wide = pulse_profile(frequency, 500, 1500, 2500)
        except ProfileError as e:
            assert "steering.max_us 2500 does not fit the PWM period" in str(e)
            assert 1e6 / chip.frequency_hz <= 2500 + 1e6 / (chip.frequency_hz * 4096)
            refused.append(frequency)
            continue
        for channel, output in enumerate(outputs(pwm, wide)):
            assert_full_range(chip, output, channel)
    assert refused == list(range(394, 401))  # from 394 Hz the chip runs at 406.9 Hz: a 2457.6 us period


def test_motor_driver_frequencies_are_what_the_chip_runs_at():
    bus = make_bus()
    for frequency in (24, 100, 500, 1000, 1526, 1600):
        profile = load_profile("waveshare_ai", {"throttle": {"pwm_frequency_hz": frequency}})
        driver = create_driver(profile, EmulatedI2C(bus))
        assert bus.chip(0x60).frequency_hz == pytest.approx(realised_frequency_hz(frequency))
        driver.throttle.set(0.5)
        assert bus.chip(0x60).duty(0) == pytest.approx(0.5, abs=1 / 4096.0)
