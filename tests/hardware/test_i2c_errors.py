"""A missing bus or a chip that does not answer is reported with the bus, the address and what to check."""
import os

import pytest

from jetracer.car import create_car
from jetracer.config import load_config
from jetracer.hardware import I2CError, create_driver, open_i2c
from jetracer.hardware.emulated import reset_shared_bus
from jetracer.profiles import load_profile


def free_bus_number():
    return next(n for n in range(90, 200) if not os.path.exists("/dev/i2c-%d" % n))


def test_hardware_bus_that_does_not_exist(tmp_path):
    bus = free_bus_number()
    config = load_config(path=os.devnull, env={"JETRACER_I2C": "hardware"}).with_overrides(i2c_bus=bus)
    with pytest.raises(I2CError) as info:
        create_car(config)
    message = str(info.value)
    for expected in ("/dev/i2c-%d" % bus, "0x40", "i2cdetect", "JETRACER_I2C=emulated", "i2c_bus"):
        assert expected in message
    assert isinstance(info.value, OSError)


def test_emulated_bus_without_a_chip_at_the_profile_address():
    bus = reset_shared_bus()
    bus.detach(0x40)
    with pytest.raises(I2CError) as info:
        create_driver(load_profile("latrax"), open_i2c("emulated", 1))
    message = str(info.value)
    for expected in ("0x40", "steering", "0x3C, 0x60", "i2c_address"):
        assert expected in message


def test_waveshare_motor_driver_missing():
    bus = reset_shared_bus()
    bus.detach(0x60)
    with pytest.raises(I2CError, match="motor driver PCA9685 at I2C address 0x60"):
        create_driver(load_profile("waveshare_ai"), open_i2c("emulated", 1))


def test_no_acknowledge_message_names_the_checks():
    from jetracer.hardware.i2c import explain

    error = explain(OSError(121, "Remote I/O error"), 1, 0x40, "the steering PCA9685")
    message = str(error)
    for expected in ("0x40", "bus 1", "wiring and power", "sudo i2cdetect -y -r 1", "i2c_address", "JETRACER_I2C=emulated"):
        assert expected in message
    denied = str(explain(PermissionError(13, "Permission denied"), 1, 0x40))
    assert "sudo usermod -aG i2c $USER" in denied


def test_runtime_fault_names_the_address():
    bus = reset_shared_bus()
    driver = create_driver(load_profile("latrax"), open_i2c("emulated", 1))
    bus.fail_next(0x40, 1)
    with pytest.raises(I2CError, match="0x40"):
        driver.set_steering(0.5)
    driver.set_steering(0.5)  # the next transaction goes through
    assert bus.chip(0x40).pulse_us(0) == pytest.approx(1875, abs=3)  # 1500 + 0.5 * 750
