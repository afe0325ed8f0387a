"""The car's own front wheels and chassis, as the camera sees them at the bottom of some kits' frames.

Parts are 3D solids in the car frame (x forward from the rear axle, y left, z up): the two front
tyres (cylinders at the front axle that turn with the wheel angle) and, on some cars, the front of
the chassis or bumper (a box). Each frame they are projected with the episode's camera model and
filled as convex outlines, so whether and where they show follows from the mount and the lens: a
wide fisheye mounted behind the front axle sees its tyres in the bottom corners, a narrow lens does not.
"""
import math
from typing import Any, List, Optional, Tuple

import numpy as np

_CIRCLE = 20
_RING_T = np.linspace(0.0, 2.0 * math.pi, _CIRCLE, endpoint=False)
_RING_COS, _RING_SIN = np.cos(_RING_T), np.sin(_RING_T)


class CarBody(object):
    """Front wheels (and maybe a bumper) of one episode's car; ``draw(frame, model, steer_rad)`` paints them."""

    def __init__(self, rng: np.random.Generator, wheelbase_m: float, camera_forward_m: float) -> None:
        u = rng.random(10)
        self.radius_m = 0.028 + 0.027 * u[0]
        self.width_m = 0.02 + 0.025 * u[1]
        self.half_track_m = 0.065 + 0.045 * u[2]
        self.axle_x_m = float(wheelbase_m)
        tyre = int(15 + 35 * u[3])
        self.tyre_bgr = (tyre, tyre, tyre + int(5 * u[4]))
        hub = [(200, 200, 200), (40, 40, 40), (40, 200, 240), (40, 40, 200), (230, 230, 230)][int(u[5] * 5)]
        self.hub_bgr = hub
        self.bumper = u[6] < 0.5
        self.bumper_bgr = [(30, 30, 30), (150, 80, 20), (30, 30, 170), (200, 200, 200), (40, 120, 40)][int(u[7] * 5)]
        front = self.axle_x_m + self.radius_m + 0.01 + 0.04 * u[8]
        back = max(float(camera_forward_m) + 0.01, self.axle_x_m - 0.04)
        self.bumper_box = (back, front, -(self.half_track_m - self.width_m), self.half_track_m - self.width_m,
                           0.01, 0.03 + 0.03 * u[9])

    def _wheels(self, steer_rad: float) -> List[Tuple[np.ndarray, np.ndarray]]:
        """(tyre surface points (2 rims x _CIRCLE), inner hub circle) of the left, then the right wheel, car
        frame; both wheels share one turned ring."""
        c, s = math.cos(steer_rad), math.sin(steer_rad)
        fwd = np.array([c, s, 0.0])
        axis = np.array([-s, c, 0.0])
        up = np.array([0.0, 0.0, 1.0])
        ring = _RING_COS[:, None] * fwd[None] + _RING_SIN[:, None] * up[None]
        rim = self.radius_m * ring
        hub = 0.55 * self.radius_m * ring
        wheels = []
        for side in (1.0, -1.0):
            centre = np.array([self.axle_x_m, side * self.half_track_m, self.radius_m])
            rims = [centre + axis * (k * self.width_m / 2.0) + rim for k in (-1.0, 1.0)]
            wheels.append((np.vstack(rims), centre - side * axis * (self.width_m / 2.0 + 1e-3) + hub))
        return wheels

    def _box_points(self) -> np.ndarray:
        x0, x1, y0, y1, z0, z1 = self.bumper_box
        return np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)])

    def outlines(self, model: Any, steer_rad: float = 0.0) -> List[Tuple[np.ndarray, Tuple[int, int, int]]]:
        """(pixel polygon (N, 2), colour) of each part in view, far to near, for ``model`` (a CameraModel).
        All parts go through one :meth:`~CameraModel.project_camera` call (a projection per part cost ~20 us
        each, every frame)."""
        sets = [(self._box_points(), self.bumper_bgr)] if self.bumper else []
        hub_bgr = tuple(int(0.5 * a + 0.5 * b) for a, b in zip(self.hub_bgr, self.tyre_bgr))
        for tyre, hub in self._wheels(steer_rad):
            sets += [(tyre, self.tyre_bgr), (hub, hub_bgr)]
        uv, _ = model.project_camera(np.concatenate([model.to_camera(points) for points, _ in sets]))
        finite = np.isfinite(uv).all(axis=1)
        parts = []  # type: List[Tuple[np.ndarray, Tuple[int, int, int]]]
        start = 0
        for points, colour in sets:
            stop = start + len(points)
            parts += self._hull(model, uv[start:stop], finite[start:stop], colour)
            start = stop
        return parts

    @staticmethod
    def _hull(model: Any, uv: np.ndarray, finite: np.ndarray, colour: Tuple[int, int, int]
              ) -> List[Tuple[np.ndarray, Tuple[int, int, int]]]:
        import cv2
        n = int(np.count_nonzero(finite))
        if n < 3 or n < len(uv) and model.projection == "pinhole":
            return []   # a pinhole cannot image a part that reaches behind it
        pts = uv if n == len(uv) else uv[finite]
        w, h = model.width, model.height
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        if hi[0] < 0 or lo[0] > w or hi[1] < 0 or lo[1] > h:
            return []
        hull = cv2.convexHull(np.clip(pts, -4 * w, 5 * w).astype(np.float32))
        return [(hull.reshape(-1, 2), colour)]

    def fits(self, model: Any, lowest_top_frac: float = 0.7, max_area_frac: float = 0.12) -> bool:
        """True when, with straight wheels, the parts in view keep to the bottom of the image (their top
        below ``lowest_top_frac`` of the height) and cover at most ``max_area_frac`` of it: the way kits
        that show their wheels look. A camera that would look at the wheels head-on is not such a kit."""
        import cv2
        parts = self.outlines(model, 0.0)
        if not parts:
            return False
        top = min(float(p[:, 1].min()) for p, _ in parts)
        mask = np.zeros((model.height, model.width), np.uint8)
        for poly, _ in parts:
            cv2.fillConvexPoly(mask, np.round((poly - 0.5) * 16).astype(np.int32), 1, cv2.LINE_8, 4)
        return top > lowest_top_frac * model.height and mask.mean() <= max_area_frac

    def draw(self, frame: np.ndarray, model: Any, steer_rad: float = 0.0) -> bool:
        """Paint the parts in view onto ``frame`` in place; True if any pixel of the car shows."""
        import cv2
        drawn = False
        for poly, colour in self.outlines(model, steer_rad):
            cv2.fillConvexPoly(frame, np.round((poly - 0.5) * 16).astype(np.int32), colour, cv2.LINE_AA, 4)   # centres at +0.5
            drawn = True
        return drawn


def maybe_body(rng: np.random.Generator, probability: float, wheelbase_m: float, model: Any) -> Optional[CarBody]:
    """With ``probability``, a :class:`CarBody` for the camera ``model`` if it :meth:`~CarBody.fits` that
    camera (a few tries with other wheel sizes), else None."""
    u = float(rng.random())
    for _ in range(4):
        body = CarBody(rng, wheelbase_m, model.forward_m)
        if u < probability and body.fits(model):
            return body
    return None
