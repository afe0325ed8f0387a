"""jetracer's USB/CSI cameras on jetcam's own classes (tests/fakes/jetcam: jetcam as upstream writes it, its
capture replaced by a recording): frames, flips, stamps and a camera that stops, through jetracer's code."""
import os
import sys
import time

import cv2
import numpy as np
import pytest

from jetracer.config import load_config

FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fakes")


@pytest.fixture
def jetcam(monkeypatch, tmp_path):
    """jetcam (the stand-in of tests/fakes) importable, reading a 16-frame MJPG video of a left-bright scene."""
    for name in [m for m in sys.modules if m == "jetcam" or m.startswith("jetcam.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(FAKES)
    video = str(tmp_path / "drive.avi")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for k in range(16):
        frame = np.full((120, 160, 3), 30, np.uint8)
        frame[:, :40] = 220  # bright on the left quarter
        frame[:8, :8] = 8 * k
        writer.write(frame)
    writer.release()
    monkeypatch.setenv("FAKE_JETCAM_SOURCE", video)
    monkeypatch.delenv("FAKE_JETCAM_FAIL_AFTER", raising=False)
    yield video
    for name in [m for m in sys.modules if m == "jetcam" or m.startswith("jetcam.")]:
        del sys.modules[name]  # the stand-in stays out of later tests


def usb_config(flip):
    return load_config(os.devnull, env={}).with_overrides(camera={"source": "usb", "device": 2, "flip": flip,
                                                                  "width": 64, "height": 48})


def test_usb_camera_through_jetcam_delivers_flipped_frames_with_advancing_stamps(jetcam):
    from jetracer.camera import USBCamera, create_camera
    from jetracer.compat import is_fallback
    import jetcam.usb_camera

    assert not is_fallback(jetcam.usb_camera) and jetcam.usb_camera.__file__.startswith(FAKES)
    camera = create_camera(usb_config("horizontal"))
    assert isinstance(camera, USBCamera)
    try:
        frame = camera.read()
        assert frame.shape == (48, 64, 3)
        assert frame[:, -8:].mean() > 180 and frame[:, :8].mean() < 60  # the bright left edge, mirrored right
        camera.running = True
        first = (camera.frame_id, camera.timestamp)
        time.sleep(0.3)
        assert camera.frame_id > first[0] + 3 and camera.timestamp > first[1]
    finally:
        camera.release()


def test_a_jetcam_camera_that_stops_reports_why_and_stops_its_thread(jetcam, monkeypatch):
    from jetracer.camera import CameraError, create_camera

    monkeypatch.setenv("FAKE_JETCAM_FAIL_AFTER", "5")
    camera = create_camera(usb_config("none"))
    try:
        camera.running = True
        deadline = time.time() + 5
        while camera.running and time.time() < deadline:
            time.sleep(0.02)
        assert not camera.running
        assert camera.error.startswith("USB camera stopped delivering frames (Could not read image from camera)")
        with pytest.raises(CameraError, match="USB camera stopped delivering frames"):
            camera.read()
    finally:
        camera.release()
