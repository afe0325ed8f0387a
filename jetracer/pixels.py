"""Upstream's label convention, in one place: pixel (u, v) <-> normalised (x, y); and the image flips.

``x = (u - w/2) / (w/2)``, ``y = (v - h/2) / (h/2)``: x > 0 is right of the image centre, y > 0 below
it. File names of the dataset hold integer pixels; the model predicts normalised values.
"""
from typing import Tuple

# How a camera's image may be flipped (the car profile's and the config's ``camera.flip``). Declared on
# this floor so the profile and config schemas can name them; :mod:`jetracer.camera.base` (``flip_frame``)
# and the CSI pipeline's flip-method act on them.
FLIPS = ("none", "rotate-180", "horizontal", "vertical")


def to_normalised(u: float, v: float, width: int, height: int) -> Tuple[float, float]:
    """Pixel (u, v) of a ``width`` x ``height`` image -> normalised (x, y)."""
    return (u - width / 2.0) / (width / 2.0), (v - height / 2.0) / (height / 2.0)


def to_pixel(x: float, y: float, width: int, height: int) -> Tuple[float, float]:
    """Normalised (x, y) -> pixel (u, v) (floats; outside the image when |x| or |y| > 1)."""
    return width / 2.0 * (1.0 + x), height / 2.0 * (1.0 + y)


def pixel_label(u: float, v: float, width: int, height: int) -> Tuple[int, int]:
    """Integer pixel for a dataset file name, rounded and kept inside the image."""
    return int(min(max(round(u), 0), width - 1)), int(min(max(round(v), 0), height - 1))
