"""The label is where the path point ``label_distance_m`` ahead shows up in the rendered (distorted) frame.

A red disc is painted on the floor at the look-ahead point; the frame is rendered with the episode's own
camera (kit fisheyes, low and steep horizons, roll, squeeze) and the label pixel must fall on the disc.
When the point is out of view the label is the farthest path point still in view, inside the frame.
"""
import math

import numpy as np

from jetracer.sim.labels import path_ahead
from sim_helpers import TextureTrack, unproject
from jetracer.sim.world import SimWorld

M_PER_PX = 0.004
DISC_M = 0.03


def disc_floor(centre_xy, half_m=2.0):
    """A black floor 2 * half_m square around ``centre_xy`` with a red disc of radius DISC_M on it."""
    import cv2
    n = int(round(2 * half_m / M_PER_PX))
    texture = np.zeros((n, n, 3), np.uint8)
    origin = (centre_xy[0] - half_m, centre_xy[1] + half_m)
    c = ((centre_xy[0] - origin[0]) / M_PER_PX - 0.5, (origin[1] - centre_xy[1]) / M_PER_PX - 0.5)
    cv2.circle(texture, (int(round(c[0] * 16)), int(round(c[1] * 16))), int(round(DISC_M / M_PER_PX * 16)),
               (0, 0, 255), -1, cv2.LINE_AA, 4)
    return TextureTrack(texture, origin, M_PER_PX)


def red_mask(frame):
    b, g, r = (frame[..., i].astype(int) for i in range(3))
    return (r > 120) & (r > b + 60) & (r > g + 60)


def test_the_label_pixel_is_where_the_look_ahead_point_appears_in_the_frame():
    checked, fisheyes, horizons = 0, 0, []
    for seed in range(30):
        world = SimWorld("latrax", track="twisty", seed=seed)
        rng = np.random.default_rng(seed)
        s = float(rng.uniform(0, world.track.length_m))
        world.dynamics.reset(*world.track.pose_at(s, float(rng.uniform(-0.1, 0.1)), float(rng.uniform(-0.2, 0.2))))
        world.step()
        target = path_ahead(world.track, world.pose, world.label_distance_m)[-1]
        _, visible = world.renderer.project(target[None], world.pose)
        if not visible[0]:
            continue
        u, v = world.label_uv()
        assert 0 <= u < world.width and 0 <= v < world.height
        renderer = world.renderer
        renderer.set_scene()   # no room, wheels or camera module: only the floor with its disc
        red = red_mask(renderer.render(disc_floor(target), world.pose))
        rows, cols = np.nonzero(red)
        assert red[int(v), int(u)], (seed, (u, v), world.camera)
        # near its centre (a far disc is a foreshortened, distorted ellipse: its centroid is not exactly the centre)
        size = max(np.ptp(cols), np.ptp(rows)) + 1
        assert math.hypot(cols.mean() + 0.5 - u, rows.mean() + 0.5 - v) < max(1.5, 0.2 * size), seed
        checked += 1
        fisheyes += renderer.model.projection == "equidistant"
        horizons.append(renderer.model.horizon_v(u) / world.height)
    assert checked >= 25 and fisheyes >= 15
    assert np.nanmin(horizons) < 0.35 and np.nanmax(horizons) > 0.5   # steep and low kit horizons were both seen


def test_out_of_view_the_label_is_the_farthest_visible_path_point_inside_the_frame():
    world = SimWorld("latrax", track="oval", randomize=False)
    cam = world.renderer.model
    # on the bottom straight, 0.2 m right of the centre, turned 85 deg left: the point 0.6 m ahead is beyond
    # the 72.5 deg half field of view, the middle part of the path ahead is in view
    world.dynamics.reset(*world.track.pose_at(1.0, -0.2, math.radians(85)))
    path = path_ahead(world.track, world.pose, world.label_distance_m, samples=60)
    uv, visible = world.renderer.project(path, world.pose)
    assert not visible[-1] and visible.any()
    u, v = world.label_uv()
    assert 0 <= u < world.width and 0 <= v < world.height
    assert u > 0.85 * world.width         # the path runs off the right of the image (the car looks left of it)
    ground = unproject(world.renderer, np.array([[u, v]]), world.pose)[0]
    on_path = np.hypot(*(path - ground).T)
    assert on_path.min() < 0.03                                  # a point of the path ahead
    farthest_visible = int(np.flatnonzero(visible)[-1])
    assert abs(int(np.argmin(on_path)) - farthest_visible) <= 3  # the farthest one in view
    assert cam.projection == "equidistant"
