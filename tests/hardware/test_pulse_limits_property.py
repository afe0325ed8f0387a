"""Whatever a program sends the car, no channel ever leaves the profile's [min_us, max_us], and the
throttle pulse never leaves the range ``max_throttle`` allows."""
import os

import pytest
import traitlets
from hypothesis import given, settings
from hypothesis import strategies as st

from jetracer.car import create_car
from jetracer.config import load_config
from jetracer.hardware.emulated import reset_shared_bus

anything = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-3, 3), st.sampled_from([1e308, -1e308, 0.0]))
names = st.sampled_from(["steering", "throttle", "steering_gain", "steering_offset", "throttle_gain",
                         "throttle_offset", "max_throttle"])


@pytest.fixture(scope="module")
def car_and_chip(tmp_path_factory):
    bus = reset_shared_bus()
    config = load_config(path=os.devnull, env={"JETRACER_I2C": "emulated"})
    car = create_car(config.with_overrides(profile_overrides={"steering": {"min_us": 1100, "max_us": 1950},
                                                              "throttle": {"min_us": 1200, "center_us": 1480}}))
    yield car, bus.chip(0x40), car.profile
    car.close()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(names, anything), min_size=1, max_size=12))
def test_no_input_puts_a_channel_outside_its_pulse_range(car_and_chip, commands):
    car, chip, profile = car_and_chip
    for name, value in commands:
        try:
            setattr(car, name, value)
        except traitlets.TraitError:
            pass
        for section, channel in (("steering", 0), ("throttle", 1)):
            limits = profile[section]
            assert limits.min_us <= chip.pulse_us(channel) <= limits.max_us
        t = profile.throttle
        tick = 1e6 / (chip.frequency_hz * 4096)
        allowed_lo = t.center_us - car.max_throttle * (t.center_us - t.min_us) - tick
        allowed_hi = t.center_us + car.max_throttle * (t.max_us - t.center_us) + tick
        assert allowed_lo <= chip.pulse_us(1) <= allowed_hi
        assert abs(car.throttle_output) <= car.max_throttle
