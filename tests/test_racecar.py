"""The car's meaning of a command, observed on the values it sends to its driver."""
import math

import pytest
import traitlets

from jetracer import Racecar


def test_output_is_command_times_gain_plus_offset_clipped_after():
    car = Racecar(steering_gain=-0.65, steering_offset=0.1)
    car.steering = 0.5
    assert car.steering_output == pytest.approx(0.5 * -0.65 + 0.1)
    car.steering_offset = 0.9
    car.steering = -1.0
    assert car.steering_output == pytest.approx(1.0)  # -1 * -0.65 + 0.9 = 1.55, clipped after gain and offset


def test_gain_and_offset_changes_apply_immediately():
    car = Racecar()
    car.steering = 0.4
    car.steering_gain = 0.5
    assert car.steering_output == pytest.approx(0.2)
    car.throttle = 0.3
    car.throttle_gain = 0.5
    assert car.throttle_output == pytest.approx(0.15)
    car.throttle_offset = 0.1
    assert car.throttle_output == pytest.approx(0.25)


def test_commands_are_clipped_to_unit_range():
    car = Racecar()
    car.steering = 7.0
    assert car.steering == 1.0
    car.steering = -3
    assert car.steering == -1.0


def test_max_throttle_caps_what_the_driver_gets_whatever_the_caller_sends():
    car = Racecar(max_throttle=0.3)
    car.throttle = 1.0
    assert car.throttle == 1.0  # the command is kept as sent; the limit is on the output
    assert car.throttle_output == pytest.approx(0.3)
    car.throttle = -1.0
    assert car.throttle_output == pytest.approx(-0.3)
    car.max_throttle = 0.1
    assert car.throttle_output == pytest.approx(-0.1)
    car.throttle_gain, car.max_throttle = 3.0, 0.5  # a gain cannot pass the limit
    assert car.throttle_output == pytest.approx(-0.5)
    car.throttle_gain, car.throttle_offset, car.throttle = 0.8, 0.9, 0.01  # nor an offset
    assert car.throttle_output == pytest.approx(0.5)


def test_an_offset_trims_but_never_reverses_the_direction():
    car = Racecar(throttle_gain=0.8, throttle_offset=-0.1)
    car.throttle = 0.1  # 0.08 - 0.1 would be reverse
    assert car.throttle_output == 0.0
    car.throttle = 0.5
    assert car.throttle_output == pytest.approx(0.3)
    car.throttle = -0.5  # the offset pushes further in reverse: allowed, it is the command's direction
    assert car.throttle_output == pytest.approx(-0.5)
    inverted = Racecar(throttle_gain=-1.0, throttle_offset=0.2)  # an inverted ESC: the gain's sign is the wiring
    inverted.throttle = 0.1
    assert inverted.throttle_output == 0.0
    inverted.throttle = 0.5
    assert inverted.throttle_output == pytest.approx(-0.3)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "fast", None])
def test_non_finite_commands_are_refused_and_the_last_state_kept(bad):
    car = Racecar()
    car.steering = 0.25
    car.throttle = 0.2
    with pytest.raises(traitlets.TraitError, match="steering"):
        car.steering = bad
    with pytest.raises(traitlets.TraitError):
        car.throttle = bad
    assert car.steering == 0.25 and car.steering_output == pytest.approx(0.25)
    assert car.throttle_output == pytest.approx(0.2)


def test_nan_gain_is_refused():
    car = Racecar()
    with pytest.raises(traitlets.TraitError):
        car.throttle_gain = math.nan
    assert car.throttle_gain == 1.0


def test_zero_throttle_is_neutral_even_with_an_offset():
    car = Racecar(throttle_offset=0.1)
    car.throttle = 0.5
    assert car.throttle_output == pytest.approx(0.6)
    car.throttle = 0.0
    assert car.throttle_output == 0.0


def test_stop_and_context_exit_leave_neutral():
    with Racecar() as car:
        car.throttle = 0.5
        car.stop()
        assert car.throttle == 0.0 and car.throttle_output == 0.0
        car.throttle = 0.4
    assert car.throttle_output == 0.0
    car.throttle = 0.9  # a closed car ignores commands
    assert car.throttle_output == 0.0


def test_estop_latches_until_released():
    car = Racecar()
    car.throttle = 0.5
    car.estop("button")
    assert car.throttle_output == 0.0 and car.estopped and car.stop_reason == "button"
    car.throttle = 0.5
    assert car.throttle_output == 0.0
    car.release_estop()
    assert car.throttle_output == 0.0  # release does not resume by itself
    car.throttle = 0.5
    assert car.throttle_output == pytest.approx(0.5)


def test_command_watchdog_stops_a_car_whose_commands_stop(monkeypatch):
    import time

    car = Racecar(command_timeout_s=0.05)
    car.throttle = 0.4
    assert car.throttle_output == pytest.approx(0.4)
    deadline = time.monotonic() + 1.0
    while car.throttle_output != 0.0 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert car.throttle_output == 0.0
    assert "no throttle command" in car.stop_reason
    car.close()
