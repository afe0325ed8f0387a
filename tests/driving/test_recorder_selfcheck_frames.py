"""Recording while driving, the model self-check, and the threaded newest-frame source."""
import os
import threading
import time

import numpy as np
import pytest

from jetracer.dataset import parse_name
from jetracer.driving.failsafe import SelfCheckError, self_check
from jetracer.driving.frames import ThreadedFrames
from jetracer.driving.loop import DriveLoop
from jetracer.driving.recorder import Recorder

from driving_doubles import law, settings


def test_record_button_saves_the_frame_with_the_steering_target(car, camera, pilot, tmp_path):
    recorder = Recorder(str(tmp_path / "data"), "apex")
    loop = DriveLoop(car, camera, pilot, law(), settings(), lockstep=True, recorder=recorder, armed=True)
    for _ in range(3):
        loop.step()
    loop.request_record()
    loop.step()
    recorder.close()
    files = [f for _, _, names in os.walk(str(tmp_path / "data")) for f in names if f.endswith(".jpg")]
    assert len(files) == 1
    u, v = parse_name(files[0])
    expected_u = (loop.target[0] + 1) * camera.width / 2
    assert abs(u - expected_u) <= 1 and v == camera.height // 2


class SlowWriter(object):
    def __init__(self):
        self.release = threading.Event()
        self.saved = []

    def save(self, frame, u, v):
        self.release.wait(5)
        self.saved.append((u, v))


def test_recording_never_blocks_when_the_writer_is_slow():
    writer = SlowWriter()
    recorder = Recorder(writer=writer, maxsize=2)
    frame = np.zeros((8, 8, 3), np.uint8)
    start = time.perf_counter()
    accepted = [recorder.record(frame, 0.0, 0.0) for _ in range(10)]
    assert time.perf_counter() - start < 0.5
    assert sum(accepted) <= 3 and recorder.dropped >= 7
    writer.release.set()
    recorder.close()
    assert len(writer.saved) == sum(accepted)


def test_self_check_refuses_constant_and_nan_models(camera, pilot):
    frames = [camera.read() for _ in range(3)]
    self_check(pilot, frames)
    with pytest.raises(SelfCheckError, match="x=0.1230 for all 12"):
        self_check(lambda frame: (0.123, 0.0), frames)
    with pytest.raises(SelfCheckError, match="nan"):
        self_check(lambda frame: (float("nan"), 0.0), frames)


class ThreadCamera(object):
    """A camera whose read() blocks like a 100 fps sensor."""

    def __init__(self):
        self.frames = 0

    def read(self):
        time.sleep(0.01)
        self.frames += 1
        return np.full((8, 8, 3), self.frames % 256, np.uint8)


def test_threaded_loop_never_processes_a_frame_twice(car, pilot):
    camera = ThreadCamera()
    loop = DriveLoop(car, camera, pilot, law(), settings(max_frame_age_s=0.5, watchdog_s=0.0), period_s=0.01, armed=True)
    metrics = loop.run(max_iterations=40)
    assert pilot.calls == metrics["frames_processed"] <= camera.frames
    assert metrics["iterations"] == 40
    assert at_rest_after_run(car)


def at_rest_after_run(car):
    return car.throttle == 0.0 and car.throttle_output == 0.0


def test_frame_source_waits_at_most_one_period():
    class Dead(object):
        def read(self):
            time.sleep(10)

    frames = ThreadedFrames(Dead(), period_s=0.02)
    start = time.perf_counter()
    frame, frame_id, _ = frames.next(-1)
    assert frame is None and time.perf_counter() - start < 0.2


def test_frames_recorded_counts_files_written_not_frames_queued(car, camera, pilot, tmp_path):
    """The disk goes away after the first saved frame (its folder becomes a file): later records are queued but fail."""
    import shutil

    recorder = Recorder(str(tmp_path / "data"), "apex")
    folder = recorder.writer.folder
    loop = DriveLoop(car, camera, pilot, law(), settings(), lockstep=True, recorder=recorder, armed=True)
    loop.request_record()
    loop.step()
    deadline = time.time() + 5
    while recorder.saved < 1 and time.time() < deadline:
        time.sleep(0.01)
    written = [f for f in os.listdir(folder) if f.endswith(".jpg")]
    shutil.rmtree(folder)
    with open(folder, "w") as f:
        f.write("not a folder")
    for _ in range(3):
        loop.request_record()
        loop.step()
    recorder.close()
    metrics = loop.metrics()
    assert metrics["frames_record_queued"] == 4 and metrics["frames_record_failed"] == 3
    assert metrics["frames_recorded"] == len(written) == 1  # the one file written
    assert sorted(os.listdir(str(tmp_path / "data"))) == ["apex"] and os.path.isfile(folder)



def test_a_camera_error_stops_the_car_with_its_message_and_a_recovered_camera_drives_again(car, pilot):
    from driving_doubles import at_neutral
    from jetracer.camera.base import Camera, CameraError

    class Flaky(Camera):
        broken = False

        def _read(self):
            time.sleep(0.01)
            if self.broken:
                raise CameraError("CSI camera stopped delivering frames (cable?)")
            return np.full((8, 8, 3), self.frame_id % 256, np.uint8)

    camera = Flaky(width=8, height=8)
    loop = DriveLoop(car, camera, pilot, law(), settings(max_frame_age_s=5.0, watchdog_s=0.0), period_s=0.01, armed=True)
    loop.law.throttle = 0.3
    loop.run(max_iterations=10)
    assert loop.stop_reason == ""
    camera.broken = True
    seen = []
    for _ in range(30):  # step by step: the throttle pulse while the camera is broken
        loop.step()
        seen.append((loop.stop_reason, at_neutral(car)))
    loop.close()
    assert seen[-1] == ("camera: CSI camera stopped delivering frames (cable?)", True)
    camera.broken = False
    loop.run(duration_s=1.5)  # the capture thread is restarted within a second
    assert loop.stop_reason == "" and camera.running is False  # the loop stopped the thread it started
    camera.release()
