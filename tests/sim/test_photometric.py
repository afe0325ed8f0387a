"""The camera module's look: magenta lens-shading corners, vignetting, auto-exposure toward its target,
motion blur along its direction, JPEG artefacts, and reproducible draws."""
import numpy as np
import pytest

from jetracer.sim.domain import domain_params
from jetracer.sim.photometric import Photometric

ALL_ON = domain_params({"cast_p": 1.0, "jpeg_p": 0.0, "lowres_p": 0.0, "motion_blur_p": 0.0})


def grey(level=128):
    return np.full((224, 224, 3), level, np.uint8)


def sensor_with(photo, domain, want):
    """The first sensor (over seeds) for which ``want(sensor)`` holds."""
    for seed in range(200):
        s = photo.sample_sensor(np.random.default_rng(seed), domain)
        if want(s):
            return s
    raise AssertionError("no seed gives that sensor")


def magenta(img):
    f = img.astype(float)
    return (f[..., 0] + f[..., 2]) / 2 - f[..., 1]


def test_the_cast_makes_the_corners_pink():
    photo = Photometric(224, 224)
    sensor = sensor_with(photo, ALL_ON, lambda s: s.gain_map is not None)
    out = photo.apply(grey(), photo.sample(np.random.default_rng(0), sensor))
    corners = np.concatenate([magenta(out)[:30, :30].ravel(), magenta(out)[-30:, -30:].ravel()]).mean()
    centre = magenta(out)[97:127, 97:127].mean()
    assert corners > centre + 8


def test_vignetting_darkens_the_corners():
    photo = Photometric(224, 224)
    domain = domain_params({"cast_p": 0.0, "jpeg_p": 0.0, "lowres_p": 0.0, "motion_blur_p": 0.0})
    sensor = sensor_with(photo, domain, lambda s: s.gain_map is not None and s.gain_map[0, 0].mean() < 0.7 * 128)
    out = photo.apply(grey(), photo.sample(np.random.default_rng(0), sensor)).astype(float).mean(axis=2)
    assert out[:20, :20].mean() < 0.85 * out[100:124, 100:124].mean()


def test_auto_exposure_brings_dark_and_bright_rooms_toward_the_target():
    photo = Photometric(224, 224)
    domain = domain_params({"cast_p": 0.0, "jpeg_p": 0.0, "lowres_p": 0.0, "motion_blur_p": 0.0})
    sensor = sensor_with(photo, domain, lambda s: s.auto_exposure > 0.9 and s.gain_map is None)
    means = [photo.apply(grey(level), photo.sample(np.random.default_rng(1), sensor)).mean() for level in (40, 200)]
    assert abs(means[0] - means[1]) < 25                 # the camera, not the room, sets the brightness
    assert all(abs(m - sensor.target_grey) < 30 for m in means)


def test_motion_blur_smears_along_its_direction():
    photo = Photometric(224, 224)
    domain = domain_params({"motion_blur_p": 1.0, "jpeg_p": 0.0, "lowres_p": 0.0})
    sensor = sensor_with(photo, domain, lambda s: s.focus_sigma < 0.3)
    stripes = np.zeros((224, 224, 3), np.uint8)
    stripes[:, ::8] = 255      # vertical lines: a sideways smear blurs them, a vertical one would not
    stripes[::8, :] = 255      # horizontal lines: the opposite
    for seed in range(40):
        look = photo.sample(np.random.default_rng(seed), sensor)
        k = look.motion_kernel
        if k is not None and k.shape[0] >= 7 and k.sum(axis=0).max() < 0.4:   # a wide, mostly sideways smear
            break
    else:
        raise AssertionError("no frame drew a sideways motion blur")
    out = photo.apply(stripes, look).astype(float).mean(axis=2)
    assert np.abs(np.diff(out, axis=1)).mean() < 0.7 * np.abs(np.diff(out, axis=0)).mean()


def test_jpeg_artefacts_and_reproducible_looks():
    photo = Photometric(224, 224)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    jpeg = domain_params({"jpeg_p": 1.0, "motion_blur_p": 0.0})
    no_jpeg = domain_params({"jpeg_p": 0.0, "motion_blur_p": 0.0})
    s1 = photo.sample_sensor(np.random.default_rng(5), jpeg)
    s0 = photo.sample_sensor(np.random.default_rng(5), no_jpeg)
    a = photo.apply(frame, photo.sample(np.random.default_rng(2), s1))
    b = photo.apply(frame, photo.sample(np.random.default_rng(2), s1))
    c = photo.apply(frame, photo.sample(np.random.default_rng(2), s0))
    assert s1.jpeg_quality and not s0.jpeg_quality
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 3   # same look, plus compression artefacts
