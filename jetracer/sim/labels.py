"""Training labels: the point on the ideal path a fixed distance ahead, as a pixel of the camera image.

The look-ahead point is measured along the centreline from the projection of the rear axle (the one
reference point of dynamics, expert and labels). It is projected with the renderer's camera, so the
label matches the (possibly jittered) camera that took the frame. When it leaves the image (a sharp
curve, the car turned away) the label is the farthest path point still visible; when no path point is
visible it is the projected target clipped to the image border.

Pixel (u, v): u to the right, v down; normalised ``x = (u - w/2)/(w/2)``, ``y = (v - h/2)/(h/2)``.
"""
from typing import Any, Optional, Tuple

import numpy as np

from ..pixels import to_normalised

LOOKAHEAD_M = 0.6
PATH_SAMPLES = 24


def path_ahead(track: Any, pose: Tuple[float, float, float], distance_m: float = LOOKAHEAD_M,
               samples: int = PATH_SAMPLES, hint: Optional[int] = None) -> np.ndarray:
    """(samples, 2) centreline points from the rear axle's projection to ``distance_m`` ahead (last = target)."""
    s, _, _ = track.nearest(pose[0], pose[1], hint)
    return track.point_at(s + np.linspace(distance_m / samples, distance_m, samples))


def label_uv(renderer: Any, track: Any, pose: Tuple[float, float, float], width: int, height: int,
             distance_m: float = LOOKAHEAD_M, hint: Optional[int] = None) -> Tuple[float, float]:
    """The label pixel (u, v) (floats inside the ``width`` x ``height`` image) of the path point
    ``distance_m`` ahead of ``pose``; ``renderer.project(points_xy, pose) -> (uv, visible)`` is the camera."""
    pts = path_ahead(track, pose, distance_m, hint=hint)
    w, h = width, height
    uv, visible = renderer.project(pts[-1:], pose)   # usually the target is in view: one point is enough
    if visible[0]:
        return float(np.clip(uv[0, 0], 0.0, w - 1e-3)), float(np.clip(uv[0, 1], 0.0, h - 1e-3))
    uv, visible = renderer.project(pts, pose)
    if visible[-1]:
        u, v = uv[-1]
    elif visible.any():
        u, v = uv[int(np.flatnonzero(visible)[-1])]
    else:
        u, v = uv[-1] if np.all(np.isfinite(uv[-1])) else (w / 2.0, h - 1.0)
    return float(np.clip(u, 0.0, w - 1e-3)), float(np.clip(v, 0.0, h - 1e-3))


def pursuit_steering_gain(world: Any, alpha_deg: float = 5.0) -> float:
    """The steering-law gain (``steering = gain * x``) that turns a label into pure pursuit on this car.

    A label ``distance_m`` ahead at a small bearing alpha from the rear axle asks pure pursuit for the
    wheel angle atan(2 L sin(alpha) / Ld); the car reaches its profile's full right lock at
    ``car.steering = 1`` through ``|steering_gain|``. The ratio between that command and the label's x
    in this camera is the gain, so a model trained on these labels drives without hand-tuning. Upstream's
    0.75 was tuned for hand-clicked targets far down the road; these labels are nearer.
    """
    profile = world.profile
    d = profile.dynamics
    lookahead = world.label_distance_m
    alpha = np.radians(alpha_deg)
    x0, y0, yaw = 0.0, 0.0, 0.0
    point = np.array([[x0 + lookahead * np.cos(-alpha), y0 + lookahead * np.sin(-alpha)]])
    uv, visible = world.renderer.project(point, (x0, y0, yaw))
    if not visible[0]:
        raise ValueError("a label %.2f m ahead is not visible in this camera" % lookahead)
    x, _ = to_normalised(uv[0, 0], uv[0, 1], world.width, world.height)
    delta = np.arctan2(2.0 * d.wheelbase_m * np.sin(alpha), lookahead)
    full_lock = abs(profile.car.steering_gain) * np.radians(d.max_steer_right_deg)
    return float(delta / full_lock / x)
