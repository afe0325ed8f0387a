"""The simulated camera's geometry comes from the profile: FOV at the image edges, fy/fx squeeze,
horizon row, pixel <-> ground round trips."""
import math

import numpy as np
import pytest

from jetracer.profiles import load_profile
from jetracer.sim.camera_model import CameraModel


def camera(**overrides):
    return load_profile("latrax", {"camera": overrides}).camera


def test_latrax_camera_squeezes_16_9_into_a_square():
    model = CameraModel(camera(), 224, 224)
    assert model.aspect == pytest.approx(1280.0 / 720.0, rel=0.01)


@pytest.mark.parametrize("projection", ["pinhole", "equidistant"])
def test_image_edges_see_half_the_field_of_view(projection):
    model = CameraModel(camera(projection=projection, hfov_deg=150.0, vfov_deg=110.0), 224, 224)
    h, v = math.radians(75.0), math.radians(55.0)
    cam_dirs = np.array([[math.sin(h), 0, math.cos(h)], [-math.sin(h), 0, math.cos(h)],
                         [0, math.sin(v), math.cos(v)], [0, -math.sin(v), math.cos(v)]])
    points = model.position + cam_dirs.dot(model.R.T)  # one metre along each direction
    uv, _ = model.project(points)
    np.testing.assert_allclose(uv, [[224, 112], [0, 112], [112, 224], [112, 0]], atol=1e-6)


def test_fisheye_sees_beyond_180_degrees():
    model = CameraModel(camera(projection="equidistant", hfov_deg=190.0, vfov_deg=120.0), 224, 224)
    behind_side = model.position + model.R.dot([math.sin(math.radians(93)), 0.0, math.cos(math.radians(93))])
    uv, visible = model.project(behind_side[None])
    assert visible[0] and 219 < uv[0, 0] < 224


def test_horizon_row_follows_pitch_and_vertical_fov():
    for pitch in (30.0, 51.0):
        model = CameraModel(camera(mount_pitch_deg=pitch, projection="pinhole", hfov_deg=144.0, vfov_deg=120.0), 224, 224)
        expected = 112.0 - model.fy * math.tan(math.radians(pitch))
        assert model.horizon_v(112.0) == pytest.approx(expected, abs=0.05)
    fish = CameraModel(camera(projection="equidistant", mount_pitch_deg=40.0), 224, 224)
    assert fish.horizon_v(112.0) == pytest.approx(112.0 - fish.fy * math.radians(40.0), abs=0.05)


def test_roll_tilts_the_horizon():
    model = CameraModel(camera(mount_pitch_deg=30.0), 224, 224, jitter={"roll_deg": 5.0})
    left, right = model.horizon_v(40.0), model.horizon_v(184.0)
    assert right < left  # camera turned clockwise: the horizon rises to the right


@pytest.mark.parametrize("overrides", [{}, {"projection": "equidistant", "fisheye_k1": -0.05, "fisheye_k2": 0.004}])
def test_pixels_round_trip_through_the_ground(overrides):
    model = CameraModel(camera(**overrides), 224, 224, jitter={"pitch_deg": -3.0, "roll_deg": 2.0, "height_m": 0.01})
    uv = model.pixel_grid()
    ground = model.ground_points(uv)
    seen = np.isfinite(ground[:, 0])
    assert 0.5 < seen.mean() < 0.95
    points = np.concatenate([ground[seen], np.zeros((seen.sum(), 1))], axis=1)
    back, visible = model.project(points)
    assert visible.all()
    np.testing.assert_allclose(back, uv[seen], atol=1e-6)


def test_bad_geometry_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="equidistant"):
        CameraModel(camera(projection="pinhole", hfov_deg=185.0), 224, 224)
    with pytest.raises(ValueError, match="pitch_deg"):
        CameraModel(camera(), 224, 224, jitter={"tilt_deg": 1.0})
