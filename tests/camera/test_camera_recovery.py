"""A camera that stops delivering is reopened with back-off and says so (jetracer/camera/recovering.py).

The schedule and the status lines are checked on :class:`Recovery` with an injected clock; the wrapper itself
runs jetracer's USB/CSI cameras on jetcam's classes (tests/fakes/jetcam) whose sensor a control file
freezes, breaks and lets run again, and a replay that ends.
"""
import os
import sys
import time

import cv2
import numpy as np
import pytest

from jetracer.camera import CameraError, RecoveringCamera, create_camera, recovering_camera
from jetracer.camera.recovering import Recovery
from jetracer.config import load_config

FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fakes")


class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def failing_attempts(recovery, clock, count):
    """Start ``count`` attempts, each failing at once; return the times they started."""
    starts = []
    for _ in range(count):
        while not recovery.due(clock.now):
            clock.now = round(clock.now + 0.05, 6)
        starts.append(round(clock.now, 2))
        recovery.start_attempt(clock.now)
        recovery.failed(clock.now, "reopening failed: Could not initialize camera")
    return starts


def test_a_stall_starts_reopening_at_once_then_backs_off_doubling_up_to_a_cap():
    clock = Clock()
    recovery = Recovery("usb", stall_s=1.0, backoff_s=(0.5, 1.0, 2.0, 4.0), advise_after_attempts=99,
                        advise_after_s=999.0)
    recovery.started(clock.now)
    recovery.frame(clock.now)
    clock.now += 1.0
    assert not recovery.stalled(clock.now) and recovery.message == ""
    clock.now += 0.05
    assert recovery.stalled(clock.now)
    recovery.failed(clock.now, "no frame for 1.1 s")
    starts = failing_attempts(recovery, clock, 7)
    gaps = [round(b - a, 2) for a, b in zip(starts, starts[1:])]
    assert starts[0] == 101.05 and gaps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert recovery.message == "no frame for %.1f s, reopening (attempt 7)" % (starts[-1] - 100.0)


def test_after_five_attempts_the_line_names_the_fix_once_and_keeps_trying():
    clock = Clock()
    recovery = Recovery("csi")
    recovery.frame(clock.now)
    clock.now += 1.5
    recovery.failed(clock.now, "no frame for 1.5 s")
    failing_attempts(recovery, clock, 4)
    assert "fix" not in recovery.message and not recovery.advised
    recovery.start_attempt(clock.now + 4.0)
    assert recovery.advised and not recovery.advise(clock.now + 5.0)  # said once
    assert recovery.message.startswith("no frame for ") and "reopening (attempt 5); fix: run `sudo systemctl restart " \
                                                          "nvargus-daemon`" in recovery.message
    recovery.failed(clock.now + 4.1, "reopening failed")
    assert recovery.due(clock.now + 8.1)  # the cap: it keeps trying every 4 s
    assert Recovery("usb").fix.startswith("check the USB camera's cable and port")


def test_an_open_that_hangs_is_advised_after_30_s_with_its_attempt_number():
    clock = Clock()
    recovery = Recovery("csi")
    recovery.frame(clock.now)
    clock.now += 1.2
    recovery.failed(clock.now, "no frame for 1.2 s")
    recovery.start_attempt(clock.now)  # the open never returns
    clock.now += 28.0
    assert not recovery.advise(clock.now)
    clock.now += 1.0
    assert recovery.advise(clock.now)
    assert recovery.message == ("no frame for 30.2 s, reopening (attempt 1); fix: run `sudo systemctl restart "
                                "nvargus-daemon` (the CSI camera's daemon hangs), then check the ribbon cable")
    state = recovery.report(clock.now)
    assert state["status"] == "reopening" and state["attempt"] == 1 and state["no_frame_s"] == 30.2


def test_a_frame_ends_the_failure_with_how_long_it_took():
    clock = Clock()
    recovery = Recovery("usb")
    recovery.frame(clock.now)
    clock.now += 1.1
    recovery.failed(clock.now, "no frame for 1.1 s")
    failing_attempts(recovery, clock, 2)
    recovery.start_attempt(clock.now)
    recovery.opened(clock.now + 0.4)
    assert recovery.frame(clock.now + 0.5) == "recovered after %.1f s (3 reopens)" % (clock.now + 0.5 - 100.0)
    state = recovery.report(clock.now + 1)
    assert state["status"] == "ok" and state["message"] == "" and state["recoveries"] == 1
    assert state["last_recovery"].startswith("recovered after")


# -- the wrapper on jetcam's classes (the stand-in of tests/fakes) ---------------------------------------------

