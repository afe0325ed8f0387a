"""create_camera builds the configured source; the simulator camera steps its world in lockstep or
real time; the car's cameras explain a missing jetcam and a camera that does not open."""
import os
import math
import sys
import textwrap
import time

import numpy as np
import pytest

from jetracer.camera import (CameraError, CSICamera, JetcamMissing, ReplayCamera, SimCamera, USBCamera,
                             create_camera, csi_pipeline)
from jetracer.config import load_config
from jetracer.sim.world import SimWorld


@pytest.fixture
def config(tmp_path):
    return load_config(os.devnull, env={})


@pytest.fixture
def no_jetcam(monkeypatch):
    for name in [m for m in sys.modules if m == "jetcam" or m.startswith("jetcam.")]:
        monkeypatch.delitem(sys.modules, name)


@pytest.fixture
def stand_in_jetcam(tmp_path, monkeypatch, no_jetcam):
    """jetcam's CSICamera as upstream writes it (it opens a GStreamer pipeline with OpenCV, which
    really fails here: no Argus camera daemon on this machine)."""
    pkg = tmp_path / "site" / "jetcam"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "csi_camera.py").write_text(textwrap.dedent('''
        import cv2, numpy as np, traitlets

        class CSICamera(traitlets.HasTraits):
            value = traitlets.Any()
            width = traitlets.Integer(224)
            height = traitlets.Integer(224)
            capture_device = traitlets.Integer(0)
            capture_fps = traitlets.Integer(30)
            capture_width = traitlets.Integer(640)
            capture_height = traitlets.Integer(480)

            def __init__(self, *args, **kwargs):
                super(CSICamera, self).__init__(*args, **kwargs)
                self.value = np.empty((self.height, self.width, 3), dtype=np.uint8)
                try:
                    self.cap = cv2.VideoCapture(self._gst_str(), cv2.CAP_GSTREAMER)
                    re, image = self.cap.read()
                    if not re:
                        raise RuntimeError('Could not read image from camera.')
                except:
                    raise RuntimeError('Could not initialize camera.  Please see error trace.')

            def _gst_str(self):
                raise AssertionError('jetracer must supply its own pipeline')
    '''))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


def test_car_cameras_without_jetcam_say_how_to_install_it(config, no_jetcam, monkeypatch):
    monkeypatch.setitem(sys.modules, "jetcam", None)  # as on a machine without jetcam
    for make in (lambda: CSICamera(), lambda: USBCamera(), lambda: create_camera(config)):
        with pytest.raises(JetcamMissing) as err:
            make()
        assert "git clone https://github.com/NVIDIA-AI-IOT/jetcam && cd jetcam && sudo python3 setup.py install" in str(err.value)
        assert isinstance(err.value, ImportError)


def test_csi_camera_that_does_not_open_says_what_to_check(config, stand_in_jetcam):
    upside_down = config.with_overrides(profile_overrides={"camera": {"flip": "rotate-180", "sensor_id": 1}})
    with pytest.raises(CameraError) as err:
        create_camera(upside_down)
    message = str(err.value)
    for hint in ("sensor id", "sudo systemctl restart nvargus-daemon", "ribbon cable", "other process"):
        assert hint in message
    assert "sensor-id=1" in message and "nvvidconv flip-method=2" in message and "width=1280, height=720" in message


def test_csi_flip_methods_follow_the_profile():
    methods = [csi_pipeline(0, 1280, 720, 30, 224, 224, flip).split("flip-method=")[1][0]
               for flip in ("none", "rotate-180", "horizontal", "vertical")]
    assert methods == ["0", "2", "4", "6"]
    with pytest.raises(CameraError, match="horizontal"):
        csi_pipeline(0, 1280, 720, 30, 224, 224, "sideways")


def test_create_camera_picks_the_source(config, tmp_path):
    import cv2
    folder = tmp_path / "rec"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.jpg"), np.zeros((10, 20, 3), np.uint8))
    replay = create_camera(config.with_overrides(camera={"source": "replay", "path": str(folder)}))
    assert isinstance(replay, ReplayCamera) and replay.read().shape == (224, 224, 3)
    small = create_camera(config, source="replay", path=str(folder), width=96, height=64, fps=5)
    assert small.read().shape == (64, 96, 3) and small.fps == 5
    with pytest.raises(CameraError, match="needs a path"):
        create_camera(config, source="replay")
    with pytest.raises(CameraError, match=r"camera\.pth: unknown key .*did you mean path"):
        create_camera(config, source="replay", pth=str(folder))
    world = SimWorld("latrax", track="oval", seed=1, fps=20, randomize=False)
    sim = create_camera(config, world=world, source="sim", realtime=True)
    assert isinstance(sim, SimCamera) and sim.world is world and sim.realtime and sim.fps == 20


def test_sim_camera_without_a_world_builds_one_from_the_config(config):
    cfg = config.with_overrides(camera={"source": "sim"}, sim={"track": "oval", "seed": 5, "fps": 15})
    with create_camera(cfg) as camera:
        assert isinstance(camera, SimCamera) and camera.world.seed == 5 and camera.world.fps == 15
        assert camera.read().shape == (224, 224, 3)


def test_lockstep_read_advances_the_world_one_frame_period():
    world = SimWorld("latrax", track="oval", seed=0, fps=30, randomize=False)
    camera = SimCamera(world)
    world.car.throttle = 0.4
    t0, pose0 = world.state.time_s, world.pose
    frames = [camera.read() for _ in range(30)]
    assert world.state.time_s - t0 == pytest.approx(30 / 30.0)
    assert camera.frame_id == 30 and world.state.frame == 30
    assert math.hypot(world.pose[0] - pose0[0], world.pose[1] - pose0[1]) > 0.05
    assert np.abs(frames[-1].astype(int) - frames[0]).mean() > 1  # the car moved: the view changed
    twin = SimCamera(SimWorld("latrax", track="oval", seed=0, fps=30, randomize=False))
    twin.world.car.throttle = 0.4
    assert np.array_equal([twin.read() for _ in range(30)][-1], frames[-1])


def test_realtime_sim_camera_never_runs_ahead_of_the_wall_clock():
    world = SimWorld("latrax", track="oval", seed=0, fps=50, randomize=False)
    camera = SimCamera(world, realtime=True)
    world.render()  # rasterise the track before timing
    start = time.monotonic()
    camera.running = True
    time.sleep(0.4)
    camera.running = False
    elapsed = time.monotonic() - start
    assert 0 < world.state.time_s <= elapsed + 1.0 / world.fps
    assert camera.frame_id == world.state.frame and camera.error == ""
