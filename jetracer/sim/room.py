"""The room around the track, as a panorama the renderer samples by ray direction (one extra remap).

Real small-car frames show a room above the floor: walls (paint, panels, lockers, murals, skirting),
windows and doors, ceiling tiles and bright ceiling lights, furniture and people. :class:`Room` draws
one such room per episode, procedurally (nothing downloaded), as an equirectangular panorama seen from
the camera's height: columns are world azimuth (CCW from +x, column 0 = east), rows elevation from
``EL_TOP_DEG`` down to ``el_bottom_deg``. Walls, ceiling and objects are placed in 3D (a rectangular
room of random size and orientation, objects standing on the floor at a distance), so perspective on
the ceiling grid and the wall base is right as seen from the panorama's centre. The panorama moves
with the camera (no parallax as the car drives; the walls are several metres away).

Each panorama texel holds premultiplied BGR and an alpha: alpha 0 where the ray reaches the floor
first (the floor texture shows), 255 where a wall, the ceiling or an object is in the way; soft
contact shadows under objects are partly transparent black. ``reflection`` is what a glossy floor
mirrors (lights and windows, streaked along the elevation, weighted by a Fresnel term), or None.
"""
import math
from typing import Any, Sequence, Tuple

import numpy as np

from .materials import jitter_bgr

EL_TOP_DEG = 89.0
HALLWAY_NEAREST_WALL_M = 0.75   # a corridor is at least 1.6 m wide and the viewpoint on its centre line
WALL_PALETTE = ((235, 235, 235), (215, 225, 230), (190, 205, 215), (200, 200, 200), (170, 180, 190),
                (220, 210, 190), (190, 215, 200), (150, 150, 150), (120, 90, 70), (90, 100, 140), (60, 60, 60))
CLOTHES = ((30, 30, 30), (60, 50, 40), (140, 90, 40), (40, 40, 150), (200, 200, 200), (80, 120, 60), (50, 80, 120),
           (100, 100, 100), (120, 60, 140), (30, 140, 200))
SKIN = ((80, 110, 160), (120, 150, 200), (60, 80, 120), (150, 180, 220), (40, 60, 90))


