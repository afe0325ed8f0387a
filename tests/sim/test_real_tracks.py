"""Worlds and labels for real tracks (issue 20): tape laid on the bare floor, hard light, night, corridors and
episode look-ahead distances are drawn from their own stream, so each does what it says and nothing else moves."""
import math

import numpy as np
import pytest

from jetracer.sim.domain import domain_params
from jetracer.sim.labels import path_ahead
from jetracer.sim.room import Room
from jetracer.sim.world import SimWorld
from sim_helpers import unproject

ALL_ON = {"tape_layout_p": 1.0, "shadow_p": 1.0, "night_p": 1.0, "hallway_p": 1.0}


def world(seed, size=64, **domain):
    return SimWorld("latrax", track=1000 + seed, seed=seed, width=size, height=size, domain=domain)


def test_tape_layouts_are_one_line_or_a_lane_on_the_bare_floor():
    kinds = set()
    for seed in range(12):
        w = world(seed, tape_layout_p=1.0)
        look = w.appearance
        assert look["road_material"] == "none" and look["verge_width_m"] == 0.0
        single = look["edge_style"] == "none"
        assert single == (look["centre_dash_m"] >= 0)      # one line to follow, or two edges and no centre line
        kinds.add("single" if single else "lane")
        if seed < 3:   # on the texture the tape stands out from the floor beside it
            w.render()
            track, tex = w.track, w.track.texture
            line = track.xy[::50] if single else track.left_edge[::50]
            beside = line + track.normal[::50] * 0.15
            col_row = np.round(track.world_to_px(np.vstack([line, beside]))).astype(int)
            values = tex[col_row[:, 1], col_row[:, 0]].astype(float).mean(axis=1)
            on, off = values[:len(line)], values[len(line):]
            assert abs(np.median(on) - np.median(off)) > 25
        w.close()
    assert kinds == {"single", "lane"}


def test_night_scenes_are_darker_than_the_same_episode_by_day():
    day, night = [], []
    for seed in range(4):
        for store, domain in ((day, {}), (night, {"night_p": 1.0})):
            w = world(seed, **domain)
            store.append(float(np.mean([w.render().mean() for _ in range(3)])))
            w.close()
    assert np.mean(night) < 0.75 * np.mean(day), (day, night)


def test_hard_light_lays_sharp_bright_and_dark_patches_on_the_floor():
    textures = []
    for domain in ({}, {"shadow_p": 1.0}):
        w = world(5, **domain)
        w.render()
        textures.append(w.track.texture.astype(np.float32) + 1.0)
        w.close()
    ratio = (textures[1] / textures[0]).mean(axis=2)
    changed = (ratio < 0.8) | (ratio > 1.2)
    assert 0.01 < changed.mean() < 0.9
    assert np.median(np.abs(ratio[~changed] - 1.0)) < 0.02          # the rest of the floor is untouched
    rows = np.abs(np.diff(changed.astype(np.int8), axis=1)).sum()   # patch edges are a few texels, not a ramp
    assert rows < 0.05 * changed.sum()


def test_a_corridor_has_walls_close_on_both_sides_down_to_the_floor():
    """A corridor is at most 3.2 m wide: looking 5.2 deg down, a camera 15 cm up sees its side walls (they are
    nearer than 1.64 m), while the walls of a room (2.5 m or more away) and its objects (1.8 m) leave floor there."""
    for seed in range(4):
        hall = Room(np.random.default_rng(seed), 0.15, cols=512, hallway=True)
        room = Room(np.random.default_rng(seed), 0.15, cols=512)
        row = int(round(hall.row_of(math.radians(-5.2))))
        assert (hall.bgra[row, :, 3] >= 200).mean() > 0.1      # opaque but for the anti-aliased floor line
        assert (room.bgra[int(round(room.row_of(math.radians(-5.2)))), :, 3] >= 200).mean() < 0.02


def test_each_episode_labels_its_own_look_ahead_distance():
    w = world(2, size=224, label_distance_m=(0.35, 0.35))
    for _ in range(3):
        u, v = w.label_uv()
        target = path_ahead(w.track, w.pose, 0.35)[-1]
        assert np.hypot(*(unproject(w.renderer, [[u, v]], w.pose)[0] - target)) < 0.02
        w.reset()
    w.close()
    w = world(3, label_distance_m=(0.3, 1.0))
    drawn = []
    for _ in range(8):
        drawn.append(w.episode_label_m)
        w.reset()
    w.close()
    assert min(drawn) >= 0.3 and max(drawn) <= 1.0 and np.ptp(drawn) > 0.2
    assert world(3).episode_label_m == 0.6


def test_the_new_draws_leave_camera_start_and_sensor_of_an_episode_alone():
    for seed in range(3):
        plain, extra = world(seed), world(seed, **dict(ALL_ON, label_distance_m=(0.4, 0.8)))
        for _ in range(2):
            assert plain.camera == extra.camera and plain.jitter == extra.jitter
            assert plain.pose == extra.pose
            assert plain.appearance["floor_bgr"] == extra.appearance["floor_bgr"]
            plain.reset()
            extra.reset()
        plain.close()
        extra.close()


def test_bad_values_of_the_new_keys_are_refused_with_the_key():
    with pytest.raises(ValueError, match="night_p must be a probability"):
        domain_params({"night_p": 2.0})
    with pytest.raises(ValueError, match="label_distance_m must be a pair"):
        domain_params({"label_distance_m": (0.05, 0.5)})
    assert domain_params({})["label_distance_m"] is None
