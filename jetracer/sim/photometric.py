"""What the camera's sensor and electronics do to a rendered frame: colour, exposure, lens, noise, blur, JPEG.

Two levels, both drawn from numpy Generators (so a frame is reproducible from its streams' seeds):

* a :class:`SensorLook` per episode (:meth:`Photometric.sample_sensor`): the camera module itself. A
  colour matrix (white balance, saturation, channel crosstalk, an optional global magenta tint), a
  per-pixel gain map (vignetting and the radial magenta/pink lens-shading cast that IMX219 modules
  on a Jetson show without their ISP tuning), a tone curve (exposure, gamma, contrast, black level),
  a noise level, focus blur, a lower true resolution (low-res sensors, soft lenses) and JPEG quality;
* an :class:`Appearance` per frame (:meth:`Photometric.sample`): exposure wander, which part of the
  pre-drawn noise bank, and motion blur on some frames. Auto-exposure then scales each frame toward
  the module's target grey (real cameras do: a room full of bright lights darkens the floor), which
  is why the tone curve is built per frame, after the frame's mean is known.

Without a sensor look, :meth:`Photometric.sample` draws a whole random look per frame (the older,
lighter randomisation). Per-frame costs stay small: one ``cv2.transform``, one ``cv2.multiply``, one
``cv2.LUT``, noise read from banks drawn once (``cv2.randn`` per frame costs ~0.5 ms), and blur or a
JPEG round trip only on the episodes/frames that draw them.
"""
import math
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

DEFAULTS = {
    "gain_sigma": 0.25,          # log-normal sigma of the overall brightness gain
    "white_balance_sigma": 0.08,  # log-normal sigma of each channel's gain around the overall one
    "gamma_sigma": 0.25,         # log-normal sigma of the gamma exponent
    "contrast_sigma": 0.15,      # log-normal sigma of the contrast about mid-grey
    "offset_sigma": 10.0,        # sigma of the additive brightness offset, in grey levels
    "noise_levels": (0.0, 2.0, 4.0, 7.0, 11.0),  # sensor noise sigmas (grey levels)
    "blur_probability": 0.3,     # without a sensor look: chance of a 3x3 or 5x5 Gaussian blur
    "background_range": (40, 230),  # flat backdrop colour channels drawn in this range (no room)
    "hood_range": (10, 90),      # hood colour channels drawn in this range
}
_BANK_PAD = 32
LUMA_BGR = np.array([0.114, 0.587, 0.299])
_LUT_IN = np.arange(256, dtype=np.float64)[:, None] / 255.0


class SensorLook(object):
    """One episode's camera module (see the module docstring); ``None`` fields are effects it lacks."""

    def __init__(self, matrix: Optional[np.ndarray], gain_map: Optional[np.ndarray], tone: Tuple[float, float, float, float],
                 exposure_sigma: float, noise_level: int, focus_sigma: float, lowres: float, jpeg_quality: int,
                 motion_blur_p: float, background_bgr: Tuple[int, int, int], hood_bgr: Tuple[int, int, int],
                 target_grey: float = 110.0, auto_exposure: float = 1.0) -> None:
        self.matrix = matrix
        self.target_grey = target_grey    # the mean grey level auto-exposure aims for
        self.auto_exposure = auto_exposure  # 0: fixed exposure (tone gain only), 1: full auto-exposure
        self.gain_map = gain_map
        self.tone = tone                  # (gain, gamma, contrast, offset)
        self.exposure_sigma = exposure_sigma
        self.noise_level = noise_level
        self.focus_sigma = focus_sigma
        self.lowres = lowres
        self.jpeg_quality = jpeg_quality
        self.motion_blur_p = motion_blur_p
        self.background_bgr = background_bgr
        self.hood_bgr = hood_bgr


class Appearance(object):
    """One frame's random draws: the colour LUT, noise level and offset, blur, fill colours (and its sensor)."""

    def __init__(self, lut: Optional[np.ndarray], noise_level: int, noise_offset: Tuple[int, int], blur_ksize: int,
                 blur_sigma: float, background_bgr: Tuple[int, int, int], hood_bgr: Tuple[int, int, int],
                 sensor: Optional[SensorLook] = None, motion_kernel: Optional[np.ndarray] = None) -> None:
        self.lut = lut
        self.noise_level = noise_level
        self.noise_offset = noise_offset
        self.blur_ksize = blur_ksize
        self.blur_sigma = blur_sigma
        self.background_bgr = background_bgr
        self.hood_bgr = hood_bgr
        self.sensor = sensor
        self.motion_kernel = motion_kernel
        self.wander = 1.0


