"""The simulator's domain randomisation: every range it draws from, validated in one place.

A randomised episode (:meth:`jetracer.sim.world.SimWorld.reset`) draws, from its ``episode`` stream,
a camera (this module), a floor and its markings (:mod:`jetracer.sim.materials`), a room around the
track (:mod:`jetracer.sim.room`), the sensor's look (:mod:`jetracer.sim.photometric`) and whether the
car's own front wheels are in view (:mod:`jetracer.sim.body`). Frames then draw their own small
variations (exposure, noise pattern, motion blur) from the ``frame`` stream.

``SimWorld(domain={...})`` overrides keys of :data:`DEFAULTS`; :func:`domain_params` rejects unknown
keys and values outside their allowed range with a message that names the key and the range.

Camera geometry ("kits"): real small cars carry wide-angle (fisheye) IMX219 or PiCamera modules a
few centimetres to a quarter metre above the floor, mostly looking nearly level: the horizon of real
JetRacer/JetBot/donkeycar frames sits 40-60 % down the image. So a kit camera draws

* a mount height (``height_m``), a lens: equidistant fisheye (Kannala-Brandt k1) with HFOV
  ``fisheye_hfov_deg`` or, less often, a pinhole with ``pinhole_hfov_deg``;
* the squeeze of the capture into the square model image (``aspect_choices``: 1 for a square
  capture, 4/3 for 640x480 or 1640x1232, 16/9 for 1280x720): the sensor's pixels are square, so the
  vertical field of view follows from the horizontal one and the squeeze;
* where the horizon falls (``horizon_frac``: fraction of the image height from the top, a steep
  mount with probability ``steep_p``), from which the pitch is solved exactly for that lens;
* a small roll and a forward offset near the profile's.

With probability ``profile_camera_p`` the episode uses the profile's own camera with small offsets
(``profile_jitter``), so a model also sees the car it was made for.

Worlds for real tracks (``tape_layout_p``, ``shadow_p``, ``night_p``, ``hallway_p``) and per-episode label
look-ahead distances (``label_distance_m``) are off by default: measured on real frames (issue 20) they did
not raise zero-shot r(x). They draw from their own stream (:func:`extras_rng`), so turning them on changes
those parts of an episode only, and leaving them off renders every episode as before they existed.
"""
import math
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

DEFAULTS = {
    # camera
    "profile_camera_p": 0.25,
    "profile_jitter": {"height_m": 0.01, "pitch_deg": 3.0, "hfov_deg": 5.0, "vfov_deg": 5.0, "roll_deg": 2.0,
                       "forward_m": 0.01},
    "height_m": (0.06, 0.25),
    "fisheye_p": 0.85,
    "fisheye_hfov_deg": (115.0, 165.0),
    "fisheye_k1": (-0.06, 0.03),
    "pinhole_hfov_deg": (65.0, 110.0),
    "aspect_choices": ((1.0, 0.2), (4.0 / 3.0, 0.4), (16.0 / 9.0, 0.4)),   # (squeeze fy/fx, probability)
    "horizon_frac": (0.28, 0.66),
    "steep_p": 0.15,
    "steep_horizon_frac": (0.0, 0.28),
    "roll_sigma_deg": 1.5,
    "forward_m": 0.03,            # +- around the profile's mount_forward_m
    # scene and sensor
    "room_p": 0.9,                # a room around the track (else a flat backdrop colour)
    "body_p": 0.25,               # the car's front wheels/chassis may be in view (if the lens sees them)
    "glare_p": 0.5,               # a glossy floor that mirrors lights and windows
    "cast_p": 0.35,               # IMX219-like magenta lens-shading cast
    "jpeg_p": 0.4,                # JPEG artefacts at a low quality
    "motion_blur_p": 0.15,        # per frame
    "lowres_p": 0.3,              # the camera resolves less than the frame (low-res sensor, soft lens)
    # worlds and labels added for real tracks (issue 20); drawn from their own stream, so with these at
    # their defaults every episode is the same as before they existed
    "tape_layout_p": 0.0,         # the track is tape on the bare floor: one line to follow, or two lines
    "shadow_p": 0.0,              # hard-edged sunlight patches and shadows across the floor
    "night_p": 0.0,               # a dim scene: low exposure target, strong sensor noise, warm or cold light
    "hallway_p": 0.0,             # the room is a corridor 1.6-3.2 m wide
    "label_distance_m": None,     # (lo, hi): each episode labels the path point this far ahead (None: fixed)
}  # type: Dict[str, Any]

