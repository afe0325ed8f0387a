"""Camera recovery on the production drive path: ``jetracer drive`` in a subprocess on a CSI camera through
jetcam's classes (tests/fakes/jetcam), whose sensor the test freezes and lets run again through a control file,
the supervisor, and the emulated PCA9685s in a bus file the test reads. Checked at the wire: neutral within the
frame-age limit, neutral while frozen, and after the camera is back, neutral until a person arms again."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from jetracer.profiles import load_profile
from production import Wire, drive_env, read_state, road_model, start_drive, stop_drive, wait_for, write_frames

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

PROFILE = load_profile("latrax")
CENTER_US = PROFILE.throttle.center_us
FRAME_AGE_S = 0.15
MARGIN_S = 0.35  # a loaded 2-core machine: the wire is sampled every 10 ms, the loop may wait for its turn


def cli(env, *args):
    return subprocess.run([sys.executable, "-m", "jetracer"] + list(args), env=env, timeout=120,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)


def text_rows(panel, line, text):
    """Whether OLED ``line`` (8 pixel rows) shows ``text`` from its left edge (6 pixels a character)."""
    from jetracer.display.render import render_lines

    expected = np.array(render_lines([""] * line + [text]), dtype=bool)
    rows, cols = slice(8 * line, 8 * line + 8), slice(0, 6 * len(text))
    return bool((panel[rows, cols] == expected[rows, cols]).all())


def test_a_frozen_csi_camera_stops_the_car_is_reopened_and_the_car_waits_for_an_arm(tmp_path, monkeypatch):
    frames = write_frames(tmp_path / "frames", [-1.0] * 4)
    model = road_model(tmp_path / "road.onnx")
    sensor = tmp_path / "sensor"
    sensor.write_text("run")
    env = drive_env(tmp_path, {"profile": "latrax", "camera": {"source": "csi"},
                               "drive": {"model": model, "mode": "auto", "throttle": 0.3,
                                         "max_frame_age_s": FRAME_AGE_S, "supervisor_timeout_s": 1.0,
                                         "self_check_frames": 2, "publish_hz": 10.0}},
                    FAKE_JETCAM_SOURCE=frames, FAKE_JETCAM_CONTROL=str(sensor),
                    FAKE_JETCAM_LOG=str(tmp_path / "opens.jsonl"))
    proc = start_drive(env, "--arm")
    wire = Wire(tmp_path / "bus.bin", PROFILE)
    try:
        assert wire.watch(lambda s, t: t > CENTER_US + 20, 60, proc), "the car never drove on the CSI camera"
        sensor.write_text("freeze")
        frozen = time.monotonic()
        assert wire.watch(lambda s, t: abs(t - CENTER_US) < 5, 5, proc), "a frozen camera did not stop the car"
        assert time.monotonic() - frozen < FRAME_AGE_S + MARGIN_S
        assert wait_for(lambda: "reopening (attempt 1)" in read_state(tmp_path).get("stop_reason", ""), 10)
        state = read_state(tmp_path)
        assert state["stop_reason"].startswith("camera: no frame for ") and state["camera"]["status"] == "reopening"
        assert not wire.watch(lambda s, t: abs(t - CENTER_US) >= 5, 1.0, proc), "the throttle moved while frozen"

        shown = cli(env, "display", "--once")
        assert shown.returncode == 0, shown.stderr
        panel = wire.bus.chip(0x3C).image()
        assert text_rows(panel, 1, "cam: no frame ") and text_rows(panel, 2, "reopening, try 1")

        for key in ("JETRACER_STATE", "JETRACER_RUNTIME_DIR", "JETRACER_CONFIG", "JETRACER_I2C"):
            monkeypatch.setenv(key, env[key])
        from jetracer.apps.doctor_checks.base import Context
        from jetracer.apps.doctor_checks.camera import check_camera
        from jetracer.config import load_config
        finding = check_camera(Context(load_config()))
        assert finding.status == "fail" and "the running drive's csi camera stopped delivering: no frame for" \
            in finding.finding and "reopening (attempt 1)" in finding.finding
        assert "sudo systemctl restart nvargus-daemon" in finding.fix

        sensor.write_text("run")
        assert wait_for(lambda: read_state(tmp_path).get("stop_reason", "").startswith("camera: recovered after "),
                        10), read_state(tmp_path)
        state = read_state(tmp_path)
        assert state["stop_reason"].endswith("; arm again to drive") and not state["armed"]
        assert state["camera"]["status"] == "ok" and state["camera"]["recoveries"] == 1
        assert not wire.watch(lambda s, t: abs(t - CENTER_US) >= 5, 1.0, proc), "the car drove off by itself"
        assert check_camera(Context(load_config())).status == "warning"

        armed = cli(env, "arm")
        assert armed.returncode == 0, armed.stderr
        assert wire.watch(lambda s, t: t > CENTER_US + 20, 5, proc), "the car did not drive again once armed"
    finally:
        code, report, err = stop_drive(proc)
    assert code == 0, err
    assert "camera stopped delivering frames (no frame for" in err and "camera recovered after" in err
    assert report["stops"].get("camera", 0) > 0 and abs(report["outputs"]["throttle_pulse_us"] - CENTER_US) < 5
    assert len((tmp_path / "opens.jsonl").read_text().splitlines()) >= 2


def test_a_csi_sensor_that_never_opens_fails_the_drive_at_start_with_one_line(tmp_path):
    frames = write_frames(tmp_path / "frames", [0.0] * 2)
    sensor = tmp_path / "sensor"
    sensor.write_text("fail")
    env = drive_env(tmp_path, {"profile": "latrax", "camera": {"source": "csi"},
                               "drive": {"mode": "manual", "self_check_frames": 0}},
                    FAKE_JETCAM_SOURCE=frames, FAKE_JETCAM_CONTROL=str(sensor))
    started = time.monotonic()
    proc = start_drive(env)
    out, err = proc.communicate(timeout=60)
    lines = [line for line in err.splitlines() if not line.startswith("INFO ")]  # the car's log says its limits
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("jetracer drive: "), err
    assert "could not open CSI camera 0" in lines[0] and "camera.sensor_id" in lines[0]
    assert "sudo systemctl restart nvargus-daemon" in lines[0] and "Traceback" not in err
    assert time.monotonic() - started < 30, "it kept retrying a camera that never opened"
    assert os.path.exists(str(tmp_path / "bus.bin")), "the car was not set up before the camera"
    assert abs(Wire(tmp_path / "bus.bin", PROFILE).pulses()[1] - CENTER_US) < 5
