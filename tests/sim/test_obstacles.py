"""Obstacles in the simulator: seeded placement, where the camera shows them, occlusion, what is not
drawn, collisions of the car's footprint, the top-down view, and lifting one away."""
import math

import cv2
import numpy as np
import pytest

from jetracer.sim.obstacles import KINDS, FAR_M, CarShape, ObstacleSet, make_obstacle
from jetracer.sim.render import Renderer
from sim_helpers import TextureTrack
from jetracer.sim.world import SimWorld

POSE = (-1.2, -1.5, 0.0)   # the oval's bottom straight runs east along y = -1.5 from x = -1.5 to 1.5
PINHOLE = {"projection": "pinhole", "hfov_deg": 100.0, "vfov_deg": 62.0, "mount_pitch_deg": 8.0}
WIDE_KIT = {"projection": "equidistant", "hfov_deg": 165.0, "vfov_deg": 120.0, "mount_pitch_deg": 3.0,
            "mount_height_m": 0.2, "mount_forward_m": 0.05}


def clean_world(camera=None, **kwargs):
    world = SimWorld("latrax", track="oval", randomize=False, **kwargs)
    if camera:
        world.renderer.set_geometry(camera=camera)
    world.dynamics.reset(*POSE)
    world.step()   # settles the state at the pose (the car is at rest)
    return world


def box_ahead(world, gap_m, size=(0.15, 0.15, 0.15), lateral_m=0.0, bgr=(40, 40, 220)):
    """A plain box whose near face is ``gap_m`` ahead of the front bumper, centred ``lateral_m`` left."""
    x, y, _ = world.pose
    front = x + world.car_shape.front_m
    return make_obstacle("box", front + gap_m + size[0] / 2.0, y + lateral_m, 0.0, size_m=size, bgr=bgr, texture="plain")


def render_with(world, obstacles, light=(0.0, 0.0, 1.0)):
    world.set_obstacles(obstacles)
    world.obstacles.set_light(light, 0.5)
    return world.render()


def changed(a, b):
    return np.any(a != b, axis=2)


def hull_mask(world, points_world, grow_px):
    """Pixels of the convex hull of the projections of world 3D points, grown (+) or shrunk (-) by ``grow_px``."""
    x, y, yaw = world.pose
    c, s = math.cos(yaw), math.sin(yaw)
    d = points_world - (x, y, 0.0)
    car = np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]], axis=1)
    uv, _ = world.renderer.model.project(car)
    mask = np.zeros((world.height, world.width), np.uint8)
    hull = cv2.convexHull(np.round((uv[np.isfinite(uv).all(axis=1)] - 0.5) * 16).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1, cv2.LINE_8, 4)
    k = np.ones((2 * abs(grow_px) + 1,) * 2, np.uint8)
    return (cv2.dilate(mask, k) if grow_px > 0 else cv2.erode(mask, k)).astype(bool)


def box_surface(obstacle, footprint_grow_m=0.0):
    """Dense points on a box obstacle's surface, plus its footprint grown by ``footprint_grow_m`` on the floor."""
    lo, hi = obstacle.pts.min(axis=0), obstacle.pts.max(axis=0)
    g = np.linspace(0.0, 1.0, 25)
    u, v, w = np.meshgrid(g, g, g, indexing="ij")
    cube = np.stack([u, v, w], axis=-1).reshape(-1, 3)
    on_surface = np.any((cube == 0) | (cube == 1), axis=1)
    pts = lo + cube[on_surface] * (hi - lo)
    fp = obstacle.footprints[0]
    centre = fp.mean(axis=0)
    grown = centre + (fp - centre) * (1.0 + footprint_grow_m / np.linalg.norm(fp - centre, axis=1))[:, None]
    return np.vstack([pts, np.hstack([grown, np.zeros((len(grown), 1))])])


# -- seeds and byte-identical frames -----------------------------------------------------------------

