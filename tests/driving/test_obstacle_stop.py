"""The obstacle stop: threshold, consecutive frames, hysteresis, clear time, re-arm and the brake, on the drive
loop and the emulated PCA9685's throttle channel; and whatever the obstacle output says, it never raises the
throttle (a property test at the wire)."""
import math

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from jetracer.config_schema import default_settings
from jetracer.driving.loop import DriveLoop
from jetracer.driving.obstacle_stop import (ObstacleStop, ObstacleStopError, brake_for, limit_throttle,
                                            obstacle_stop_for)
from jetracer.pilot.base import Prediction
from driving_doubles import StripeCamera, StripePilot, at_neutral, law, pulse, settings

PERIOD = 1.0 / 30
OBSTACLE = default_settings("drive").obstacle  # threshold 0.5, release 0.35, 2 frames, clear 1.0 s, auto


class ObstaclePilot(StripePilot):
    """The stripe pilot with an obstacle output: ``blocked_p`` is whatever the test sets."""

    has_obstacle_output = True

    def __init__(self):
        super(ObstaclePilot, self).__init__()
        self.blocked_p = 0.0

    def predict(self, frame):
        x, y = self(frame)
        return Prediction(x, y, self.blocked_p, None)


def make_loop(car, pilot, obstacle=None, **changes):
    drive = settings(mode="auto", max_frame_age_s=0.5, **changes)
    return DriveLoop(car, StripeCamera(), pilot, law(gain=0.8, throttle=0.3), drive, lockstep=True,
                     period_s=PERIOD, armed=True, obstacle_stop=obstacle)


def stop_for(car, **changes):
    return ObstacleStop(OBSTACLE._replace(**changes), brake=brake_for(car.profile, car))


def drive_with(loop, pilot, readings):
    """One loop iteration per reading; the throttle pulse (us) after each."""
    pulses = []
    for p in readings:
        pilot.blocked_p = p
        loop.step()
        pulses.append(pulse(loop.car, "throttle"))
    return pulses


def test_two_consecutive_blocked_frames_stop_the_car_and_one_does_not(car):
    pilot = ObstaclePilot()
    loop = make_loop(car, pilot, stop_for(car))
    drive_with(loop, pilot, [0.0] * 5)
    assert not at_neutral(car)
    drive_with(loop, pilot, [0.9, 0.2, 0.6, 0.49])  # never two in a row at or over 0.5
    assert not at_neutral(car) and loop.stop_reason == ""
    drive_with(loop, pilot, [0.5])
    assert not at_neutral(car), "one frame over the threshold is not a stop"
    drive_with(loop, pilot, [0.93])
    assert at_neutral(car), "the second blocked frame in a row stops the car in that iteration"
    assert loop.stop_reason == "obstacle ahead: p=0.93"
    state = loop.state()
    assert state["stop_reason"] == "obstacle ahead: p=0.93" and state["obstacle"]["state"] == "stopped"
    assert state["obstacle"]["blocked_p"] == 0.93 and loop.metrics()["obstacle"]["stops"] == 1


def test_it_holds_inside_the_hysteresis_band_and_goes_on_after_clear_s_of_clear_frames(car):
    pilot = ObstaclePilot()
    loop = make_loop(car, pilot, stop_for(car, clear_s=0.5))
    drive_with(loop, pilot, [0.0] * 3 + [0.8, 0.8])
    assert at_neutral(car)
    drive_with(loop, pilot, [0.45] * 60)  # under the stop threshold, over the release threshold: still blocked
    assert at_neutral(car) and loop.stop_reason.startswith("obstacle ahead")
    n = int(round(0.5 / PERIOD))  # 15 clear frames make 0.5 s from the first
    drive_with(loop, pilot, [0.1] * (n - 1) + [0.4])  # one in-between frame starts the clear time again
    assert at_neutral(car)
    drive_with(loop, pilot, [0.1] * n)
    assert at_neutral(car), "0.5 s of clear frames is %d frames after the first, not %d" % (n + 1, n)
    drive_with(loop, pilot, [0.1])
    assert not at_neutral(car) and loop.stop_reason == ""


