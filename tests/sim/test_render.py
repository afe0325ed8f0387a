"""The renderer draws the track where the camera model says: symmetric road, horizon row, lens
bending, hood, reproducible photometric randomisation, and world <-> pixel round trips."""
import math

import numpy as np
import pytest

from jetracer.profiles import load_profile
from jetracer.sim.render import Renderer
from sim_helpers import TextureTrack, hood_mask, straight_road, unproject

NORTH = math.pi / 2
PINHOLE = {"projection": "pinhole", "hfov_deg": 144.0, "vfov_deg": 120.0, "mount_pitch_deg": 51.0}


@pytest.fixture(scope="module")
def road():
    return straight_road(length_m=6.0, width_m=4.0)


def renderer(**camera):
    return Renderer(load_profile("latrax", {"camera": camera}), 224, 224)


def white_line_centres(frame, row):
    """Continuous column centres of the white runs in one row (pixel centres at +0.5), leaving out
    runs cut by the image border."""
    white = frame[row].min(axis=1) > 200
    cols = np.flatnonzero(white)
    runs = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)
    return [r.mean() + 0.5 for r in runs if len(r) and r[0] > 0 and r[-1] < frame.shape[1] - 1]


@pytest.mark.parametrize("camera", [{}, PINHOLE])
def test_centred_road_renders_symmetric_where_project_puts_its_edges(road, camera):
    r = renderer(**camera)
    frame = r.render(road, (0.0, 0.5, NORTH))
    checked = 0
    for row in range(int(r.model.horizon_v(112.0)) + 4, 224, 6):
        lines = white_line_centres(frame, row)
        if len(lines) != 2:
            continue
        left, right = lines
        assert abs((left + right) / 2.0 - 112.0) < 1.0
        # the rendered edge line is where project() puts the painted line's centre
        ground = unproject(r, np.array([[left, row + 0.5]]), (0.0, 0.5, NORTH))[0]
        assert ground[0] == pytest.approx(-0.3, abs=0.02 + 0.004 * (ground[1] - 0.5))
        checked += 1
    assert checked >= 10


def test_turned_car_sees_the_road_off_centre(road):
    r = renderer()
    left_turned = r.render(road, (0.0, 0.5, NORTH + 0.3))
    lines = white_line_centres(left_turned, 150)
    assert np.mean(lines) > 112 + 10  # car yawed left: the road moves to the right of the image


def test_horizon_is_where_pitch_and_fov_put_it():
    grass = TextureTrack(np.full((3000, 3000, 3), (30, 160, 40), np.uint8), (-150.0, 150.0), 0.1)
    for jitter in (None, {"pitch_deg": 6.0}):
        r = renderer()
        r.set_geometry(jitter)
        frame = r.render(grass, (0.0, 0.0, 0.3))
        ground_rows = np.flatnonzero((frame[:, 112] == (30, 160, 40)).all(axis=1))
        expected = 112.0 - r.model.fy * math.tan(math.radians(r.model.pitch_deg))
        assert abs(ground_rows[0] - expected) <= 1.0
        assert (frame[:int(expected) - 1, 112] == r.background_bgr).all()


def line_residual_px(frame):
    """Largest distance of the left edge line's centres from their least-squares straight line."""
    pts = []
    for row in range(40, 224, 4):
        lines = white_line_centres(frame, row)
        if len(lines) == 2:
            pts.append((lines[0], row + 0.5))
    pts = np.array(pts)
    a, b = np.polyfit(pts[:, 1], pts[:, 0], 1)
    return np.abs(pts[:, 0] - (a * pts[:, 1] + b)).max()


def test_fisheye_bends_straight_floor_lines_and_pinhole_keeps_them(road):
    pose = (0.0, 0.5, NORTH)
    assert line_residual_px(renderer(**PINHOLE).render(road, pose)) < 1.0
    fisheye = renderer(projection="equidistant", hfov_deg=160.0, vfov_deg=120.0, mount_pitch_deg=51.0)
    assert line_residual_px(fisheye.render(road, pose)) > 4.0


def test_hood_covers_the_bottom_when_the_profile_says_so(road):
    r = renderer(hood_height_frac=0.1)
    frame = r.render(road, (0.0, 0.5, NORTH))
    assert (frame[220, 112] == r.hood_bgr).all() and not (frame[190, 112] == r.hood_bgr).all()
    mask = hood_mask(r)
    assert mask[223].all() and mask.mean() < 0.1
    assert not hood_mask(renderer()).any()


def test_photometric_randomisation_is_reproducible_per_seed(road):
    r = renderer(hood_height_frac=0.05)
    pose = (0.05, 1.0, NORTH + 0.05)
    clean = r.render(road, pose)
    assert np.array_equal(clean, r.render(road, pose))
    a = [r.render(road, pose, np.random.default_rng(7)) for _ in range(2)]
    b = r.render(road, pose, np.random.default_rng(8))
    assert np.array_equal(a[0], a[1])
    assert np.abs(b.astype(int) - a[0]).mean() > 3
    means = [r.render(road, pose, rng).reshape(-1, 3).mean(axis=0) for rng in
             [np.random.default_rng(s) for s in range(8)]]
    spread = np.ptp(np.array(means), axis=0)
    assert (spread > 10).all()  # each colour channel varies across frames


@pytest.mark.parametrize("camera", [{}, {"projection": "equidistant", "hfov_deg": 160.0, "vfov_deg": 120.0}])
def test_world_points_round_trip_within_a_centimetre(camera):
    r = renderer(**camera)
    r.set_geometry({"height_m": 0.02, "pitch_deg": -4.0, "roll_deg": 1.5, "hfov_deg": -4.0})
    pose = (3.0, -2.0, 2.0)
    rng = np.random.default_rng(0)
    pts = np.array(pose[:2]) + rng.uniform(-6, 6, (4000, 2))
    uv, visible = r.project(pts, pose)
    assert 200 < visible.sum() < 4000
    back = unproject(r, uv[visible], pose)
    assert np.abs(back - pts[visible]).max() < 0.01
    behind = np.array(pose[:2]) - 1.0 * np.array([math.cos(pose[2]), math.sin(pose[2])])
    assert not r.project(behind[None], pose)[1][0]


def test_pixels_above_the_horizon_unproject_to_nan():
    r = renderer()
    xy = unproject(r, np.array([[112.0, 5.0], [112.0, 200.0]]), (0.0, 0.0, 0.0))
    assert np.isnan(xy[0]).all() and np.isfinite(xy[1]).all()


def test_far_ground_is_averaged_not_aliased():
    """A checkerboard of 8 mm squares is grey far away (as a camera sees it), not a random black/white mess."""
    checks = (np.indices((2000, 2000)).sum(axis=0) // 2 % 2 * 255).astype(np.uint8)
    board = TextureTrack(np.repeat(checks[:, :, None], 3, axis=2), (-4.0, 4.0), 0.004)
    r = renderer()
    frame = r.render(board, (0.0, -3.5, NORTH))
    far = [row for row in range(224) if 2.0 < unproject(r, [[112.0, row + 0.5]], (0.0, 0.0, 0.0))[0, 0] < 7.0]
    assert len(far) > 5
    values = frame[far, 60:164, 0].astype(float)
    assert abs(values.mean() - 127.5) < 20 and values.std() < 25