def placements(world):
    return [(o.kind, round(o.x, 9), round(o.y, 9), round(o.yaw, 9)) for o in world.obstacles.items]


def test_the_same_seed_places_the_same_obstacles_and_episodes_do_not_depend_on_history():
    a = SimWorld("latrax", track="twisty", seed=4, obstacles=6)
    b = SimWorld("latrax", track="twisty", seed=4, obstacles=6)
    assert len(a.obstacles) == 6 and placements(a) == placements(b)
    o = a.obstacles.items[0]
    for w in (a, b):
        s, _, _ = w.track.nearest(o.x, o.y)
        w.dynamics.reset(*w.track.pose_at(s - 0.8))
    assert np.array_equal(a.render(), b.render())
    assert placements(SimWorld("latrax", track="twisty", seed=5, obstacles=6)) != placements(a)
    a.reset()
    a.reset()
    b.car.throttle = 0.3
    for _ in range(30):
        b.step()
    b.reset()
    b.render()
    b.reset()
    assert a.episode == b.episode == 2 and placements(a) == placements(b)


def test_a_world_whose_obstacles_are_all_lifted_renders_exactly_as_one_without_obstacles():
    """The obstacle stream is separate: placing obstacles changes no other draw, and lifted ones leave no trace."""
    plain = SimWorld("latrax", track="twisty", seed=9)
    busy = SimWorld("latrax", track="twisty", seed=9, obstacles=5)
    for episode in range(4):
        if episode:
            plain.reset()
            busy.reset()
        for i in range(len(busy.obstacles)):
            busy.lift_obstacle(i)
        for w in (plain, busy):
            w.car.throttle = 0.3
        for _ in range(5):
            assert plain.step() == busy.step()
            assert np.array_equal(plain.render(), busy.render())
        assert plain.label_uv() == busy.label_uv()
        assert np.array_equal(plain.top_down(), busy.top_down())


# -- the camera --------------------------------------------------------------------------------------

@pytest.mark.parametrize("camera", [None, PINHOLE, WIDE_KIT])
@pytest.mark.parametrize("lateral", [0.0, 0.4])
def test_an_obstacle_ahead_shows_where_the_camera_projects_it_and_nowhere_else(camera, lateral):
    """Straight ahead, and 0.4 m to the left (about 35 deg off the axis, where a fisheye bends most)."""
    world = clean_world(camera)
    empty = world.render()
    box = box_ahead(world, 0.5, lateral_m=lateral)
    frame = render_with(world, [box])
    diff = changed(frame, empty)
    surface = box_surface(box)
    core = hull_mask(world, surface, -2)
    near = hull_mask(world, box_surface(box, footprint_grow_m=0.02), 3)   # the contact shadow stays within 2 cm
    assert core.sum() > 40
    assert diff[core].mean() > 0.99
    assert not diff[~near].any()
    f = frame.astype(int)
    red = (f[..., 2] > 2 * f[..., 1]) & (f[..., 2] > 2 * f[..., 0]) & (f[..., 2] > 60)   # the box's colour, shaded
    assert red[core].mean() > 0.95 and not red[~near].any()


def test_a_nearer_obstacle_hides_the_part_of_a_farther_one_behind_it():
    world = clean_world()
    near = box_ahead(world, 0.5, size=(0.1, 0.12, 0.12), bgr=(40, 40, 220))
    far = box_ahead(world, 1.1, size=(0.1, 0.5, 0.4), bgr=(220, 60, 30))
    empty = world.render()
    both = render_with(world, [far, near])
    near_only = render_with(world, [near])
    far_only = render_with(world, [far])
    near_core = hull_mask(world, box_surface(near), -2)
    near_zone = hull_mask(world, box_surface(near, 0.02), 3)
    far_core = hull_mask(world, box_surface(far), -2)
    assert (near_core & far_core).sum() > 30           # the near box is in front of the far one in the image
    assert np.array_equal(both[near_core], near_only[near_core])
    rest = far_core & ~near_zone
    assert rest.sum() > 100 and np.array_equal(both[rest], far_only[rest])
    assert changed(near_only, empty)[near_core].all()