@pytest.fixture
def sensor(monkeypatch, tmp_path):
    """jetcam's stand-in importable, reading a 4-frame folder; returns the control file (a word: run, freeze, fail)."""
    for name in [m for m in sys.modules if m == "jetcam" or m.startswith("jetcam.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(FAKES)
    folder = tmp_path / "frames"
    folder.mkdir()
    for k in range(4):
        cv2.imwrite(str(folder / ("%02d.png" % k)), np.full((48, 64, 3), 40 * k, np.uint8))
    control = tmp_path / "control"
    control.write_text("run")
    monkeypatch.setenv("FAKE_JETCAM_SOURCE", str(folder))
    monkeypatch.setenv("FAKE_JETCAM_CONTROL", str(control))
    monkeypatch.setenv("FAKE_JETCAM_LOG", str(tmp_path / "opens.jsonl"))
    monkeypatch.delenv("FAKE_JETCAM_FAIL_AFTER", raising=False)
    yield control
    for name in [m for m in sys.modules if m == "jetcam" or m.startswith("jetcam.")]:
        del sys.modules[name]


def config_for(source):
    return load_config(os.devnull, env={}).with_overrides(camera={"source": source, "width": 64, "height": 48})


def wait_until(condition, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def opens(sensor):
    log = sensor.parent / "opens.jsonl"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_frozen_csi_camera_is_reopened_and_delivers_again(sensor):
    config = config_for("csi")
    camera = RecoveringCamera(lambda: create_camera(config), "csi",
                              Recovery("csi", stall_s=0.3, backoff_s=(0.1, 0.2)))
    try:
        camera.running = True
        assert wait_until(lambda: camera.frame_id > 3, 5)
        sensor.write_text("freeze")
        assert wait_until(lambda: "reopening (attempt 1)" in camera.error, 5), camera.error
        assert camera.running and camera.recoveries == 0
        frozen_id = camera.frame_id
        time.sleep(0.3)
        assert camera.frame_id == frozen_id and camera.health()["status"] == "reopening"
        sensor.write_text("run")
        assert wait_until(lambda: camera.recoveries == 1 and camera.frame_id > frozen_id + 3, 5), camera.error
        assert camera.error == "" and camera.recovered_message.startswith("recovered after ")
        assert camera.health()["last_recovery"] == camera.recovered_message and opens(sensor) >= 2
    finally:
        camera.release()


def test_a_usb_camera_that_stays_broken_is_retried_with_back_off_and_told_to_check_its_cable(sensor):
    config = config_for("usb")
    camera = RecoveringCamera(lambda: create_camera(config), "usb",
                              Recovery("usb", stall_s=0.3, backoff_s=(0.05, 0.1), advise_after_attempts=3))
    try:
        camera.running = True
        assert wait_until(lambda: camera.frame_id > 2, 5)
        sensor.write_text("fail")
        assert wait_until(lambda: "fix: check the USB camera's cable and port" in camera.error, 10), camera.error
        assert "reopening (attempt 3)" in camera.error and camera.running
        health = camera.health()
        assert health["cause"].startswith("no frame for") or health["cause"].startswith("USB camera stopped delivering")
        assert "Could not initialize camera" in health["last_error"]
        tries = opens(sensor)
        time.sleep(0.5)
        assert opens(sensor) > tries, "it stopped trying"
        sensor.write_text("run")
        assert wait_until(lambda: camera.recoveries == 1, 5) and camera.error == ""
    finally:
        camera.release()


def test_a_camera_that_does_not_open_at_start_fails_at_once(sensor):
    sensor.write_text("fail")
    with pytest.raises(CameraError, match=r"camera\.sensor_id.*nvargus-daemon"):
        recovering_camera(config_for("csi"))
    assert opens(sensor) == 1, "it was tried once, not retried"


def test_a_replay_that_ends_ends_the_camera_and_is_not_reopened(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    for k in range(3):
        cv2.imwrite(str(folder / ("%d.png" % k)), np.full((24, 32, 3), 50 * k, np.uint8))
    config = load_config(os.devnull, env={}).with_overrides(
        camera={"source": "replay", "path": str(folder), "loop": False, "fps": 30, "width": 32, "height": 24})
    camera = recovering_camera(config)
    assert isinstance(camera, RecoveringCamera)
    try:
        camera.running = True
        assert wait_until(lambda: not camera.running, 5)
        assert camera.error == "replay of %s ended after 3 frames" % folder and camera.recoveries == 0
        assert camera.health()["status"] == "ok"
    finally:
        camera.release()


def test_the_simulator_camera_is_not_wrapped():
    config = load_config(os.devnull, env={}).with_overrides(camera={"source": "sim", "width": 32, "height": 24})
    camera = recovering_camera(config)
    try:
        assert not isinstance(camera, RecoveringCamera)
    finally:
        camera.release()