def colour_lut(gains_bgr: Any, gamma: float, contrast: float, offset: float) -> np.ndarray:
    """A (1, 256, C) uint8 LUT, one channel per gain in ``gains_bgr``:
    out = 255 * ((gain * in / 255) ** gamma - 0.5) * contrast + 0.5) + offset, clipped.

    ``cv2.LUT`` applies a one-channel LUT (one gain) to every channel of a frame at half the cost of a
    three-channel one. Runs every frame, so it clips by ``np.minimum(np.maximum(...))``: the same values,
    without ``np.clip``'s few microseconds of overhead."""
    gains = np.asarray(gains_bgr, dtype=np.float64).reshape(1, -1)
    y = np.minimum(np.maximum(_LUT_IN * gains, 0.0), 1.0) ** gamma
    y = ((y - 0.5) * contrast + 0.5) * 255.0 + offset
    return np.minimum(np.maximum(np.rint(y), 0.0), 255.0).astype(np.uint8).reshape(1, 256, gains.shape[1])


def motion_kernel(length_px: float, angle_rad: float) -> np.ndarray:
    """A normalised line kernel: the smear of a frame exposed while the camera moves ``length_px``."""
    import cv2
    k = int(math.ceil(length_px)) | 1
    kernel = np.zeros((k, k), np.float32)
    c = (k - 1) / 2.0
    dx, dy = 0.5 * (length_px - 1) * math.cos(angle_rad), 0.5 * (length_px - 1) * math.sin(angle_rad)
    cv2.line(kernel, (int(round((c - dx) * 16)), int(round((c - dy) * 16))), (int(round((c + dx) * 16)), int(round((c + dy) * 16))),
             1.0, 1, cv2.LINE_AA, 4)
    return kernel / max(float(kernel.sum()), 1e-6)


