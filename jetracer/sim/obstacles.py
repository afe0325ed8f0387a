"""Obstacles on the track: things a person leaves on the floor, and the car's footprint touching them.

Each obstacle is a few 3D primitives (boxes, cylinders and frusta, spheres as polygons) standing on the
floor, built once per episode in world coordinates; a frame only transforms, projects and fills them:

* **Kinds** (:data:`KINDS`): boxes, cones, bottles, shoes, feet, chairs, tables, toy cars, balls, hands, a
  wall or track end, people's legs. Sizes, colours, textures (stripes, noise as jittered cells, print as
  decals) are drawn from the obstacle's own random stream.
* **Light**: every face is shaded from one light direction (ambient plus Lambert); with a room
  (:class:`jetracer.sim.room.Room`) the direction is the room's brightness-weighted sky (its ceiling lights
  and windows), else one drawn per episode. A soft contact shadow lies under each obstacle.
* **Camera**: vertices go through the episode's :class:`~jetracer.sim.camera_model.CameraModel`, so the fisheye
  lens bends them as it bends the floor (edges are pre-split every few centimetres, so they curve as they
  should). Faces turned away are culled, faces crossing the plane just in front of the lens are clipped
  to it, an obstacle behind the camera or standing beyond :data:`FAR_M` is skipped. Occlusion is the painter's:
  obstacles far to near, inside one obstacle its parts by layer (a table top before its legs) and faces
  far to near.
* **Footprints**: the convex polygons where an obstacle meets the floor (a chair's four legs, not its
  seat, so a car may pass under it); the car's footprint (:class:`CarShape`, from the profile's
  ``dynamics``) touching one is a collision.
* **Placement** (:func:`place_obstacles`): N obstacles spread along the track, some on the lane and some
  just beside it, none overlapping the car's start pose; from :func:`obstacle_rng`, a stream of its own
  derived from ``(seed, episode)`` like :mod:`jetracer.sim.rng`'s, so worlds without obstacles draw exactly
  what they drew before and render byte-identically.

The labels (blocked, distance) are :mod:`jetracer.sim.obstacle_labels`.
"""
import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import UserError
from .obstacle_labels import outline_points, track_coordinates

KINDS = ("box", "cone", "bottle", "shoe", "foot", "chair", "table", "toy_car", "ball", "hand", "wall", "legs")
OBSTACLE_STREAM_KEY = 1019   # spawn key of the obstacle stream beside rng.py's three (0, 1, 2)
NEAR_M = 0.01                # faces are clipped to this plane in front of the lens
FAR_M = 15.0                 # obstacles standing farther from the camera are not drawn (a 30 cm box is under 2 px there)
EDGE_STEP_M = 0.05           # edges are split into pieces this long, so that a fisheye curves them
SAMPLE_STEP_M = 0.005        # footprint outlines are sampled this finely for the labels
GROW_PX = 0.5                # faces are grown by this much so that anti-aliased neighbours leave no seam

# car outline relative to the wheelbase, for profiles without front/rear overhang and width (a LaTrax Rally)
FALLBACK_FRONT_OVERHANG = 0.36
FALLBACK_REAR_OVERHANG = 0.30
FALLBACK_WIDTH = 0.95

SKIN = ((80, 110, 160), (120, 150, 200), (60, 80, 120), (150, 180, 220), (40, 60, 90))
CLOTHES = ((30, 30, 30), (60, 50, 40), (140, 90, 40), (40, 40, 150), (200, 200, 200), (80, 120, 60), (50, 80, 120),
           (100, 100, 100), (120, 60, 140), (30, 140, 200))
BRIGHT = ((40, 40, 220), (40, 200, 240), (200, 120, 30), (50, 170, 60), (30, 120, 250), (180, 60, 160), (240, 240, 240),
          (30, 30, 30), (0, 210, 255), (200, 200, 60))




class ObstaclePlacementError(UserError):
    """More obstacles asked of a track than fit on it (exit 2: fewer obstacles, or a longer track)."""

def obstacle_rng(seed: int, episode: int) -> np.random.Generator:
    """The obstacle stream of episode ``episode`` of seed ``seed``: independent of the episode's other
    three streams (:func:`jetracer.sim.rng.episode_streams`), so adding obstacles changes nothing else."""
    if seed < 0 or episode < 0:
        raise ValueError("seed and episode must be >= 0, got seed=%r episode=%r" % (seed, episode))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(episode), OBSTACLE_STREAM_KEY)))


# -- the car's outline -------------------------------------------------------------------------------

class CarShape(object):
    """The car's footprint: a rectangle from ``rear_overhang_m`` behind the rear axle to ``wheelbase_m +
    front_overhang_m`` ahead of it, ``width_m`` across (the profile's ``dynamics`` section)."""

    def __init__(self, wheelbase_m: float, front_overhang_m: float, rear_overhang_m: float, width_m: float) -> None:
        self.wheelbase_m = float(wheelbase_m)
        self.front_overhang_m = float(front_overhang_m)
        self.rear_overhang_m = float(rear_overhang_m)
        self.width_m = float(width_m)

    @classmethod
    def from_profile(cls, profile: Any) -> "CarShape":
        """From a profile's ``dynamics:`` section; a profile without the outline keys gets a LaTrax's
        proportions of its wheelbase (:data:`FALLBACK_FRONT_OVERHANG` and the others)."""
        d = profile["dynamics"]
        d = d.to_dict() if hasattr(d, "to_dict") else dict(d)
        L = float(d["wheelbase_m"])
        return cls(L, float(d.get("front_overhang_m", FALLBACK_FRONT_OVERHANG * L)),
                   float(d.get("rear_overhang_m", FALLBACK_REAR_OVERHANG * L)), float(d.get("width_m", FALLBACK_WIDTH * L)))

    @property
    def front_m(self) -> float:
        """Distance (m) from the rear axle to the front bumper."""
        return self.wheelbase_m + self.front_overhang_m

    def footprint(self, pose: Sequence[float], margin_m: float = 0.0) -> np.ndarray:
        """(4, 2) world corners of the car at rear-axle ``pose`` = (x, y, yaw), counter-clockwise, grown by
        ``margin_m`` on every side."""
        x, y, yaw = float(pose[0]), float(pose[1]), float(pose[2])
        c, s = math.cos(yaw), math.sin(yaw)
        hw, back, front = self.width_m / 2.0 + margin_m, -self.rear_overhang_m - margin_m, self.front_m + margin_m
        local = np.array([[back, -hw], [front, -hw], [front, hw], [back, hw]])
        return np.stack([x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1]], axis=1)

    def front_point(self, pose: Sequence[float]) -> Tuple[float, float]:
        """World (x, y) of the middle of the front bumper."""
        return (float(pose[0]) + self.front_m * math.cos(pose[2]), float(pose[1]) + self.front_m * math.sin(pose[2]))


def polygons_touch(a: np.ndarray, b: np.ndarray) -> bool:
    """True when convex polygons ``a`` and ``b`` ((N, 2), (M, 2)) overlap or touch (separating axes)."""
    for poly in (a, b):
        edge = np.roll(poly, -1, axis=0) - poly
        axes = np.stack([-edge[:, 1], edge[:, 0]], axis=1)
        pa, pb = a.dot(axes.T), b.dot(axes.T)
        if np.any((pa.max(axis=0) < pb.min(axis=0) - 1e-12) | (pb.max(axis=0) < pa.min(axis=0) - 1e-12)):
            return False
    return True


# -- building solids ---------------------------------------------------------------------------------

