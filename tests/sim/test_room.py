"""The room panorama: walls all around above the floor, lights on the ceiling, fixed in the world as
the car turns, floor showing up to where walls and objects stand, and a glossy floor mirroring lights."""
import math

import numpy as np
import pytest

from jetracer.profiles import load_profile
from jetracer.sim.render import Renderer
from sim_helpers import TextureTrack
from jetracer.sim.room import Room

GREEN = (30, 160, 40)


@pytest.fixture(scope="module")
def grass():
    return TextureTrack(np.full((2000, 2000, 3), GREEN, np.uint8), (-40.0, 40.0), 0.04)


def renderer(**camera):
    return Renderer(load_profile("latrax", {"camera": camera}), 224, 224)


def test_walls_surround_the_camera_and_the_ceiling_has_bright_lights():
    lit = 0
    for seed in range(6):
        room = Room(np.random.default_rng(seed), 0.15, cols=512)
        rows_above = int(math.floor(room.row_of(0.0)))
        assert (room.bgra[:rows_above, :, 3] >= 250).all()      # no sky indoors (edges anti-aliased)
        assert (room.bgra[-2:, :, 3] < 255).mean() > 0.5          # the near floor shows through
        lit += (room.bgra[:rows_above // 2, :, :3].min(axis=2) >= 250).mean() > 0.002
    assert lit >= 4


def test_same_draws_build_the_same_room():
    a = Room(np.random.default_rng(3), 0.12, cols=512, glossy=True)
    b = Room(np.random.default_rng(3), 0.12, cols=512, glossy=True)
    c = Room(np.random.default_rng(4), 0.12, cols=512, glossy=True)
    assert np.array_equal(a.bgra, b.bgra) and np.array_equal(a.reflection, b.reflection)
    assert not np.array_equal(a.bgra, c.bgra)


@pytest.mark.parametrize("yaw", [0.3, 2.0, -2.6])
def test_the_room_is_fixed_in_the_world_as_the_car_turns(grass, yaw):
    r = renderer(mount_pitch_deg=0.0)
    room = Room(np.random.default_rng(1), r.model.height_m, cols=r.pano_cols)
    r.set_scene(room)
    frame = r.render(grass, (0.0, 0.0, yaw))
    row = 40   # above the horizon, on the image's centre column: looks along the car's heading
    ray = r.model.rays(np.array([[112.0, row + 0.5]]))[0]
    el = math.asin(ray[2])
    pr, pc = room.row_of(el), room.col_of(yaw + math.atan2(ray[1], ray[0]))
    expected = room.bgra[int(round(pr)), int(round(pc)) % room.cols, :3].astype(int)
    assert np.abs(frame[row, 112].astype(int) - expected).max() <= 40
    assert np.array_equal(frame, r.render(grass, (0.0, 0.0, yaw + 2 * math.pi)))


def test_the_floor_shows_up_to_the_walls_and_the_room_above(grass):
    r = renderer()
    room = Room(np.random.default_rng(2), r.model.height_m, cols=r.pano_cols)
    r.set_scene(room)
    frame = r.render(grass, (0.0, 0.0, 1.0))
    horizon = r.model.horizon_v(112.0)
    green = (np.abs(frame.astype(int) - GREEN).max(axis=2) < 10)
    assert green[int(horizon) + 12:].mean() > 0.9       # the floor within a metre or two
    assert green[:int(horizon) - 2].mean() < 0.02       # walls, ceiling, furniture above the horizon
    # without a room, the floor would run on to 100 m; here it ends where the walls stand
    plain = renderer()
    plain_green = (np.abs(plain.render(grass, (0.0, 0.0, 1.0)).astype(int) - GREEN).max(axis=2) < 10)
    assert green[int(horizon) - 1:int(horizon) + 4].mean() < plain_green[int(horizon) - 1:int(horizon) + 4].mean()


def test_a_glossy_floor_mirrors_the_ceiling_lights(grass):
    r = renderer()
    seed = next(s for s in range(20) if Room(np.random.default_rng(s), r.model.height_m, cols=r.pano_cols).light_mask.any())
    gloss = Room(np.random.default_rng(seed), r.model.height_m, cols=r.pano_cols, glossy=True)
    matte = Room(np.random.default_rng(seed), r.model.height_m, cols=r.pano_cols, glossy=False)
    rays = r.model.rays(r.model.pixel_grid())
    az, el = np.arctan2(rays[:, 1], rays[:, 0]), np.arcsin(rays[:, 2])
    floor = (el < 0).reshape(224, 224)
    under_lamp, elsewhere = [], []
    for yaw in np.linspace(0, 2 * math.pi, 8, endpoint=False):
        frames = []
        for room in (matte, gloss):
            r.set_scene(room)
            frames.append(r.render(grass, (0.0, 0.0, yaw)).astype(float).mean(axis=2))
        extra = frames[1] - frames[0]
        assert extra.min() >= 0                                       # a reflection only adds light
        rows = np.clip(np.round(gloss.row_of(-el)).astype(int), 0, gloss.rows - 1)
        cols = np.round(gloss.col_of(yaw + az)).astype(int) % gloss.cols
        lamp = (gloss.light_mask[rows, cols] > 0).reshape(224, 224) & floor
        under_lamp.append(extra[lamp])
        elsewhere.append(extra[floor & ~lamp])
    lit, rest = np.concatenate(under_lamp), np.concatenate(elsewhere)
    assert len(lit) > 50
    # the lamps' mirror images, where a mirror puts them: visibly brighter there than elsewhere on the floor
    # (8.4 grey levels against 1.2 since lamps sit at continuous azimuths)
    assert lit.mean() > 5 and lit.mean() > 4 * rest.mean()
