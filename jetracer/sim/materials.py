"""Floors and track markings drawn top-down: what the camera's ground remap samples.

Floors (``floor_material``): ``plain``, ``carpet`` (fibre grain, mottling, tiles laid with alternating
pile), ``foam`` (interlocking mats with seams and teeth, one to four colours), ``vinyl`` (smooth, flecks,
sheet seams), ``wood`` (planks with staggered joints, per-plank tone and streaky grain), ``concrete``
(multi-scale mottling, joints), ``tiles`` (ceramic squares and grout). The track is either on the bare
floor (``road_material: none``) or on a distinct surface (``plain`` or any floor material) between the edges.

Markings: edges as ``tape`` (any colour and width), ``dashed`` tape, ``rope`` (twisted, with its
shadow) or ``none``; the inner edge may differ in colour; a solid, dashed or absent centre line; an
optional verge band or red/white kerb outside the edges; hand-laid imperfections (a smooth lateral
wobble, tape laid in straight pieces on curves); distractors on the floor (stray tape strips, cables,
stains); a low-frequency illumination field over everything.

Each floor is a function in :data:`FLOORS` and a draw of its base colour in :data:`MATERIAL_COLOURS`: a new
material is one entry in each. :func:`tape_layout` turns a look into tape on the bare floor (one line, or a
lane's two lines) and :func:`hard_light` lays hard-edged sunlight and shadow across it (``SimWorld`` domain keys
``tape_layout_p`` and ``shadow_p``).

Textures are about 3,000 x 3,000 texels (4 mm each): noise is drawn small and resized or tiled, and
patterns are built per band of rows, so a whole texture takes a few hundred milliseconds, once per episode.
"""
import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

MATERIALS = ("plain", "carpet", "foam", "vinyl", "wood", "concrete", "tiles")
EDGE_STYLES = ("tape", "dashed", "rope", "none")
ROAD_MATERIALS = ("none",) + MATERIALS
_TAPE_COLOURS = (   # BGR, with weights: white and yellow tape are the most common
    ((245, 245, 245), 0.36), ((40, 200, 240), 0.12), ((200, 120, 30), 0.09), ((40, 40, 210), 0.09),
    ((60, 170, 60), 0.07), ((30, 30, 30), 0.09), ((30, 120, 245), 0.1), ((200, 200, 200), 0.08),
)


def _choice(rng: np.random.Generator, items: Sequence[Any], weights: Optional[Sequence[float]] = None) -> Any:
    w = np.ones(len(items)) if weights is None else np.asarray(weights, dtype=np.float64)
    return items[min(int(np.searchsorted(np.cumsum(w) / w.sum(), rng.random(), side="right")), len(items) - 1)]


def jitter_bgr(rng: np.random.Generator, bgr: Sequence[int], amount: int = 15) -> Tuple[int, int, int]:
    """``bgr`` with each channel moved by up to +-``amount`` grey levels (inside 0..255)."""
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in bgr)


def _palette(colours: Sequence[Tuple[int, int, int]], amount: int) -> Callable[[np.random.Generator], Tuple[int, int, int]]:
    """A base-colour draw: one of ``colours``, jittered by ``amount``."""
    def draw(rng: np.random.Generator) -> Tuple[int, int, int]:
        return jitter_bgr(rng, _choice(rng, colours), amount)
    return draw


def _concrete_colour(rng: np.random.Generator) -> Tuple[int, int, int]:
    g = int(rng.integers(90, 190))
    return jitter_bgr(rng, (g, g, g + int(rng.integers(-8, 9))), 8)


# material -> a draw of a plausible BGR base colour; plain: painted floors, printed mats, paper and board
MATERIAL_COLOURS = {
    "plain": _palette([(60, 60, 60), (35, 35, 35), (110, 110, 110), (170, 170, 170), (225, 225, 225), (70, 120, 60),
                       (130, 90, 40), (150, 170, 185), (60, 60, 120), (80, 70, 60)], 22),
    "carpet": _palette([(90, 90, 90), (130, 90, 50), (60, 70, 110), (70, 110, 80), (60, 60, 150), (150, 150, 150),
                        (50, 50, 55), (110, 100, 130)], 25),
    "foam": _palette([(90, 90, 90), (40, 40, 40), (150, 100, 40), (60, 60, 190), (60, 170, 210), (80, 150, 70),
                      (170, 170, 170)], 20),
    "vinyl": _palette([(170, 170, 170), (150, 175, 190), (110, 120, 110), (200, 200, 200), (90, 90, 95),
                       (120, 140, 90)], 20),
    "wood": _palette([(70, 110, 160), (100, 150, 200), (40, 70, 110), (130, 160, 185), (120, 130, 140)], 20),
    "concrete": _concrete_colour,
    "tiles": _palette([(225, 225, 225), (180, 195, 210), (150, 150, 150), (200, 200, 190), (110, 110, 115)], 15),
}  # type: Dict[str, Callable[[np.random.Generator], Tuple[int, int, int]]]


