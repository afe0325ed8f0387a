"""Steering law and gamepad mapping: what reaches the emulated servo/ESC pulses, and the pad errors users hit."""
import pytest
from ipywidgets.widgets.widget_controller import Axis, Button, Controller

from jetracer.driving.gamepad import GamepadMappingError, Teleop, connect_controller, gamepad_mapping, shape_axis
from jetracer.driving.loop import DriveLoop
from jetracer.steering_law import SteeringLaw

from driving_doubles import at_neutral, law, pulse, settings


def pad_with(n_axes, n_buttons=12, name="Logitech Gamepad F710"):
    pad = Controller()
    pad.set_trait("axes", tuple(Axis() for _ in range(n_axes)))
    pad.set_trait("buttons", tuple(Button() for _ in range(n_buttons)))
    pad.set_trait("name", name)
    pad.set_trait("connected", n_axes > 0)
    return pad


def test_bias_is_applied_once_by_the_car(car):
    """x = 0 with bias 0.2: car.steering is 0.2 and the servo gets steering_gain * 0.2 of its span, once."""
    steering, _ = law(gain=0.8, steering_bias=0.2)(0.0, 0.0)
    car.steering = steering
    s = car.profile.steering
    expected = s.center_us + car.steering_gain * 0.2 * (s.max_us - s.center_us if car.steering_gain * 0.2 > 0 else s.center_us - s.min_us)
    assert steering == pytest.approx(0.2)
    assert pulse(car, "steering") == pytest.approx(expected, abs=5.0)


def test_target_right_of_image_turns_right_on_the_servo(car):
    """x > 0 (right) -> car.steering > 0 -> on the reference car a pulse below centre (gain is negative)."""
    car.steering, _ = law(gain=0.8)(0.5, 0.0)
    assert car.steering == pytest.approx(0.4)
    assert pulse(car, "steering") < car.profile.steering.center_us - 50


def test_derivative_term_and_slowdown():
    pd = SteeringLaw(gain=1.0, bias=0.0, kd=0.1, throttle=0.4, throttle_mode="slow-in-turns", slowdown=0.5)
    assert pd(0.0, 0.0) == (0.0, 0.4)
    steering, throttle = pd(0.2, 0.1)  # dx/dt = 2 /s
    assert steering == pytest.approx(0.2 + 0.1 * 2.0)
    assert throttle == pytest.approx(0.4 * (1 - 0.5 * 0.2))
    with pytest.raises(ValueError):
        pd(float("nan"), 0.2)


def test_shape_axis_deadzone_and_expo():
    assert shape_axis(0.04, deadzone=0.05) == 0.0
    assert shape_axis(1.0) == pytest.approx(1.0) and shape_axis(-1.0) == pytest.approx(-1.0)
    assert 0 < shape_axis(0.5, deadzone=0.0, expo=0.5) < 0.5


def test_teleop_reverse_needs_the_button_and_neutral_first():
    teleop = Teleop(gamepad_mapping("standard", deadzone=0.0, expo=0.0, throttle_limit=0.5))
    teleop.throttle_input = -1.0  # stick up
    assert teleop.throttle == pytest.approx(0.5)
    teleop.throttle_input = 1.0  # stick down while moving forward, no button
    assert teleop.throttle == 0.0
    teleop.reverse_held = True
    assert teleop.throttle == pytest.approx(-0.5)
    teleop.reverse_held = False
    assert teleop.throttle == 0.0


def test_manual_mode_drives_the_servo_and_esc_from_the_pad(car, camera):
    pad = pad_with(4)
    loop = DriveLoop(car, camera, None, law(), settings(mode="manual"), lockstep=True, armed=True)
    teleop = Teleop("standard", clock=loop.clock)
    loop.teleop = teleop
    connect_controller(pad, teleop, car=car, loop=loop)
    pad.axes[0].set_trait("value", 1.0)   # stick right
    pad.axes[1].set_trait("value", -1.0)  # stick up
    loop.step()
    assert car.steering == pytest.approx(1.0)
    assert pulse(car, "steering") < car.profile.steering.center_us - 200
    assert pulse(car, "throttle") > car.profile.throttle.center_us + 50
    for _ in range(3):  # pad unchanged and no keepalive: commands are stale
        loop.step()
    assert at_neutral(car)


def test_missing_axis_names_the_pad_and_the_mapping_key():
    pad = pad_with(2)
    with pytest.raises(GamepadMappingError) as e:
        connect_controller(pad, Teleop("standard-two-stick"))
    message = str(e.value)
    assert "2 axes" in message and "throttle_axis" in message and "F710" in message


def test_pad_not_registered_yet_is_a_clear_message():
    with pytest.raises(GamepadMappingError, match="not registered yet"):
        connect_controller(pad_with(0, 0, name=""), Teleop())


def test_unknown_mapping_key_is_refused():
    with pytest.raises(GamepadMappingError, match="throttle_axes"):
        gamepad_mapping({"throttle_axes": 3})


def test_mode_button_cycles_modes(car, camera, pilot):
    pad = pad_with(4)
    loop = DriveLoop(car, camera, pilot, law(), settings(mode="manual"), lockstep=True, armed=True)
    connect_controller(pad, Teleop(), car=car, loop=loop)
    modes = []
    for _ in range(3):
        pad.buttons[3].set_trait("pressed", True)
        pad.buttons[3].set_trait("pressed", False)
        modes.append(loop.mode)
    assert modes == ["auto-steer", "auto", "manual"]
