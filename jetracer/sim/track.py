"""Closed tracks: a periodic cubic spline centreline, a width, and a top-down texture of the floor.

Geometry (numpy only, so it runs anywhere):

* the centreline is a periodic (C2) cubic spline through control points, resampled every ``ds_m``
  (1 cm) by arc length; ``progress`` is arc length in metres from sample 0, in ``[0, length_m)``;
* ``cte`` (cross-track error) is signed, metres, **positive left** of the direction of travel;
* edges are the centreline offset by ``width_m / 2`` along the normal.

Texture (shared with :mod:`jetracer.sim.render`): ``track.texture`` HxWx3 uint8 BGR,
``track.origin_xy`` the world (x, y) of the image's top-left corner, ``track.m_per_px``; texel
(row r, col c) has its centre at ``x = origin_x + (c + 0.5) * m_per_px``,
``y = origin_y - (r + 0.5) * m_per_px`` (north up). :meth:`Track.rasterize` draws it once per
appearance (floor, road, line colours and widths), so a world can randomise it per episode.
"""
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import UserError

DS_M = 0.01
M_PER_PX = 0.004
MARGIN_M = 1.5
DEFAULT_WIDTH_M = 0.6
DEFAULT_MIN_RADIUS_M = 1.2

DEFAULT_APPEARANCE = {
    "floor_material": "plain",  # see jetracer.sim.materials.MATERIALS
    "floor_bgr": (150, 150, 150),
    "floor2_bgr": (150, 150, 150),   # second colour of multi-colour floors (foam mats)
    "floor_scale_m": 0.5,       # tile / mat size of patterned floors
    "road_material": "plain",   # "none": the track is the bare floor between its edges
    "road_bgr": (60, 60, 60),
    "edge_style": "tape",       # tape | dashed | rope | none
    "edge_bgr": (240, 240, 240),
    "edge2_bgr": (240, 240, 240),    # the inner edge
    "edge_width_m": 0.03,
    "edge_dash_m": 0.2,
    "centre_bgr": (0, 210, 240),
    "centre_width_m": 0.02,
    "centre_dash_m": 0.15,      # 0 draws a solid centre line; < 0 draws none
    "centre_gap_ratio": 1.0,    # gap length / dash length
    "verge_width_m": 0.0,       # a band outside each edge (0: none)
    "verge_bgr": (235, 235, 235),
    "verge_kerb": False,        # the verge as red/white kerb blocks
    "wobble_m": 0.0,            # lateral wander of hand-laid tape
    "piece_m": 0.0,             # tape laid in straight pieces this long (0: smooth curves)
    "distractors": 0,           # stray tape strips, cables and stains on the floor
    "floor_variation": 0.0,     # strength of the low-frequency illumination field (fraction of brightness)
    "grain": 0,                 # amplitude of per-texel grain (grey levels)
    "hard_light": 0,            # hard-edged sunlight patches and shadows on the floor (how many)
}  # type: Dict[str, Any]


class TrackError(UserError):
    """A track is malformed (too few points, self-crossing, a curve tighter than the car can turn)."""


def random_appearance(rng: np.random.Generator) -> Dict[str, Any]:
    """A random floor/road/markings appearance: the per-episode look of the world (see :mod:`.materials`)."""
    from .materials import random_appearance as draw

    return draw(rng)


def periodic_spline(points: np.ndarray, n_per_segment: int = 64) -> np.ndarray:
    """Dense samples of the closed C2 cubic spline through ``points`` (N, 2), chord-length parameterised."""
    p = np.asarray(points, dtype=np.float64)
    n = len(p)
    if n < 3:
        raise TrackError("a closed track needs at least 3 control points, got %d" % n)
    h = np.linalg.norm(np.roll(p, -1, axis=0) - p, axis=1)
    if np.any(h < 1e-6):
        raise TrackError("two consecutive control points coincide; remove the duplicate")
    hp = np.roll(h, 1)  # h_{i-1}
    a = np.zeros((n, n))
    idx = np.arange(n)
    a[idx, idx] = 2.0 * (hp + h)
    a[idx, (idx - 1) % n] += hp
    a[idx, (idx + 1) % n] += h
    slope = (np.roll(p, -1, axis=0) - p) / h[:, None]
    rhs = 6.0 * (slope - np.roll(slope, 1, axis=0))
    m = np.linalg.solve(a, rhs)
    t = np.linspace(0.0, 1.0, n_per_segment, endpoint=False)[None, :, None]   # fraction along each segment
    hh = h[:, None, None]
    m0, m1 = m[:, None, :], np.roll(m, -1, axis=0)[:, None, :]
    p0, p1 = p[:, None, :], np.roll(p, -1, axis=0)[:, None, :]
    u, w = (1.0 - t) * hh, t * hh
    out = (m0 * u ** 3 + m1 * w ** 3) / (6.0 * hh) + (p0 / hh - m0 * hh / 6.0) * u + (p1 / hh - m1 * hh / 6.0) * w
    return out.reshape(-1, 2)