def _material_colour(rng: np.random.Generator, material: str) -> Tuple[int, int, int]:
    """A plausible BGR base colour for ``material``."""
    return MATERIAL_COLOURS[material](rng)


def random_appearance(rng: np.random.Generator) -> Dict[str, Any]:
    """One episode's floor, road and markings (keys of :data:`jetracer.sim.track.DEFAULT_APPEARANCE`)."""
    floor_material = _choice(rng, MATERIALS, [0.08, 0.2, 0.15, 0.17, 0.2, 0.1, 0.1])
    floor = _material_colour(rng, floor_material)
    floor2 = _material_colour(rng, floor_material) if rng.random() < 0.35 else jitter_bgr(rng, floor, 12)
    road_material = "none" if rng.random() < 0.55 else _choice(rng, ("plain", "foam", "carpet", "vinyl"), [0.5, 0.2, 0.15, 0.15])
    road = _material_colour(rng, road_material if road_material != "none" else "plain")
    surface = road if road_material != "none" else floor
    edge_style = _choice(rng, EDGE_STYLES, [0.6, 0.1, 0.12, 0.18])
    edge = _choice(rng, [c for c, _ in _TAPE_COLOURS], [w for _, w in _TAPE_COLOURS])
    if abs(float(np.mean(edge)) - float(np.mean(surface))) < 35 and max(abs(int(a) - int(b)) for a, b in zip(edge, surface)) < 80:
        edge = (245, 245, 245) if np.mean(surface) < 128 else (25, 25, 25)   # tape people can see on that floor
    edge = jitter_bgr(rng, edge, 15)
    edge2 = edge if rng.random() < 0.8 else jitter_bgr(rng, _choice(rng, [c for c, _ in _TAPE_COLOURS]), 15)
    if edge_style == "rope":
        edge = jitter_bgr(rng, _choice(rng, [(200, 215, 225), (120, 160, 190), (60, 90, 130), (220, 220, 220), (40, 40, 200)]), 15)
        edge2 = edge
    centre_kind = _choice(rng, ("none", "solid", "dashed"), [0.4, 0.2, 0.4] if edge_style != "none" else [0.0, 0.5, 0.5])
    centre = _choice(rng, [c for c, _ in _TAPE_COLOURS], [w for _, w in _TAPE_COLOURS])
    if road_material == "none" and edge_style == "none" and centre_kind == "none":
        centre_kind = "solid"
    verge = rng.random()
    return {
        "floor_material": floor_material,
        "floor_bgr": floor,
        "floor2_bgr": floor2,
        "floor_scale_m": float(rng.uniform(0.3, 1.0)),
        "road_material": road_material,
        "road_bgr": road,
        "edge_style": edge_style,
        "edge_bgr": edge,
        "edge2_bgr": edge2,
        "edge_width_m": float(rng.uniform(0.012, 0.05)) if edge_style != "rope" else float(rng.uniform(0.01, 0.025)),
        "edge_dash_m": float(rng.uniform(0.08, 0.4)),
        "centre_bgr": jitter_bgr(rng, centre, 15),
        "centre_width_m": float(rng.uniform(0.01, 0.05)),
        "centre_dash_m": {"none": -1.0, "solid": 0.0, "dashed": float(rng.uniform(0.05, 0.3))}[centre_kind],
        "centre_gap_ratio": float(rng.uniform(0.5, 2.0)),
        "verge_width_m": float(rng.uniform(0.03, 0.15)) if verge < 0.2 else 0.0,
        "verge_bgr": jitter_bgr(rng, (235, 235, 235), 20) if verge < 0.12 else (40, 40, 220),
        "verge_kerb": bool(0.12 <= verge < 0.2),
        "wobble_m": float(rng.uniform(0.0, 0.015)) if edge_style != "rope" else float(rng.uniform(0.005, 0.03)),
        "piece_m": float(rng.choice([0.0, rng.uniform(0.08, 0.3)])),
        "distractors": int(rng.integers(0, 7)) if rng.random() < 0.5 else 0,
        "floor_variation": float(rng.uniform(0.0, 0.35)),
        "grain": int(rng.integers(0, 12)),
    }


