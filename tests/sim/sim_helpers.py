"""What the simulator's tests draw and measure with: a bare texture laid on the ground, a straight test road,
and the renderer's pixel -> ground inverse and hood mask (the simulator itself never needs them)."""
import math
from typing import Any, Sequence

import numpy as np


class TextureTrack(object):
    """The smallest thing :meth:`jetracer.sim.render.Renderer.render` draws: a BGR texture laid flat on the ground.

    Texel (row r, col c) has its centre at x = origin_x + (c + 0.5) * m_per_px,
    y = origin_y - (r + 0.5) * m_per_px (rows run south, columns east).
    """

    def __init__(self, texture: np.ndarray, origin_xy: Sequence[float], m_per_px: float) -> None:
        self.texture = texture
        self.origin_xy = (float(origin_xy[0]), float(origin_xy[1]))
        self.m_per_px = float(m_per_px)


def straight_road(length_m: float = 10.0, width_m: float = 10.0, road_width_m: float = 0.6,
                  line_width_m: float = 0.03, m_per_px: float = 0.004, seed: int = 0) -> TextureTrack:
    """A road running north along x = 0 from y = 0 to ``length_m``: white edge lines at
    x = +-road_width_m/2, a dashed yellow centre line, on a speckled grey floor."""
    import cv2
    rows, cols = int(round(length_m / m_per_px)), int(round(width_m / m_per_px))
    rng = np.random.default_rng(seed)
    floor = rng.integers(90, 130, (rows, cols), dtype=np.uint8)
    texture = cv2.cvtColor(cv2.GaussianBlur(floor, (5, 5), 1.5), cv2.COLOR_GRAY2BGR)
    origin = (-width_m / 2.0, length_m)

    def col(x):
        return int(round((x - origin[0]) / m_per_px - 0.5))

    half_line = line_width_m / 2.0
    for x in (-road_width_m / 2.0, road_width_m / 2.0):
        texture[:, col(x - half_line):col(x + half_line) + 1] = 255
    dash = int(round(0.2 / m_per_px))
    for r0 in range(0, rows, 2 * dash):
        texture[r0:r0 + dash, col(-half_line / 2):col(half_line / 2) + 1] = (0, 200, 230)
    return TextureTrack(texture, origin, m_per_px)


def unproject(renderer: Any, uv: Any, pose: Sequence[float]) -> np.ndarray:
    """Pixels (N, 2) of ``renderer``'s camera -> world ground points (N, 2); NaN at or above the horizon."""
    g = renderer.model.ground_points(np.asarray(uv, dtype=np.float64).reshape(-1, 2))
    c, s = math.cos(pose[2]), math.sin(pose[2])
    return np.stack([pose[0] + c * g[:, 0] - s * g[:, 1], pose[1] + s * g[:, 0] + c * g[:, 1]], axis=1)


def hood_mask(renderer: Any) -> np.ndarray:
    """(H, W) bool: pixels ``renderer`` covers with the car's hood (all False when the profile has none)."""
    frame = renderer.render(TextureTrack(np.zeros((4, 4, 3), np.uint8), (-1e5, 1e5), 1.0), (0.0, 0.0, 0.0))
    renderer.hood_bgr, saved = (1, 2, 3), renderer.hood_bgr
    try:
        marked = renderer.render(TextureTrack(np.zeros((4, 4, 3), np.uint8), (-1e5, 1e5), 1.0), (0.0, 0.0, 0.0))
    finally:
        renderer.hood_bgr = saved
    return (marked != frame).any(axis=2)