def test_rearm_waits_for_a_person_and_the_clear_way(car):
    pilot = ObstaclePilot()
    loop = make_loop(car, pilot, stop_for(car, resume="rearm", clear_s=0.2))
    drive_with(loop, pilot, [0.0] * 3 + [1.0, 1.0] + [0.0] * 30)
    assert at_neutral(car) and loop.stop_reason == "obstacle ahead: p=1.00; the way is clear: arm again to go on"
    assert loop.state()["obstacle"]["state"] == "waiting for arm"
    assert loop.arm()
    drive_with(loop, pilot, [0.0])
    assert not at_neutral(car) and loop.stop_reason == ""
    drive_with(loop, pilot, [1.0, 1.0])
    loop.arm()  # armed while still blocked: it goes on once the way has been clear for clear_s
    drive_with(loop, pilot, [1.0] * 10)
    assert at_neutral(car)
    drive_with(loop, pilot, [0.0] * 8)
    assert not at_neutral(car)


def test_a_nan_or_out_of_range_reading_counts_as_blocked(car):
    pilot = ObstaclePilot()
    loop = make_loop(car, pilot, stop_for(car))
    drive_with(loop, pilot, [0.0] * 3 + [float("nan"), float("inf")])
    assert at_neutral(car) and loop.stop_reason == "obstacle ahead: p=1.00"


def test_manual_mode_is_not_stopped_and_a_reverse_command_passes(car):
    stop = stop_for(car)
    stop.observe(1.0, 0.0)
    stop.observe(1.0, 0.1)
    assert stop.stopped
    assert stop.limit(-0.3, 0.2) == (-0.3, "obstacle ahead: p=1.00")  # backing away from it
    assert stop.limit(0.0, 0.2)[0] == 0.0 and stop.limit(0.4, 0.2)[0] == 0.0


def brake_car(emulated, **throttle):
    from jetracer.car import create_car
    from jetracer.config import load_config

    config = load_config().with_overrides(profile_overrides={"throttle": throttle})
    return create_car(config)


def test_the_brake_is_the_profile_s_where_the_esc_brakes_on_reverse_then_neutral(emulated):
    car = brake_car(emulated, reverse="double-tap")
    try:
        brake = brake_for(car.profile, car)
        assert brake.command == pytest.approx(-0.4 / 0.8) and brake.duration_s == 0.5
        pilot = ObstaclePilot()
        loop = make_loop(car, pilot, ObstacleStop(OBSTACLE, brake=brake))
        drive_with(loop, pilot, [0.0] * 3)
        centre = car.profile.throttle.center_us
        pulses = drive_with(loop, pilot, [1.0] * 30)
        brake_us = centre - 0.4 * (centre - car.profile.throttle.min_us)  # output -0.4: 1500 - 0.4 * 750 us
        frames = int(math.ceil(0.5 / PERIOD))
        assert pulses[0] > centre + 50, "one blocked frame does not stop"
        assert all(abs(p - brake_us) < 5 for p in pulses[1:1 + frames]), pulses
        assert all(abs(p - centre) < 5 for p in pulses[1 + frames:]), "neutral after the brake's duration_s"
    finally:
        car.close()


@pytest.mark.parametrize("throttle, why", [({}, "throttle.reverse is not known"),
                                           ({"reverse": "direct"}, "throttle.reverse is direct")])
def test_no_brake_where_a_reverse_pulse_may_drive_backwards(emulated, throttle, why):
    car = brake_car(emulated, **throttle)
    try:
        brake = brake_for(car.profile, car)
        assert brake.command == 0.0 and why in brake.description
    finally:
        car.close()


def test_a_dc_motor_car_stops_at_its_braking_neutral(emulated, monkeypatch):
    from jetracer.car import create_car
    from jetracer.config import load_config

    monkeypatch.setenv("JETRACER_PROFILE", "waveshare_ai")
    car = create_car(load_config())
    try:
        brake = brake_for(car.profile, car)
        assert brake.command == 0.0 and "neutral mode: brake" in brake.description
    finally:
        car.close()


