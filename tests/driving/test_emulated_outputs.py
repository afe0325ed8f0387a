"""The drive report's ``outputs`` read the emulated chips for servo/ESC and DC-motor throttles alike."""
import os

from jetracer.car import create_car
from jetracer.config import load_config
from jetracer.driving.session import emulated_outputs
from jetracer.hardware.emulated import reset_shared_bus


def test_dc_motor_throttle_reports_its_signed_duty(monkeypatch):
    monkeypatch.delenv("JETRACER_EMULATED_BUS", raising=False)
    reset_shared_bus()
    config = load_config(os.devnull, env={"JETRACER_I2C": "emulated", "JETRACER_PROFILE": "waveshare_ai"})
    car = create_car(config)
    try:
        assert emulated_outputs(config, car.profile)["throttle_duty"] == 0.0
        car.throttle = 1.0
        forward = emulated_outputs(config, car.profile)
        car.throttle = 0.0
        car.throttle = -1.0
        backward = emulated_outputs(config, car.profile)
    finally:
        car.close()
    limit = car.profile.car.max_throttle
    assert 0.5 < forward["throttle_duty"] <= limit + 1e-3 and -limit - 1e-3 <= backward["throttle_duty"] < -0.5
    assert "steering_pulse_us" in forward and "throttle_pulse_us" not in forward
    assert emulated_outputs(config, car.profile)["throttle_duty"] == 0.0  # closed: neutral
