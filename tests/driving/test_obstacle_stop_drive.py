"""``jetracer drive --sim --model expert --obstacles N`` as a person runs it, watched at the wire: the drive
process and this test share the emulated PCA9685 through a bus file, and every assertion on the throttle
is on the pulse the drive process wrote. The expert pilot reports the simulator's obstacle label as its
blocked probability (0 or 1); the simulated person lifts the obstacle once the car has waited 2 s before it.

Seed 2 with 2 obstacles on the oval: the first obstacle the car meets is in its path 2.8 s into the drive.
"""
import json
import subprocess
import sys

import pytest

from jetracer.profiles import load_profile
from production import Wire, drive_env, read_state, road_model, start_drive, stop_drive, wait_for

PROFILE = load_profile("latrax")
CENTER_US = PROFILE.throttle.center_us
WORLD = ["--sim", "--model", "expert", "--obstacles", "2", "--seed", "2"]
FAST = {"supervisor_timeout_s": 1.0}


def moving(steering_us, throttle_us):
    return throttle_us > CENTER_US + 20


def neutral(steering_us, throttle_us):
    return abs(throttle_us - CENTER_US) < 5


def jetracer(env, *args):
    return subprocess.run([sys.executable, "-m", "jetracer"] + list(args), env=env, timeout=60,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)


def test_the_car_stops_for_the_obstacle_at_the_wire_holds_and_goes_on_once_it_is_lifted(tmp_path):
    env = drive_env(tmp_path, {"drive": FAST})
    proc = start_drive(env, "--arm", *WORLD)
    wire = Wire(tmp_path / "bus.bin", PROFILE)
    try:
        assert wire.watch(moving, 60, proc), "the car never drove"
        assert wire.watch(neutral, 20, proc, period_s=0.001), "the car did not stop for the obstacle"
        at_neutral_s = wire.samples[-1][0]
        assert wait_for(lambda: read_state(tmp_path).get("stop_reason") == "obstacle ahead: p=1.00", 5), \
            read_state(tmp_path)
        status = json.loads(jetracer(env, "arm", "--status").stdout)
        assert status["stop_reason"] == "obstacle ahead: p=1.00" and status["obstacle"]["state"] == "stopped"
        assert status["armed"], "an obstacle stop is not a disarm: the car goes on by itself"
        held_from = wire.samples[-1][0]
        assert not wire.watch(moving, 1.5, proc, period_s=0.005), "the car moved while the obstacle was there"
        assert wire.watch(moving, 10, proc), "the car did not go on once the obstacle was lifted"
        went_on_s = wire.samples[-1][0]
    finally:
        code, report, err = stop_drive(proc)
    assert code == 0, err
    event = report["obstacle"]["events"][0]
    # the stop came with the second blocked frame (drive.obstacle.frames 2), one frame period after the first
    assert abs(event["time_s"] - event["first_blocked_s"] - 1.0 / 30) < 1e-3, event
    # at the wire: neutral within one frame period + 20 ms of the first frame that showed the obstacle (captured),
    # with room for a loaded machine (the figure itself: jetracer bench obstacle-stop)
    assert at_neutral_s - event["first_blocked_wall_s"] < 1.0 / 30 + 0.020 + 0.200, (at_neutral_s, event)
    lifted = report["sim_state"]["lifted"]
    assert len(lifted) == 1 and report["sim_state"]["collisions"] == 0
    assert lifted[0]["distance_m"] >= 0.10, "stopped at least 10 cm before the obstacle"
    assert went_on_s - held_from >= 2.0 + 1.0 - 0.3, "it waits 2 s for the lift, then clear_s (1 s) of clear frames"
    assert event["held_s"] >= 3.0


def test_with_resume_rearm_it_waits_for_jetracer_arm_once_the_way_is_clear(tmp_path):
    env = drive_env(tmp_path, {"drive": dict(FAST, obstacle={"resume": "rearm", "clear_s": 0.5})})
    proc = start_drive(env, "--arm", "--fast", *WORLD)
    wire = Wire(tmp_path / "bus.bin", PROFILE)
    try:
        assert wire.watch(moving, 60, proc), "the car never drove"
        assert wait_for(lambda: read_state(tmp_path).get("obstacle", {}).get("state") == "waiting for arm", 30), \
            read_state(tmp_path)
        state = read_state(tmp_path)
        assert state["stop_reason"] == "obstacle ahead: p=1.00; the way is clear: arm again to go on"
        assert state["obstacle"]["blocked_p"] == 0.0 and neutral(*wire.pulses())
        assert not wire.watch(moving, 1.0, proc), "it went on without a person"
        armed = jetracer(env, "arm")
        assert armed.returncode == 0, armed.stderr
        assert wire.watch(moving, 10, proc), "jetracer arm did not let it go on"
    finally:
        code, report, err = stop_drive(proc)
    assert code == 0, err
    assert report["obstacle"]["stops"] >= 1 and report["sim_state"]["collisions"] == 0


def test_obstacles_outside_the_simulator_and_a_stop_without_an_obstacle_reading_are_refused(tmp_path):
    env = drive_env(tmp_path, {})
    refused = jetracer(env, "drive", "--obstacles", "3", "--model", "expert")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "--obstacles places obstacles in the simulator: add --sim" in refused.stderr
    env = drive_env(tmp_path, {"drive": {"obstacle": {"enabled": True, "release_threshold": 0.6}}})
    refused = jetracer(env, "drive", "--sim", "--model", "expert", "--duration", "1")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "release_threshold 0.6 is above threshold 0.5" in refused.stderr


def test_a_stop_asked_of_a_road_only_model_without_a_stop_model_is_one_line_naming_both_fixes(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = road_model(tmp_path / "road.onnx")
    env = drive_env(tmp_path, {"camera": {"width": 64, "height": 64}, "drive": {"obstacle": {"enabled": True}}})
    refused = jetracer(env, "drive", "--sim", "--model", model, "--duration", "1")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "%s has no obstacle output" % model in refused.stderr
    assert "jetracer train" in refused.stderr and "drive.obstacle.stop_model" in refused.stderr
    assert not (tmp_path / "state.json").exists() or read_state(tmp_path).get("armed") is not True
    driven = jetracer(env, "drive", "--sim", "--fast", "--model", model, "--duration", "1", "--no-obstacle-stop",
                      "--json")
    assert driven.returncode == 0, driven.stderr
    assert "obstacle" not in json.loads(driven.stdout.strip().splitlines()[-1])