def test_a_stop_asked_of_a_model_without_an_obstacle_output_is_one_error_naming_both_fixes(car):
    with pytest.raises(ObstacleStopError) as info:
        obstacle_stop_for(OBSTACLE._replace(enabled=True), StripePilot(), car.profile, car, model_name="road.onnx")
    message = str(info.value)
    assert "road.onnx has no obstacle output" in message and "jetracer train" in message
    assert "drive.obstacle.stop_model" in message and "best_model.pth" in message and "\n" not in message
    assert obstacle_stop_for(OBSTACLE, StripePilot(), car.profile, car) is None  # enabled null: off without one
    assert obstacle_stop_for(OBSTACLE, ObstaclePilot(), car.profile, car) is not None  # null: on with one
    assert obstacle_stop_for(OBSTACLE._replace(enabled=False), ObstaclePilot(), car.profile, car) is None


def test_a_stop_model_reads_for_a_pilot_without_an_obstacle_output(car):
    stop = obstacle_stop_for(OBSTACLE._replace(stop_model="best_model.pth"), StripePilot(), car.profile, car,
                             load_stop_model=lambda path: (lambda frame: 0.97))
    loop = make_loop(car, StripePilot(), stop)
    for _ in range(4):
        loop.step()
    assert at_neutral(car) and stop.status()["source"] == "stop model" and stop.blocked_p == 0.97


READING = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 0.34, 0.5, 0.9, 1.0]))


@hsettings(max_examples=300, deadline=None)
@given(readings=st.lists(READING, max_size=40), throttles=st.lists(st.floats(-1.0, 1.0), min_size=40, max_size=40),
       brake=st.sampled_from([0.0, -0.25, -0.9]), resume=st.sampled_from(["auto", "rearm"]),
       frames=st.integers(1, 3), clear_s=st.sampled_from([0.0, 0.1, 1.0]))
def test_whatever_the_obstacle_output_says_the_throttle_is_never_raised(readings, throttles, brake, resume, frames,
                                                                        clear_s):
    from jetracer.driving.obstacle_stop import Brake

    stop = ObstacleStop(OBSTACLE._replace(resume=resume, frames=frames, clear_s=clear_s),
                        brake=Brake(brake, 0.2, "test"))
    for i, throttle in enumerate(throttles):
        now = i * PERIOD
        if i < len(readings):
            stop.observe(readings[i], now)
        limited, _ = stop.limit(throttle, now)
        assert limited <= throttle
        if limited * throttle < 0 or abs(limited) > abs(throttle):
            assert limited == brake < 0 < throttle, "only the brake may change the sign or the magnitude"


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(readings=st.lists(READING, min_size=30, max_size=30), throttle=st.sampled_from([0.15, 0.3, 1.0]),
       reverse=st.sampled_from([None, "double-tap"]))
def test_at_the_wire_the_throttle_pulse_with_the_stop_is_never_above_the_one_without(emulated, readings, throttle,
                                                                                      reverse):
    pulses = []
    for obstacle in (False, True):
        car = brake_car(emulated, **({"reverse": reverse} if reverse else {}))
        try:
            pilot = ObstaclePilot()
            drive = settings(mode="auto", max_frame_age_s=0.5)
            stop = ObstacleStop(OBSTACLE, brake=brake_for(car.profile, car)) if obstacle else None
            loop = DriveLoop(car, StripeCamera(), pilot, law(gain=0.8, throttle=throttle), drive, lockstep=True,
                             period_s=PERIOD, armed=True, obstacle_stop=stop)
            pulses.append(drive_with(loop, pilot, readings))
        finally:
            car.close()
    centre, brake_us = 1500.0, 1500.0 - 0.4 * 750.0
    for without, with_stop in zip(*pulses):
        assert with_stop <= without + 1  # never more throttle than without the stop
        assert with_stop >= centre - 5 or (reverse and abs(with_stop - brake_us) < 5), "below neutral only as the brake"


def test_limit_throttle_only_lowers():
    assert limit_throttle(0.5, False, False, -0.5) == 0.5
    assert limit_throttle(0.5, True, True, -0.5) == -0.5
    assert limit_throttle(0.5, True, False, -0.5) == 0.0
    assert limit_throttle(0.0, True, True, -0.5) == 0.0
    assert limit_throttle(None, True, True, -0.5) is None