def test_obstacles_behind_the_car_or_beyond_the_far_plane_are_not_drawn():
    world = clean_world(WIDE_KIT)
    empty = world.render()
    behind = make_obstacle("box", POSE[0] - 0.5, POSE[1], 0.0, size_m=(0.3, 0.3, 0.4), texture="plain")
    assert np.array_equal(render_with(world, [behind]), empty)
    # a long floor: a wall far ahead is drawn inside the far plane, skipped beyond it
    renderer = Renderer(world.profile["camera"], 224, 224)
    floor = TextureTrack(np.full((100, 100, 3), 128, np.uint8), (-1.0, 30.0), 0.3)
    base = renderer.render(floor, (0.0, 0.0, 0.0))
    for distance, drawn in ((FAR_M - 1.0, True), (FAR_M + 1.0, False)):
        wall = make_obstacle("box", distance, 0.0, 0.0, size_m=(0.2, 3.0, 2.0), bgr=(0, 0, 255), texture="plain")
        obstacles = ObstacleSet([wall])
        frame = renderer.render(floor, (0.0, 0.0, 0.0), draw_after_floor=lambda f, m: obstacles.draw(f, m, (0.0, 0.0, 0.0)))
        assert changed(frame, base).any() == drawn


def test_an_obstacle_beside_the_lens_reaching_behind_it_is_clipped_not_smeared():
    world = clean_world(WIDE_KIT)
    empty = world.render()
    cam_x = POSE[0] + world.renderer.model.forward_m
    side = make_obstacle("box", cam_x + 0.05, POSE[1] + 0.25, 0.0, size_m=(0.5, 0.1, 0.3), bgr=(0, 200, 0), texture="plain")
    diff = changed(render_with(world, [side]), empty)
    assert diff[:, :40].sum() > 2000                    # it fills the left edge of the image
    # its nearest corner to the optical axis is 34 deg off it, about 46 px left of the centre: nothing beyond
    assert not diff[:, 85:].any()


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_shows_up_in_front_of_the_car(kind):
    world = clean_world()
    empty = world.render()
    x = POSE[0] + world.car_shape.front_m + 0.7
    obstacle = make_obstacle(kind, x, POSE[1], 2.0, np.random.default_rng(1), span_m=0.9)
    frame = render_with(world, [obstacle])
    diff = changed(frame, empty)
    assert diff.sum() > 30
    cols = np.flatnonzero(diff.any(axis=0))
    assert cols.min() < 112 < cols.max() + 1          # around the middle of the image, where it stands


# -- placement ---------------------------------------------------------------------------------------

def test_placed_obstacles_keep_off_the_start_and_lie_on_or_just_beside_the_lane():
    on_path = beside = 0
    for seed in range(6):
        world = SimWorld("latrax", track="twisty", seed=seed, obstacles=8)
        start = world.car_shape.footprint(world.pose)
        assert world.obstacles.collide(start) is None
        assert world.obstacle_label(speed_mps=0.0).blocked is False
        for o in world.obstacles.items:
            corners = np.vstack(o.footprints)
            edges = [a + (b - a) * t for f in o.footprints for a, b in zip(f, np.roll(f, -1, axis=0))
                     for t in np.linspace(0.0, 1.0, 20)]
            ns = [world.track.nearest(p[0], p[1])[1] for p in np.vstack([corners, edges])]
            corridor = world.car_shape.width_m / 2.0 + 0.05
            if o.on_path:   # across the corridor of a car on the centreline (a table's legs may straddle it)
                assert min(ns) < corridor and max(ns) > -corridor
                on_path += 1
            else:
                assert min(abs(n) for n in ns) > corridor and min(abs(n) for n in ns) < world.track.width_m / 2.0 + 0.3
                beside += 1
    assert on_path > 10 and beside > 5


