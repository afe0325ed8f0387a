"""Image folders and videos replay as cameras: frames in order, resized, flipped, stamped; the end
of a replay and a broken file are reported, not silent."""
import os
import time

import cv2
import numpy as np
import pytest

from jetracer.camera import CameraError, EndOfStream, ReplayCamera, flip_frame

LEVELS = [20, 60, 100, 140, 180, 220]


def numbered_frame(level, w=64, h=48):
    """A grey frame whose level identifies it; the right quarter is white so flips show."""
    frame = np.full((h, w, 3), level, np.uint8)
    frame[:, 3 * w // 4:] = 255
    return frame


@pytest.fixture
def jpeg_folder(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in reversed(range(len(LEVELS))):  # written out of order: the camera sorts by name
        cv2.imwrite(str(folder / ("%03d.jpg" % i)), numbered_frame(LEVELS[i]))
    (folder / "notes.txt").write_text("not an image")
    return str(folder)


@pytest.fixture
def video_file(tmp_path):
    path = str(tmp_path / "drive.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (64, 48))
    assert writer.isOpened()
    for level in LEVELS:
        writer.write(numbered_frame(level))
    writer.release()
    return path


def level_of(frame):
    return float(frame[:, : frame.shape[1] // 2].mean())


def read_all(camera, n):
    frames, ids, stamps = [], [], []
    for _ in range(n):
        frames.append(camera.read())
        ids.append(camera.frame_id)
        stamps.append(camera.timestamp)
        assert camera.value is frames[-1]
    return frames, ids, stamps


@pytest.mark.parametrize("source", ["jpeg_folder", "video_file"])
def test_replay_returns_frames_in_order_with_increasing_ids_and_stamps(source, request):
    path = request.getfixturevalue(source)
    with ReplayCamera(path, loop=False, width=224, height=224) as camera:
        frames, ids, stamps = read_all(camera, len(LEVELS))
        assert [f.shape for f in frames] == [(224, 224, 3)] * len(LEVELS)
        np.testing.assert_allclose([level_of(f) for f in frames], LEVELS, atol=4)
        assert ids == list(range(1, len(LEVELS) + 1))
        assert all(b > a for a, b in zip(stamps, stamps[1:]))
        with pytest.raises(EndOfStream):
            camera.read()
    if source == "video_file":
        assert ReplayCamera(path).fps == pytest.approx(20.0)


def test_looping_replay_starts_over(jpeg_folder):
    camera = ReplayCamera(jpeg_folder, loop=True, width=32, height=32)
    frames, _, _ = read_all(camera, len(LEVELS) + 2)
    np.testing.assert_allclose([level_of(f) for f in frames], LEVELS + LEVELS[:2], atol=4)
    assert camera.source.endswith("001.jpg")


def test_capture_thread_keeps_value_fresh_and_stops_at_the_end(jpeg_folder):
    camera = ReplayCamera(jpeg_folder, fps=200, loop=False)
    seen = []
    camera.observe(lambda change: seen.append((camera.frame_id, level_of(change["new"]))), names="value")
    camera.running = True
    with pytest.raises(CameraError, match="running"):
        camera.read()
    deadline = time.monotonic() + 5.0
    while camera.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not camera.running and "ended" in camera.error
    assert [i for i, _ in seen] == list(range(1, len(LEVELS) + 1))
    np.testing.assert_allclose([lvl for _, lvl in seen], LEVELS, atol=4)
    camera.release()
    with pytest.raises(CameraError, match="released"):
        camera.read()


def test_broken_image_stops_the_thread_with_the_reason(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    cv2.imwrite(str(folder / "000.jpg"), numbered_frame(50))
    (folder / "001.jpg").write_bytes(b"not a jpeg")
    camera = ReplayCamera(str(folder), fps=100, loop=True)
    camera.running = True
    deadline = time.monotonic() + 5.0
    while camera.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not camera.running and "001.jpg" in camera.error and camera.frame_id == 1
    assert camera.age_s() >= 0


def test_flip_applies(jpeg_folder):
    plain = ReplayCamera(jpeg_folder, width=64, height=48).read()
    flipped = ReplayCamera(jpeg_folder, width=64, height=48, flip="horizontal").read()
    assert plain[:, -1].mean() > 250 and flipped[:, 0].mean() > 250 and flipped[:, -1].mean() < 30
    upside = numbered_frame(0)
    upside[0] = 128
    rotated = flip_frame(upside, "rotate-180")
    assert (rotated[-1] == 128).all() and (rotated[:-1, :16] == 255).all() and (rotated[:-1, -16:] == 0).all()
    assert (flip_frame(upside, "vertical")[-1, -1] == 128).all() and (flip_frame(upside, "none") is upside)
    with pytest.raises(CameraError, match="rotate-180"):
        ReplayCamera(jpeg_folder, flip="upside-down")


def test_missing_or_empty_sources_are_named(tmp_path):
    with pytest.raises(CameraError, match="does not exist"):
        ReplayCamera(str(tmp_path / "nowhere"))
    with pytest.raises(CameraError, match="no images"):
        ReplayCamera(str(tmp_path))
