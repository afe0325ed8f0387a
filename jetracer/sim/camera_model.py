"""The car's camera as geometry: mount pose, lens projection, pixels <-> ground points.

Every number comes from the profile's ``camera:`` section (mount height, downward pitch, forward
offset from the rear axle, horizontal/vertical field of view, lens projection), so the simulated
camera is the one the car carries. Two projections:

* ``pinhole``: r = f * tan(theta). The fitted JetRacer numbers (144 deg HFOV, 120 deg VFOV on a
  224x224 image) are pinhole ones and give fy/fx = tan(72)/tan(60) ~ 1.78, the 16:9 -> square squeeze.
* ``equidistant`` (fisheye, Kannala-Brandt): r = f * theta_d, theta_d = theta (1 + k1 theta^2 + k2 theta^4).

In both, fx and fy are chosen so that the left/right image edges see hfov/2 and the top/bottom
edges vfov/2 off the optical axis.

Frames: the car frame is x forward, y left, z up, origin at the rear-axle centre on the ground;
the camera frame is OpenCV's (x right, y down, z along the optical axis). Pixel coordinates are
continuous: pixel (col c, row r) covers [c, c+1) x [r, r+1), its centre is (c + 0.5, r + 0.5) and
the optical axis hits (W/2, H/2), so the label x = (u - W/2)/(W/2) is 0 straight ahead.
"""
import math
from typing import Any, Mapping, Optional, Tuple

import numpy as np

PROJECTIONS = ("pinhole", "equidistant")
JITTER_KEYS = ("height_m", "pitch_deg", "hfov_deg", "vfov_deg", "roll_deg", "forward_m")


def camera_section(profile: Any) -> Mapping[str, Any]:
    """The ``camera:`` mapping from a whole profile, its camera section, or a plain dict."""
    if "camera" in profile:
        profile = profile["camera"]
    if hasattr(profile, "to_dict"):
        profile = profile.to_dict()
    return dict(profile)


