"""Tracks: geometry of built-ins and procedural tracks, look-up, texture convention."""
import math

import numpy as np
import pytest

from jetracer.profiles import load_profile
from jetracer.sim.dynamics import min_turning_radius_m
from jetracer.sim.track import TrackError, segments_intersect
from jetracer.sim.tracks_builtin import builtin_track, procedural_track
from jetracer.sim.world import TURN_MARGIN


@pytest.mark.parametrize("name", ["oval", "twisty", "narrow"])
def test_builtin_tracks_are_drivable_by_every_profile(name):
    track = builtin_track(name)
    for profile in ("latrax", "tamiya_tt02", "waveshare_ai"):
        radius = min_turning_radius_m(load_profile(profile))
        assert track.min_radius_m() > radius * 1.15
    assert track.problems() == []
    assert max(track.size_m()) <= 10.0


def test_procedural_tracks_do_not_cross_and_keep_curves_wider_than_the_car_turns():
    required = TURN_MARGIN * min_turning_radius_m(load_profile("latrax"))
    for seed in range(20):
        track = procedural_track(seed)
        assert not segments_intersect(track.xy[::5])
        assert track.min_radius_m() >= max(required, 1.2)
        assert track.min_gap_m() > track.width_m + 0.3
        assert 5.0 <= max(track.size_m()) <= 10.0
    assert np.allclose(procedural_track(3).xy, procedural_track(3).xy)
    assert not np.allclose(procedural_track(3).length_m, procedural_track(4).length_m)


def test_crossing_polyline_is_detected():
    figure_eight = np.array([[0, 0], [1, 1], [2, 0], [1, -1], [0, 0.0001], [-1, 1], [-2, 0], [-1, -1]], float)
    assert segments_intersect(figure_eight)
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    assert not segments_intersect(square)


def test_unknown_track_name_is_refused_with_the_known_ones():
    with pytest.raises(TrackError, match="oval"):
        builtin_track("monza")


def test_nearest_gives_signed_cross_track_error_and_progress_with_wraparound():
    track = builtin_track("oval")
    x, y, yaw = track.pose_at(2.0)
    left = (x - 0.1 * math.sin(yaw), y + 0.1 * math.cos(yaw))
    s, cte, _ = track.nearest(*left)
    assert s == pytest.approx(2.0, abs=0.02) and cte == pytest.approx(0.1, abs=0.002)
    s, cte, i = track.nearest(*track.point_at(track.length_m - 0.005))
    assert abs(cte) < 1e-3 and (s > track.length_m - 0.02 or s < 0.01)
    s2, _, _ = track.nearest(*track.point_at(0.05), hint=i)
    assert s2 == pytest.approx(0.05, abs=0.01)


def test_texture_follows_the_shared_texel_convention():
    track = builtin_track("oval")
    tex = track.rasterize({"floor_bgr": (0, 0, 255), "road_bgr": (255, 0, 0), "centre_dash_m": -1.0,
                           "edge_width_m": 0.01})
    assert tex.dtype == np.uint8 and tex.shape[2] == 3
    ox, oy = track.origin_xy
    m = track.m_per_px

    def texel(x, y):
        return tex[int((oy - y) / m), int((x - ox) / m)]

    on_road = track.pose_at(1.0, offset_m=0.1)
    inside = track.pose_at(1.0, offset_m=track.width_m / 2 + 0.2)   # left of a CCW track is its inside
    outside = track.pose_at(1.0, offset_m=-track.width_m / 2 - 0.2)
    assert tuple(texel(*on_road[:2])) == (255, 0, 0)
    assert tuple(texel(*inside[:2])) == (0, 0, 255)
    assert tuple(texel(*outside[:2])) == (0, 0, 255)
    assert abs(m - 0.004) < 1e-12
