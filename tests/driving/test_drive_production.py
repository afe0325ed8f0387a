"""``jetracer drive`` as the systemd unit runs it, in a subprocess: a recorded camera, a real ONNX model,
the evdev gamepad (python-evdev's stand-in from tests/fakes), the supervisor process, and the emulated
PCA9685s in a bus file the test reads. Every assertion is on the pulses the drive process wrote."""
import json
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


def test_manual_drives_by_the_evdev_gamepad_arms_on_start_and_stops_on_estop_and_unplug(tmp_path, limits):
    full_us, pad_limit_us = limits[1], reference_pulses("latrax", 0.0, 0.5)[1]  # standard mapping: throttle_limit 0.5
    frames = write_frames(tmp_path / "frames", [0.0] * 4)
    pad = Gamepad(tmp_path / "input")
    env = drive_env(tmp_path, {"profile": "latrax", "camera": {"source": "replay", "path": frames, "fps": 15},
                               "drive": dict(FAST, mode="manual")})
    proc = start_drive(env)  # as the service: disarmed until START
    wire = Wire(tmp_path / "bus.bin", PROFILE)
    try:
        assert wait_for(lambda: read_state(tmp_path).get("mode") == "manual", 30), "the drive loop never started"
        pad.send("EV_ABS ABS_X 32767", "EV_ABS ABS_Y -32768")  # stick right and fully forward
        assert wire.watch(lambda s, t: side(s, limits) == "R", 5, proc), "steering did not follow the stick"
        time.sleep(0.3)
        assert abs(wire.pulses()[1] - CENTER_US) < 5, "the throttle moved before START armed the car"
        pad.press("BTN_START")
        assert wire.watch(lambda s, t: t > CENTER_US + 50, 5, proc), "START did not arm the car"
        assert abs(wire.pulses()[1] - pad_limit_us) < 5 and pad_limit_us < full_us  # the pad's limit, under max_throttle
        pad.send("EV_ABS ABS_X -32768")
        assert wire.watch(lambda s, t: side(s, limits) == "L", 5, proc)
        pad.press("BTN_EAST")  # the e-stop button
        assert wire.watch(lambda s, t: abs(t - CENTER_US) < 5, 2, proc), "the e-stop button did not stop the car"
        pad.send("EV_ABS ABS_Y -20000")
        time.sleep(0.3)
        assert abs(wire.pulses()[1] - CENTER_US) < 5, "a stick after the e-stop moved the car"
        pad.press("BTN_START")
        assert wire.watch(lambda s, t: t > CENTER_US + 50, 5, proc), "START did not re-arm"
        pad.send("UNPLUG")
        assert wire.watch(lambda s, t: abs(t - CENTER_US) < 5, 2, proc), "a lost gamepad did not stop the car"
        assert wait_for(lambda: "gamepad" in read_state(tmp_path).get("stop_reason", ""), 5)
    finally:
        code, report, err = stop_drive(proc)
    assert code == 0, err
    assert abs(report["outputs"]["throttle_pulse_us"] - CENTER_US) < 5


def test_auto_steer_steers_by_the_model_and_throttles_by_the_gamepad(tmp_path, model, limits):
    frames = write_frames(tmp_path / "frames", [-1.0] * 4)  # a left curve, looping
    pad = Gamepad(tmp_path / "input")
    env = drive_env(tmp_path, {"profile": "latrax", "camera": {"source": "replay", "path": frames, "fps": 15},
                               "drive": dict(FAST, model=model, mode="auto-steer", throttle=1.0)})
    proc = start_drive(env, "--arm")
    wire = Wire(tmp_path / "bus.bin", PROFILE)
    try:
        assert wire.watch(lambda s, t: side(s, limits) == "L", 30, proc), "the model did not steer left on a left curve"
        time.sleep(0.3)
        assert abs(wire.pulses()[1] - CENTER_US) < 5, "auto-steer drove without a throttle from the gamepad"
        pad.send("EV_ABS ABS_X 32767", "EV_ABS ABS_Y -16384")  # stick right (ignored: the model steers), half forward
        assert wire.watch(lambda s, t: t > CENTER_US + 50, 5, proc), "the gamepad throttle did not drive"
        steering_us, throttle_us = wire.pulses()
        assert side(steering_us, limits) == "L" and throttle_us < reference_pulses("latrax", 0.0, 0.5)[1]
        pad.send("EV_ABS ABS_Y 0")
        assert wire.watch(lambda s, t: abs(t - CENTER_US) < 5, 2, proc), "releasing the stick did not stop"
        pad.send("EV_ABS ABS_Y -16384")
        assert wire.watch(lambda s, t: t > CENTER_US + 50, 5, proc)
        disarm = run_cli(env, "disarm")
        assert disarm.returncode == 0, disarm.stderr
        assert abs(wire.pulses()[1] - CENTER_US) < 5, "jetracer disarm returned before the throttle was at neutral"
        time.sleep(0.3)
        assert abs(wire.pulses()[1] - CENTER_US) < 5, "the stick moved a disarmed car"
        assert run_cli(env, "arm").returncode == 0
        assert wire.watch(lambda s, t: t > CENTER_US + 50, 5, proc), "jetracer arm did not re-arm"
    finally:
        code, report, err = stop_drive(proc)  # SIGTERM while driving
    assert code == 0, err
    assert report["signal"]["name"] == "SIGTERM" and abs(report["signal"]["outputs"]["throttle_pulse_us"] - CENTER_US) < 5
    assert report["mode"] == "auto-steer" and abs(wire.pulses()[1] - CENTER_US) < 5


