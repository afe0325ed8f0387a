"""Obstacle labels from geometry: is something in the car's way within its stopping distance, and how far.

The rule (one for the simulator, the dataset and the closed-loop figures):

* **Swept path**: the band along the track ahead of the car, centred at the lateral offset of the car's
  front bumper from the centreline, ``car width + 2 * side_margin_m`` wide, from the front bumper forward.
  The track, not the arc of the current steering: a road-following car goes where the road goes, so the
  road decides what it will reach; the steering arc swings with every correction (it would sweep obstacles
  beside the lane into the path mid-correction and miss one around a bend while the wheels are straight),
  and a camera model cannot see the steering anyway. The lateral offset is kept: a car driving the left
  half of the lane hits what lies on the left half.
* **Distance**: along that band from the front bumper to the nearest point of an obstacle's footprint
  inside it, counted at the car's offset (in a curve the inner side is shorter: ``ds * (1 - kappa * n)``).
* **Stopping distance**: ``v * latency_s + v**2 / (2 * decel_mps2) + margin_m``, ``latency_s`` the profile's
  camera-to-wheels latency, ``decel_mps2`` its ``coast_decel_mps2`` (the slowing a stop at neutral
  guarantees; an ESC brake only stops sooner), ``margin_m`` a parameter, and ``v`` the car's speed or, in
  the simulator, the speed the commands already sent give it when a stop takes effect if that is higher
  (a car still speeding up travels farther during the latency).
* **blocked**: an obstacle lies in the swept path at a distance of at most the stopping distance.

:func:`obstacle_label` also returns the nearest obstacle in the swept path regardless of the stopping
distance (up to ``max_range_m``), for stop margins and false-stop counts.
"""
import math
from typing import Any, Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np

STOP_MARGIN_M = 0.20    # stop this far before contact: the 10 cm target plus a frame of travel at up to 3 m/s
SIDE_MARGIN_M = 0.05    # each side of the car
MAX_RANGE_M = 5.0       # how far ahead the nearest obstacle in the path is looked for
SAMPLE_STEP_M = 0.005   # footprint outlines are sampled this finely

ObstacleLabel = NamedTuple("ObstacleLabel", [
    ("blocked", bool), ("distance_m", Optional[float]), ("index", Optional[int]), ("nearest_m", Optional[float]),
    ("nearest_index", Optional[int]), ("stop_distance_m", float), ("speed_mps", float),
])
ObstacleLabel.__doc__ = """``blocked``: an obstacle is in the swept path within the stopping distance; ``distance_m``
and ``index``: that obstacle's path distance (m, front bumper to its nearest point) and index (None when not
blocked); ``nearest_m``/``nearest_index``: the nearest obstacle in the swept path within the look-ahead range,
blocked or not (None when none); ``stop_distance_m`` and ``speed_mps``: what the rule used."""


def stopping_distance_m(speed_mps: float, latency_s: float, decel_mps2: float, margin_m: float = STOP_MARGIN_M) -> float:
    """``v * latency_s + v**2 / (2 * decel_mps2) + margin_m`` for ``v = max(speed_mps, 0)``; inf if the car
    cannot slow (``decel_mps2 <= 0``) and moves."""
    v = max(0.0, float(speed_mps))
    if v == 0.0:
        return float(margin_m)
    if decel_mps2 <= 0:
        return float("inf")
    return v * float(latency_s) + v * v / (2.0 * float(decel_mps2)) + float(margin_m)


def outline_points(poly: np.ndarray, step_m: float) -> np.ndarray:
    """Points along a closed polygon's outline every ``step_m`` or less, its corners included."""
    nxt = np.roll(poly, -1, axis=0)
    pieces = np.maximum(1, np.ceil(np.linalg.norm(nxt - poly, axis=1) / step_m)).astype(int)
    return np.vstack([poly[i] + (nxt[i] - poly[i]) * (np.arange(k)[:, None] / float(k)) for i, k in enumerate(pieces)])


def track_coordinates(track: Any, points: np.ndarray, near_index: int, reach_m: float = 1.0
                      ) -> Tuple[np.ndarray, np.ndarray]:
    """Progress ``s`` (m, in [0, length)) and offset ``n`` (m, left +) along ``track`` of world ``points``
    (N, 2) that lie within ``reach_m`` (along the track) of centreline sample ``near_index``."""
    reach = int(math.ceil(reach_m / track.ds_m)) + 2
    idx = (np.arange(-reach, reach + 1) + near_index) % len(track.xy)
    d2 = ((points[:, None, :] - track.xy[idx][None]) ** 2).sum(axis=2)
    i = idx[np.argmin(d2, axis=1)]
    d = points - track.xy[i]
    s = (track.s[i] + np.einsum("ij,ij->i", d, track.tangent[i])) % track.length_m
    return s, np.einsum("ij,ij->i", d, track.normal[i])


