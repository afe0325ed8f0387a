"""``car.driver`` keeps the car's cap and e-stop: the pulses it puts on the emulated PCA9685's ESC channel."""
import os
import time

import pytest

from jetracer.car import create_car
from jetracer.config import load_config
from jetracer.hardware.emulated import reset_shared_bus

THROTTLE = 1  # latrax: ESC on channel 1 of the PCA9685 at 0x40
NEUTRAL_US, FORWARD_US, REVERSE_US = 1500.0, 2250.0, 750.0
HALF_TICK_US = 0.5e6 / (50.03 * 4096)


@pytest.fixture
def bus(monkeypatch):
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    monkeypatch.delenv("JETRACER_PROFILE", raising=False)
    monkeypatch.delenv("JETRACER_EMULATED_BUS", raising=False)
    return reset_shared_bus()


def latrax(**traits):
    return create_car(load_config(os.devnull, env={"JETRACER_I2C": "emulated", "JETRACER_PROFILE": "latrax"}), **traits)


def assert_pulse(bus, expected_us):
    got = bus.chip(0x40).pulse_us(THROTTLE)
    assert abs(got - expected_us) <= HALF_TICK_US + 0.05, (got, expected_us)


def test_the_driver_cannot_pass_the_cap(bus):
    car = latrax(max_throttle=0.3)
    car.driver.set_throttle(1.0)
    assert_pulse(bus, NEUTRAL_US + 0.3 * (FORWARD_US - NEUTRAL_US))
    car.driver.throttle.set(-1.0)  # the output under the driver too
    assert_pulse(bus, NEUTRAL_US - 0.3 * (NEUTRAL_US - REVERSE_US))
    car.driver.set_throttle(0.1)  # under the cap: as asked
    assert_pulse(bus, NEUTRAL_US + 0.1 * (FORWARD_US - NEUTRAL_US))
    assert car.throttle_output == pytest.approx(0.1), "the car's output says what is on the wire"
    car.close()


def test_the_driver_cannot_move_an_estopped_or_closed_car(bus):
    car = latrax(max_throttle=0.3)
    car.estop("test")
    for write in (lambda: car.driver.set_throttle(1.0), lambda: car.driver.throttle.set(-1.0)):
        write()
        assert_pulse(bus, NEUTRAL_US)
    car.release_estop()
    car.driver.set_throttle(1.0)
    assert_pulse(bus, NEUTRAL_US + 0.3 * (FORWARD_US - NEUTRAL_US))
    car.close()
    assert_pulse(bus, NEUTRAL_US)
    car.driver.set_throttle(1.0)  # the claim is gone with close(): nothing reaches the wire
    assert_pulse(bus, NEUTRAL_US)


def test_a_driver_write_counts_for_the_watchdog_and_nan_is_refused(bus):
    car = latrax(max_throttle=0.5, command_timeout_s=0.1)
    car.driver.set_throttle(0.4)
    assert_pulse(bus, NEUTRAL_US + 0.4 * (FORWARD_US - NEUTRAL_US))
    deadline = time.monotonic() + 2.0
    while car.throttle_output != 0.0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert_pulse(bus, NEUTRAL_US)  # no further writes: the car's watchdog stopped the driver-level throttle
    with pytest.raises(ValueError):
        car.driver.set_throttle(float("nan"))
    assert_pulse(bus, NEUTRAL_US)
    car.close()
