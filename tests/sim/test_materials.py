"""Floors and markings drawn top-down: each material has its structure, markings land on the track's
edges and centre in the chosen style, and every draw is reproducible from its seed."""
import numpy as np
import pytest

from jetracer.sim.materials import MATERIALS, draw_material, random_appearance
from jetracer.sim.tracks_builtin import builtin_track

M = 0.008


@pytest.fixture(scope="module")
def oval():
    return builtin_track("oval")


@pytest.mark.parametrize("material", MATERIALS)
def test_each_material_is_reproducible_and_textured(material):
    a = draw_material(np.random.default_rng(1), material, 300, 400, M, (120, 140, 160), (90, 90, 90))
    b = draw_material(np.random.default_rng(1), material, 300, 400, M, (120, 140, 160), (90, 90, 90))
    c = draw_material(np.random.default_rng(2), material, 300, 400, M, (120, 140, 160), (90, 90, 90))
    assert a.shape == (300, 400, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert abs(a.mean() - 140) < 40                      # its base colour, roughly
    assert a.astype(float).std() > (0.5 if material == "plain" else 1.5)


def test_wood_has_grain_and_joints_along_its_planks():
    rng = np.random.default_rng(5)
    wood = draw_material(rng, "wood", 500, 500, M, (80, 120, 170), (80, 120, 170)).astype(float).mean(axis=2)
    along_rows = np.abs(np.diff(wood, axis=1)).mean()
    along_cols = np.abs(np.diff(wood, axis=0)).mean()
    assert max(along_rows, along_cols) > 1.5 * min(along_rows, along_cols)   # streaks run one way


@pytest.mark.parametrize("material", ["tiles", "foam"])
def test_tiles_and_mats_have_straight_seams(material):
    img = draw_material(np.random.default_rng(3), material, 400, 400, M, (200, 200, 200), (200, 200, 200)).astype(float)
    edges = np.abs(np.diff(img.mean(axis=2), axis=0)).mean(axis=1)   # per row boundary: mean vertical step
    seams = edges > 4 * np.median(edges)
    assert 2 <= seams.sum() <= 60                         # a few straight seams across, not noise everywhere


def edge_texels(track, tex, which):
    pts = track.right_edge if which == "right" else track.xy
    px = np.round(track.world_to_px(pts)).astype(int)
    return tex[px[:, 1], px[:, 0]].astype(int)


@pytest.mark.parametrize("style,solid", [("tape", True), ("dashed", False), ("none", None)])
def test_edges_are_drawn_in_their_style(oval, style, solid):
    look = {"edge_style": style, "edge_bgr": (0, 0, 250), "edge2_bgr": (0, 0, 250), "centre_dash_m": -1.0}
    tex = oval.rasterize(look)
    red = (np.abs(edge_texels(oval, tex, "right") - (0, 0, 250)).max(axis=1) < 30).mean()
    if solid is None:
        assert red == 0
    elif solid:
        assert red > 0.97
    else:
        assert 0.3 < red < 0.7


def test_rope_edges_are_twisted_and_wobble(oval):
    look = {"edge_style": "rope", "edge_bgr": (200, 215, 225), "edge2_bgr": (200, 215, 225), "wobble_m": 0.02}
    tex = oval.rasterize(look, rng=np.random.default_rng(0))
    on_line = edge_texels(oval, tex, "right").mean(axis=1)
    assert on_line.std() > 15        # light and dark strands, and the line wanders off its nominal place


@pytest.mark.parametrize("dash,expected", [(-1.0, (0.0, 0.0)), (0.0, (0.97, 1.01)), (0.15, (0.3, 0.7))])
def test_centre_line_none_solid_or_dashed(oval, dash, expected):
    tex = oval.rasterize({"centre_dash_m": dash, "centre_bgr": (0, 210, 240)})
    yellow = (np.abs(edge_texels(oval, tex, "centre") - (0, 210, 240)).max(axis=1) < 30).mean()
    assert expected[0] <= yellow <= expected[1]


def test_bare_floor_tracks_have_no_road_surface(oval):
    inside = oval.xy + oval.normal * (oval.width_m / 4)
    px = np.round(oval.world_to_px(inside)).astype(int)
    road = oval.rasterize({"road_material": "plain", "road_bgr": (60, 60, 60), "centre_dash_m": -1.0})[px[:, 1], px[:, 0]]
    bare = oval.rasterize({"road_material": "none", "road_bgr": (60, 60, 60), "centre_dash_m": -1.0})[px[:, 1], px[:, 0]]
    assert np.abs(road.astype(int) - 60).max() < 3 and np.abs(bare.astype(int) - 150).max() < 3


def test_random_looks_are_reproducible_and_cover_the_styles():
    looks = [random_appearance(np.random.default_rng(s)) for s in range(300)]
    assert looks[7] == random_appearance(np.random.default_rng(7))
    assert {l["floor_material"] for l in looks} == set(MATERIALS)
    assert {l["edge_style"] for l in looks} == {"tape", "dashed", "rope", "none"}
    bare = np.mean([l["road_material"] == "none" for l in looks])
    assert 0.4 < bare < 0.7
    # every look leaves something to follow
    assert all(l["edge_style"] != "none" or l["centre_dash_m"] >= 0 or l["road_material"] != "none" for l in looks)


def test_unknown_appearance_keys_are_refused(oval):
    with pytest.raises(ValueError, match="unknown key.*edge_colour"):
        oval.rasterize({"edge_colour": (1, 2, 3)})
    with pytest.raises(ValueError, match="needs an rng"):
        oval.rasterize({"floor_material": "wood"})