_PROBABILITIES = ("profile_camera_p", "fisheye_p", "steep_p", "room_p", "body_p", "glare_p", "cast_p", "jpeg_p",
                  "motion_blur_p", "lowres_p", "tape_layout_p", "shadow_p", "night_p", "hallway_p")
_RANGES = {   # key: (lowest allowed, highest allowed) for both ends of a (lo, hi) pair
    "height_m": (0.02, 1.0), "fisheye_hfov_deg": (60.0, 200.0), "fisheye_k1": (-0.2, 0.2),
    "pinhole_hfov_deg": (20.0, 150.0), "horizon_frac": (-0.5, 1.5), "steep_horizon_frac": (-0.5, 1.5),
    "label_distance_m": (0.15, 3.0),
}
_OPTIONAL_RANGES = ("label_distance_m",)   # None: not drawn


def domain_params(overrides: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """DEFAULTS updated with ``overrides``, checked: a ValueError names the bad key and what it accepts."""
    out = dict(DEFAULTS)
    for key, value in dict(overrides or {}).items():
        if key not in DEFAULTS:
            raise ValueError("sim domain: unknown key %r; known keys: %s" % (key, ", ".join(sorted(DEFAULTS))))
        out[key] = value
    for key in _PROBABILITIES:
        v = out[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            raise ValueError("sim domain: %s must be a probability in [0, 1], found %r" % (key, v))
    for key, (lo, hi) in _RANGES.items():
        v = out[key]
        if v is None and key in _OPTIONAL_RANGES:
            continue
        ok = isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)
        if not ok or not lo <= v[0] <= v[1] <= hi:
            raise ValueError("sim domain: %s must be a pair (lo, hi) with %s <= lo <= hi <= %s, found %r" % (key, lo, hi, v))
    jitter = out["profile_jitter"]
    from .camera_model import JITTER_KEYS
    if not isinstance(jitter, Mapping) or set(jitter) - set(JITTER_KEYS):
        raise ValueError("sim domain: profile_jitter must map some of %s to amplitudes, found %r" % (", ".join(JITTER_KEYS), jitter))
    choices = out["aspect_choices"]
    if not choices or any(len(c) != 2 or c[0] <= 0 or c[1] < 0 for c in choices) or sum(c[1] for c in choices) <= 0:
        raise ValueError("sim domain: aspect_choices must be ((squeeze > 0, weight >= 0), ...), found %r" % (choices,))
    for key in ("roll_sigma_deg", "forward_m"):
        if not isinstance(out[key], (int, float)) or not 0.0 <= out[key] <= 20.0:
            raise ValueError("sim domain: %s must be a number in [0, 20], found %r" % (key, out[key]))
    return out


def extras_rng(seed: int, episode: int) -> np.random.Generator:
    """The stream of the issue-20 draws of episode ``episode``: a fourth child of the episode's seed
    sequence (:func:`jetracer.sim.rng.episode_streams` spawns three), so the other streams do not shift."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(episode), 3)))


def sample_extras(rng: np.random.Generator, params: Mapping[str, Any]) -> Dict[str, Any]:
    """One episode's draws of the issue-20 keys (``tape_layout_p`` ... ``label_distance_m``), always the same
    number of them: which are on, the tape layout's own seed and the label distance (None: the world's)."""
    u = rng.random(6)
    seed = int(rng.integers(2 ** 31))
    label = params["label_distance_m"]
    return {"tape_layout": bool(u[0] < params["tape_layout_p"]), "shadows": bool(u[1] < params["shadow_p"]),
            "night": bool(u[2] < params["night_p"]), "hallway": bool(u[3] < params["hallway_p"]),
            "seed": seed, "label_distance_m": None if label is None else float(label[0] + u[4] * (label[1] - label[0]))}


def lens_radius(theta: Any, projection: str, k1: float = 0.0, k2: float = 0.0) -> Any:
    """Normalised image radius of a ray ``theta`` (rad) off the optical axis (see :mod:`.camera_model`)."""
    if projection == "pinhole":
        return np.tan(theta)
    t2 = np.square(theta)
    return theta * (1.0 + k1 * t2 + k2 * t2 * t2)


def lens_theta(radius: float, projection: str, k1: float = 0.0, k2: float = 0.0) -> float:
    """Inverse of :func:`lens_radius` for one value (bisection: the lens functions are monotonic here)."""
    if projection == "pinhole":
        return math.atan(radius)
    sign, radius = (1.0, radius) if radius >= 0 else (-1.0, -radius)
    lo, hi = 0.0, math.pi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if lens_radius(mid, projection, k1, k2) < radius:
            lo = mid
        else:
            hi = mid
    return sign * 0.5 * (lo + hi)


def vfov_for(hfov_deg: float, aspect: float, projection: str, k1: float = 0.0) -> float:
    """Vertical FOV of a square-pixel sensor whose capture is squeezed by ``aspect`` (fy/fx) into a square image."""
    r = lens_radius(math.radians(hfov_deg) / 2.0, projection, k1) / aspect
    return 2.0 * math.degrees(lens_theta(r, projection, k1))


def pitch_for_horizon(horizon_frac: float, vfov_deg: float, projection: str, k1: float = 0.0) -> float:
    """Downward pitch (deg) that puts the horizon ``horizon_frac`` of the height down the image centre column."""
    r_edge = lens_radius(math.radians(vfov_deg) / 2.0, projection, k1)
    return math.degrees(lens_theta((1.0 - 2.0 * horizon_frac) * r_edge, projection, k1))


def sample_camera(rng: np.random.Generator, camera: Mapping[str, Any], params: Mapping[str, Any]
                  ) -> Tuple[Dict[str, Any], Dict[str, float]]:
    """One episode's camera: ``(camera section, jitter)`` for :class:`jetracer.sim.camera_model.CameraModel`.

    ``camera`` is the profile's section; the result is a copy with the drawn mount and lens, and a
    jitter holding the roll (and, for the profile's own camera, the small offsets). Always the same
    number of draws from ``rng`` whichever branch is taken, so later draws do not shift.
    """
    u = rng.random(8)
    g = rng.standard_normal()
    out = dict(camera)
    amp = params["profile_jitter"]
    offsets = {k: float(amp.get(k, 0.0)) * (2.0 * float(v) - 1.0) for k, v in zip(sorted(amp), rng.random(len(amp)))}
    fisheye = u[1] < params["fisheye_p"]
    projection = "equidistant" if fisheye else "pinhole"
    lo, hi = params["fisheye_hfov_deg"] if fisheye else params["pinhole_hfov_deg"]
    hfov = float(lo + u[6] * (hi - lo))
    lo, hi = params["fisheye_k1"]
    k1 = float(lo + u[7] * (hi - lo)) if fisheye else 0.0
    choices = params["aspect_choices"]
    weights = np.array([c[1] for c in choices], dtype=np.float64)
    pick = min(int(np.searchsorted(np.cumsum(weights) / weights.sum(), u[2], side="right")), len(choices) - 1)
    aspect = float(choices[pick][0])
    vfov = vfov_for(hfov, aspect, projection, k1)
    lo, hi = params["steep_horizon_frac"] if u[3] < params["steep_p"] else params["horizon_frac"]
    frac = float(lo + 0.5 * float(rng.random(2).sum()) * (hi - lo))   # triangular: most kits near the middle
    lo, hi = params["height_m"]
    height = float(math.exp(math.log(lo) + u[4] * (math.log(hi) - math.log(lo))))   # log-uniform
    sigma = float(params["roll_sigma_deg"])
    roll = float(np.clip(g * sigma, -3.0 * sigma, 3.0 * sigma))
    forward = float(camera.get("mount_forward_m", 0.1)) + params["forward_m"] * (2.0 * u[5] - 1.0)
    if u[0] < params["profile_camera_p"]:
        return out, offsets
    out.update({
        "mount_height_m": height,
        "mount_pitch_deg": pitch_for_horizon(frac, vfov, projection, k1),
        "mount_forward_m": forward,
        "hfov_deg": hfov,
        "vfov_deg": vfov,
        "projection": projection,
        "fisheye_k1": k1,
        "fisheye_k2": 0.0,
        "hood_height_frac": 0.0,
    })
    return out, {"roll_deg": roll}