class Photometric(object):
    """Photometric randomisation for frames of one size.

    ``params`` overrides keys of :data:`DEFAULTS` (unknown keys raise ``ValueError``). The noise banks
    are drawn once from ``bank_seed``; which part of which bank a frame gets comes from the frame's rng.
    """

    def __init__(self, width: int, height: int, params: Optional[Mapping[str, Any]] = None, bank_seed: int = 0) -> None:
        params = dict(params or {})
        unknown = sorted(set(params) - set(DEFAULTS))
        if unknown:
            raise ValueError("photometric: unknown key(s) %s; known keys: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULTS))))
        self.params = dict(DEFAULTS, **params)  # type: Dict[str, Any]
        self.width = int(width)
        self.height = int(height)
        bank_rng = np.random.default_rng(bank_seed)
        shape = (self.height + _BANK_PAD, self.width + _BANK_PAD, 3)
        self._banks = []
        for sigma in self.params["noise_levels"]:
            n = np.rint(bank_rng.standard_normal(shape, dtype=np.float32) * float(sigma))
            n = np.clip(n, -255, 255)
            self._banks.append((np.maximum(n, 0).astype(np.uint8), np.maximum(-n, 0).astype(np.uint8), bool(sigma > 0)))

    # -- per episode -------------------------------------------------------------------------------

    def sample_sensor(self, rng: np.random.Generator, domain: Mapping[str, Any]) -> SensorLook:
        """Draw one episode's camera module; ``domain`` holds the ``cast_p``, ``jpeg_p``, ``motion_blur_p``
        and ``lowres_p`` probabilities of :data:`jetracer.sim.domain.DEFAULTS`. Always the same number of draws."""
        g = rng.standard_normal(13)
        u = rng.random(16)
        # colour matrix: saturation about luma, crosstalk, white balance, optional global magenta tint
        sat = float(np.clip(0.7 + 0.18 * g[0], 0.3, 1.1))   # small camera modules render washed-out colours
        m = sat * np.eye(3) + (1.0 - sat) * np.outer(np.ones(3), LUMA_BGR)
        cross = np.eye(3) + 0.03 * g[1:10].reshape(3, 3) * (1.0 - np.eye(3))
        wb = np.exp(0.07 * g[10:13])
        cast = u[0] < domain["cast_p"]
        tint = 0.12 * u[1] if cast else 0.0
        wb = wb * np.array([1.0 + 0.5 * tint, 1.0 - 0.6 * tint, 1.0 + tint])
        matrix = (np.diag(wb).dot(cross).dot(m)).astype(np.float32)
        # gain map: vignetting and (with the cast) pink/magenta corners
        yy, xx = np.mgrid[0:self.height, 0:self.width].astype(np.float32)
        cx, cy = self.width * (0.5 + 0.06 * (u[2] - 0.5)), self.height * (0.5 + 0.06 * (u[3] - 0.5))
        r2 = (((xx + 0.5 - cx) / (self.width / 2.0)) ** 2 + ((yy + 0.5 - cy) / (self.height / 2.0)) ** 2) / 2.0
        vignette = 0.55 * u[4] ** 1.5
        gains = np.repeat((1.0 - vignette * r2)[:, :, None], 3, axis=2)
        if cast:
            shading = np.array([0.1 + 0.4 * u[5], -(0.05 + 0.3 * u[6]), 0.15 + 0.45 * u[7]], np.float32)   # B, G, R
            gains *= 1.0 + shading[None, None, :] * r2[:, :, None] ** (0.6 + 0.8 * u[8])
        gain_map = np.clip(np.rint(gains * 128.0), 0, 255).astype(np.uint8) if (vignette > 0.01 or cast) else None
        tone = (float(np.exp(0.35 * (2 * u[9] - 1))), float(np.exp(0.2 * (2 * u[10] - 1))),
                float(np.exp(0.15 * (2 * u[11] - 1))), float(8.0 * (2 * u[12] - 1)))
        levels = len(self._banks)
        noise = min(levels - 1, int(u[13] * levels))
        focus = float(rng.uniform(0.0, 1.2)) * self.width / 224.0
        lowres = float(rng.uniform(0.35, 0.8)) if u[14] < domain["lowres_p"] else 1.0
        jpeg = int(rng.integers(15, 71)) if u[15] < domain["jpeg_p"] else 0
        lo, hi = self.params["background_range"]
        background = tuple(int(c) for c in rng.integers(lo, hi + 1, 3))
        lo, hi = self.params["hood_range"]
        hood = tuple(int(c) for c in rng.integers(lo, hi + 1, 3))
        target = float(rng.uniform(80.0, 140.0))
        auto = float(rng.uniform(0.5, 1.0))
        return SensorLook(matrix, gain_map, tone, 0.05, noise, focus, lowres, jpeg, float(domain["motion_blur_p"]),
                          background, hood, target, auto)

    def night(self, sensor: SensorLook, rng: np.random.Generator) -> SensorLook:
        """``sensor`` in a dim scene, in place: a low exposure target, the strongest noise, longer exposures
        (motion blur on more frames) and warm, sodium or cold light."""
        tints = ((0.8, 0.92, 1.12), (0.55, 0.85, 1.2), (1.15, 1.0, 0.85))   # B, G, R gains
        tint = np.asarray(tints[int(rng.integers(len(tints)))], np.float32)
        sensor.matrix = (np.diag(tint).dot(sensor.matrix if sensor.matrix is not None else np.eye(3))).astype(np.float32)
        sensor.target_grey = float(rng.uniform(30.0, 70.0))
        sensor.noise_level = len(self._banks) - 1
        sensor.motion_blur_p = max(sensor.motion_blur_p, 0.4)
        return sensor

    # -- per frame ---------------------------------------------------------------------------------

    def sample(self, rng: np.random.Generator, sensor: Optional[SensorLook] = None) -> Appearance:
        """Draw one frame's appearance from ``rng`` (always the same number of draws for a given ``sensor`` or None)."""
        p = self.params
        if sensor is not None:
            g = rng.standard_normal(2)
            wander = float(np.exp(sensor.exposure_sigma * g[0]))
            offset_xy = (int(rng.integers(_BANK_PAD)), int(rng.integers(_BANK_PAD)))
            u = rng.random(3)
            kernel = None
            if u[0] < sensor.motion_blur_p:
                length = (2.0 + 7.0 * u[1]) * self.width / 224.0
                angle = 0.5 * g[1] if u[2] < 0.7 else math.pi / 2 + 0.3 * g[1]   # mostly sideways (turning)
                kernel = motion_kernel(length, angle)
            look = Appearance(None, sensor.noise_level, offset_xy, 0, 0.0, sensor.background_bgr, sensor.hood_bgr,
                              sensor, kernel)
            look.wander = wander
            return look
        g = rng.standard_normal(7)
        gains = np.exp(p["gain_sigma"] * g[0] + p["white_balance_sigma"] * g[1:4])
        lut = colour_lut(gains, float(np.exp(p["gamma_sigma"] * g[4])), float(np.exp(p["contrast_sigma"] * g[5])),
                         float(p["offset_sigma"] * g[6]))
        level = int(rng.integers(len(self._banks)))
        offset = (int(rng.integers(_BANK_PAD)), int(rng.integers(_BANK_PAD)))
        u = rng.random(2)
        ksize = 0
        if u[0] < p["blur_probability"]:
            ksize = 3 if u[1] < 0.6 else 5
        sigma = 0.4 + 0.3 * ksize * u[1]
        lo, hi = p["background_range"]
        background = tuple(int(c) for c in rng.integers(lo, hi + 1, 3))
        lo, hi = p["hood_range"]
        hood = tuple(int(c) for c in rng.integers(lo, hi + 1, 3))
        return Appearance(lut, level, offset, ksize, sigma, background, hood)

    @staticmethod
    def _exposed_lut(frame: np.ndarray, sensor: SensorLook, wander: float) -> np.ndarray:
        """The tone curve for this frame: the module's gain, pulled toward the gain that brings the
        frame's mean grey to the target (within a camera's exposure range), times the frame's wander."""
        import cv2
        gain, gamma, contrast, offset = sensor.tone
        mean = max(4.0, float(np.dot(cv2.mean(frame)[:3], LUMA_BGR)))
        want = min(max(((sensor.target_grey - offset) / 255.0 - 0.5) / contrast + 0.5, 0.05), 0.95)
        auto = want ** (1.0 / gamma) * 255.0 / mean
        g = gain ** (1.0 - sensor.auto_exposure) * min(max(auto, 0.25), 5.0) ** sensor.auto_exposure * wander
        return colour_lut((g,), gamma, contrast, offset)

    def apply(self, frame: np.ndarray, look: Appearance) -> np.ndarray:
        """Apply ``look`` to a uint8 BGR frame of this size; returns the new frame (the input may be reused)."""
        import cv2
        sensor = look.sensor
        out = frame
        if sensor is not None:
            if sensor.lowres < 1.0:
                small = cv2.resize(out, (max(8, int(self.width * sensor.lowres)), max(8, int(self.height * sensor.lowres))),
                                   interpolation=cv2.INTER_AREA)
                out = cv2.resize(small, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
            if sensor.focus_sigma > 0.3:   # a 5-tap kernel is enough up to sigma 1.2 and half the cost of the default 9
                k = 3 if sensor.focus_sigma < 0.6 else 5
                out = cv2.GaussianBlur(out, (k, k), sensor.focus_sigma)
            if look.motion_kernel is not None:
                out = cv2.filter2D(out, -1, look.motion_kernel)
            if sensor.matrix is not None:
                out = cv2.transform(out, sensor.matrix)
            if sensor.gain_map is not None:
                out = cv2.multiply(out, sensor.gain_map, scale=1.0 / 128.0)
            out = cv2.LUT(out, self._exposed_lut(out, sensor, look.wander))
        else:
            out = cv2.LUT(out, look.lut)
        pos, neg, noisy = self._banks[look.noise_level]
        dy, dx = look.noise_offset
        if noisy:
            cv2.add(out, pos[dy:dy + self.height, dx:dx + self.width], dst=out)
            cv2.subtract(out, neg[dy:dy + self.height, dx:dx + self.width], dst=out)
        if look.blur_ksize:
            out = cv2.GaussianBlur(out, (look.blur_ksize, look.blur_ksize), look.blur_sigma)
        if sensor is not None and sensor.jpeg_quality:
            ok, buf = cv2.imencode(".jpg", out, [int(cv2.IMWRITE_JPEG_QUALITY), sensor.jpeg_quality])
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return out
