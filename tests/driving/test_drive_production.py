"""``jetracer drive`` as the systemd unit runs it, in a subprocess: a recorded camera, a real ONNX model,
the evdev gamepad (python-evdev's stand-in from tests/fakes), the supervisor process, and the emulated
PCA9685s in a bus file the test reads. Every assertion is on the pulses the drive process wrote."""
import os
import time

import pytest

from jetracer.profiles import load_profile
from production import (Gamepad, wait_for, Wire, drive_env, read_state, reference_pulses, road_model, start_drive,
                        stop_drive, write_frames)

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

PROFILE = load_profile("latrax")
CENTER_US = PROFILE.throttle.center_us
FAST = {"max_frame_age_s": 0.5, "command_timeout_s": 0.5, "supervisor_timeout_s": 1.0, "self_check_frames": 2}


def side(steering_us, limits):
    """'L', 'R' or '' (centred within 20 us), as the car code puts steering -0.5 (left) on the wire."""
    centre_us, left_us = limits[0], limits[2]
    if abs(steering_us - centre_us) < 20:
        return ""
    return "L" if (steering_us - centre_us) * (left_us - centre_us) > 0 else "R"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return road_model(tmp_path_factory.mktemp("model") / "road.onnx")


@pytest.fixture(scope="module")
def limits():
    centre_steering_us = reference_pulses("latrax", 0.0, 0.0)[0]
    full_throttle_us = reference_pulses("latrax", 0.0, 1.0)[1]  # the profile's max_throttle
    left_us = reference_pulses("latrax", -0.5, 0.0)[0]
    return centre_steering_us, full_throttle_us, left_us


def test_auto_steers_with_the_model_on_the_curves_caps_throttle_and_stops_at_the_end(tmp_path, model, limits):
    full_us = limits[1]
    frames = write_frames(tmp_path / "frames", [-1.0] * 14 + [1.0] * 14)
    env = drive_env(tmp_path, {"profile": "latrax",
                               "camera": {"source": "replay", "path": frames, "loop": False, "fps": 15},
                               "drive": dict(FAST, model=model, mode="auto", throttle=1.0)})
    proc = start_drive(env, "--arm")
    wire = Wire(tmp_path / "bus.bin", PROFILE)
    try:
        assert wire.watch(lambda s, t: t > CENTER_US + 50, 60, proc), "the car never drove"
        assert wire.watch(lambda s, t: abs(t - CENTER_US) < 5, 20, proc), "the end of the replay did not stop the car"
        assert wait_for(lambda: read_state(tmp_path).get("stop_reason", "").startswith("camera: replay of"), 5)
        assert "ended after 28 frames" in read_state(tmp_path)["stop_reason"]
    finally:
        code, report, err = stop_drive(proc)
    assert code == 0, err
    moving = [(s, t) for _, s, t in wire.samples if t > CENTER_US + 5]
    sides = [side(s, limits) for s, _ in moving]
    turns = [k for i, k in enumerate(sides) if k and (i == 0 or k != sides[i - 1])]
    assert turns[0] == "L" and turns[-1] == "R" and "L" not in turns[turns.index("R"):], turns
    assert max(t for _, t in moving) <= full_us + 1 and abs(max(t for _, t in moving) - full_us) < 5
    assert abs(wire.pulses()[1] - CENTER_US) < 5 and abs(report["outputs"]["throttle_pulse_us"] - CENTER_US) < 5
    assert report["stops"].get("camera", 0) > 0