def _choice(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


class Room(object):
    """One procedural room panorama (see the module docstring).

    ``cols`` is the panorama width (360 deg); rows follow at the same angular step. ``camera_height_m``
    sets where the floor meets walls and objects; ``min_object_m`` the nearest an object stands;
    ``hallway`` makes the room a corridor (1.6-3.2 m wide, 12-40 m long).
    """

    def __init__(self, rng: np.random.Generator, camera_height_m: float, cols: int = 1024, min_object_m: float = 1.8,
                 glossy: bool = False, hallway: bool = False) -> None:
        self.cols = int(cols)
        self.step_deg = 360.0 / self.cols
        self.camera_height_m = float(camera_height_m)
        self.hallway = bool(hallway)
        reach_m = min(min_object_m, HALLWAY_NEAREST_WALL_M) if self.hallway else min_object_m   # the nearest wall's base
        self.el_bottom_deg = -math.degrees(math.atan2(self.camera_height_m, reach_m)) - 1.0
        self.rows = int(math.ceil((EL_TOP_DEG - self.el_bottom_deg) / self.step_deg))
        self.min_object_m = float(min_object_m)
        self._draw(rng, glossy)

    # -- coordinates -------------------------------------------------------------------------------

    def row_of(self, el_rad: Any) -> Any:
        """Continuous panorama row (texel centres at integers) of elevation ``el_rad``."""
        return (EL_TOP_DEG - np.degrees(el_rad)) / self.step_deg - 0.5

    def col_of(self, az_rad: Any) -> Any:
        """Continuous panorama column of world azimuth ``az_rad`` (CCW from +x), in [-0.5, cols - 0.5)."""
        return np.mod(np.degrees(az_rad), 360.0) / self.step_deg - 0.5

    def _angles(self) -> Tuple[np.ndarray, np.ndarray]:
        el = np.radians(EL_TOP_DEG - (np.arange(self.rows) + 0.5) * self.step_deg)
        az = np.radians((np.arange(self.cols) + 0.5) * self.step_deg)
        return el, az

    # -- drawing -----------------------------------------------------------------------------------

    def _draw(self, rng: np.random.Generator, glossy: bool) -> None:
        """Draw the panorama: the room's box, wall features, ceiling, objects, then the alpha and reflection."""
        import cv2
        self._layout(rng)
        self._paint_walls(rng)
        for most, feature in ((5, self._window), (3, self._door), (5, self._cabinet), (6, self._board)):
            for _ in range(int(rng.integers(0, most))):
                feature(rng, float(rng.uniform(0, 2 * (self._size[0] + self._size[1]))))
        light_mask = self._ceiling(rng)
        canvas = np.concatenate([self._img, self._alpha[:, :, None]], axis=2)
        self._objects(rng, canvas)
        canvas[..., 3] = np.maximum(canvas[..., 3], np.where(self._on_floor, 0.0, 255.0))
        canvas = cv2.GaussianBlur(canvas, (0, 0), 0.6)                     # anti-aliasing
        a = canvas[..., 3:4] / 255.0
        premul = np.clip(canvas[..., :3] * a, 0, 255)
        self.bgra = np.concatenate([premul, canvas[..., 3:4]], axis=2).astype(np.uint8)
        self.light_mask = light_mask
        el, _ = self._angles()
        self.reflection = self._reflection(rng, canvas[..., :3], light_mask, el) if glossy else None
        del self._img, self._alpha, self._walls_z   # drawing state: the panorama is all a frame needs

    def _layout(self, rng: np.random.Generator) -> None:
        """The room: a rectangle of random size and orientation, the viewpoint somewhere inside it; per
        panorama column the wall it sees, how far, and where along the room's perimeter."""
        h = self.camera_height_m
        el, az = self._angles()
        size = rng.uniform(5.0, 16.0, 2)
        if self.hallway:   # a corridor: walls a metre or so either side, the far end tens of metres away
            size = np.array([rng.uniform(1.6, 3.2), rng.uniform(12.0, 40.0)])
        turn = float(rng.uniform(0, 2 * math.pi))
        view = (rng.random(2) - 0.5) * np.maximum(size - 2 * 2.5, 0.0)
        self._ceiling_m = float(rng.uniform(2.4, 4.5))
        a = az - turn
        c, s = np.cos(a), np.sin(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            tx = np.where(c > 1e-9, (size[0] / 2 - view[0]) / c, np.where(c < -1e-9, (-size[0] / 2 - view[0]) / c, np.inf))
            ty = np.where(s > 1e-9, (size[1] / 2 - view[1]) / s, np.where(s < -1e-9, (-size[1] / 2 - view[1]) / s, np.inf))
        dist = np.minimum(tx, ty)                       # per column: horizontal distance to the wall
        hx, hy = view[0] + dist * c, view[1] + dist * s
        wall = np.where(tx < ty, np.where(c > 0, 0, 2), np.where(s > 0, 1, 3))
        # perimeter coordinate (m), counter-clockwise from the south-east corner
        W, H = size
        self._perim = np.select([wall == 0, wall == 1, wall == 2, wall == 3],
                                [hy + H / 2, H + (W / 2 - hx), H + W + (H / 2 - hy), 2 * H + W + (hx + W / 2)])
        self._tan_el = np.tan(el)[:, None]
        self._z = h + dist[None, :] * self._tan_el      # height where each ray meets the wall
        self._on_ceiling = self._z >= self._ceiling_m
        self._on_floor = self._z < 0.0
        self._size, self._view, self._cos_sin, self._dist, self._wall = size, view, (c, s), dist, wall
        self._alpha = np.where(self._on_floor, 0.0, 255.0).astype(np.float32)

    def _paint_walls(self, rng: np.random.Generator) -> None:
        """One paint per wall (sometimes all the same), a vertical light gradient and a skirting board."""
        z, ceiling_m = self._z, self._ceiling_m
        same = rng.random() < 0.5
        paints = [jitter_bgr(rng, _choice(rng, WALL_PALETTE), 10)] * 4 if same else [
            jitter_bgr(rng, _choice(rng, WALL_PALETTE), 10) for _ in range(4)]
        wall_rgb = np.array(paints, dtype=np.float32)[self._wall]        # (cols, 3)
        shade = 0.8 + 0.2 * np.clip(z / ceiling_m, 0, 1)                 # darker low on the walls
        self._img = np.zeros((self.rows, self.cols, 3), np.float32)
        self._img[:] = wall_rgb[None, :, :] * shade[:, :, None]
        skirting = float(rng.uniform(0.04, 0.12))
        skirt = _choice(rng, [(240, 240, 240), (40, 40, 40), (90, 110, 140), (120, 120, 120)])
        self._img[(z >= 0) & (z < skirting)] = np.array(jitter_bgr(rng, skirt), np.float32)
        self._walls_z = np.where(self._on_ceiling | self._on_floor, np.nan, z)

    def _span(self, p0: float, p1: float) -> np.ndarray:
        """Panorama columns that see the walls between perimeter coordinates p0 and p1 (m)."""
        return np.flatnonzero((self._perim >= p0) & (self._perim < p1))

    def _paint(self, cols: np.ndarray, z0: float, z1: float, colour: Any) -> None:
        """Fill the wall between heights z0 and z1 in ``cols`` (colour: BGR or f(zz, pp) -> (n, 3))."""
        if len(cols) == 0:
            return
        zz = self._walls_z[:, cols]
        m = (zz >= z0) & (zz < z1)
        if not m.any():
            return
        sub = self._img[:, cols]
        if callable(colour):
            rr, cc = np.nonzero(m)
            sub[rr, cc] = colour(zz[rr, cc], self._perim[cols][cc])
        else:
            sub[m] = colour
        self._img[:, cols] = sub

    def _window(self, rng: np.random.Generator, p: float) -> None:
        """A window at perimeter ``p``: sky over the outside ground, mullions, sometimes blinds."""
        width = float(rng.uniform(0.8, 3.0))
        z0, z1 = float(rng.uniform(0.5, 1.1)), float(rng.uniform(1.9, min(2.6, self._ceiling_m - 0.1)))
        cols = self._span(p, p + width)
        sky = np.array(jitter_bgr(rng, _choice(rng, [(250, 245, 240), (245, 225, 200), (235, 235, 235), (200, 210, 200)]), 10), np.float32)
        horizon = float(rng.uniform(z0, z1))
        ground = np.array(jitter_bgr(rng, _choice(rng, [(90, 130, 110), (140, 140, 140), (80, 100, 90)]), 20), np.float32)
        frame_rgb = np.array(jitter_bgr(rng, _choice(rng, [(230, 230, 230), (50, 50, 50), (150, 150, 150)])), np.float32)
        panes = float(rng.uniform(0.5, 1.2))
        blinds = rng.random() < 0.25

        def look(zz: np.ndarray, pp: np.ndarray) -> np.ndarray:
            out = np.where((zz < horizon)[:, None], ground[None], sky[None]).astype(np.float32)
            mull = (np.mod(pp - p, panes) < 0.05) | (zz - z0 < 0.05) | (z1 - zz < 0.05)
            if blinds:
                mull |= np.mod(zz, 0.06) < 0.02
            out[mull] = frame_rgb
            return out
        self._paint(cols, z0, z1, look)

    def _door(self, rng: np.random.Generator, p: float) -> None:
        """A door at perimeter ``p``, single or double, with its trim and handle."""
        width = float(rng.choice([0.9, 1.0, 1.7]))
        top = float(rng.uniform(2.0, 2.2))
        cols = self._span(p, p + width)
        colour = np.array(jitter_bgr(rng, _choice(rng, [(60, 100, 150), (230, 230, 230), (120, 120, 120), (40, 60, 90), (150, 110, 60)])), np.float32)
        trim = colour * 0.6

        def look(zz: np.ndarray, pp: np.ndarray) -> np.ndarray:
            out = np.repeat(colour[None], len(zz), axis=0)
            out[(np.mod(pp - p, width) < 0.05) | (width - np.mod(pp - p, width) < 0.05) | (top - zz < 0.05)] = trim
            out[(np.abs(zz - 1.0) < 0.03) & (np.abs(np.mod(pp - p, width) - 0.8 * width) < 0.06)] = (30, 30, 30)
            return out
        self._paint(cols, 0.0, top, look)

    def _cabinet(self, rng: np.random.Generator, p: float) -> None:
        """A row of cabinets or lockers against the wall at perimeter ``p``."""
        width = float(rng.uniform(0.6, 3.5))
        top = float(rng.uniform(0.8, 2.1))
        unit = float(rng.uniform(0.35, 0.7))
        colour = np.array(jitter_bgr(rng, _choice(rng, [(200, 215, 225), (90, 90, 90), (220, 220, 220), (150, 160, 170), (60, 90, 130)])), np.float32)

        def look(zz: np.ndarray, pp: np.ndarray) -> np.ndarray:
            out = np.repeat(colour[None], len(zz), axis=0) * (0.9 + 0.1 * zz / top)[:, None]
            out[np.mod(pp - p, unit) < 0.015] = colour * 0.55
            return out
        self._paint(self._span(p, p + width), 0.0, top, look)

    def _board(self, rng: np.random.Generator, p: float) -> None:
        """A whiteboard or screen, or a poster, picture or mural of colourful bands, at perimeter ``p``."""
        width = float(rng.uniform(0.5, 3.0))
        z0 = float(rng.uniform(0.8, 1.3))
        z1 = z0 + float(rng.uniform(0.4, 1.2))
        if rng.random() < 0.35:     # whiteboard / screen
            colour = np.array(_choice(rng, [(245, 245, 245), (30, 30, 30), (240, 240, 235)]), np.float32)
            self._paint(self._span(p, p + width), z0, z1, colour)
            return
        colours = np.array([jitter_bgr(rng, tuple(int(x) for x in rng.integers(0, 256, 3)), 0) for _ in range(4)], np.float32)
        freq = float(rng.uniform(1.0, 8.0))
        ang = float(rng.uniform(0, math.pi))
        if rng.random() < 0.3:
            z0, z1, width = 0.2, min(self._ceiling_m, 2.8), width * 2.0

        def look(zz: np.ndarray, pp: np.ndarray) -> np.ndarray:
            t = np.cos(ang) * (pp - p) + np.sin(ang) * zz
            return colours[(np.floor(t * freq).astype(int) + (np.sin(3 * t) > 0.5)) % 4]
        self._paint(self._span(p, p + width), z0, z1, look)

    def _ceiling(self, rng: np.random.Generator) -> np.ndarray:
        """Ceiling tiles and panel / strip / round lights on a grid (bright, clipped by the camera later);
        returns the (rows, cols) mask of the lights."""
        h, W, H = self.camera_height_m, self._size[0], self._size[1]
        c, s = self._cos_sin
        with np.errstate(divide="ignore", invalid="ignore"):
            dc = (self._ceiling_m - h) / self._tan_el
        cx = self._view[0] + dc * c[None, :]
        cy = self._view[1] + dc * s[None, :]
        ceil_rgb = np.array(jitter_bgr(rng, _choice(rng, [(240, 240, 240), (220, 220, 215), (200, 200, 200), (90, 90, 90), (160, 170, 180)])), np.float32)
        img = self._img
        img[self._on_ceiling] = ceil_rgb * 0.92
        rr, cc = np.nonzero(self._on_ceiling)   # the ceiling's texels: indexing them is cheaper than masking and writing back
        gx, gy = cx[rr, cc], cy[rr, cc]
        if rng.random() < 0.6:
            t = float(rng.uniform(0.5, 0.7))
            grid = (np.mod(gx, t) < 0.015) | (np.mod(gy, t) < 0.015)
            img[rr[grid], cc[grid]] *= 0.8
        kind = rng.random()
        sx, sy = rng.uniform(1.2, 3.2, 2)
        ox, oy = rng.uniform(0, 3, 2)
        if kind < 0.45:
            lx, ly = float(rng.uniform(0.3, 0.65)), float(rng.uniform(0.3, 0.65))
            lamp = (np.mod(gx - ox, sx) < lx) & (np.mod(gy - oy, sy) < ly)
        elif kind < 0.8:
            lx, ly = float(rng.uniform(1.0, 1.6)), float(rng.uniform(0.08, 0.2))
            lamp = (np.mod(gx - ox, sx) < lx) & (np.mod(gy - oy, sy) < ly)
        else:
            r = float(rng.uniform(0.06, 0.15))
            lamp = (np.mod(gx - ox, sx) - sx / 2) ** 2 + (np.mod(gy - oy, sy) - sy / 2) ** 2 < r * r
        lamp &= (np.abs(gx) < W / 2 - 0.3) & (np.abs(gy) < H / 2 - 0.3)
        img[rr[lamp], cc[lamp]] = (255.0, 255.0, 255.0)
        light_mask = np.zeros((self.rows, self.cols), np.float32)
        light_mask[rr[lamp], cc[lamp]] = 1.0
        return light_mask

    def _objects(self, rng: np.random.Generator, canvas: np.ndarray) -> None:
        """Objects standing on the floor (furniture and people), far ones drawn first."""
        objects = []
        for _ in range(int(rng.integers(0, 16))):
            a0 = float(rng.uniform(0.0, 2.0 * math.pi))     # continuous: the same room at any panorama size
            col = int(a0 / (2.0 * math.pi) * self.cols) % self.cols
            far = max(self.min_object_m + 0.1, float(self._dist[col]) - 0.3)
            objects.append((float(rng.uniform(self.min_object_m, far)), a0, rng.random()))
        objects.sort(key=lambda o: -o[0])
        for d, a0, kind in objects:
            self._object(canvas, rng, d, a0, kind)

    def _pix(self, d: float, a0: float, x_m: float, z_m: float) -> Tuple[float, float]:
        """Panorama (col, row) of a point ``x_m`` to the side (left +) and ``z_m`` up, of an object ``d`` away at azimuth ``a0``."""
        az = a0 + math.atan2(x_m, d)
        el = math.atan2(z_m - self.camera_height_m, math.hypot(d, x_m))
        return float(np.degrees(az) / self.step_deg - 0.5), float(self.row_of(el))

    def _box(self, canvas: np.ndarray, d: float, a0: float, x0: float, x1: float, z0: float, z1: float, colour: Any,
             alpha: float = 255.0) -> None:
        import cv2
        pts = [self._pix(d, a0, x, z) for x, z in ((x0, z0), (x1, z0), (x1, z1), (x0, z1))]
        for wrap in (-self.cols, 0, self.cols):
            poly = np.array([[(p[0] + wrap) * 16, p[1] * 16] for p in pts], np.int32)
            if poly[:, 0].max() < 0 or poly[:, 0].min() > self.cols * 16:
                continue
            cv2.fillConvexPoly(canvas, poly, tuple(float(c) for c in colour) + (float(alpha),), cv2.LINE_AA, 4)

    def _floor_quad(self, canvas: np.ndarray, d: float, a0: float, half_w: float, depth: float, alpha: float) -> None:
        """A soft contact shadow: a translucent black patch on the floor around an object's base."""
        import cv2
        h = self.camera_height_m
        pts = []
        for x, dd in ((-half_w, d - depth), (half_w, d - depth), (half_w, d + depth), (-half_w, d + depth)):
            az = a0 + math.atan2(x, dd)
            el = -math.atan2(h, math.hypot(dd, x))
            pts.append((float(np.degrees(az) / self.step_deg - 0.5), float(self.row_of(el))))
        for wrap in (-self.cols, 0, self.cols):
            poly = np.array([[(p[0] + wrap) * 16, p[1] * 16] for p in pts], np.int32)
            cv2.fillConvexPoly(canvas, poly, (0.0, 0.0, 0.0, float(alpha)), cv2.LINE_AA, 4)

    def _ellipse(self, canvas: np.ndarray, d: float, a0: float, x: float, z: float, rx: float, rz: float, colour: Any) -> None:
        import cv2
        c0, r0 = self._pix(d, a0, x, z)
        c1, _ = self._pix(d, a0, x + rx, z)
        _, r1 = self._pix(d, a0, x, z + rz)
        for wrap in (-self.cols, 0, self.cols):
            centre = (int((c0 + wrap) * 16), int(r0 * 16))
            axes = (max(1, int(abs(c1 - c0) * 16)), max(1, int(abs(r0 - r1) * 16)))
            cv2.ellipse(canvas, centre, axes, 0, 0, 360, tuple(float(c) for c in colour) + (255.0,), -1, cv2.LINE_AA, 4)

    def _object(self, canvas: np.ndarray, rng: np.random.Generator, d: float, a0: float, kind: float) -> None:
        """Draw one object ``d`` metres away: a person, desk, chair, cabinet, plant or box."""
        box, ell = self._box, self._ellipse
        self._floor_quad(canvas, d, a0, float(rng.uniform(0.25, 0.6)), float(rng.uniform(0.15, 0.4)), 90.0)
        if kind < 0.3:      # a person: legs, torso, arms, head
            legs, top = jitter_bgr(rng, _choice(rng, CLOTHES)), jitter_bgr(rng, _choice(rng, CLOTHES))
            skin = jitter_bgr(rng, _choice(rng, SKIN), 10)
            tall = float(rng.uniform(1.5, 1.9))
            sx = float(rng.uniform(-0.05, 0.05))
            box(canvas, d, a0, -0.17 + sx, -0.03, 0.0, 0.48 * tall, legs)
            box(canvas, d, a0, 0.03, 0.17 - sx, 0.0, 0.48 * tall, legs)
            box(canvas, d, a0, -0.21, 0.21, 0.46 * tall, 0.82 * tall, top)
            box(canvas, d, a0, -0.28, -0.2, 0.5 * tall, 0.8 * tall, top)
            box(canvas, d, a0, 0.2, 0.28, 0.5 * tall, 0.8 * tall, top)
            ell(canvas, d, a0, 0.0, 0.9 * tall, 0.1, 0.12, skin)
        elif kind < 0.5:    # a desk or table with a monitor or clutter on top
            w = float(rng.uniform(0.7, 1.8))
            top = float(rng.uniform(0.7, 0.78))
            colour = jitter_bgr(rng, _choice(rng, [(230, 230, 230), (60, 90, 130), (40, 40, 40), (170, 180, 185)]))
            leg = jitter_bgr(rng, _choice(rng, [(40, 40, 40), (180, 180, 180)]))
            box(canvas, d, a0, -w / 2, w / 2, top - 0.04, top, colour)
            for x in (-w / 2, w / 2 - 0.04):
                box(canvas, d, a0, x, x + 0.04, 0.0, top - 0.04, leg)
            if rng.random() < 0.6:
                box(canvas, d, a0, -0.25, 0.25, top + 0.1, top + 0.45, (25, 25, 25))
                box(canvas, d, a0, -0.03, 0.03, top, top + 0.1, (40, 40, 40))
        elif kind < 0.7:    # an office chair
            colour = jitter_bgr(rng, _choice(rng, [(30, 30, 30), (60, 40, 30), (120, 60, 30), (50, 50, 110)]))
            box(canvas, d, a0, -0.25, 0.25, 0.0, 0.03, (30, 30, 30))
            box(canvas, d, a0, -0.03, 0.03, 0.0, 0.45, (50, 50, 50))
            box(canvas, d, a0, -0.25, 0.25, 0.42, 0.5, colour)
            box(canvas, d, a0, -0.22, 0.22, 0.55, float(rng.uniform(0.85, 1.15)), colour)
        elif kind < 0.82:   # a cabinet, shelf or pillar
            w = float(rng.uniform(0.4, 1.2))
            tall = float(rng.uniform(0.5, 2.2)) if rng.random() < 0.85 else 6.0
            colour = jitter_bgr(rng, _choice(rng, [(200, 200, 200), (90, 90, 90), (60, 90, 130), (220, 220, 220), (150, 120, 90)]))
            box(canvas, d, a0, -w / 2, w / 2, 0.0, tall, colour)
            for k in range(1, int(tall / 0.4)):
                box(canvas, d, a0, -w / 2, w / 2, k * 0.4 - 0.01, k * 0.4 + 0.01, tuple(c * 0.6 for c in colour))
        elif kind < 0.92:   # a potted plant
            box(canvas, d, a0, -0.15, 0.15, 0.0, 0.35, jitter_bgr(rng, (60, 80, 140)))
            ell(canvas, d, a0, 0.0, 0.75, 0.3, 0.45, jitter_bgr(rng, (50, 120, 60), 25))
        else:               # boxes or a bin
            w = float(rng.uniform(0.3, 0.8))
            box(canvas, d, a0, -w / 2, w / 2, 0.0, float(rng.uniform(0.3, 0.7)), jitter_bgr(rng, _choice(rng, [(90, 140, 190), (60, 60, 60), (160, 160, 160)])))

    def _reflection(self, rng: np.random.Generator, bgr: np.ndarray, lights: np.ndarray, el: np.ndarray) -> np.ndarray:
        """What a glossy floor mirrors, indexed like the panorama by the mirrored (upward) elevation."""
        import cv2
        knee = float(rng.uniform(120, 220))
        bright = np.clip(bgr - knee, 0, None) * (255.0 / (255.0 - knee))
        bright = np.maximum(bright, lights[:, :, None] * 255.0 * float(rng.uniform(4.0, 16.0)))   # lamps outshine white walls
        dim = bgr * float(rng.uniform(0.0, 0.25))                        # a faint mirror image of everything
        sx, sy = float(rng.uniform(0.5, 2.0)), float(rng.uniform(2.0, 10.0))
        mirror = cv2.GaussianBlur(bright + dim, (0, 0), sigmaX=sx, sigmaY=sy)
        r0 = 0.04
        fresnel = r0 + (1.0 - r0) * (1.0 - np.sin(np.clip(el, 0.0, None))) ** 5   # Schlick, by elevation
        gloss = float(rng.uniform(0.3, 1.0))
        out = mirror * (gloss * fresnel)[:, None, None]
        out[el < 0] = 0.0
        return np.clip(out, 0, 255).astype(np.uint8)
