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

DS_M = 0.01
M_PER_PX = 0.004
MARGIN_M = 1.5
DEFAULT_WIDTH_M = 0.6
DEFAULT_MIN_RADIUS_M = 1.2

DEFAULT_APPEARANCE = {
    "floor_bgr": (150, 150, 150),
    "road_bgr": (60, 60, 60),
    "edge_bgr": (240, 240, 240),
    "centre_bgr": (0, 210, 240),
    "edge_width_m": 0.03,
    "centre_width_m": 0.02,
    "centre_dash_m": 0.15,      # 0 draws a solid centre line; < 0 draws none
    "floor_variation": 0.0,     # amplitude of low-frequency brightness blotches (grey levels)
    "grain": 0,                 # amplitude of per-texel grain (grey levels)
}  # type: Dict[str, Any]


class TrackError(ValueError):
    """A track is malformed (too few points, self-crossing, a curve tighter than the car can turn)."""


def random_appearance(rng: np.random.Generator) -> Dict[str, Any]:
    """A random floor/road/line appearance: the per-episode colour randomisation of the world."""
    def colour(lo: int, hi: int, tint: int = 25) -> Tuple[int, int, int]:
        base = rng.integers(lo, hi + 1)
        return tuple(int(np.clip(base + rng.integers(-tint, tint + 1), 0, 255)) for _ in range(3))

    floor = colour(40, 220)
    road = colour(20, 200) if rng.random() < 0.6 else floor
    line_level = 255 if rng.random() < 0.7 else int(rng.integers(0, 60))
    edge = tuple(int(np.clip(line_level + rng.integers(-40, 41), 0, 255)) for _ in range(3))
    if abs(int(np.mean(edge)) - int(np.mean(road))) < 60:   # keep the edges visible against the road
        edge = (255, 255, 255) if np.mean(road) < 128 else (10, 10, 10)
    centre = (int(rng.integers(0, 80)), int(rng.integers(150, 256)), int(rng.integers(180, 256)))
    return {
        "floor_bgr": floor,
        "road_bgr": road,
        "edge_bgr": edge,
        "centre_bgr": centre if rng.random() < 0.7 else edge,
        "edge_width_m": float(rng.uniform(0.015, 0.05)),
        "centre_width_m": float(rng.uniform(0.01, 0.04)),
        "centre_dash_m": float(rng.choice([-1.0, 0.0, rng.uniform(0.05, 0.3)])),
        "floor_variation": float(rng.uniform(0.0, 30.0)),
        "grain": int(rng.integers(0, 12)),
    }


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

    def heading_at(self, progress_m: float) -> float:
        """Direction of travel (rad, CCW from +x) at ``progress_m``."""
        i = int(round((progress_m % self.length_m) / self.ds_m)) % len(self.xy)
        return float(self.heading[i])

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
        """Draw the top-down BGR texture (floor, road, edge lines, centre line) and keep it in ``texture``.

        ``appearance`` overrides keys of :data:`DEFAULT_APPEARANCE`; ``rng`` is needed only when it asks
        for floor variation or grain. Returns the texture.
        """
        import cv2

        look = dict(DEFAULT_APPEARANCE)
        look.update(appearance or {})
        pts = np.vstack([self.left_edge, self.right_edge])
        lo, hi = pts.min(axis=0) - margin_m, pts.max(axis=0) + margin_m
        w = int(math.ceil((hi[0] - lo[0]) / m_per_px))
        h = int(math.ceil((hi[1] - lo[1]) / m_per_px))
        self.m_per_px = float(m_per_px)
        self.origin_xy = (float(lo[0]), float(hi[1]))
        img = np.empty((h, w, 3), np.uint8)
        img[:] = look["floor_bgr"]
        shift = 4
        scale = float(1 << shift)

        def poly(xy: np.ndarray) -> np.ndarray:
            return np.round(self.world_to_px(xy) * scale).astype(np.int32).reshape(-1, 1, 2)

        # left edge is the inner edge (the track is counter-clockwise): fill outer with road, inner with floor
        cv2.fillPoly(img, [poly(self.right_edge)], look["road_bgr"], cv2.LINE_AA, shift)
        cv2.fillPoly(img, [poly(self.left_edge)], look["floor_bgr"], cv2.LINE_AA, shift)
        edge_px = max(1, int(round(look["edge_width_m"] / m_per_px)))
        cv2.polylines(img, [poly(self.left_edge), poly(self.right_edge)], True, look["edge_bgr"], edge_px, cv2.LINE_AA, shift)
        dash = float(look["centre_dash_m"])
        centre_px = max(1, int(round(look["centre_width_m"] / m_per_px)))
        if dash == 0:
            cv2.polylines(img, [poly(self.xy)], True, look["centre_bgr"], centre_px, cv2.LINE_AA, shift)
        elif dash > 0:
            on = (np.floor(self.s / dash).astype(int) % 2) == 0
            starts = np.flatnonzero(on & ~np.roll(on, 1))
            runs = []
            for a in starts:
                b = a
                while on[(b + 1) % len(on)] and b - a < len(on):
                    b += 1
                runs.append(poly(self.xy[np.arange(a, b + 1) % len(on)]))
            cv2.polylines(img, runs, False, look["centre_bgr"], centre_px, cv2.LINE_AA, shift)
        if look["floor_variation"] > 0 or look["grain"] > 0:
            if rng is None:
                raise ValueError("appearance with floor_variation or grain needs an rng")
            delta = np.zeros((h, w), np.float32)
            if look["floor_variation"] > 0:
                blot = rng.uniform(-1.0, 1.0, size=(max(2, h // 250), max(2, w // 250))).astype(np.float32)
                delta += cv2.resize(blot, (w, h), interpolation=cv2.INTER_CUBIC) * float(look["floor_variation"])
            if look["grain"] > 0:
                g = int(look["grain"])
                delta += rng.integers(-g, g + 1, size=(h, w), dtype=np.int16).astype(np.float32)
            img = np.clip(img.astype(np.int16) + delta.astype(np.int16)[:, :, None], 0, 255).astype(np.uint8)
        self.texture = img
        self.appearance = look
        return img

    # -- construction --------------------------------------------------------------------------------

    @classmethod
    def builtin(cls, name: str) -> "Track":
        """A named built-in track (see :data:`jetracer.sim.tracks_builtin.BUILTIN_TRACKS`)."""
        from .tracks_builtin import builtin_track

        return builtin_track(name)

    @classmethod
    def from_seed(cls, seed: int, min_radius_m: float = DEFAULT_MIN_RADIUS_M, size_m: Tuple[float, float] = (6.0, 10.0),
                  width_m: Optional[float] = None) -> "Track":
        """A procedural track for an integer seed: no self-crossing, no curve tighter than ``min_radius_m``,
        fitting a square of side ``size_m[0]`` to ``size_m[1]`` metres. The same seed gives the same track."""
        from .tracks_builtin import procedural_track

        return procedural_track(seed, min_radius_m=min_radius_m, size_m=size_m, width_m=width_m)


def _signed_area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def load_track(spec: Any, min_radius_m: float = DEFAULT_MIN_RADIUS_M) -> Track:
    """A Track from a Track, a built-in name, or an integer seed (procedural)."""
    if isinstance(spec, Track):
        return spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return Track.from_seed(int(spec), min_radius_m=min_radius_m)
    if isinstance(spec, str):
        if spec.isdigit():
            return Track.from_seed(int(spec), min_radius_m=min_radius_m)
        return Track.builtin(spec)
    raise TrackError("a track is a built-in name, an integer seed or a Track, got %r" % (spec,))