def test_too_many_obstacles_for_the_track_is_one_clear_error():
    with pytest.raises(ValueError, match="fewer obstacles"):
        SimWorld("latrax", track="oval", obstacles=40)
    with pytest.raises(ValueError, match="unknown obstacle kind"):
        make_obstacle("piano", 0.0, 0.0)


# -- collisions --------------------------------------------------------------------------------------

def test_the_car_footprint_touching_an_obstacle_is_a_collision_and_one_cm_clear_is_not():
    for gap, hits in ((0.0, 1), (0.01, 0)):
        world = clean_world()
        world.set_obstacles([box_ahead(world, gap)])
        world.step()
        assert world.collisions == hits, gap
    car = CarShape.from_profile(clean_world().profile)
    for lateral, hits in ((car.width_m / 2.0 + 0.075, 1), (car.width_m / 2.0 + 0.085, 0)):   # a 15 cm box beside the car
        world = clean_world()
        world.set_obstacles([box_ahead(world, -0.2, lateral_m=lateral)])
        world.step()
        assert world.collisions == hits, lateral


def test_driving_into_an_obstacle_stops_the_car_before_it_and_counts_one_collision():
    world = clean_world()
    box = box_ahead(world, 0.6)
    world.set_obstacles([box, box_ahead(world, 0.6, lateral_m=0.6)])   # the second one stays, beside the road
    world.car.throttle = 0.4
    for _ in range(90):
        world.step()
    assert world.collisions == 1
    assert world.collision_log[0]["kind"] == "box" and world.collision_log[0]["obstacle"] == 0
    assert world.state.speed_mps < 0.1
    front = world.pose[0] + world.car_shape.front_m
    assert box.footprints[0][:, 0].min() - 0.05 < front <= box.footprints[0][:, 0].min()   # against it, not through it
    world.lift_obstacle(0)
    for _ in range(30):
        world.step()
    assert world.collisions == 1 and world.pose[0] + world.car_shape.front_m > box.footprints[0][:, 0].max()


def test_a_lifted_obstacle_is_gone_from_frames_labels_and_collisions():
    world = clean_world()
    empty = world.render()
    first, second = box_ahead(world, 0.0), box_ahead(world, 1.5, lateral_m=0.2, bgr=(200, 0, 0))
    only_second = render_with(world, [second])
    render_with(world, [first, second])
    assert world.obstacle_label().blocked
    world.lift_obstacle(0)
    assert np.array_equal(world.render(), only_second)
    assert world.obstacle_label(speed_mps=2.0).nearest_index == 1
    world.lift_obstacle(1)
    assert np.array_equal(world.render(), empty)
    assert world.obstacle_label(speed_mps=2.0).nearest_m is None
    world.step()
    assert world.collisions == 0
    with pytest.raises(IndexError):
        world.lift_obstacle(2)


def test_the_top_down_view_shows_the_footprints_until_lifted():
    world = clean_world()
    box = box_ahead(world, 0.5, size=(0.3, 0.3, 0.1), bgr=(255, 0, 255))
    world.set_obstacles([box])
    img = world.top_down(max_px=2000)
    tex = world.track.texture
    scale = min(1.0, 2000.0 / max(tex.shape[:2]))
    col, row = np.round((world.track.world_to_px(np.array(box.centre_xy)) + 0.5) * scale - 0.5).astype(int)
    assert tuple(img[row, col]) == (255, 0, 255)
    world.lift_obstacle(0)
    assert tuple(world.top_down(max_px=2000)[row, col]) != (255, 0, 255)


def test_too_many_obstacles_at_the_command_line_is_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "jetracer", "sim", "drive", "--expert", "--track", "oval",
                           "--obstacles", "40", "--laps", "1", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("jetracer sim drive: could not place obstacle") and "fewer obstacles" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
