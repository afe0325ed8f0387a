"""The car's own front wheels: in the bottom corners of a wide camera mounted behind the front axle,
turning with the steering, and absent from a narrow lens that cannot see them."""
import numpy as np

from jetracer.profiles import load_profile
from jetracer.sim.body import CarBody, maybe_body
from jetracer.sim.camera_model import CameraModel
from jetracer.sim.render import Renderer
from sim_helpers import TextureTrack

KIT = {"projection": "equidistant", "hfov_deg": 160.0, "vfov_deg": 120.0, "mount_pitch_deg": 12.0,
       "mount_height_m": 0.15, "mount_forward_m": 0.11}
WHITE = TextureTrack(np.full((500, 500, 3), 255, np.uint8), (-10.0, 10.0), 0.04)


def camera(**overrides):
    return load_profile("latrax", {"camera": overrides}).camera


def body_for(model, seed=0):
    for s in range(seed, seed + 50):
        body = maybe_body(np.random.default_rng(s), 1.0, 0.174, model)
        if body is not None:
            return body
    raise AssertionError("no body fits this camera")


def test_front_wheels_show_in_the_bottom_corners_of_a_wide_kit_camera():
    r = Renderer(camera(**KIT), 224, 224)
    body = body_for(r.model)
    r.set_scene(body=body)
    dark = r.render(WHITE, (0.0, 0.0, 0.0)).max(axis=2) < 120
    assert dark[:int(0.7 * 224)].sum() == 0                      # nothing of the car in the upper image
    assert dark[-50:, :80].sum() > 30 and dark[-50:, -80:].sum() > 30   # a tyre on each side
    assert dark.mean() < 0.12


def test_the_wheels_turn_with_the_steering():
    model = CameraModel(camera(**KIT), 224, 224)
    body = body_for(model)
    straight = [p for p, _ in body.outlines(model, 0.0)]
    left = [p for p, _ in body.outlines(model, 0.35)]
    moved = max(np.abs(a.mean(axis=0) - b.mean(axis=0)).max() for a, b in zip(straight, left) if len(a) == len(b))
    assert moved > 1.0


def test_a_narrow_lens_never_shows_the_wheels():
    model = CameraModel(camera(projection="pinhole", hfov_deg=70.0, vfov_deg=55.0, mount_pitch_deg=5.0), 224, 224)
    assert all(maybe_body(np.random.default_rng(s), 1.0, 0.174, model) is None for s in range(10))
    assert not CarBody(np.random.default_rng(0), 0.174, 0.13).outlines(model, 0.0)