def tape_layout(rng: np.random.Generator, look: Mapping[str, Any]) -> Dict[str, Any]:
    """``look`` made into tape laid on the bare floor, as many home and lab tracks are: one line to follow
    (solid, or dashed like a road's centre line) or the two edge lines of a lane, with no road band."""
    out = dict(look)
    surface = look["floor_bgr"]
    colour = _choice(rng, [c for c, _ in _TAPE_COLOURS], [w for _, w in _TAPE_COLOURS])
    if abs(float(np.mean(colour)) - float(np.mean(surface))) < 50:
        colour = (245, 245, 245) if np.mean(surface) < 128 else (25, 25, 25)
    colour = jitter_bgr(rng, colour, 15)
    kind = _choice(rng, ("single", "dashed", "lane"), [0.45, 0.15, 0.4])
    width = float(rng.uniform(0.015, 0.06))
    out.update({"road_material": "none", "verge_width_m": 0.0, "centre_bgr": colour, "edge_bgr": colour,
                "edge2_bgr": colour, "centre_width_m": width, "edge_width_m": width})
    if kind == "lane":
        out.update({"edge_style": "tape", "centre_dash_m": -1.0})
    else:
        out.update({"edge_style": "none",
                    "centre_dash_m": 0.0 if kind == "single" else float(rng.uniform(0.05, 0.3))})
    return out


# -- noise ---------------------------------------------------------------------------------------------

def lowfreq(rng: np.random.Generator, h: int, w: int, cell_px: float) -> np.ndarray:
    """(h, w) float32 smooth noise in about [-1, 1] with features ``cell_px`` texels across."""
    import cv2
    gh, gw = max(2, int(math.ceil(h / cell_px)) + 2), max(2, int(math.ceil(w / cell_px)) + 2)
    small = rng.uniform(-1.0, 1.0, size=(gh, gw)).astype(np.float32)
    return smooth_resize(small, w, h)


