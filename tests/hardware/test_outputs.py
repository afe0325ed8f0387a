"""The output classes registered by the profile's ``driver:`` name, judged on what the emulated chip really holds.

Every shipped profile's car is built on its own emulated bus; its throttle is driven forward, backward and
to neutral, and after each command the chip's channels (read off the chip model, as an oscilloscope
would) are judged by the output's one neutral rule, through the instance and through the profile section.
"""
import pytest

from jetracer.hardware import DRIVERS, create_driver
from jetracer.hardware.base import DRIVING, NEUTRAL, OTHER, Output
from jetracer.hardware.emulated import make_bus
from jetracer.hardware.i2c import EmulatedI2C
from jetracer.hardware.outputs import OUTPUTS
from jetracer.profiles import available_profiles, load_profile
from jetracer.profiles.schema import SCHEMA

LED0_ON_L = 0x06


def car_on_own_bus(name):
    bus = make_bus()
    profile = load_profile(name)
    return profile, bus, create_driver(profile, EmulatedI2C(bus))


def judged(kind, section, chip):
    """``(state, off)`` of ``section``'s channels on ``chip`` now, by the class's rule."""
    return kind.state_of(section, kind.read_back_of(section, chip.duties(), chip.frequency_hz), chip.frequency_hz)


def test_the_registry_names_every_driver_the_profile_schema_accepts_and_no_other():
    schema_kinds = set(SCHEMA["steering"].variants) | set(SCHEMA["throttle"].variants)
    assert set(OUTPUTS) == schema_kinds == set(DRIVERS)
    for kind, cls in OUTPUTS.items():
        assert issubclass(cls, Output) and kind in cls.kinds


@pytest.mark.parametrize("name", available_profiles())
def test_the_throttle_is_judged_neutral_exactly_when_the_chip_holds_its_neutral(name):
    profile, bus, driver = car_on_own_bus(name)
    section, throttle = profile.throttle, driver.throttle
    kind = OUTPUTS[section.driver]
    assert isinstance(throttle, kind) and isinstance(driver.steering, OUTPUTS[profile.steering.driver])
    chip = bus.chip(section.i2c_address)
    assert throttle.channels() == kind.channels_of(section)

    for value, wanted in ((0.6, DRIVING), (0.0, NEUTRAL), (-0.5, DRIVING), (0.0, NEUTRAL)):
        throttle.set(value)
        state, off = judged(kind, section, chip)
        back = kind.read_back_of(section, chip.duties(), chip.frequency_hz)
        assert state == wanted, (value, back)
        assert throttle.is_neutral(back, chip.frequency_hz) == (wanted == NEUTRAL)
        if wanted == DRIVING:
            assert off > kind.half_tick_of(section, chip.frequency_hz)
    driver.close()


@pytest.mark.parametrize("name", available_profiles())
def test_every_channel_the_throttle_writes_is_one_of_its_channels(name):
    profile, bus, driver = car_on_own_bus(name)
    bus.logging = True
    for value in (0.6, -0.5, 0.3, 0.0):
        driver.throttle.set(value)
    driver.throttle.neutral()
    bus.logging = False
    address = profile.throttle.i2c_address
    written = set((data[0] - LED0_ON_L) // 4 for a, rw, data in bus.log
                  if a == address and rw == "w" and LED0_ON_L <= data[0] < LED0_ON_L + 64)
    assert written == set(driver.throttle.channels())
    driver.close()


def test_stopped_motors_with_the_wrong_direction_inputs_are_not_neutral():
    """Waveshare's motors brake at neutral (IN1 low, IN2 high): coasting inputs are 'other', not neutral."""
    profile, bus, driver = car_on_own_bus("waveshare_ai")
    section = profile.throttle
    assert all(m.neutral == "brake" for m in section.motors)
    chip = bus.chip(section.i2c_address)
    driver.throttle.neutral()
    assert judged(OUTPUTS[section.driver], section, chip)[0] == NEUTRAL
    driver.throttle.pwm.set_full(section.motors[0].in2_channel, False)  # IN2 low: this motor would coast
    assert judged(OUTPUTS[section.driver], section, chip) == (OTHER, 0.0)
    driver.close()


def test_an_esc_channel_without_a_pulse_is_neither_neutral_nor_driving():
    profile, bus, driver = car_on_own_bus("latrax")
    section = profile.throttle
    chip = bus.chip(section.i2c_address)
    driver.throttle.pwm.set_full(section.channel, False)  # the channel switched off: no pulse at all
    assert judged(OUTPUTS[section.driver], section, chip) == (OTHER, None)
    driver.close()
