"""The bicycle model obeys the profile: turning radius, speed, latency, per-side steering limits."""
import math

import pytest

from jetracer.car import car_defaults
from jetracer.profiles import load_profile
from jetracer.racecar import Racecar
from jetracer.sim.dynamics import BicycleModel, turning_radius_m


def _drive_circle(profile, steering, seconds=12.0):
    car = Racecar(**car_defaults(profile))
    model = BicycleModel(profile["dynamics"])
    car.steering = steering
    car.throttle = 0.4
    xs, ys = [], []
    for _ in range(int(seconds * 30)):
        model.command(car.steering_output, car.throttle_output)
        model.advance(1 / 30.0)
        if model.time_s > 4.0:
            xs.append(model.x)
            ys.append(model.y)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    radius = sum(math.hypot(x - cx, y - cy) for x, y in zip(xs, ys)) / len(xs)
    return radius, model


@pytest.mark.parametrize("name", ["latrax", "tamiya_tt02"])
@pytest.mark.parametrize("steering", [1.0, -1.0, 0.5])
def test_same_command_gives_the_turning_radius_the_profile_implies(name, steering):
    profile = load_profile(name)
    d = profile.dynamics
    out = steering * profile.car.steering_gain
    angle = math.radians(out * (d.max_steer_left_deg if out >= 0 else d.max_steer_right_deg))
    expected = d.wheelbase_m / math.tan(abs(angle))
    assert turning_radius_m(profile, steering) == pytest.approx(expected)
    radius, model = _drive_circle(profile, steering)
    assert radius == pytest.approx(expected, rel=0.05)
    # positive steering turns right (clockwise, yaw decreasing) because the profile's gain is negative
    assert (model.yaw < 0) == (steering > 0)


def test_full_lock_turns_less_to_the_right_on_latrax():
    profile = load_profile("latrax")
    assert turning_radius_m(profile, 1.0) > turning_radius_m(profile, -1.0)


def test_speed_settles_at_output_times_max_speed_and_deadband_coasts():
    profile = load_profile("latrax")
    model = BicycleModel(profile["dynamics"])
    model.command(0.0, 0.3)
    model.advance(3.0)
    assert model.speed_mps == pytest.approx(0.3 * profile.dynamics.max_speed_mps, rel=0.01)
    model.command(0.0, 0.05)   # inside the 0.08 deadband
    model.advance(0.5 + profile.dynamics.latency_s)
    assert model.speed_mps == pytest.approx(1.2 - 0.5 * profile.dynamics.coast_decel_mps2, abs=0.02)


def test_a_command_acts_only_after_the_latency():
    profile = load_profile("latrax")
    model = BicycleModel(profile["dynamics"])
    model.command(0.0, 1.0)
    model.advance(profile.dynamics.latency_s - 0.01)
    assert model.speed_mps == 0.0
    model.advance(0.02)
    assert model.speed_mps > 0.0


def test_steering_is_rate_limited_and_clipped_per_side():
    profile = load_profile("latrax")
    model = BicycleModel(dict(profile.dynamics.to_dict(), latency_s=0.0))
    model.command(1.0, 0.0)
    model.advance(0.05)
    assert model.steer_rad <= 6.0 * 0.05 + 1e-9
    model.advance(1.0)
    assert model.steer_rad == pytest.approx(math.radians(22.0), abs=1e-4)
    model.command(-1.0, 0.0)
    model.advance(1.0)
    assert model.steer_rad == pytest.approx(-math.radians(20.0), abs=1e-4)
