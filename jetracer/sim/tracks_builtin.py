"""Built-in tracks (``oval``, ``twisty``, ``narrow``), procedural tracks from an integer seed, and
:func:`load_track`, which picks one from a name, a seed or a Track (track.py knows nothing of these).

Every built-in has curves of at least 1.2 m radius (wider than the full-lock turning circle of each
shipped profile with its steering gain) and fits a 10 m x 10 m room. Procedural tracks are
"blobs": a circle whose radius varies with a few random harmonics, stretched, scaled into the
requested size and accepted only when :meth:`Track.problems` finds nothing (no self-crossing, no
overlapping edges, no curve tighter than ``min_radius_m``). Rejected draws are redrawn from the same
seeded generator, so a seed always gives the same track.
"""
import math
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from .track import DEFAULT_MIN_RADIUS_M, DEFAULT_WIDTH_M, Track, TrackError


def _stadium(straight_m: float, radius_m: float, n: int = 28) -> np.ndarray:
    """Control points on a stadium (two straights joined by half circles), counter-clockwise."""
    perimeter = 2 * straight_m + 2 * math.pi * radius_m
    pts = []
    for s in np.linspace(0.0, perimeter, n, endpoint=False):
        if s < straight_m:
            pts.append((-straight_m / 2 + s, -radius_m))
        elif s < straight_m + math.pi * radius_m:
            a = -math.pi / 2 + (s - straight_m) / radius_m
            pts.append((straight_m / 2 + radius_m * math.cos(a), radius_m * math.sin(a)))
        elif s < 2 * straight_m + math.pi * radius_m:
            pts.append((straight_m / 2 - (s - straight_m - math.pi * radius_m), radius_m))
        else:
            a = math.pi / 2 + (s - 2 * straight_m - math.pi * radius_m) / radius_m
            pts.append((-straight_m / 2 + radius_m * math.cos(a), radius_m * math.sin(a)))
    return np.array(pts)


def _blob(radius_m: float, harmonics: Tuple[Tuple[float, float], ...], aspect: float = 1.0, n: int = 32) -> np.ndarray:
    """Control points of r(t) = R (1 + sum a_k cos(k t + phi_k)), k = 2, 3, ..., x stretched by ``aspect``."""
    t = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    r = np.ones_like(t)
    for k, (a, phi) in enumerate(harmonics, start=2):
        r += a * np.cos(k * t + phi)
    r *= radius_m
    return np.stack([r * np.cos(t) * aspect, r * np.sin(t)], axis=1)


def oval() -> Track:
    return Track(_stadium(3.0, 1.5, n=1600), width_m=0.6, name="oval", spline=False)


def twisty() -> Track:
    return Track(_blob(3.3, ((0.03, 4.1), (0.14, 2.3), (0.03, 2.6), (0.05, 6.3)), aspect=1.16), width_m=0.6, name="twisty")


def narrow() -> Track:
    return Track(_blob(3.0, ((0.18, 1.2), (0.10, 0.2)), aspect=1.2), width_m=0.4, name="narrow")


BUILTIN_TRACKS = {"oval": oval, "twisty": twisty, "narrow": narrow}  # type: Dict[str, Callable[[], Track]]


def builtin_track(name: str) -> Track:
    """The built-in track called ``name``; unknown names are refused with the list of known ones."""
    try:
        return BUILTIN_TRACKS[name]()
    except KeyError:
        raise TrackError("unknown track %r; choose one of %s, or an integer seed for a procedural track"
                         % (name, ", ".join(sorted(BUILTIN_TRACKS))))


def procedural_track(seed: int, min_radius_m: float = DEFAULT_MIN_RADIUS_M, size_m: Tuple[float, float] = (6.0, 10.0),
                     width_m: Optional[float] = None, attempts: int = 400) -> Track:
    """A random closed track for ``seed`` (see the module docstring); raises TrackError if none fits."""
    if seed < 0:
        raise TrackError("track seeds are integers >= 0, got %r" % seed)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(7,)))
    lo, hi = size_m
    for _ in range(attempts):
        width = float(width_m) if width_m is not None else float(rng.uniform(0.45, 0.75))
        harmonics = tuple((float(rng.uniform(0.0, 0.45 / k)), float(rng.uniform(0, 2 * math.pi))) for k in range(2, 6))
        pts = _blob(1.0, harmonics, aspect=float(rng.uniform(0.75, 1.3)), n=int(rng.integers(20, 33)))
        side = float(rng.uniform(lo, hi))
        span = (pts.max(axis=0) - pts.min(axis=0)).max()
        pts = pts * ((side - width - 0.05) / span)
        try:
            track = Track(pts, width_m=width, name="seed-%d" % seed)
        except TrackError:
            continue
        if max(track.size_m()) <= hi and not track.problems(min_radius_m=min_radius_m):
            return track
    raise TrackError("no track for seed %d fits %s m with curves >= %.2f m radius; allow a larger size or a smaller "
                     "radius" % (seed, size_m, min_radius_m))


def load_track(spec: Any, min_radius_m: float = DEFAULT_MIN_RADIUS_M) -> Track:
    """A Track from a Track, a built-in name, or an integer seed (procedural)."""
    if isinstance(spec, Track):
        return spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return procedural_track(int(spec), min_radius_m=min_radius_m)
    if isinstance(spec, str):
        if spec.isdigit():
            return procedural_track(int(spec), min_radius_m=min_radius_m)
        return builtin_track(spec)
    raise TrackError("a track is a built-in name, an integer seed or a Track, got %r" % (spec,))