class CameraModel(object):
    """A mounted camera: projection of car-frame points to pixels and of pixels to ground points.

    ``jitter`` holds offsets added to the profile's values (``height_m``, ``pitch_deg``, ``hfov_deg``,
    ``vfov_deg``, ``roll_deg``, ``forward_m``); an unknown key raises ``ValueError``. Positive roll turns
    the camera clockwise as seen from behind (the horizon tilts counter-clockwise in the image).
    """

    def __init__(self, camera: Any, width: int = 224, height: int = 224,
                 jitter: Optional[Mapping[str, float]] = None) -> None:
        cam = camera_section(camera)
        jitter = dict(jitter or {})
        unknown = sorted(set(jitter) - set(JITTER_KEYS))
        if unknown:
            raise ValueError("camera jitter: unknown key(s) %s; known keys: %s" % (", ".join(unknown), ", ".join(JITTER_KEYS)))
        self.width = int(width)
        self.height = int(height)
        self.height_m = float(cam["mount_height_m"]) + float(jitter.get("height_m", 0.0))
        self.pitch_deg = float(cam["mount_pitch_deg"]) + float(jitter.get("pitch_deg", 0.0))
        self.forward_m = float(cam["mount_forward_m"]) + float(jitter.get("forward_m", 0.0))
        self.hfov_deg = float(cam["hfov_deg"]) + float(jitter.get("hfov_deg", 0.0))
        self.vfov_deg = float(cam["vfov_deg"]) + float(jitter.get("vfov_deg", 0.0))
        self.roll_deg = float(jitter.get("roll_deg", 0.0))
        self.projection = cam.get("projection") or "pinhole"
        self.k = (float(cam.get("fisheye_k1") or 0.0), float(cam.get("fisheye_k2") or 0.0))
        if self.projection not in PROJECTIONS:
            raise ValueError("camera.projection must be one of %s, found %r" % (", ".join(PROJECTIONS), self.projection))
        if self.height_m <= 0:
            raise ValueError("camera height must be above the ground, found %.3f m" % self.height_m)
        if self.projection == "pinhole" and max(self.hfov_deg, self.vfov_deg) >= 179.0:
            raise ValueError("a pinhole camera cannot see %.0f deg; use projection: equidistant for fisheye lenses"
                             % max(self.hfov_deg, self.vfov_deg))
        self.cx = self.width / 2.0
        self.cy = self.height / 2.0
        self.fx = self.cx / self._radius(math.radians(self.hfov_deg) / 2.0)
        self.fy = self.cy / self._radius(math.radians(self.vfov_deg) / 2.0)
        self.R = self._rotation()
        self.position = np.array([self.forward_m, 0.0, self.height_m])

    def _radius(self, theta: Any) -> Any:
        """Normalised image radius for an off-axis angle ``theta`` (radians)."""
        if self.projection == "pinhole":
            return np.tan(theta)
        t2 = np.square(theta)
        return theta * (1.0 + self.k[0] * t2 + self.k[1] * t2 * t2)

    def _theta(self, radius: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`_radius` (Newton steps for the Kannala-Brandt polynomial)."""
        if self.projection == "pinhole":
            return np.arctan(radius)
        theta = radius.copy()
        if self.k != (0.0, 0.0):
            for _ in range(8):
                t2 = theta * theta
                f = theta * (1.0 + self.k[0] * t2 + self.k[1] * t2 * t2) - radius
                df = 1.0 + 3.0 * self.k[0] * t2 + 5.0 * self.k[1] * t2 * t2
                theta = theta - f / df
        return theta

    def _rotation(self) -> np.ndarray:
        """Columns: the camera's x (right), y (down), z (optical axis) in the car frame."""
        p = math.radians(self.pitch_deg)
        rho = math.radians(self.roll_deg)
        z = np.array([math.cos(p), 0.0, -math.sin(p)])
        x = np.array([0.0, -1.0, 0.0])
        y = np.cross(z, x)
        xr = math.cos(rho) * x + math.sin(rho) * y
        yr = -math.sin(rho) * x + math.cos(rho) * y
        return np.stack([xr, yr, z], axis=1)

    @property
    def aspect(self) -> float:
        """fy / fx: 1 for square pixels, ~1.78 for a 16:9 capture squeezed into a square image."""
        return self.fy / self.fx

    def rays(self, uv: np.ndarray) -> np.ndarray:
        """Unit viewing rays in the car frame, shape (N, 3), for pixel coordinates ``uv`` (N, 2)."""
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        mx = (uv[:, 0] - self.cx) / self.fx
        my = (uv[:, 1] - self.cy) / self.fy
        r = np.hypot(mx, my)
        theta = self._theta(r)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(r > 1e-12, np.sin(theta) / np.where(r > 1e-12, r, 1.0), 1.0)
        cam = np.stack([mx * scale, my * scale, np.cos(theta)], axis=1)
        return cam.dot(self.R.T)

    def ground_points(self, uv: np.ndarray, rays: Optional[np.ndarray] = None) -> np.ndarray:
        """Car-frame (x forward, y left) ground points seen at pixels ``uv`` (N, 2); NaN above the horizon.
        ``rays``: the pixels' :meth:`rays` when the caller has them already (a whole image's take ~3 ms)."""
        d = self.rays(uv) if rays is None else rays
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(d[:, 2] < -1e-9, self.height_m / -d[:, 2], np.nan)
        return np.stack([self.position[0] + t * d[:, 0], t * d[:, 1]], axis=1)

    def pixel_grid(self) -> np.ndarray:
        """Pixel centres of the whole image, shape (H*W, 2), row-major (row 0 first)."""
        u, v = np.meshgrid(np.arange(self.width) + 0.5, np.arange(self.height) + 0.5)
        return np.stack([u.ravel(), v.ravel()], axis=1)

    def project(self, points_car: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Car-frame 3D points (N, 3) -> pixel coordinates (N, 2) and a visibility mask.

        Visible means within the lens's reach (in front of a pinhole; within 90 deg plus the FOV
        margin of a fisheye) and inside the image. Invisible points still get finite coordinates
        where the projection is defined, NaN where it is not.
        """
        return self.project_camera(self.to_camera(points_car))

    def to_camera(self, points_car: np.ndarray) -> np.ndarray:
        """Car-frame 3D points (N, 3) -> camera-frame points (N, 3), the first step of :meth:`project`."""
        pts = np.asarray(points_car, dtype=np.float64).reshape(-1, 3)
        return (pts - self.position).dot(self.R)

    def project_camera(self, cam: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Camera-frame points (N, 3) -> pixels and visibility as :meth:`project` gives them: several point
        sets stacked after :meth:`to_camera` are projected in one call, each point as if on its own."""
        rxy = np.hypot(cam[:, 0], cam[:, 1])
        theta = np.arctan2(rxy, cam[:, 2])
        if self.projection == "pinhole":
            valid = cam[:, 2] > 1e-9
            theta = np.where(valid, theta, 0.0)
        else:
            valid = theta < min(math.pi - 1e-6, math.radians(max(self.hfov_deg, self.vfov_deg)))
        r = self._radius(theta)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(rxy > 1e-12, r / np.where(rxy > 1e-12, rxy, 1.0), 0.0)
        u = self.cx + self.fx * cam[:, 0] * scale
        v = self.cy + self.fy * cam[:, 1] * scale
        uv = np.stack([u, v], axis=1)
        uv[~valid] = np.nan
        inside = valid & (u >= 0) & (u <= self.width) & (v >= 0) & (v <= self.height)
        return uv, inside

    def horizon_v(self, u: float) -> float:
        """Image row of the horizon at column ``u`` (the pixel whose ray is horizontal); NaN if off-image."""
        lo, hi = 0.0, float(self.height)
        def up(v):
            return self.rays(np.array([[u, v]]))[0, 2]
        if not (up(lo) > 0 > up(hi)):
            return float("nan")
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if up(mid) > 0:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)