def _resample_closed(dense: np.ndarray, ds: float) -> Tuple[np.ndarray, float]:
    closed = np.vstack([dense, dense[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    length = float(s[-1])
    n = max(16, int(round(length / ds)))
    q = np.linspace(0.0, length, n, endpoint=False)
    return np.stack([np.interp(q, s, closed[:, 0]), np.interp(q, s, closed[:, 1])], axis=1), length


def segments_intersect(poly: np.ndarray) -> bool:
    """True if any two non-adjacent segments of the closed polyline ``poly`` (N, 2) cross."""
    a = poly
    b = np.roll(poly, -1, axis=0)
    n = len(a)

    def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.sign((q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0]))

    A, B = a[:, None, :], b[:, None, :]
    C, D = a[None, :, :], b[None, :, :]
    cross = (orient(A, B, C) * orient(A, B, D) < 0) & (orient(C, D, A) * orient(C, D, B) < 0)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    gap = np.abs(i - j)
    cross &= (gap > 1) & (gap < n - 1)
    return bool(cross.any())


class Track(object):
    """A closed track: centreline samples, width, edges, nearest-point look-up, and its texture."""

    def __init__(self, control_points: Sequence[Sequence[float]], width_m: float = DEFAULT_WIDTH_M,
                 name: str = "track", ds_m: float = DS_M, spline: bool = True) -> None:
        if not 0.1 <= width_m <= 5.0:
            raise TrackError("track width must be in [0.1, 5] m, got %r" % width_m)
        self.name = name
        self.width_m = float(width_m)
        self.control_points = np.asarray(control_points, dtype=np.float64)
        if _signed_area(self.control_points) < 0:   # always counter-clockwise: the track's left is its inside
            self.control_points = self.control_points[::-1].copy()
        dense = periodic_spline(self.control_points) if spline else self.control_points
        self.xy, self.length_m = _resample_closed(dense, ds_m)
        n = len(self.xy)
        self.ds_m = self.length_m / n
        self.s = np.arange(n) * self.ds_m
        d = np.roll(self.xy, -1, axis=0) - np.roll(self.xy, 1, axis=0)
        self.tangent = d / np.linalg.norm(d, axis=1)[:, None]
        self.normal = np.stack([-self.tangent[:, 1], self.tangent[:, 0]], axis=1)   # left of travel
        heading = np.arctan2(self.tangent[:, 1], self.tangent[:, 0])
        dh = np.angle(np.exp(1j * (np.roll(heading, -1) - np.roll(heading, 1))))
        k = dh / (2.0 * self.ds_m)
        kernel = np.ones(5) / 5.0   # smooth the 1 cm finite differences of the heading
        self.curvature = np.convolve(np.concatenate([k[-2:], k, k[:2]]), kernel, mode="valid")
        self.heading = heading
        self.left_edge = self.xy + self.normal * (self.width_m / 2.0)
        self.right_edge = self.xy - self.normal * (self.width_m / 2.0)
        self.texture = None  # type: Optional[np.ndarray]
        self.origin_xy = (0.0, 0.0)
        self.m_per_px = M_PER_PX
        self.appearance = dict(DEFAULT_APPEARANCE)

    def __repr__(self) -> str:
        return "Track(%r, length %.2f m, width %.2f m)" % (self.name, self.length_m, self.width_m)

    # -- geometry ----------------------------------------------------------------------------------

    def min_radius_m(self) -> float:
        """Smallest radius of curvature of the centreline (m)."""
        return float(1.0 / max(np.max(np.abs(self.curvature)), 1e-9))

    def size_m(self) -> Tuple[float, float]:
        """Width and height (m) of the bounding box of the track, edges included."""
        pts = np.vstack([self.left_edge, self.right_edge])
        span = pts.max(axis=0) - pts.min(axis=0)
        return float(span[0]), float(span[1])

    def problems(self, min_radius_m: float = 0.0, clearance_m: float = 0.3) -> List[str]:
        """What makes this track undrivable: a self-crossing, overlapping edges, a too-tight curve."""
        out = []
        coarse = self.xy[::5]
        if segments_intersect(coarse):
            out.append("the centreline crosses itself")
        if self.min_radius_m() < min_radius_m:
            out.append("a curve of radius %.2f m is tighter than the %.2f m required" % (self.min_radius_m(), min_radius_m))
        if self.min_radius_m() < self.width_m / 2.0:
            out.append("the inner edge folds over itself (radius below half the width)")
        gap = self.min_gap_m()
        if gap < self.width_m + clearance_m:
            out.append("two parts of the track come within %.2f m (centre to centre; %.2f m needed)"
                       % (gap, self.width_m + clearance_m))
        return out

    def min_gap_m(self) -> float:
        """Smallest centre-to-centre distance between parts of the track more than 3 widths apart along it."""
        step = max(1, int(round(0.05 / self.ds_m)))
        pts, s = self.xy[::step], self.s[::step]
        d = np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=2)
        sep = np.abs(s[:, None] - s[None, :])
        sep = np.minimum(sep, self.length_m - sep)
        far = sep > 3.0 * self.width_m
        return float(d[far].min()) if far.any() else float("inf")

    def nearest(self, x: float, y: float, hint: Optional[int] = None, window: int = 60) -> Tuple[float, float, int]:
        """``(progress_m, cte_m, index)`` of the centreline point nearest (x, y).

        With ``hint`` (the index found last step) only ``hint +- window`` samples are searched (fast, and
        it never jumps to a neighbouring part of the track); a global search is done without it or when the
        windowed answer is further than the track width.
        """
        n = len(self.xy)
        if hint is not None:
            lo = hint - window
            if 0 <= lo and hint + window < n:   # the common case: a plain slice, no index array
                pts = self.xy[lo:hint + window + 1]
                d2 = (pts[:, 0] - x) ** 2 + (pts[:, 1] - y) ** 2
                j = int(np.argmin(d2))
                i = lo + j
            else:
                idx = (np.arange(-window, window + 1) + hint) % n
                pts = self.xy[idx]
                d2 = (pts[:, 0] - x) ** 2 + (pts[:, 1] - y) ** 2
                j = int(np.argmin(d2))
                i = int(idx[j])
            if d2[j] > self.width_m ** 2:
                hint = None
        if hint is None:
            d2 = (self.xy[:, 0] - x) ** 2 + (self.xy[:, 1] - y) ** 2
            i = int(np.argmin(d2))
        dx, dy = x - self.xy[i, 0], y - self.xy[i, 1]
        along = dx * self.tangent[i, 0] + dy * self.tangent[i, 1]
        cte = dx * self.normal[i, 0] + dy * self.normal[i, 1]
        progress = (self.s[i] + along) % self.length_m
        return float(progress), float(cte), i

    def point_at(self, progress_m: Any) -> np.ndarray:
        """Centreline point(s) at arc length ``progress_m`` (wraps around), shape (..., 2)."""
        q = np.mod(np.asarray(progress_m, dtype=np.float64), self.length_m) / self.ds_m
        i0 = np.floor(q).astype(int) % len(self.xy)
        i1 = (i0 + 1) % len(self.xy)
        f = (q - np.floor(q))[..., None]
        return self.xy[i0] * (1.0 - f) + self.xy[i1] * f

    def pose_at(self, progress_m: float, offset_m: float = 0.0, yaw_offset_rad: float = 0.0) -> Tuple[float, float, float]:
        """A pose ``(x, y, yaw)`` on the track at ``progress_m``, ``offset_m`` left of the centre."""
        i = int(round((progress_m % self.length_m) / self.ds_m)) % len(self.xy)
        p = self.xy[i] + self.normal[i] * offset_m
        return float(p[0]), float(p[1]), float(self.heading[i] + yaw_offset_rad)

    # -- texture -----------------------------------------------------------------------------------

    def world_to_px(self, xy: np.ndarray) -> np.ndarray:
        """World points (N, 2) -> texture (col, row) float coordinates of texel centres."""
        xy = np.asarray(xy, dtype=np.float64)
        col = (xy[..., 0] - self.origin_xy[0]) / self.m_per_px - 0.5
        row = (self.origin_xy[1] - xy[..., 1]) / self.m_per_px - 0.5
        return np.stack([col, row], axis=-1)

    def rasterize(self, appearance: Optional[Mapping[str, Any]] = None, rng: Optional[np.random.Generator] = None,
                  m_per_px: float = M_PER_PX, margin_m: float = MARGIN_M) -> np.ndarray:
        """Draw the top-down BGR texture (floor, road, markings; see :mod:`.materials`) and keep it in ``texture``.

        ``appearance`` overrides keys of :data:`DEFAULT_APPEARANCE` (an unknown key raises ``ValueError``);
        ``rng`` is needed unless the look is plain, smooth and uniform. Returns the texture.
        """
        import cv2

        from .materials import (EDGE_STYLES, ROAD_MATERIALS, add_tiled_noise, draw_markings, draw_material, fill,
                                hard_light, illumination)

        unknown = sorted(set(appearance or {}) - set(DEFAULT_APPEARANCE))
        if unknown:
            raise ValueError("track appearance: unknown key(s) %s; known keys: %s"
                             % (", ".join(unknown), ", ".join(sorted(DEFAULT_APPEARANCE))))
        look = dict(DEFAULT_APPEARANCE)
        look.update(appearance or {})
        if look["road_material"] not in ROAD_MATERIALS or look["edge_style"] not in EDGE_STYLES:
            raise ValueError("track appearance: road_material must be one of %s and edge_style one of %s, found %r, %r"
                             % (", ".join(ROAD_MATERIALS), ", ".join(EDGE_STYLES), look["road_material"], look["edge_style"]))
        plain = look["floor_material"] == "plain" and look["road_material"] in ("plain", "none")
        if rng is None and not (plain and look["grain"] == 0 and look["floor_variation"] == 0 and look["hard_light"] == 0):
            raise ValueError("a textured track appearance needs an rng (floor %r, grain %r, floor_variation %r, "
                             "hard_light %r)" % (look["floor_material"], look["grain"], look["floor_variation"],
                                                 look["hard_light"]))
        pts = np.vstack([self.left_edge, self.right_edge])
        lo, hi = pts.min(axis=0) - margin_m, pts.max(axis=0) + margin_m
        w = int(math.ceil((hi[0] - lo[0]) / m_per_px))
        h = int(math.ceil((hi[1] - lo[1]) / m_per_px))
        self.m_per_px = float(m_per_px)
        self.origin_xy = (float(lo[0]), float(hi[1]))
        scale = float(1 << 4)

        def poly(xy: np.ndarray) -> np.ndarray:
            return np.round(self.world_to_px(xy) * scale).astype(np.int32).reshape(-1, 1, 2)

        plain_floor = look["floor_material"] == "plain" and (rng is None or look["grain"] == 0)
        plain_road = look["road_material"] in ("plain", "none") and (rng is None or look["grain"] == 0)
        if plain_floor and plain_road:   # uniform colours (the clean look): draw at full size directly
            img = fill(np.empty((h, w, 3), np.uint8), look["floor_bgr"])
            if look["road_material"] != "none":
                cv2.fillPoly(img, [poly(self.right_edge)], look["road_bgr"], cv2.LINE_AA, 4)
                cv2.fillPoly(img, [poly(self.left_edge)], look["floor_bgr"], cv2.LINE_AA, 4)
        else:
            # floor and road are drawn at twice the texel size and enlarged once: 4x less work, and the
            # camera resolves 8 mm only within a few centimetres of its lens; markings are drawn at full size
            sh, sw = (h + 1) // 2, (w + 1) // 2

            def surface(material: str, bgr: Any, bgr2: Any) -> np.ndarray:
                return draw_material(rng, material, sh, sw, 2.0 * m_per_px, bgr, bgr2, float(look["floor_scale_m"]))

            small = surface(look["floor_material"], look["floor_bgr"], look["floor2_bgr"])
            if look["road_material"] != "none":
                # the track is counter-clockwise: its right edge is the outer one, the left edge the inner one
                mask = np.zeros((sh, sw), np.uint8)
                cv2.fillPoly(mask, [poly(self.right_edge) // 2], 255, cv2.LINE_8, 4)
                cv2.fillPoly(mask, [poly(self.left_edge) // 2], 0, cv2.LINE_8, 4)
                cv2.copyTo(surface(look["road_material"], look["road_bgr"], look["road_bgr"]), mask, small)
            if look["grain"] > 0:
                add_tiled_noise(small, rng, float(look["grain"]) / 1.7)
            img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        draw_markings(img, self, look, rng, poly, m_per_px)
        if look["floor_variation"] > 0:
            img = illumination(img, rng, float(look["floor_variation"]), m_per_px)
        if look["hard_light"] > 0:
            img = hard_light(img, rng, int(look["hard_light"]), m_per_px)
        self.texture = img
        self.appearance = look
        return img


def _signed_area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