def run_cli(env, *args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "jetracer"] + list(args), env=env, timeout=60,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)


def test_csi_camera_through_jetcam_failing_stops_the_car_and_the_oled_shows_why(tmp_path, model, limits):
    """jetcam's CSICamera (tests/fakes/jetcam, reading a recording) breaks after 40 frames, for good: the drive
    keeps reopening it (tests/driving/test_camera_recovery_drive.py has one that comes back)."""
    import numpy as np
    from jetracer.display.render import render_lines

    frames = write_frames(tmp_path / "frames", [-1.0] * 4)
    log = tmp_path / "jetcam.jsonl"
    env = drive_env(tmp_path, {"profile": "latrax", "camera": {"source": "csi"},
                               "drive": dict(FAST, model=model, mode="auto", throttle=0.3)},
                    FAKE_JETCAM_SOURCE=frames, FAKE_JETCAM_FAIL_AFTER="40", FAKE_JETCAM_LOG=str(log))
    proc = start_drive(env, "--arm")
    wire = Wire(tmp_path / "bus.bin", PROFILE)
    try:
        assert wire.watch(lambda s, t: t > CENTER_US + 20 and side(s, limits) == "L", 30, proc), \
            "the model did not drive on the CSI camera's frames"
        assert wire.watch(lambda s, t: abs(t - CENTER_US) < 5, 10, proc), "a failed camera did not stop the car"
        assert wait_for(lambda: "reopening (attempt" in read_state(tmp_path).get("stop_reason", ""), 5), \
            read_state(tmp_path)
        state = read_state(tmp_path)
        assert state["stop_reason"].startswith("camera: no frame for ")
        cause = "CSI camera stopped delivering frames (Could not read image from camera)"
        assert state["camera"]["status"] == "reopening" and state["camera"]["cause"].startswith(cause)
        shown = run_cli(env, "display", "--once")
        assert shown.returncode == 0, shown.stderr
        panel = wire.bus.chip(0x3C).image()
    finally:
        code, report, err = stop_drive(proc)
    assert code == 0, err
    assert "camera stopped delivering frames (%s" % cause in err  # the log line
    opened = [json.loads(line) for line in log.read_text().splitlines()]
    assert opened[0]["camera"] == "CSICamera" and "sensor-id=0" in opened[0]["pipeline"]
    assert "flip-method=%d" % {"none": 0, "rotate-180": 2}[PROFILE.camera.flip] in opened[0]["pipeline"]
    expected = np.array(render_lines(["", "cam: no frame ", "reopening, try ", ""]), dtype=bool)
    assert (panel[8:24, :84] == expected[8:24, :84]).all(), "the OLED does not show the camera's trouble"
    assert abs(report["outputs"]["throttle_pulse_us"] - CENTER_US) < 5


def test_the_real_jetcam_on_the_path_wins_over_jetracers_fallback(tmp_path):
    import subprocess
    import sys

    code = ("import _jetracer_compat; _jetracer_compat.install()\n"  # what jetracer-compat.pth does at start-up
            "import jetcam.csi_camera as m, jetracer.compat as c; print(m.__file__, c.is_fallback(m))")
    out = subprocess.check_output([sys.executable, "-c", code], env=drive_env(tmp_path, {}), universal_newlines=True)
    path, fallback = out.split()
    assert path.startswith(os.path.join(os.path.dirname(os.path.dirname(__file__)), "fakes")) and fallback == "False"
    out = subprocess.check_output([sys.executable, "-c", code], universal_newlines=True,
                                  env=dict(os.environ, PYTHONPATH=""))
    assert out.split()[1] == "True"  # without it, the stand-in (it opens no sensor) is what imports


def test_without_a_named_bus_file_the_supervisor_neutral_reaches_the_drive_processes_chip(tmp_path, model):
    """JETRACER_EMULATED_BUS unset: the session puts its chips in the runtime directory, so when the drive
    process is SIGKILLed the supervisor's neutral lands on the chip the drive process was driving."""
    import signal

    frames = write_frames(tmp_path / "frames", [-1.0] * 4)
    env = drive_env(tmp_path, {"profile": "latrax", "camera": {"source": "replay", "path": frames, "fps": 15},
                               "drive": dict(FAST, model=model, mode="auto", throttle=0.3,
                                             supervisor_timeout_s=0.2)})
    del env["JETRACER_EMULATED_BUS"]
    proc = start_drive(env, "--arm")
    wire = Wire(tmp_path / "emulated_bus.bin", PROFILE)
    try:
        assert wire.watch(lambda s, t: t > CENTER_US + 20, 30, proc), "the car never drove"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed = time.monotonic()
        assert wire.watch(lambda s, t: abs(t - CENTER_US) < 5, 3), "the supervisor's neutral did not reach the chip"
        assert time.monotonic() - killed < 1.0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