def _rot_z(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _basis(axis: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to unit ``axis`` and to each other."""
    x, y, z = (float(v) for v in axis)
    if abs(z) < 0.9:   # axis x (0, 0, 1)
        a = np.array([y, -x, 0.0]) / math.hypot(x, y)
    else:              # axis x (1, 0, 0)
        a = np.array([0.0, z, -y]) / math.hypot(y, z)
    return a, np.array([y * a[2] - z * a[1], z * a[0] - x * a[2], x * a[1] - y * a[0]])


def _split_edges(poly: np.ndarray, step_m: float, max_pieces: int = 8) -> np.ndarray:
    """The polygon with each edge cut into pieces of at most ``step_m`` (at most ``max_pieces``)."""
    nxt = np.roll(poly, -1, axis=0)
    pieces = np.clip(np.ceil(np.linalg.norm(nxt - poly, axis=1) / step_m), 1, max_pieces).astype(int)
    if pieces.max() == 1:
        return poly
    edge = np.repeat(np.arange(len(poly)), pieces)
    frac = (np.arange(int(pieces.sum())) - np.repeat(np.cumsum(pieces) - pieces, pieces)) / np.repeat(pieces, pieces)
    return poly[edge] + (nxt[edge] - poly[edge]) * frac[:, None]


def _tone(rng: np.random.Generator, bgr: Sequence[float], amount: float) -> Tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.uniform(-amount, amount), 0, 255)) for c in bgr)


class Mesh(object):
    """The faces of one obstacle in its own frame (x forward, y left, z up, origin on the floor).

    A face is a planar convex polygon with a colour, a layer (lower layers are drawn first: a table's top
    before its legs) and a group: the faces of one group (a box side split into noisy cells, the decals
    printed on it) share a normal and are drawn together, decals last. ``inside`` is a point inside the
    face's solid: the normal (computed once for all faces, :func:`_normals`) points away from it.
    """

    def __init__(self) -> None:
        self.polys = []   # type: List[np.ndarray]
        self.bgr = []     # type: List[Tuple[int, int, int]]
        self.layer = []   # type: List[int]
        self.group = []   # type: List[int]
        self.is_decal = []  # type: List[bool]
        self.inside = []  # type: List[np.ndarray]

    def _add(self, poly: np.ndarray, bgr: Sequence[int], layer: int, inside: np.ndarray, group: int = -1,
             decal: bool = False) -> int:
        index = len(self.polys)
        self.polys.append(np.asarray(poly, dtype=np.float64))
        self.bgr.append(bgr if isinstance(bgr, tuple) else tuple(int(c) for c in bgr))
        self.layer.append(int(layer))
        self.group.append(index if group < 0 else group)
        self.is_decal.append(bool(decal))
        self.inside.append(np.asarray(inside, dtype=np.float64))
        return index

    def box(self, centre: Sequence[float], size: Sequence[float], bgr: Sequence[int], layer: int = 0,
            R: Optional[np.ndarray] = None, bottom: bool = False, cells: int = 1, jitter: float = 0.0,
            rng: Optional[np.random.Generator] = None) -> Dict[str, Tuple[int, np.ndarray, np.ndarray]]:
        """A box (``size`` = x, y, z extents, rotated by ``R``); its bottom only when ``bottom`` (a raised
        box). ``cells`` > 1 splits each face into cells x cells tiles with colours jittered by ``jitter``
        (noise). Returns the faces by name (front/back/left/right/top/bottom) as (group, corners p00, p10,
        p11, p01, outward normal), for :meth:`decal`."""
        c = np.asarray(centre, dtype=np.float64)
        R = np.eye(3) if R is None else R
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
        corner = c + (signs * (np.asarray(size, dtype=np.float64) / 2.0)).dot(R.T)   # index 4*(sx>0) + 2*(sy>0) + (sz>0)
        faces = {"front": ((6, 4, 5, 7), 0), "back": ((0, 2, 3, 1), 0), "left": ((2, 6, 7, 3), 1),
                 "right": ((4, 0, 1, 5), 1), "top": ((1, 3, 7, 5), 2)}
        if bottom:
            faces["bottom"] = ((2, 0, 4, 6), 2)
        k = max(1, int(cells))
        g = np.arange(k + 1) / float(k)
        u, v = np.meshgrid(g, g, indexing="ij")
        out = {}
        for name, (idx, axis) in faces.items():
            p00, p10, p11, p01 = corner[list(idx)]
            normal = p00 - c
            normal = R[:, axis] * np.sign(normal.dot(R[:, axis]))
            grid = ((1 - u) * (1 - v))[..., None] * p00 + (u * (1 - v))[..., None] * p10 + (u * v)[..., None] * p11 + \
                ((1 - u) * v)[..., None] * p01
            group = -1
            for i in range(k):
                for j in range(k):
                    quad = np.array([grid[i, j], grid[i + 1, j], grid[i + 1, j + 1], grid[i, j + 1]])
                    colour = _tone(rng, bgr, jitter) if k > 1 and rng is not None else bgr
                    index = self._add(quad, colour, layer, c, group)
                    group = self.group[index]
            out[name] = (group, np.array([p00, p10, p11, p01]), normal)
        return out

    def decal(self, face: Tuple[int, np.ndarray, np.ndarray], u0: float, u1: float, v0: float, v1: float,
              bgr: Sequence[int]) -> None:
        """A rectangle printed on a box face (``face`` from :meth:`box`), u and v in [0, 1] across it."""
        group, (p00, p10, p11, p01), n = face
        quad = np.array([(1 - a) * (1 - b) * p00 + a * (1 - b) * p10 + a * b * p11 + (1 - a) * b * p01
                         for a, b in ((u0, v0), (u1, v0), (u1, v1), (u0, v1))]) + 0.001 * n
        self._add(quad, bgr, self.layer[group], quad.mean(axis=0) - n, group, decal=True)

    def frustum(self, p0: Sequence[float], p1: Sequence[float], r0: float, r1: float, bgr: Sequence[int], layer: int = 0,
                sides: int = 12, cap0: bool = False, cap1: bool = True, bgr2: Optional[Sequence[int]] = None) -> None:
        """A cylinder or frustum from ``p0`` (radius ``r0``) to ``p1`` (``r1``), ``sides`` faces around
        (alternating with ``bgr2``: vertical stripes), caps where asked."""
        p0, p1 = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
        axis = (p1 - p0) / np.linalg.norm(p1 - p0)
        a, b = _basis(axis)
        t = np.linspace(0.0, 2.0 * math.pi, sides, endpoint=False)
        ring = np.cos(t)[:, None] * a + np.sin(t)[:, None] * b
        lo, hi = p0 + r0 * ring, p1 + r1 * ring
        inside = (p0 + p1) / 2.0
        quads = np.stack([lo, np.roll(lo, -1, axis=0), np.roll(hi, -1, axis=0), hi], axis=1)
        for i in range(sides):
            self._add(quads[i], bgr2 if bgr2 is not None and i % 2 else bgr, layer, inside)
        if cap0 and r0 > 0:
            self._add(lo, bgr, layer, inside)
        if cap1 and r1 > 0:
            self._add(hi, bgr, layer, inside)

    def sphere(self, centre: Sequence[float], radius: float, bgr: Sequence[int], layer: int = 0, lon: int = 8,
               lat: int = 5, bgr2: Optional[Sequence[int]] = None) -> None:
        """A sphere as ``lon`` x ``lat`` facets (alternate longitudes in ``bgr2``: a beach ball's stripes)."""
        c = np.asarray(centre, dtype=np.float64)
        phi = np.linspace(-math.pi / 2, math.pi / 2, lat + 1)[:, None]
        th = np.linspace(0.0, 2.0 * math.pi, lon + 1)[None, :]
        grid = c + radius * np.stack([np.cos(phi) * np.cos(th), np.cos(phi) * np.sin(th), np.sin(phi) + 0 * th], axis=-1)
        for i in range(lat):
            for j in range(lon):
                quad = [grid[i, j], grid[i, j + 1], grid[i + 1, j + 1], grid[i + 1, j]]
                if i == lat - 1:
                    del quad[2]    # the two points at a pole coincide: a triangle
                if i == 0:
                    del quad[1]
                self._add(np.array(quad), bgr2 if bgr2 is not None and j % 2 else bgr, layer, c)


# -- the kinds ---------------------------------------------------------------------------------------

def _pick(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def _rect(cx: float, cy: float, lx: float, ly: float, yaw: float = 0.0) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array([[-lx, -ly], [lx, -ly], [lx, ly], [-lx, ly]]) / 2.0
    return np.stack([cx + c * local[:, 0] - s * local[:, 1], cy + s * local[:, 0] + c * local[:, 1]], axis=1)


def _circle(cx: float, cy: float, r: float, n: int = 12) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


Built = Tuple[List[np.ndarray], Tuple[int, int, int], float]   # footprints, main colour, height
Builder = Callable[["Mesh", np.random.Generator, Mapping[str, Any]], Built]


def _box_kind(m: Mesh, rng: np.random.Generator, o: Mapping[str, Any]) -> Built:
    size = o.get("size_m") or (rng.uniform(0.1, 0.45), rng.uniform(0.1, 0.45), rng.uniform(0.06, 0.4))
    l, w, h = (float(v) for v in size)
    style = o.get("texture") or _pick(rng, ("cardboard", "plastic", "print", "plain"))
    if o.get("bgr") is not None:
        bgr = tuple(int(c) for c in o["bgr"])
    elif style == "cardboard":
        bgr = _tone(rng, (90, 140, 185), 25)
    else:
        bgr = _tone(rng, _pick(rng, BRIGHT), 20)
    noisy = style == "cardboard"
    faces = m.box((0.0, 0.0, h / 2.0), (l, w, h), bgr, cells=3 if noisy else 1, jitter=10.0, rng=rng)
    if style == "cardboard":   # a strip of tape over the top and down both ends
        tape = _tone(rng, _pick(rng, ((60, 120, 170), (200, 200, 200), (40, 40, 40))), 10)
        half = min(0.03, w / 6.0) / w
        m.decal(faces["top"], 0.5 - half, 0.5 + half, 0.0, 1.0, tape)
        for name in ("front", "back"):
            m.decal(faces[name], 0.5 - half, 0.5 + half, 0.6, 1.0, tape)
    elif style == "print":     # a label or logo on two sides
        ink = _tone(rng, _pick(rng, BRIGHT), 20)
        for name in ("front", "left", "right", "back"):
            if rng.random() < 0.6:
                u0, v0 = rng.uniform(0.1, 0.45, 2)
                m.decal(faces[name], u0, u0 + rng.uniform(0.2, 0.45), v0, v0 + rng.uniform(0.2, 0.45), ink)
    return [_rect(0.0, 0.0, l, w)], bgr, h


def _cone_kind(m: Mesh, rng: np.random.Generator, o: Mapping[str, Any]) -> Built:
    side = rng.uniform(0.1, 0.26)
    h = side * rng.uniform(1.3, 1.9)
    base_t = rng.uniform(0.008, 0.02)
    colour = _tone(rng, _pick(rng, ((0, 110, 255), (0, 110, 255), (0, 90, 230), (0, 200, 250), (40, 40, 220),
                                    (60, 160, 40))), 15)
    m.box((0.0, 0.0, base_t / 2.0), (side, side, base_t), _pick(rng, (colour, (30, 30, 30))))
    r0, r1 = 0.38 * side, 0.07 * side
    bands = [(0.45, 0.6), (0.7, 0.8)] if rng.random() < 0.6 else []
    white = _tone(rng, (235, 235, 235), 15)
    cuts = [0.0] + [z for band in bands for z in band] + [1.0]
    for i in range(len(cuts) - 1):
        z0, z1 = cuts[i], cuts[i + 1]
        rad0, rad1 = r0 + (r1 - r0) * z0, r0 + (r1 - r0) * z1
        zz0, zz1 = base_t + (h - base_t) * z0, base_t + (h - base_t) * z1
        m.frustum((0, 0, zz0), (0, 0, zz1), rad0, rad1, white if i % 2 else colour, layer=1, sides=10,
                  cap1=i == len(cuts) - 2)
    return [_rect(0.0, 0.0, side, side)], colour, h


def _bottle_kind(m: Mesh, rng: np.random.Generator, o: Mapping[str, Any]) -> Built:
    r = rng.uniform(0.03, 0.05)
    h = rng.uniform(0.15, 0.32)
    neck = rng.uniform(0.011, 0.017)
    glass = _tone(rng, _pick(rng, ((200, 215, 205), (40, 110, 40), (30, 60, 110), (180, 120, 40), (230, 230, 230),
                                   (40, 40, 200))), 12)
    label = _tone(rng, _pick(rng, BRIGHT), 20)
    cap = _tone(rng, _pick(rng, BRIGHT), 20)
    z_label0, z_label1, z_body = 0.2 * h, 0.5 * h, 0.65 * h
    m.frustum((0, 0, 0), (0, 0, z_label0), r, r, glass, sides=10, cap1=False)
    m.frustum((0, 0, z_label0), (0, 0, z_label1), r + 0.001, r + 0.001, label if rng.random() < 0.75 else glass, sides=10,
              cap1=False)
    m.frustum((0, 0, z_label1), (0, 0, z_body), r, r, glass, sides=10, cap1=False)
    m.frustum((0, 0, z_body), (0, 0, 0.82 * h), r, neck, glass, sides=10, cap1=False)
    m.frustum((0, 0, 0.82 * h), (0, 0, 0.94 * h), neck, neck, glass, layer=1, sides=8, cap1=False)
    m.frustum((0, 0, 0.94 * h), (0, 0, h), neck * 1.15, neck * 1.15, cap, layer=1, sides=8)
    return [_circle(0.0, 0.0, r)], glass, h


def _shoe(m: Mesh, rng: np.random.Generator, x: float, y: float, yaw: float, colour: Sequence[int],
          length: float, layer: int = 0) -> Tuple[np.ndarray, float]:
    """A shoe with its heel at (x, y) pointing along ``yaw``; returns its footprint and its height."""
    width = length * rng.uniform(0.34, 0.4)
    sole_h, upper_h = rng.uniform(0.012, 0.03), length * rng.uniform(0.2, 0.3)
    R = _rot_z(yaw)
    fwd = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    centre = np.array([x, y, 0.0]) + fwd * (length / 2.0)
    sole = _tone(rng, _pick(rng, ((235, 235, 235), (30, 30, 30), (80, 140, 200))), 10)
    m.box(centre + [0, 0, sole_h / 2.0], (length, width, sole_h), sole, layer=layer, R=R)
    upper = m.box(centre + fwd * (-0.1 * length) + [0, 0, sole_h + upper_h / 2.0], (0.75 * length, 0.92 * width, upper_h),
                  colour, layer=layer + 1, R=R)
    m.box(centre + fwd * (0.37 * length) + [0, 0, sole_h + upper_h / 4.0], (0.25 * length, 0.88 * width, upper_h / 2.0),
          colour, layer=layer + 1, R=R)
    if rng.random() < 0.6:   # laces or a stripe
        m.decal(upper["top"], 0.45, 0.95, 0.3, 0.7, _tone(rng, _pick(rng, BRIGHT), 20))
    return _rect(centre[0], centre[1], length, width, yaw), sole_h + upper_h


def _shoe_kind(m: Mesh, rng: np.random.Generator, o: Mapping[str, Any]) -> Built:
    length = rng.uniform(0.22, 0.31)
    colour = _tone(rng, _pick(rng, BRIGHT + CLOTHES), 20)
    foot, h = _shoe(m, rng, -length / 2.0, 0.0, 0.0, colour, length)
    return [foot], colour, h


def _leg(m: Mesh, rng: np.random.Generator, x: float, y: float, z0: float, top_m: float, r0: float, colour: Sequence[int],
         layer: int) -> None:
    lean = rng.normal(0.0, 0.02, 2)
    m.frustum((x, y, z0), (x + lean[0], y + lean[1], top_m), r0, r0 * rng.uniform(1.3, 1.6), colour, layer=layer, sides=10)


def _foot_kind(m: Mesh, rng: np.random.Generator, o: Mapping[str, Any]) -> Built:
    length = rng.uniform(0.22, 0.3)
    bare = rng.random() < 0.4
    skin = _tone(rng, _pick(rng, SKIN), 10)
    colour = skin if bare else _tone(rng, _pick(rng, BRIGHT + CLOTHES), 20)
    foot, h = _shoe(m, rng, -length / 2.0, 0.0, 0.0, colour, length)
    trousers = skin if bare or rng.random() < 0.3 else _tone(rng, _pick(rng, CLOTHES), 15)
    _leg(m, rng, -length / 2.0 + 0.2 * length, 0.0, 0.7 * h, rng.uniform(0.5, 0.9), 0.04, trousers, layer=2)
    return [foot], colour, 0.9


def _legs_kind(m: Mesh, rng: np.random.Generator, o: Mapping[str, Any]) -> Built:
    length = rng.uniform(0.24, 0.31)
    shoes = _tone(rng, _pick(rng, BRIGHT + CLOTHES), 20)
    trousers = _tone(rng, _pick(rng, CLOTHES), 15)
    gap = rng.uniform(0.1, 0.3)
    top = rng.uniform(0.8, 1.0)
    feet = []
    for side in (1.0, -1.0):
        splay = side * rng.uniform(0.0, 0.35)
        foot, h = _shoe(m, rng, -length / 2.0, side * gap / 2.0, splay, shoes, length)
        feet.append(foot)
        _leg(m, rng, -length / 2.0 + 0.2 * length, side * gap / 2.0, 0.7 * h, top, 0.045, trousers, layer=2)
    return feet, trousers, top


def _furniture(m: Mesh, rng: np.random.Generator, lx: float, ly: float, top_z: float, thick: float, leg: float,
               colour: Sequence[int], leg_colour: Sequence[int], back_z: float = 0.0) -> List[np.ndarray]:
    m.box((0.0, 0.0, top_z - thick / 2.0), (lx, ly, thick), colour, layer=0, bottom=True)
    if back_z > top_z:
        m.box((-lx / 2.0 + thick / 2.0, 0.0, (top_z + back_z) / 2.0), (thick, ly, back_z - top_z), colour, layer=0,
              bottom=True)
    round_legs = rng.random() < 0.5
    feet = []
    for sx in (1.0, -1.0):
        for sy in (1.0, -1.0):
            x, y = sx * (lx / 2.0 - leg), sy * (ly / 2.0 - leg)
            if round_legs:
                m.frustum((x, y, 0.0), (x, y, top_z - thick), leg / 2.0, leg / 2.0, leg_colour, layer=1, sides=8,
                          cap1=False)
                feet.append(_circle(x, y, leg / 2.0, 8))
            else:
                m.box((x, y, (top_z - thick) / 2.0), (leg, leg, top_z - thick), leg_colour, layer=1)
                feet.append(_rect(x, y, leg, leg))
    return feet


def _chair_kind(m: Mesh, rng: np.random.Generator, o: Mapping[str, Any]) -> Built:
    side = rng.uniform(0.38, 0.5)
    seat = rng.uniform(0.42, 0.48)
    colour = _tone(rng, _pick(rng, ((40, 80, 130), (30, 30, 30), (200, 200, 200)) + BRIGHT), 15)
    legs = _tone(rng, _pick(rng, ((40, 80, 130), (30, 30, 30), (170, 170, 170))), 10)
    feet = _furniture(m, rng, side, side, seat, rng.uniform(0.02, 0.05), rng.uniform(0.02, 0.04), colour, legs,
                      back_z=rng.uniform(0.8, 0.95))
    return feet, colour, 0.9


def _table_kind(m: Mesh, rng: np.random.Generator, o: Mapping[str, Any]) -> Built:
    lx, ly = rng.uniform(0.6, 1.2), rng.uniform(0.5, 0.8)
    colour = _tone(rng, _pick(rng, ((40, 80, 130), (70, 120, 170), (230, 230, 230), (30, 30, 30))), 15)
    legs = _tone(rng, _pick(rng, ((40, 80, 130), (30, 30, 30), (170, 170, 170))), 10)
    feet = _furniture(m, rng, lx, ly, rng.uniform(0.7, 0.76), rng.uniform(0.02, 0.04), rng.uniform(0.03, 0.06), colour,
                      legs)
    return feet, colour, 0.76


def _toy_car_kind(m: Mesh, rng: np.random.Generator, o: Mapping[str, Any]) -> Built:
    L = rng.uniform(0.1, 0.3)
    W, r = L * rng.uniform(0.42, 0.52), L * rng.uniform(0.1, 0.14)
    body_h = L * rng.uniform(0.15, 0.22)
    colour = _tone(rng, _pick(rng, BRIGHT), 20)
    glass = _tone(rng, (60, 50, 40), 15)
    m.box((0.0, 0.0, r * 0.6 + body_h / 2.0), (L, W - 0.02 * L, body_h), colour, layer=0)
    cabin = m.box((-0.08 * L, 0.0, r * 0.6 + body_h + body_h * 0.4), (0.5 * L, 0.8 * W, body_h * 0.8), colour, layer=1)
    for name in ("front", "back", "left", "right"):
        m.decal(cabin[name], 0.1, 0.9, 0.3, 0.9, glass)
    tyre = _tone(rng, (25, 25, 25), 10)
    for sx in (0.32, -0.32):
        for sy in (1.0, -1.0):
            y0 = sy * (W / 2.0 - 0.05 * L)
            m.frustum((sx * L, y0, r), (sx * L, y0 + sy * 0.08 * L, r), r, r, tyre, layer=2, sides=8, cap0=False)
    return [_rect(0.0, 0.0, L, W + 0.06 * L)], colour, r * 0.6 + body_h * 1.8


def _ball_kind(m: Mesh, rng: np.random.Generator, o: Mapping[str, Any]) -> Built:
    r = rng.uniform(0.03, 0.12)
    colour = _tone(rng, _pick(rng, BRIGHT), 20)
    stripes = _tone(rng, _pick(rng, BRIGHT), 20) if rng.random() < 0.4 else None
    m.sphere((0.0, 0.0, r), r, colour, bgr2=stripes)
    return [_circle(0.0, 0.0, 0.7 * r)], colour, 2 * r


def _hand_kind(m: Mesh, rng: np.random.Generator, o: Mapping[str, Any]) -> Built:
    """A hand put down in the car's way: flat on the floor, or held up like a 'stop' sign (the palm toward
    the car, which comes from -x), the forearm rising back toward the person."""
    skin = _tone(rng, _pick(rng, SKIN), 12)
    sleeve = _tone(rng, _pick(rng, CLOTHES), 15)
    w, t = rng.uniform(0.07, 0.09), rng.uniform(0.02, 0.03)
    finger = rng.uniform(0.06, 0.08)
    if rng.random() < 0.5:   # stop sign: the palm upright, fingers up
        palm_h = rng.uniform(0.08, 0.1)
        lift = rng.uniform(0.0, 0.02)
        m.box((0.0, 0.0, lift + palm_h / 2.0), (t, w, palm_h), skin, layer=1, bottom=lift > 0)
        for k in range(4):
            y = (k - 1.5) * w / 4.0
            m.frustum((0.0, y, lift + palm_h), (0.0, y, lift + palm_h + finger * (1.0 - 0.12 * abs(k - 1.2))), 0.009, 0.008,
                      skin, layer=1, sides=6)
        m.frustum((0.0, -w / 2.0, lift + 0.4 * palm_h), (0.0, -w / 2.0 - 0.04, lift + 0.75 * palm_h), 0.01, 0.009, skin,
                  layer=1, sides=6)   # the thumb
        elev = rng.uniform(0.6, 1.2)
        m.frustum((0.01, 0.0, lift + 0.01), (0.01 + 0.35 * math.cos(elev), 0.0, lift + 0.01 + 0.35 * math.sin(elev)),
                  0.03, 0.04, _pick(rng, (skin, sleeve)), layer=0, sides=10)
        return [_rect(0.0, 0.0, t, w)], skin, lift + palm_h + finger
    palm_l = rng.uniform(0.08, 0.1)
    m.box((0.0, 0.0, t / 2.0), (palm_l, w, t), skin, layer=1)
    for k in range(4):
        y = (k - 1.5) * w / 4.0
        m.frustum((-palm_l / 2.0, y, 0.01), (-palm_l / 2.0 - finger * (1.0 - 0.12 * abs(k - 1.2)), y, 0.009), 0.009, 0.008,
                  skin, layer=1, sides=6)
    elev = rng.uniform(0.5, 1.0)
    m.frustum((palm_l / 2.0, 0.0, 0.015), (palm_l / 2.0 + 0.35 * math.cos(elev), 0.0, 0.015 + 0.35 * math.sin(elev)),
              0.028, 0.04, _pick(rng, (skin, sleeve)), layer=0, sides=10)
    return [_rect(-finger / 2.0, 0.0, palm_l + finger, w)], skin, 0.35


def _wall_kind(m: Mesh, rng: np.random.Generator, o: Mapping[str, Any]) -> Built:
    """A wall, board or barrier across the whole track (local y across): the track ends here."""
    span = float(o.get("span_m", 1.0))
    t, h = rng.uniform(0.02, 0.12), rng.uniform(0.08, 0.6)
    colour = _tone(rng, _pick(rng, ((235, 235, 235), (190, 205, 215), (120, 90, 70), (90, 100, 140), (60, 60, 60))
                              + BRIGHT), 20)
    style = _pick(rng, ("noise", "stripes", "print", "plain"))
    faces = m.box((0.0, 0.0, h / 2.0), (t, span, h), colour, cells=4 if style == "noise" else 1, jitter=12.0, rng=rng)
    if style == "stripes":   # hazard stripes on the side facing the car
        ink = _tone(rng, _pick(rng, ((30, 30, 30), (40, 40, 220), (0, 200, 250), (240, 240, 240))), 10)
        n = int(rng.integers(4, 10))
        for k in range(n):
            m.decal(faces["back"], k / float(n), (k + 0.5) / float(n), 0.0, 1.0, ink)
    elif style == "print":
        ink = _tone(rng, _pick(rng, BRIGHT), 20)
        u0, v0 = rng.uniform(0.1, 0.5), rng.uniform(0.1, 0.4)
        m.decal(faces["back"], u0, u0 + rng.uniform(0.15, 0.4), v0, v0 + rng.uniform(0.3, 0.55), ink)
    return [_rect(0.0, 0.0, t, span)], colour, h


BUILDERS = {"box": _box_kind, "cone": _cone_kind, "bottle": _bottle_kind, "shoe": _shoe_kind, "foot": _foot_kind,
            "chair": _chair_kind, "table": _table_kind, "toy_car": _toy_car_kind, "ball": _ball_kind, "hand": _hand_kind,
            "wall": _wall_kind, "legs": _legs_kind}   # type: Dict[str, Builder]


class Obstacle(object):
    """One obstacle placed in the world: ``kind``, footprint-centre pose ``(x, y, yaw)``, its faces and
    footprints in world coordinates, ``bgr`` (its main colour, for the top-down view), ``height_m``.

    Faces are stored flat for drawing: ``pts`` (all outlines, edges already split every
    :data:`EDGE_STEP_M`), ``face_len``, and per face ``normals``, ``centroids``, ``group_centroids``,
    ``face_bgr``, ``layer``, ``group``, ``decal``.
    """

    def __init__(self, kind: str, x: float, y: float, yaw: float, mesh: Mesh, footprints: Sequence[np.ndarray],
                 bgr: Sequence[int], height_m: float, on_path: Optional[bool] = None) -> None:
        self.kind = kind
        self.x, self.y, self.yaw = float(x), float(y), float(yaw)
        self.bgr = tuple(int(c) for c in bgr)
        self.height_m = float(height_m)
        self.on_path = on_path
        R = _rot_z(self.yaw)
        offset = np.array([self.x, self.y, 0.0])
        lens = np.array([len(p) for p in mesh.polys], dtype=np.int64)
        start = np.cumsum(lens) - lens
        pts = np.vstack(mesh.polys)
        nxt = np.arange(len(pts)) + 1
        nxt[start + lens - 1] = start
        normals = np.add.reduceat(np.cross(pts, pts[nxt]), start, axis=0)   # Newell's normal of each outline
        normals /= np.maximum(np.linalg.norm(normals, axis=1), 1e-12)[:, None]
        centroids = np.add.reduceat(pts, start, axis=0) / lens[:, None]
        normals *= np.where(np.einsum("ij,ij->i", normals, centroids - np.array(mesh.inside)) < 0, -1.0, 1.0)[:, None]
        pieces = np.clip(np.ceil(np.linalg.norm(pts[nxt] - pts, axis=1) / EDGE_STEP_M), 1, 8).astype(np.int64)
        edge = np.repeat(np.arange(len(pts)), pieces)
        frac = (np.arange(int(pieces.sum())) - np.repeat(np.cumsum(pieces) - pieces, pieces)) / np.repeat(pieces, pieces)
        split = pts[edge] + (pts[nxt][edge] - pts[edge]) * frac[:, None]
        self.pts = split.dot(R.T) + offset
        self.face_len = np.add.reduceat(pieces, start)
        self.normals = normals.dot(R.T)
        self.centroids = centroids.dot(R.T) + offset
        self.group = np.array(mesh.group, dtype=np.int64)
        sums = np.zeros_like(self.centroids)
        np.add.at(sums, self.group, self.centroids)
        self.group_centroids = (sums / np.bincount(self.group, minlength=len(lens))[:, None].clip(1))[self.group]
        self.face_bgr = np.array(mesh.bgr, dtype=np.float64).reshape(-1, 3)
        self.layer = np.array(mesh.layer, dtype=np.int64)
        self.decal = np.array(mesh.is_decal, dtype=bool)
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        self.footprints = [np.stack([self.x + c * f[:, 0] - s * f[:, 1], self.y + s * f[:, 0] + c * f[:, 1]], axis=1)
                           for f in footprints]
        allfp = np.vstack(self.footprints)
        self.centre_xy = allfp.mean(axis=0)
        self.radius_xy = float(np.max(np.linalg.norm(allfp - self.centre_xy, axis=1)))
        lo, hi = self.pts.min(axis=0), self.pts.max(axis=0)
        self.bound_centre = (lo + hi) / 2.0
        self.bound_radius = float(np.max(np.linalg.norm(self.pts - self.bound_centre, axis=1)))
        g = np.array([[a, b, c] for a in (0.0, 0.5, 1.0) for b in (0.0, 0.5, 1.0) for c in (0.0, 0.5, 1.0)])
        self.probe = lo + g * (hi - lo)   # its bounding box's corners, edge and face middles: where it can appear

    def __repr__(self) -> str:
        return "Obstacle(%r at (%.2f, %.2f), yaw %.2f)" % (self.kind, self.x, self.y, self.yaw)


def build_obstacle(kind: str, rng: np.random.Generator, **options: Any
                   ) -> Tuple[Mesh, List[np.ndarray], Tuple[int, int, int], float]:
    """The mesh, footprints (local, centred on what stands on the floor), main colour and height of a ``kind``."""
    if kind not in BUILDERS:
        raise ValueError("unknown obstacle kind %r; known kinds: %s" % (kind, ", ".join(KINDS)))
    mesh = Mesh()
    footprints, bgr, height = BUILDERS[kind](mesh, rng, options)
    centre = np.vstack(footprints).mean(axis=0)   # so that (x, y) is the middle of what stands on the floor
    shift = np.array([centre[0], centre[1], 0.0])
    mesh.polys = [p - shift for p in mesh.polys]
    mesh.inside = [p - shift for p in mesh.inside]
    return mesh, [f - centre for f in footprints], bgr, height


def make_obstacle(kind: str, x: float, y: float, yaw: float = 0.0, rng: Optional[np.random.Generator] = None,
                  **options: Any) -> Obstacle:
    """An obstacle of ``kind`` (:data:`KINDS`) with its footprint centred on (x, y), its local x along ``yaw``.

    ``rng`` draws size, colours and texture (default: seed 0). ``options``: ``size_m`` (l, w, h) and
    ``bgr`` and ``texture`` (cardboard, plastic, print, plain) for boxes; ``span_m`` (length across) for walls.
    """
    mesh, footprints, bgr, height = build_obstacle(kind, rng if rng is not None else np.random.default_rng(0), **options)
    return Obstacle(kind, x, y, yaw, mesh, footprints, bgr, height)


# -- placement ---------------------------------------------------------------------------------------

def place_obstacles(rng: np.random.Generator, track: Any, start_pose: Sequence[float], count: int, car: CarShape,
                    kinds: Sequence[str] = KINDS, on_path_p: float = 0.6, min_gap_m: float = 0.8,
                    clear_ahead_m: float = 0.6, clear_behind_m: float = 0.3, side_margin_m: float = 0.05) -> List[Obstacle]:
    """``count`` obstacles spread along ``track``: with probability ``on_path_p`` on the lane (overlapping the
    car's corridor when it drives the centreline), else just beside it (their nearest point 3 cm to 25 cm
    outside that corridor, on the road or past its edge); a wall always spans the track. They keep
    ``min_gap_m`` apart along the track and stay out of the car's start footprint stretched ``clear_ahead_m``
    forward and ``clear_behind_m`` back. Raises ValueError when they do not fit."""
    if count < 0:
        raise ValueError("the number of obstacles must be >= 0, got %r" % count)
    bad = sorted(set(kinds) - set(KINDS))
    if bad or not kinds:
        raise ValueError("unknown obstacle kind(s) %s; known kinds: %s"
                         % (", ".join(bad) or "(none given)", ", ".join(KINDS)))
    keep_out = CarShape(car.wheelbase_m, car.front_overhang_m + clear_ahead_m, car.rear_overhang_m + clear_behind_m,
                        car.width_m + 0.1).footprint(start_pose)
    corridor = car.width_m / 2.0 + side_margin_m
    placed = []  # type: List[Obstacle]
    s_taken = []  # type: List[float]
    L = track.length_m
    for index in range(count):
        for _ in range(200):
            kind = kinds[int(rng.integers(len(kinds)))]
            on_path = kind == "wall" or rng.random() < on_path_p
            s = float(rng.uniform(0.0, L))
            if any(min(abs(s - t), L - abs(s - t)) < min_gap_m for t in s_taken):
                continue
            x, y, heading = track.pose_at(s)
            i = int(round(s / track.ds_m)) % len(track.xy)
            normal = track.normal[i]
            yaw = heading + rng.normal(0.0, 0.15) if kind in ("wall", "hand") else float(rng.uniform(0, 2 * math.pi))
            mesh, footprints, bgr, height = build_obstacle(kind, rng, span_m=track.width_m + float(rng.uniform(0.2, 0.6)))
            c, s_ = math.cos(yaw), math.sin(yaw)
            across = np.vstack(footprints).dot([c * normal[0] + s_ * normal[1], -s_ * normal[0] + c * normal[1]])
            lo, hi = float(across.min()), float(across.max())
            if kind == "wall":
                shift = 0.0
            elif on_path:   # at least 2 cm of it across the corridor of a centred car
                shift = float(rng.uniform(-corridor - hi + 0.02, corridor - lo - 0.02))
            else:
                gap = float(rng.uniform(0.03, 0.25))
                shift = corridor + gap - lo if rng.random() < 0.5 else -(corridor + gap) - hi
            obstacle = Obstacle(kind, x + shift * normal[0], y + shift * normal[1], yaw, mesh, footprints, bgr, height)
            obstacle.on_path = on_path
            # judged on the hull of all its footprints (a table over the lane is on it, even if the car fits
            # between its legs), in track coordinates: on a curve the shift above is not exact
            n = track_coordinates(track, outline_points(_hull2(np.vstack(obstacle.footprints)), 0.02), i,
                                  obstacle.radius_xy + abs(shift) + 0.3)[1]
            if kind != "wall" and (not (np.abs(n) <= corridor).any() if on_path else
                                   (np.abs(n).min() < corridor + 0.02 or n.min() * n.max() < 0)):
                continue
            if any(polygons_touch(keep_out, f) for f in obstacle.footprints):
                continue
            if any(np.hypot(*(other.centre_xy - obstacle.centre_xy)) <= other.radius_xy + obstacle.radius_xy and
                   any(polygons_touch(f, g) for f in other.footprints for g in obstacle.footprints) for other in placed):
                continue
            placed.append(obstacle)
            s_taken.append(s)
            break
        else:
            raise ObstaclePlacementError("could not place obstacle %d of %d on track %r (%.1f m long, %.1f m between obstacles): "
                             "ask for fewer obstacles" % (index + 1, count, track.name, L, min_gap_m))
    return placed


# -- a set of obstacles in one episode ----------------------------------------------------------------

class ObstacleSet(object):
    """The obstacles of one episode: drawing, top-down footprints, collisions, lifting.

    ``track`` (optional) lets :mod:`jetracer.sim.obstacle_labels` precompute where each footprint lies along
    the track. ``rng`` (default seed 0) draws the light used until :meth:`set_light` or :meth:`light_from_room`
    sets one (45-85 deg up, any azimuth, ambient 0.35-0.65) and the darkness of the contact shadows (25-50 %).
    """

    def __init__(self, obstacles: Sequence[Obstacle] = (), track: Any = None,
                 rng: Optional[np.random.Generator] = None) -> None:
        self.items = list(obstacles)
        self.lifted = np.zeros(len(self.items), dtype=bool)
        self.track = track
        self.light_room = None  # type: Any
        items = self.items

        def joined(name: str, empty: np.ndarray) -> np.ndarray:
            return np.concatenate([getattr(o, name) for o in items]) if items else empty

        self._pts = joined("pts", np.zeros((0, 3)))
        self._face_len = joined("face_len", np.zeros(0, np.int64))
        self._face_start = np.cumsum(self._face_len) - self._face_len
        counts = [len(o.face_len) for o in items]
        self._face_owner = np.repeat(np.arange(len(items)), counts).astype(np.int64)
        offsets = np.cumsum(counts) - counts if counts else np.zeros(0, np.int64)
        self._normal = joined("normals", np.zeros((0, 3)))
        self._centroid = joined("centroids", np.zeros((0, 3)))
        self._group_centroid = joined("group_centroids", np.zeros((0, 3)))
        self._base_bgr = joined("face_bgr", np.zeros((0, 3)))
        self._layer = joined("layer", np.zeros(0, np.int64))
        self._group = np.concatenate([o.group + off for o, off in zip(items, offsets)]) if items else np.zeros(0, np.int64)
        self._decal = joined("decal", np.zeros(0, bool))
        self._bound_centre = np.array([o.bound_centre for o in self.items]).reshape(-1, 3)
        self._bound_radius = np.array([o.bound_radius for o in self.items])
        self._centre_xy = np.array([o.centre_xy for o in self.items]).reshape(-1, 2)
        self._probe = np.array([o.probe for o in self.items]).reshape(-1, 27, 3)
        rng = rng if rng is not None else np.random.default_rng(0)
        u = rng.random(4)
        self.shadow_alpha = 0.25 + 0.25 * float(u[0])
        el, az = math.radians(45.0 + 40.0 * float(u[1])), 2.0 * math.pi * float(u[2])
        self.set_light((math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)), 0.35 + 0.3 * float(u[3]))
        self._labels = None  # type: Any

    @property
    def labels(self) -> Any:
        """Where the footprints lie along the track (:class:`jetracer.sim.obstacle_labels.TrackSamples`),
        computed on first use; None without a track or obstacles."""
        if self._labels is None and self.track is not None and self.items:
            from .obstacle_labels import TrackSamples
            self._labels = TrackSamples(self.track, self.items)
        return self._labels

    def __len__(self) -> int:
        return len(self.items)

    @property
    def active(self) -> bool:
        """True while any obstacle is still on the floor."""
        return bool(len(self.items)) and not bool(self.lifted.all())

    def lift(self, index: int) -> Obstacle:
        """Take obstacle ``index`` away (as a person picks it up): it is no longer drawn, labelled or hit."""
        if not 0 <= index < len(self.items):
            raise IndexError("no obstacle %r: this episode has %d" % (index, len(self.items)))
        self.lifted[index] = True
        return self.items[index]

    # -- light ---------------------------------------------------------------------------------------

    def set_light(self, direction: Sequence[float], ambient: float) -> None:
        """Shade every face: ``ambient + (1 - ambient) * max(0, n . l)`` of its colour, ``direction`` the unit
        vector toward the light (world, z up); recomputes the contact shadows (cast away from the light)."""
        d = np.asarray(direction, dtype=np.float64)
        d = d / np.linalg.norm(d)
        if d[2] < 0.3:   # a light below 17 deg would cast shadows across the room; lift it
            d[2] = 0.3
            d = d / np.linalg.norm(d)
        self.light = d
        self.ambient = float(ambient)
        lit = self.ambient + (1.0 - self.ambient) * np.clip(self._normal.dot(d), 0.0, 1.0)
        shaded = np.clip(self._base_bgr * lit[:, None], 0, 255).astype(np.uint8)
        self._colours = [tuple(int(c) for c in row) for row in shaded]
        away = -d[:2] / d[2]   # ground offset per metre of height, away from the light
        shadows = []
        for o in self.items:
            offset = away * min(0.3 * o.height_m, 0.15)
            norm = float(np.hypot(*offset))
            if norm > 0.15:
                offset *= 0.15 / norm
            polys = []
            for f in o.footprints:
                out = f - f.mean(axis=0)
                grown = f + out * (0.01 / np.maximum(np.hypot(out[:, 0], out[:, 1]), 1e-9))[:, None]
                hull = _hull2(np.vstack([grown, grown + offset]))
                polys.append(_split_edges(np.hstack([hull, np.full((len(hull), 1), 0.001)]), EDGE_STEP_M))
            shadows.append(polys)
        flat = [p for polys in shadows for p in polys]
        self._shadow_pts = np.vstack(flat) if flat else np.zeros((0, 3))
        self._shadow_len = np.array([len(p) for p in flat], dtype=np.int64)
        self._shadow_start = (np.cumsum(self._shadow_len) - self._shadow_len).astype(np.int64)
        self._shadow_owner = np.repeat(np.arange(len(shadows)), [len(p) for p in shadows]).astype(np.int64)
        self._all_pts = np.vstack([self._pts, self._shadow_pts])

    def light_from_room(self, room: Any) -> None:
        """Light the obstacles from where the room is bright: the brightness-weighted direction of its
        panorama above the horizon (ceiling lights, windows), kept at least 17 deg up."""
        from .room import EL_TOP_DEG
        if room is None or room is self.light_room:
            return
        bgr = room.bgra[::4, ::4, :3].astype(np.float64)
        rows = np.arange(0, room.rows, 4)
        el = np.radians(EL_TOP_DEG - (rows + 0.5) * room.step_deg)
        az = np.radians((np.arange(0, room.cols, 4) + 0.5) * room.step_deg)
        up = el > 0
        lum = (bgr[up].mean(axis=2) / 255.0) ** 4 * np.cos(el[up])[:, None]
        ce, se = np.cos(el[up])[:, None], np.sin(el[up])[:, None]
        v = np.array([np.sum(lum * ce * np.cos(az)[None]), np.sum(lum * ce * np.sin(az)[None]), np.sum(lum * se)])
        if np.linalg.norm(v) > 1e-9:
            self.set_light(v, self.ambient)
        self.light_room = room

    # -- camera --------------------------------------------------------------------------------------

    def draw(self, frame: np.ndarray, model: Any, pose: Sequence[float]) -> bool:
        """Paint the obstacles that the camera ``model`` sees from rear-axle ``pose`` onto ``frame`` (in place,
        BGR uint8): far obstacles first, each on its contact shadow; inside one, by layer, then faces far to
        near. True if any pixel was drawn. Per frame the work is a few array operations over all visible
        faces and one ``cv2.fillPoly`` per face on the image."""
        import cv2
        if not self.active:
            return False
        x, y, yaw = float(pose[0]), float(pose[1]), float(pose[2])
        c, s = math.cos(yaw), math.sin(yaw)
        fwd, height = float(model.position[0]), float(model.position[2])
        cam_w = np.array([x + c * fwd, y + s * fwd, height])

        def to_cam(p: np.ndarray) -> np.ndarray:
            d = p - (x, y, 0.0)
            car = np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]], axis=1)
            return model.to_camera(car)

        ground = np.hypot(self._centre_xy[:, 0] - cam_w[0], self._centre_xy[:, 1] - cam_w[1])
        keep = ~self.lifted & (ground <= FAR_M)
        keep[keep] = self._in_view(model, to_cam, np.flatnonzero(keep), frame.shape)
        if not keep.any():
            return False
        rank = np.empty(len(self.items), np.int64)
        rank[np.argsort(-ground, kind="stable")] = np.arange(len(self.items))
        faces = np.flatnonzero(keep[self._face_owner] & (np.einsum("ij,ij->i", self._normal, cam_w - self._centroid) > 0))
        if not len(faces):
            return False
        depth = np.linalg.norm(self._group_centroid[faces] - cam_w, axis=1)
        order = faces[np.lexsort((self._decal[faces], self._group[faces], -depth, self._layer[faces],
                                  rank[self._face_owner[faces]]))]
        shadows = np.flatnonzero(keep[self._shadow_owner])
        n_faces = len(order)
        starts = np.concatenate([self._face_start[order], self._shadow_start[shadows] + len(self._pts)])
        cam, first, count = self._gather(starts, np.concatenate([self._face_len[order], self._shadow_len[shadows]]), to_cam)
        z_lo, z_hi = np.minimum.reduceat(cam[:, 2], first), np.maximum.reduceat(cam[:, 2], first)
        pts16, lo, hi = self._to_pixels(model, cam, first, count)
        on_image = (hi[:, 0] >= 0) & (hi[:, 1] >= 0) & (lo[:, 0] <= frame.shape[1]) & (lo[:, 1] <= frame.shape[0])
        whole = (z_lo >= NEAR_M) & on_image
        todo = np.flatnonzero(whole[:n_faces] | (z_lo[:n_faces] < NEAR_M) & (z_hi[:n_faces] >= NEAR_M))
        shade = {}  # type: Dict[int, List[Tuple[np.ndarray, np.ndarray, np.ndarray]]]
        for k in range(n_faces, len(first)):   # each obstacle's contact shadows: (outline in 1/16 px, box)
            a, n = first[k], count[k]
            if whole[k]:
                outline, box_lo, box_hi = pts16[a:a + n], lo[k], hi[k]
            elif z_lo[k] < NEAR_M <= z_hi[k]:
                clipped = _clip_near(cam[a:a + n])
                if len(clipped) < 3:
                    continue
                uv = model.project_camera(clipped)[0]
                outline, box_lo, box_hi = np.round((uv - 0.5) * 16.0).astype(np.int32), uv.min(axis=0), uv.max(axis=0)
            else:
                continue
            shade.setdefault(int(self._shadow_owner[shadows[k - n_faces]]), []).append((outline, box_lo, box_hi))
        owners = self._face_owner[order]
        drawn = False
        owner = -1
        colours = self._colours
        for k in todo:
            if owners[k] != owner:
                owner = owners[k]
                if owner in shade:
                    drawn |= _darken(frame, shade[owner], self.shadow_alpha)
            a = first[k]
            if whole[k]:
                cv2.fillPoly(frame, [pts16[a:a + count[k]]], colours[order[k]], cv2.LINE_AA, 4)
                drawn = True
            else:   # crosses the plane in front of the lens: clip it there
                clipped = _clip_near(cam[a:a + count[k]])
                if len(clipped) >= 3:
                    uv_k, _ = model.project_camera(clipped)
                    drawn |= _fill(frame, _grow(uv_k), colours[order[k]])
        return drawn

    def _in_view(self, model: Any, to_cam: Callable[[np.ndarray], np.ndarray], which: np.ndarray,
                 shape: Sequence[int]) -> np.ndarray:
        """For obstacles ``which``: may they show in the image? No when their bounding box lies wholly behind
        the plane in front of the lens, or wholly in front of it and its 27 probe points project at least
        a tenth of their spread plus 4 px outside the image (the lens may bow edges outward a little)."""
        cam = to_cam(self._probe[which].reshape(-1, 3)).reshape(len(which), 27, 3)
        z = cam[..., 2]
        behind = (z < NEAR_M).all(axis=1)
        crosses = (z < NEAR_M).any(axis=1) & ~behind
        uv, _ = model.project_camera(np.where(z[..., None] >= NEAR_M, cam, (0.0, 0.0, 1.0)).reshape(-1, 3))
        uv = uv.reshape(len(which), 27, 2)
        lo, hi = uv.min(axis=1), uv.max(axis=1)
        pad = 0.1 * (hi - lo) + 4.0
        inside = (hi[:, 0] + pad[:, 0] >= 0) & (hi[:, 1] + pad[:, 1] >= 0) & (lo[:, 0] - pad[:, 0] <= shape[1]) & \
            (lo[:, 1] - pad[:, 1] <= shape[0])
        return ~behind & (crosses | inside)

    def _gather(self, starts: np.ndarray, counts: np.ndarray, to_cam: Callable[[np.ndarray], np.ndarray]
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Camera-frame points of the outlines (``starts``, ``counts`` into the faces' points followed by the
        shadows' points) in that order, and where each outline starts and how long it is in the result."""
        first = np.cumsum(counts) - counts
        idx = np.arange(int(counts.sum())) + np.repeat(starts - first, counts)
        return to_cam(self._all_pts[idx]), first, counts

    @staticmethod
    def _to_pixels(model: Any, cam: np.ndarray, first: np.ndarray, count: np.ndarray
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fixed-point (1/16 px, pixel centres at +0.5) outlines in front of the lens, each grown by
        :data:`GROW_PX` from its middle, and the float pixel box (low, high corner) of each."""
        uv, _ = model.project_camera(np.where(cam[:, 2:3] >= NEAR_M, cam, (0.0, 0.0, 1.0)))
        mid = np.add.reduceat(uv, first, axis=0) / count[:, None]
        d = uv - np.repeat(mid, count, axis=0)
        grown = uv + d * (GROW_PX / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6))[:, None]
        lo, hi = np.minimum.reduceat(grown, first, axis=0), np.maximum.reduceat(grown, first, axis=0)
        return np.round((grown - 0.5) * 16.0).astype(np.int32), lo, hi

    # -- top-down view -------------------------------------------------------------------------------

    def draw_top_down(self, img: np.ndarray, px: Callable[[Any], np.ndarray]) -> None:
        """Fill each obstacle's footprints (its main colour, a dark outline) on a top-down picture; ``px``
        maps world (N, 2) points to integer pixel (col, row)."""
        import cv2
        for o, lifted in zip(self.items, self.lifted):
            if lifted:
                continue
            for f in o.footprints:
                poly = px(f).reshape(-1, 1, 2)
                cv2.fillPoly(img, [poly], o.bgr, cv2.LINE_AA)
                cv2.polylines(img, [poly], True, (0, 0, 0), 1, cv2.LINE_AA)

    # -- collisions ----------------------------------------------------------------------------------

    def collide(self, footprint: np.ndarray, only: Optional[int] = None) -> Optional[int]:
        """Index of the first obstacle on the floor (or just obstacle ``only``) whose footprint touches the
        convex ``footprint`` (N, 2), or None."""
        centre = footprint.mean(axis=0)
        reach = float(np.max(np.linalg.norm(footprint - centre, axis=1)))
        for i, o in enumerate(self.items):
            if self.lifted[i] or only is not None and i != only:
                continue
            if np.hypot(*(o.centre_xy - centre)) > reach + o.radius_xy + 1e-9:
                continue
            if any(polygons_touch(footprint, f) for f in o.footprints):
                return i
        return None

    def near(self, car: CarShape, pose: Sequence[float], index: int, margin_m: float) -> bool:
        """True when the car at ``pose``, grown by ``margin_m``, touches obstacle ``index``."""
        return self.collide(car.footprint(pose, margin_m), index) is not None

    def first_contact(self, car: CarShape, before: Sequence[float], after: Sequence[float]
                      ) -> Tuple[Optional[int], Tuple[float, float, float]]:
        """The obstacle the car touches at rear-axle pose ``after`` (None if none) and the pose, on the way
        from ``before``, where it first touched it (bisection to 1/256 of the way; ``before`` if it touched
        already there). Without a contact the pose is ``after``."""
        after = tuple(float(v) for v in after)
        hit = self.collide(car.footprint(after))
        if hit is None:
            return None, after
        lo, hi = 0.0, 1.0   # fractions of the way: surely free, touching
        for _ in range(8):
            mid = 0.5 * (lo + hi)
            if self.collide(car.footprint([b + mid * (a - b) for a, b in zip(after, before)]), hit) is None:
                lo = mid
            else:
                hi = mid
        return hit, tuple(b + lo * (a - b) for a, b in zip(after, before))


def _hull2(points: np.ndarray) -> np.ndarray:
    """Convex hull (counter-clockwise) of 2D points (monotone chain)."""
    pts = sorted(set(map(tuple, np.round(points, 9))))
    if len(pts) < 3:
        return np.array(pts)

    def half(seq: Sequence[Tuple[float, float]]) -> List[Tuple[float, float]]:
        out = []  # type: List[Tuple[float, float]]
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _clip_near(cam: np.ndarray) -> np.ndarray:
    """The part of a camera-frame convex polygon in front of the ``z = NEAR_M`` plane (Sutherland-Hodgman,
    one plane); the new edge along that plane is split in 8, so that the lens can bend it."""
    nxt = np.roll(cam, -1, axis=0)
    ins, ins_next = cam[:, 2] >= NEAR_M, nxt[:, 2] >= NEAR_M
    with np.errstate(divide="ignore", invalid="ignore"):   # edges along the plane: masked out below
        t = (NEAR_M - cam[:, 2]) / (nxt[:, 2] - cam[:, 2])
        both = np.stack([cam, cam + t[:, None] * (nxt - cam)], axis=1)
    keep = np.stack([ins, ins != ins_next], axis=1)
    poly = both[keep]
    if len(poly) < 3:
        return np.zeros((0, 3))
    leaving = np.flatnonzero(keep.ravel())   # where the edge that leaves the front side ends up in ``poly``
    exit_at = int(np.searchsorted(leaving, 2 * int(np.flatnonzero(ins & ~ins_next)[0]) + 1))
    a, b = poly[exit_at], poly[(exit_at + 1) % len(poly)]
    new_edge = a + (b - a) * (np.arange(1, 8)[:, None] / 8.0)
    return np.vstack([poly[:exit_at + 1], new_edge, poly[exit_at + 1:]])


def _grow(uv: np.ndarray) -> np.ndarray:
    centre = uv.mean(axis=0)
    d = uv - centre
    r = np.hypot(d[:, 0], d[:, 1])
    return uv + d * (GROW_PX / np.maximum(r, 1e-6))[:, None]


def _fill(frame: np.ndarray, uv: np.ndarray, colour: Tuple[int, int, int]) -> bool:
    """Fill a projected polygon (float pixels, centres at +0.5), anti-aliased; False when off-image."""
    import cv2
    h, w = frame.shape[:2]
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()) or hi[0] < 0 or hi[1] < 0 or lo[0] > w or lo[1] > h:
        return False
    pts = np.round((uv - 0.5) * 16.0).astype(np.int32)
    cv2.fillPoly(frame, [pts], colour, cv2.LINE_AA, 4)
    return True


def _darken(frame: np.ndarray, polys: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]], alpha: float) -> bool:
    """Darken the pixels under projected outlines by ``alpha`` (one obstacle's soft contact shadows), working
    in their bounding box only; ``polys``: (outline in 1/16 px with centres at +0.5, box low, box high)."""
    import cv2
    h, w = frame.shape[:2]
    lo = np.min([p[1] for p in polys], axis=0)
    hi = np.max([p[2] for p in polys], axis=0)
    x0, y0 = max(0, int(math.floor(lo[0])) - 1), max(0, int(math.floor(lo[1])) - 1)
    x1, y1 = min(w, int(math.ceil(hi[0])) + 1), min(h, int(math.ceil(hi[1])) + 1)
    if x1 <= x0 or y1 <= y0:
        return False
    roi = frame[y0:y1, x0:x1]
    keep = np.full(roi.shape[:2], 255, np.uint8)
    level = int(round(255 * (1.0 - alpha)))
    for outline, _, _ in polys:
        cv2.fillPoly(keep, [outline - (16 * x0, 16 * y0)], level, cv2.LINE_AA, 4)
    roi[:] = cv2.multiply(roi, cv2.cvtColor(keep, cv2.COLOR_GRAY2BGR), scale=1.0 / 255.0)
    return True
