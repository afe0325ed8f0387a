"""Fixtures for the driving tests: the configured car on the emulated chips, a camera and a pilot."""
import pytest

from driving_doubles import StripeCamera, StripePilot


@pytest.fixture
def emulated(monkeypatch, tmp_path):
    """Env on the emulated chips with an empty user config; returns the fresh shared bus."""
    from jetracer.hardware.emulated import reset_shared_bus

    monkeypatch.setenv("JETRACER_I2C", "emulated")
    (tmp_path / "config.yaml").write_text("")  # an empty user config: the defaults
    monkeypatch.setenv("JETRACER_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("JETRACER_STATE", str(tmp_path / "state.json"))
    monkeypatch.delenv("JETRACER_PROFILE", raising=False)
    return reset_shared_bus()


@pytest.fixture
def car(emulated):
    from jetracer.car import create_car

    car = create_car()
    yield car
    car.close()


@pytest.fixture
def camera():
    return StripeCamera()


@pytest.fixture
def pilot():
    return StripePilot()