class TrackSamples(object):
    """Where the obstacles' footprint outlines lie along ``track``: progress ``s`` (m), offset ``n`` (m, left +)
    and the obstacle each sample belongs to; computed once per episode (obstacles do not move)."""

    def __init__(self, track: Any, obstacles: Sequence[Any], step_m: float = SAMPLE_STEP_M) -> None:
        self.track = track
        s_all, n_all, owner = [], [], []
        for index, o in enumerate(obstacles):
            pts = np.vstack([outline_points(f, step_m) for f in o.footprints])
            _, _, i0 = track.nearest(float(o.centre_xy[0]), float(o.centre_xy[1]))
            s, n = track_coordinates(track, pts, i0, o.radius_xy + 0.5)
            s_all.append(s)
            n_all.append(n)
            owner.append(np.full(len(pts), index))
        self.s = np.concatenate(s_all) if s_all else np.zeros(0)
        self.n = np.concatenate(n_all) if n_all else np.zeros(0)
        self.owner = np.concatenate(owner) if owner else np.zeros(0, np.int64)
        heading = np.unwrap(track.heading)
        turn = heading[-1] - heading[0] + float(np.angle(np.exp(1j * (track.heading[0] - track.heading[-1]))))
        L = track.length_m
        self._s_ext = np.concatenate([track.s, track.s + L, [2.0 * L]])
        self._h_ext = np.concatenate([heading, heading + turn, [heading[0] + 2.0 * turn]])

    def turn_between(self, s0: float, ds: np.ndarray) -> np.ndarray:
        """Heading change (rad, left +) of the centreline from progress ``s0`` over ``ds`` (>= 0, < length) ahead."""
        s0 = float(s0) % self.track.length_m
        return np.interp(s0 + ds, self._s_ext, self._h_ext) - float(np.interp(s0, self._s_ext, self._h_ext))


def obstacle_label(obstacles: Any, car: Any, pose: Sequence[float], speed_mps: float, latency_s: float,
                   decel_mps2: float, margin_m: float = STOP_MARGIN_M, side_margin_m: float = SIDE_MARGIN_M,
                   max_range_m: float = MAX_RANGE_M, hint: Optional[int] = None) -> ObstacleLabel:
    """The label of the car (:class:`jetracer.sim.obstacles.CarShape` ``car`` at rear-axle ``pose``, moving at
    ``speed_mps``) among ``obstacles`` (an :class:`~jetracer.sim.obstacles.ObstacleSet` built with its track);
    the rule is the module docstring's. ``hint``: a track index near the front bumper (speeds the look-up)."""
    stop = stopping_distance_m(speed_mps, latency_s, decel_mps2, margin_m)
    none = ObstacleLabel(False, None, None, None, None, stop, float(speed_mps))
    samples = getattr(obstacles, "labels", None)
    if samples is None or not obstacles.active:
        return none
    track = samples.track
    fx, fy = car.front_point(pose)
    s_front, n_front, _ = track.nearest(fx, fy, hint)
    live = ~obstacles.lifted[samples.owner]
    ds = (samples.s - s_front) % track.length_m
    inside = live & (np.abs(samples.n - n_front) <= car.width_m / 2.0 + side_margin_m) & (ds <= max_range_m + 0.5)
    if not inside.any():
        return none
    ds = ds[inside]
    dist = np.maximum(ds - n_front * samples.turn_between(s_front, ds), 0.0)
    k = int(np.argmin(dist))
    nearest = float(dist[k])
    if nearest > max_range_m:
        return none
    index = int(samples.owner[inside][k])
    if nearest <= stop:
        return ObstacleLabel(True, nearest, index, nearest, index, stop, float(speed_mps))
    return ObstacleLabel(False, None, None, nearest, index, stop, float(speed_mps))


def label_dict(label: ObstacleLabel) -> Dict[str, Any]:
    """The label for a JSON line: ``blocked``, ``distance_m``, ``nearest_m``, ``stop_distance_m`` (metres
    rounded to the millimetre; None where there is none or it is infinite)."""
    def mm(v: Optional[float]) -> Optional[float]:
        return None if v is None or not math.isfinite(v) else round(v, 3)
    return {"blocked": bool(label.blocked), "distance_m": mm(label.distance_m), "nearest_m": mm(label.nearest_m),
            "stop_distance_m": mm(label.stop_distance_m)}
