"""Episode cameras cover the range of real kits: horizon rows, fields of view, fisheye, roll, height;
the draws are deterministic per seed and the ranges are validated in one place."""
import math

import numpy as np
import pytest

from jetracer.profiles import load_profile
from jetracer.sim.camera_model import CameraModel
from jetracer.sim.domain import domain_params, pitch_for_horizon, sample_camera, vfov_for
from jetracer.sim.rng import episode_streams

CAMERA = load_profile("latrax").camera.to_dict()


def episode_cameras(n=400, **overrides):
    params = domain_params(overrides)
    out = []
    for seed in range(n):
        camera, jitter = sample_camera(episode_streams(seed, 0).episode, CAMERA, params)
        out.append((camera, jitter, CameraModel(camera, 224, 224, jitter)))
    return out


@pytest.fixture(scope="module")
def cameras():
    return episode_cameras()


def test_horizon_rows_span_low_and_steep_mounts(cameras):
    frac = np.array([m.horizon_v(112.0) / 224.0 for _, _, m in cameras])
    frac = frac[np.isfinite(frac)]
    counts, _ = np.histogram(frac, bins=np.arange(0.30, 0.651, 0.05))
    assert (counts >= 8).all(), counts        # every 5 % band from 30 to 65 % down is well populated
    assert 0.40 < np.median(frac) < 0.52      # most kits look nearly level, as in real frames
    assert (frac < 0.25).mean() > 0.03        # and some are mounted steeply


def test_lenses_are_mostly_wide_fisheyes_with_a_few_pinholes(cameras):
    kit = [(c, m) for c, j, m in cameras if set(j) == {"roll_deg"}]   # not the profile's own camera
    fish = [c for c, _ in kit if c["projection"] == "equidistant"]
    assert 0.75 < len(fish) / float(len(kit)) < 0.95
    hfov = np.array([c["hfov_deg"] for c in fish])
    assert hfov.min() < 122 and hfov.max() > 155 and (115 <= hfov).all() and (hfov <= 165).all()
    pin = np.array([c["hfov_deg"] for c, _ in kit if c["projection"] == "pinhole"])
    assert (65 <= pin).all() and (pin <= 110).all()
    # square sensor pixels: the image's fy/fx is the capture's squeeze into the square frame
    aspects = sorted({round(m.aspect, 2) for _, m in kit})
    assert aspects[0] == pytest.approx(1.0, abs=0.02) and aspects[-1] == pytest.approx(16 / 9.0, abs=0.02)
    assert any(abs(a - 4 / 3.0) < 0.02 for a in aspects)


def test_mount_heights_rolls_and_the_profiles_own_camera(cameras):
    kit = [(c, j) for c, j, _ in cameras if set(j) == {"roll_deg"}]
    heights = np.array([c["mount_height_m"] for c, _ in kit])
    assert heights.min() < 0.08 and heights.max() > 0.2 and (heights >= 0.06).all() and (heights <= 0.25).all()
    rolls = np.array([j["roll_deg"] for _, j in kit])
    assert 0.8 < rolls.std() < 2.5 and np.abs(rolls).max() <= 4.5
    own = [c for c, j, _ in cameras if set(j) != {"roll_deg"}]
    assert 0.15 < len(own) / float(len(cameras)) < 0.35
    assert all(c["mount_pitch_deg"] == CAMERA["mount_pitch_deg"] for c in own)


def test_the_same_seed_draws_the_same_camera():
    a = sample_camera(episode_streams(9, 3).episode, CAMERA, domain_params())
    b = sample_camera(episode_streams(9, 3).episode, CAMERA, domain_params())
    c = sample_camera(episode_streams(9, 4).episode, CAMERA, domain_params())
    assert a == b and a != c


def test_pitch_solves_the_horizon_row_for_each_lens():
    for projection, hfov, k1 in (("equidistant", 150.0, 0.0), ("equidistant", 130.0, -0.05), ("pinhole", 90.0, 0.0)):
        vfov = vfov_for(hfov, 4 / 3.0, projection, k1)
        for frac in (0.3, 0.45, 0.62):
            camera = dict(CAMERA, projection=projection, hfov_deg=hfov, vfov_deg=vfov, fisheye_k1=k1,
                          mount_pitch_deg=pitch_for_horizon(frac, vfov, projection, k1))
            assert CameraModel(camera, 224, 224).horizon_v(112.0) == pytest.approx(224 * frac, abs=0.05)


def test_the_squeezed_vertical_fov_keeps_square_sensor_pixels():
    vfov = vfov_for(140.0, 16 / 9.0, "equidistant")
    assert vfov == pytest.approx(140.0 * 9 / 16.0, abs=1e-6)
    pin = vfov_for(100.0, 4 / 3.0, "pinhole")
    assert math.tan(math.radians(pin / 2)) == pytest.approx(math.tan(math.radians(50.0)) * 0.75, rel=1e-6)


def test_bad_domain_values_are_refused_with_the_key_and_range():
    with pytest.raises(ValueError, match="unknown key 'horizon'"):
        domain_params({"horizon": (0.2, 0.4)})
    with pytest.raises(ValueError, match="room_p must be a probability"):
        domain_params({"room_p": 1.5})
    with pytest.raises(ValueError, match="height_m must be a pair"):
        domain_params({"height_m": (0.3, 0.1)})
    assert domain_params({"body_p": 1.0})["body_p"] == 1.0


def test_every_episode_factor_comes_from_the_seed_alone():
    """Camera, floor, room, wheels, camera module and per-frame effects: the same for a seed whatever the
    global random state, different between seeds and between episodes (none is left at a fixed value)."""
    import random

    import cv2

    from jetracer.sim.world import SimWorld

    def episodes(seed, noise_seed, n=4):
        random.seed(noise_seed)
        np.random.seed(noise_seed)
        cv2.setRNGSeed(noise_seed)
        world = SimWorld("latrax", track="oval", seed=seed, width=64, height=64)
        out = []
        for k in range(n):
            if k:
                world.reset()
            frames = [world.render(), world.render()]          # two frames: the per-frame stream moves on
            r = world.renderer
            out.append({"camera": (sorted(world.camera.items()), sorted(world.jitter.items())),
                        "appearance": repr(sorted(world.appearance.items())), "room": r.room is not None,
                        "room_px": None if r.room is None else r.room.bgra.tobytes(),
                        "sensor": r.sensor.matrix.tobytes() + repr(r.sensor.tone).encode(),
                        "body": r.body is not None, "frames": [f.tobytes() for f in frames],
                        "start": world.pose})
        world.close()
        return out

    a, again, other = episodes(21, 0), episodes(21, 12345), episodes(22, 0)
    assert a == again
    for key in ("camera", "appearance", "sensor", "frames", "start"):
        assert len({repr(e[key]) for e in a}) == len(a), key                   # each episode draws its own
        assert all(x[key] != y[key] for x, y in zip(a, other)), key            # and another seed others
    assert all(e["frames"][0] != e["frames"][1] for e in a)                   # per-frame effects vary