def smooth_resize(small: np.ndarray, w: int, h: int) -> np.ndarray:
    """Enlarge a coarse random grid smoothly: bicubic to an eighth of the size, then bilinear (a full-size
    bicubic resize costs ~30 ms per 10 M texels; the linear step adds no visible creases at 8 texels)."""
    import cv2
    mid = (max(small.shape[1], w // 8), max(small.shape[0], h // 8))
    return cv2.resize(cv2.resize(small, mid, interpolation=cv2.INTER_CUBIC), (w, h), interpolation=cv2.INTER_LINEAR)


def tiled_noise(rng: np.random.Generator, h: int, w: int, amp: float, patch: int = 509, blur: float = 0.0) -> np.ndarray:
    """(h, w) float32 per-texel noise of standard deviation ``amp``: a random patch tiled (a 2 m patch
    does not visibly repeat in a camera frame)."""
    return _tile(_noise_patch(rng, amp, patch, blur), h, w)


def _noise_patch(rng: np.random.Generator, amp: float, patch: int, blur: float) -> np.ndarray:
    import cv2
    p = rng.standard_normal((patch, patch)).astype(np.float32)
    if blur > 0:
        p = cv2.GaussianBlur(p, (0, 0), blur)
    p *= float(amp) / max(1e-6, float(p.std()))   # keep the amplitude after smoothing
    return p


def _tile(a: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.tile(a, (h // a.shape[0] + 1, w // a.shape[1] + 1) + (1,) * (a.ndim - 2))[:h, :w]


def add_tiled_noise(img: np.ndarray, rng: np.random.Generator, amp: float, patch: int = 509, blur: float = 0.0) -> np.ndarray:
    """``_add(img, tiled_noise(rng, h, w, amp, patch, blur))``, the same texels and draws, in place: the noise's
    saturated positive and negative parts are made once on the patch and tiled, not on the whole texture
    (four full-size float passes and two colour conversions, ~4 ms on a half-size texture)."""
    import cv2
    p = _noise_patch(rng, amp, patch, blur)
    h, w = img.shape[:2]
    pos = cv2.cvtColor(cv2.convertScaleAbs(cv2.max(p, 0.0)), cv2.COLOR_GRAY2BGR)
    neg = cv2.cvtColor(cv2.convertScaleAbs(cv2.min(p, 0.0)), cv2.COLOR_GRAY2BGR)
    cv2.add(img, _tile(pos, h, w), dst=img)
    cv2.subtract(img, _tile(neg, h, w), dst=img)
    return img


def fill(img: np.ndarray, bgr: Sequence[int]) -> np.ndarray:
    """``img[:] = bgr`` for an (h, w, 3) image, in place, through one filled row: numpy broadcasts a
    3-tuple over a whole image ~30x slower (~7 ms for a half-size floor texture)."""
    row = np.empty(img.shape[1:], img.dtype)
    row[:] = bgr
    img[:] = row
    return img


def _add(img: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """``img`` (h, w, 3) uint8 plus ``delta`` (h, w) float32 on every channel, saturated, in place (OpenCV
    saturating arithmetic: numpy int16 round trips cost seconds on 10 M texels)."""
    import cv2
    pos = cv2.convertScaleAbs(cv2.max(delta, 0.0))
    neg = cv2.convertScaleAbs(cv2.min(delta, 0.0))
    cv2.add(img, cv2.cvtColor(pos, cv2.COLOR_GRAY2BGR), dst=img)
    cv2.subtract(img, cv2.cvtColor(neg, cv2.COLOR_GRAY2BGR), dst=img)
    return img


# -- floors --------------------------------------------------------------------------------------------

def _plain(rng: np.random.Generator, img: np.ndarray, px: float, bgr: Sequence[int], scale_m: float) -> np.ndarray:
    return add_tiled_noise(img, rng, 2.0)


def _carpet(rng: np.random.Generator, img: np.ndarray, px: float, bgr: Sequence[int], scale_m: float) -> np.ndarray:
    """Fibre grain and mottling; half the time tiles laid with alternating pile."""
    import cv2
    h, w = img.shape[:2]
    tile = int(round(scale_m * px))
    if rng.random() < 0.5 and tile > 8:
        rows = (np.arange(h) // tile) % 2
        cols = (np.arange(w) // tile) % 2
        checker = (rows[:, None] ^ cols[None, :]).astype(np.float32) * float(rng.integers(4, 14))
        img = _add(img, checker)
    delta = tiled_noise(rng, h, w, float(rng.uniform(8, 22)), blur=0.6)
    cv2.scaleAdd(lowfreq(rng, h, w, 0.4 * px), float(rng.uniform(3, 10)), delta, dst=delta)
    return _add(img, delta)


def _foam(rng: np.random.Generator, img: np.ndarray, px: float, bgr: Sequence[int], scale_m: float) -> np.ndarray:
    """Interlocking mats of one to four colours, with seams and teeth."""
    import cv2
    h, w = img.shape[:2]
    tile = max(8, int(round(scale_m * px)))
    ncol = int(rng.integers(1, 5))
    palette = [np.asarray(bgr)] + [np.asarray(_material_colour(rng, "foam")) for _ in range(ncol - 1)]
    if ncol == 2 and rng.random() < 0.5:
        palette[1] = np.clip(np.asarray(bgr, dtype=int) + int(rng.integers(-30, 30)), 0, 255)
    ty, tx = h // tile + 1, w // tile + 1
    which = rng.integers(0, len(palette), (ty, tx)) if ncol > 2 else (np.add.outer(np.arange(ty), np.arange(tx)) % ncol)
    small = np.array([[palette[int(k)] for k in row] for row in which], dtype=np.uint8)
    img = cv2.resize(small, (tx * tile, ty * tile), interpolation=cv2.INTER_NEAREST)[:h, :w].copy()
    seam = tuple(int(c) for c in np.clip(np.asarray(bgr, dtype=int) * 0.5, 0, 255))
    tooth = max(2, tile // 8)
    for k in range(1, max(ty, tx) + 1):
        p = k * tile
        if p < h:
            img[max(0, p - 1):p + 1, :] = seam
            for c0 in range(0, w, 2 * tooth):   # puzzle teeth: short offsets of the seam
                img[max(0, p - tooth):p, c0:c0 + tooth] = img[min(h - 1, p + 2), c0:c0 + tooth][None] if p + 2 < h else seam
        if p < w:
            img[:, max(0, p - 1):p + 1] = seam
    return add_tiled_noise(img, rng, float(rng.uniform(2, 6)), blur=1.0)


def _vinyl(rng: np.random.Generator, img: np.ndarray, px: float, bgr: Sequence[int], scale_m: float) -> np.ndarray:
    """Smooth, with flecks and sheet seams."""
    import cv2
    h, w = img.shape[:2]
    delta = tiled_noise(rng, h, w, 1.5)
    cv2.scaleAdd(lowfreq(rng, h, w, 0.8 * px), float(rng.uniform(2, 10)), delta, dst=delta)
    img = _add(img, delta)
    n = int(h * w * float(rng.uniform(0.0, 0.004)))
    if n:
        ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
        img[ys, xs] = np.clip(np.asarray(bgr, dtype=int)[None] + rng.integers(-60, 60, (n, 1)), 0, 255)
    sheet = int(round(float(rng.uniform(1.8, 4.0)) * px))
    img[::sheet, :] = np.clip(np.asarray(bgr, dtype=int) - 35, 0, 255)
    return img


def _wood(rng: np.random.Generator, img: np.ndarray, px: float, bgr: Sequence[int], scale_m: float) -> np.ndarray:
    """Planks with staggered joints, per-plank tone and streaky grain."""
    import cv2
    h, w = img.shape[:2]
    along_x = rng.random() < 0.5
    hh, ww = (h, w) if along_x else (w, h)
    plank_w = max(4, int(round(float(rng.uniform(0.08, 0.22)) * px)))
    plank_l = max(plank_w * 2, int(round(float(rng.uniform(0.5, 2.0)) * px)))
    canvas = np.empty((hh, ww, 3), np.uint8)
    base = np.asarray(bgr, dtype=np.float64)
    tone_sigma = float(rng.uniform(5, 22))
    joint = tuple(int(c) for c in np.clip(base * 0.55, 0, 255))
    for r0 in range(0, hh, plank_w):
        offset = int(rng.integers(0, plank_l))
        n = ww // plank_l + 2
        tones = np.clip(base[None] + rng.normal(0, tone_sigma, (n, 1)) + rng.normal(0, 4, (n, 3)), 0, 255).astype(np.uint8)
        idx = (np.arange(ww) + offset) // plank_l
        row = tones[idx]
        row[((np.arange(ww) + offset) % plank_l) == 0] = joint
        canvas[r0:r0 + plank_w] = row[None]
        canvas[r0] = joint
    streak = rng.standard_normal((max(2, hh // 2), max(2, ww // 40))).astype(np.float32)
    grain = tiled_noise(rng, hh, ww, 1.5)
    cv2.scaleAdd(cv2.resize(streak, (ww, hh), interpolation=cv2.INTER_LINEAR), float(rng.uniform(5, 15)), grain, dst=grain)
    canvas = _add(canvas, grain)
    return canvas if along_x else np.ascontiguousarray(canvas.transpose(1, 0, 2))


def _concrete(rng: np.random.Generator, img: np.ndarray, px: float, bgr: Sequence[int], scale_m: float) -> np.ndarray:
    """Multi-scale mottling and joints."""
    import cv2
    h, w = img.shape[:2]
    delta = tiled_noise(rng, h, w, float(rng.uniform(3, 8)), blur=0.5)
    cv2.scaleAdd(lowfreq(rng, h, w, 1.5 * px), float(rng.uniform(6, 18)), delta, dst=delta)
    cv2.scaleAdd(lowfreq(rng, h, w, 0.15 * px), float(rng.uniform(3, 9)), delta, dst=delta)
    img = _add(img, delta)
    joint = int(round(float(rng.uniform(2.0, 5.0)) * px))
    dark = np.clip(np.asarray(bgr, dtype=int) - 40, 0, 255)
    img[::joint, :] = dark
    img[:, ::joint] = dark
    return img


def _tiles(rng: np.random.Generator, img: np.ndarray, px: float, bgr: Sequence[int], scale_m: float) -> np.ndarray:
    """Ceramic squares of slightly varying tone and grout."""
    import cv2
    h, w = img.shape[:2]
    tile = max(8, int(round(float(rng.uniform(0.2, 0.6)) * px)))
    ty, tx = h // tile + 1, w // tile + 1
    tones = np.clip(np.asarray(bgr, dtype=np.float64)[None, None] + rng.normal(0, 5, (ty, tx, 1)), 0, 255).astype(np.uint8)
    img = cv2.resize(tones, (tx * tile, ty * tile), interpolation=cv2.INTER_NEAREST)[:h, :w].copy()
    grout = tuple(int(c) for c in (jitter_bgr(rng, (200, 200, 200), 20) if rng.random() < 0.5 else np.clip(np.asarray(bgr, dtype=int) - 60, 0, 255)))
    gw = max(1, int(round(0.004 * px)))
    for k in range(tile, max(h, w), tile):
        img[k - gw:k] = grout
        img[:, k - gw:k] = grout
    delta = tiled_noise(rng, h, w, 1.5)
    cv2.scaleAdd(lowfreq(rng, h, w, 0.1 * px), float(rng.uniform(0, 10)), delta, dst=delta)
    return _add(img, delta)


# material -> f(rng, img filled with the base colour, texels per metre, base colour, tile/plank scale) -> floor
FLOORS = {"plain": _plain, "carpet": _carpet, "foam": _foam, "vinyl": _vinyl, "wood": _wood, "concrete": _concrete,
          "tiles": _tiles}  # type: Dict[str, Callable[..., np.ndarray]]


def draw_material(rng: np.random.Generator, material: str, h: int, w: int, m_per_px: float, bgr: Sequence[int],
                  bgr2: Sequence[int], scale_m: float = 0.5) -> np.ndarray:
    """An (h, w, 3) uint8 BGR floor of ``material`` (see the module docstring and :data:`FLOORS`)."""
    if material not in FLOORS:
        raise ValueError("floor material must be one of %s, found %r" % (", ".join(MATERIALS), material))
    return FLOORS[material](rng, fill(np.empty((h, w, 3), np.uint8), bgr), 1.0 / m_per_px, bgr, scale_m)


# -- markings ------------------------------------------------------------------------------------------

def _smooth_offsets(rng: np.random.Generator, n: int, ds_m: float, amplitude_m: float, wavelength_m: float) -> np.ndarray:
    """A smooth periodic offset (n samples, metres) of about ``amplitude_m``: hand-laid tape wanders."""
    if amplitude_m <= 0 or n < 4:
        return np.zeros(n)
    k = max(1, int(round(n * ds_m / wavelength_m)))
    coef = rng.standard_normal(2 * min(k, 12)) / math.sqrt(min(k, 12))
    t = np.arange(n) / float(n) * 2.0 * math.pi
    out = np.zeros(n)
    for j in range(min(k, 12)):
        freq = k - j
        out += coef[2 * j] * np.cos(freq * t) + coef[2 * j + 1] * np.sin(freq * t)
    return out * amplitude_m / max(1e-9, float(np.std(out)) * 2.0)


def _pieces(points: np.ndarray, ds_m: float, piece_m: float) -> np.ndarray:
    """Vertices every ``piece_m`` along a closed polyline: tape laid on a curve in straight pieces."""
    if piece_m <= 0:
        return points
    step = max(1, int(round(piece_m / ds_m)))
    return points[::step]


def _runs(on: np.ndarray) -> List[np.ndarray]:
    """Index arrays of the runs of True in a closed (cyclic) boolean sequence."""
    n = len(on)
    if on.all():
        return [np.arange(n)]
    start = int(np.flatnonzero(~on)[0])
    order = (np.arange(n) + start) % n
    flags = on[order]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    return [order[a:b] for a, b in zip(edges[::2], edges[1::2])]


def draw_markings(img: np.ndarray, track: Any, look: Mapping[str, Any], rng: Optional[np.random.Generator],
                  to_poly: Any, m_per_px: float) -> None:
    """Draw road surface, verge, edges, centre line and distractors of ``look`` onto ``img`` in place.

    ``to_poly(points_xy) -> int32 (N, 1, 2)`` maps world points to fixed-point texture coordinates
    (4 fractional bits); ``rng`` may be None only for a look without wobble, rope or distractors.
    """
    need_rng = look.get("wobble_m", 0) > 0 or look.get("edge_style") == "rope" or look.get("distractors", 0) > 0
    if need_rng and rng is None:
        raise ValueError("an appearance with wobble, rope edges or distractors needs an rng")
    painter = _Markings(img, track, look, rng, to_poly, m_per_px)
    painter.verge()
    painter.edges()
    painter.centre()
    painter.distractors(int(look.get("distractors", 0)))


class _Markings(object):
    """Draws one look's markings along one track onto a texture (see :func:`draw_markings`)."""

    SHIFT = 4   # fractional bits of the fixed-point polylines

    def __init__(self, img: np.ndarray, track: Any, look: Mapping[str, Any], rng: Optional[np.random.Generator],
                 to_poly: Any, m_per_px: float) -> None:
        self.img, self.track, self.look, self.rng, self.to_poly, self.m_per_px = img, track, look, rng, to_poly, m_per_px
        self.n = len(track.xy)
        self.ew = float(look["edge_width_m"])

    def wobble(self) -> np.ndarray:
        """Per-sample lateral offsets (m) of hand-laid tape."""
        amp = float(self.look.get("wobble_m", 0.0))
        if amp <= 0:
            return np.zeros(self.n)
        return _smooth_offsets(self.rng, self.n, self.track.ds_m, amp, float(self.rng.uniform(0.6, 2.5)))

    def thick(self, width_m: float) -> int:
        return max(1, int(round(width_m / self.m_per_px)))

    def line(self, pieces: Any, closed: bool, colour: Any, width_px: int) -> None:
        """Polylines; anti-aliased only when thin (a thick anti-aliased line along a whole track costs ~20 ms,
        and texels of 4 mm are averaged by the camera's bilinear, mip-mapped sampling anyway)."""
        import cv2
        cv2.polylines(self.img, pieces, closed, colour, width_px, cv2.LINE_AA if width_px < 3 else cv2.LINE_8, self.SHIFT)

    def runs(self, points: np.ndarray, on: np.ndarray) -> List[np.ndarray]:
        """Polylines along ``points`` where ``on``, cut from one conversion of all of them (a conversion per
        run cost ~15 us each: thousands for a rope's twist)."""
        whole = self.to_poly(points)
        return [whole[r] for r in _runs(on)]

    def verge(self) -> None:
        """A band outside each edge, plain or as red/white kerb blocks."""
        track, look, poly = self.track, self.look, self.to_poly
        verge_w = float(look.get("verge_width_m", 0.0))
        if verge_w <= 0:
            return
        for sign, edge in ((-1.0, track.right_edge), (1.0, track.left_edge)):
            band = edge + track.normal * sign * (self.ew / 2.0 + verge_w / 2.0)
            if look.get("verge_kerb"):
                on = (np.floor(track.s / 0.1).astype(int) % 2) == 0
                self.line([poly(band)], True, (235, 235, 235), self.thick(verge_w))
                self.line(self.runs(band, on), False, look["verge_bgr"], self.thick(verge_w))
            else:
                self.line([poly(band)], True, look["verge_bgr"], self.thick(verge_w))

    def edges(self) -> None:
        """Both edges as tape (in straight pieces when ``piece_m``), dashed tape or rope with its shadow."""
        track, look, poly, ew = self.track, self.look, self.to_poly, self.ew
        style = look.get("edge_style", "tape")
        piece = float(look.get("piece_m", 0.0))
        for edge, sign, colour in ((track.right_edge, -1.0, look["edge_bgr"]),
                                   (track.left_edge, 1.0, look.get("edge2_bgr", look["edge_bgr"]))):
            if style == "none":
                continue
            pts = edge + track.normal * self.wobble()[:, None]
            if style == "tape":
                self.line([poly(_pieces(pts, track.ds_m, piece))], True, colour, self.thick(ew))
            elif style == "dashed":
                on = (np.floor(track.s / float(look.get("edge_dash_m", 0.2))).astype(int) % 2) == 0
                self.line(self.runs(pts, on), False, colour, self.thick(ew))
            else:   # rope: a soft shadow, the rope, and its twist as alternating darker strokes
                shadow = pts + track.normal * sign * 0.4 * ew
                dark = tuple(int(c * 0.45) for c in colour)
                self.line([poly(shadow)], True, tuple(int(c * 0.3) for c in look["floor_bgr"]), self.thick(1.3 * ew))
                self.line([poly(pts)], True, colour, self.thick(ew))
                period = max(2, int(round(max(ew, 0.012) / track.ds_m)))
                on = (np.arange(self.n) % period) < max(1, period // 3)
                self.line(self.runs(pts, on), False, dark, max(1, self.thick(ew) // 2))

    def centre(self) -> None:
        """The centre line: solid (``centre_dash_m`` 0), dashed (> 0) or none (< 0)."""
        track, look = self.track, self.look
        dash = float(look["centre_dash_m"])
        if dash < 0:
            return
        cw = self.thick(float(look["centre_width_m"]))
        pts = track.xy + track.normal * self.wobble()[:, None] * 0.5
        if dash == 0:
            self.line([self.to_poly(_pieces(pts, track.ds_m, float(look.get("piece_m", 0.0))))], True, look["centre_bgr"], cw)
        else:
            gap = dash * float(look.get("centre_gap_ratio", 1.0))
            on = np.mod(track.s, dash + gap) < dash
            self.line(self.runs(pts, on), False, look["centre_bgr"], cw)

    def distractors(self, count: int) -> None:
        """Stray tape strips, cables and stains anywhere on the texture."""
        import cv2
        rng, track, m_per_px = self.rng, self.track, self.m_per_px
        h, w = self.img.shape[:2]
        lo = np.array([track.origin_xy[0], track.origin_xy[1] - h * m_per_px])
        hi = np.array([track.origin_xy[0] + w * m_per_px, track.origin_xy[1]])
        for _ in range(count):
            kind = rng.random()
            a = lo + rng.random(2) * (hi - lo)
            if kind < 0.5:   # a stray tape strip
                ang = rng.uniform(0, math.pi)
                b = a + float(rng.uniform(0.3, 2.5)) * np.array([math.cos(ang), math.sin(ang)])
                colour = _choice(rng, [c for c, _ in _TAPE_COLOURS])
                self.line([self.to_poly(np.stack([a, b]))], False, colour, self.thick(float(rng.uniform(0.015, 0.05))))
            elif kind < 0.75:   # a cable
                t = np.linspace(0, 1, 30)[:, None]
                d = rng.uniform(-1, 1, 2) * 2.0
                bend = rng.uniform(-0.4, 0.4, 2)
                pts = a + t * d + np.sin(t * math.pi * rng.uniform(1, 3)) * bend
                self.line([self.to_poly(pts)], False, jitter_bgr(rng, (25, 25, 25), 15), self.thick(0.008))
            else:   # a stain or a patch of different floor
                centre = tuple(int(c) for c in np.round((a - [track.origin_xy[0], track.origin_xy[1]]) * [1, -1] / m_per_px * 16))
                axes = tuple(int(x) for x in rng.uniform(0.05, 0.4, 2) / m_per_px * 16)
                tone = tuple(int(c) for c in np.clip(np.asarray(self.look["floor_bgr"], dtype=int) * rng.uniform(0.7, 1.2), 0, 255))
                cv2.ellipse(self.img, centre, axes, float(rng.uniform(0, 180)), 0, 360, tone, -1, cv2.LINE_AA, self.SHIFT)


def hard_light(img: np.ndarray, rng: np.random.Generator, count: int, m_per_px: float) -> np.ndarray:
    """``img`` with ``count`` hard-edged patches of sunlight (brighter) or shadow (darker), 0.3-2.5 m
    parallelograms with slightly soft edges: window light and furniture shadows lying across the track."""
    import cv2
    h, w = img.shape[:2]
    f = 8   # the gain map is drawn at an eighth of the size and enlarged: edges stay a few texels soft
    gain = np.full(((h + f - 1) // f, (w + f - 1) // f), 128, np.uint8)
    for _ in range(int(count)):
        centre = rng.random(2) * (w / f, h / f)
        a, b = rng.uniform(0.3, 2.5, 2) / (m_per_px * f)
        ang, skew = float(rng.uniform(0, math.pi)), float(rng.uniform(-0.6, 0.6))
        u = np.array([math.cos(ang), math.sin(ang)])
        v = np.array([-math.sin(ang + skew), math.cos(ang + skew)])
        corners = np.array([centre + sx * a / 2 * u + sy * b / 2 * v for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
        level = int(128 * rng.uniform(1.25, 1.9)) if rng.random() < 0.5 else int(128 * rng.uniform(0.35, 0.7))
        cv2.fillConvexPoly(gain, np.round(corners * 16).astype(np.int32), min(255, level), cv2.LINE_AA, 4)
    gain = cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(img, cv2.cvtColor(gain, cv2.COLOR_GRAY2BGR), scale=1.0 / 128.0)


def illumination(img: np.ndarray, rng: np.random.Generator, amount: float, m_per_px: float) -> np.ndarray:
    """``img`` multiplied by a smooth light field (pools of light and shade a metre or two across), as a new
    image: ``cv2.multiply`` with a scale into its own source ran at half the speed (~14 vs ~7 ms a texture)."""
    import cv2
    if amount <= 0:
        return img
    h, w = img.shape[:2]
    cell = float(rng.uniform(0.8, 2.5)) / m_per_px
    gh, gw = max(2, int(math.ceil(h / cell)) + 2), max(2, int(math.ceil(w / cell)) + 2)
    small = np.clip(128.0 * (1.0 + amount * rng.uniform(-1.0, 1.0, (gh, gw))), 0, 255).astype(np.uint8)
    gain = smooth_resize(cv2.cvtColor(small, cv2.COLOR_GRAY2BGR), w, h)
    return cv2.multiply(img, gain, scale=1.0 / 128.0)
