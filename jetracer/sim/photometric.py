"""Photometric domain randomisation of rendered frames: colour, gamma, white balance, noise, blur.

Everything random is drawn from the caller's numpy Generator, so a frame is reproducible from the
stream's seed. Costs are kept per frame to a colour LUT (one ``cv2.LUT``), noise read from banks drawn
once at construction (``cv2.randn`` per frame costs ~0.5 ms) and an occasional small Gaussian blur.
"""
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

DEFAULTS = {
    "gain_sigma": 0.25,          # log-normal sigma of the overall brightness gain
    "white_balance_sigma": 0.08,  # log-normal sigma of each channel's gain around the overall one
    "gamma_sigma": 0.25,         # log-normal sigma of the gamma exponent
    "contrast_sigma": 0.15,      # log-normal sigma of the contrast about mid-grey
    "offset_sigma": 10.0,        # sigma of the additive brightness offset, in grey levels
    "noise_levels": (0.0, 3.0, 6.0, 10.0),  # sensor noise sigmas (grey levels), one picked per frame
    "blur_probability": 0.3,     # chance of a 3x3 or 5x5 Gaussian blur (focus, motion)
    "background_range": (40, 230),  # sky/wall colour channels drawn in this range
    "hood_range": (10, 90),      # hood colour channels drawn in this range
}
_BANK_PAD = 32


class Appearance(object):
    """One frame's random draws: the colour LUT, noise level and offset, blur, fill colours."""

    def __init__(self, lut: np.ndarray, noise_level: int, noise_offset: Tuple[int, int], blur_ksize: int,
                 blur_sigma: float, background_bgr: Tuple[int, int, int], hood_bgr: Tuple[int, int, int]) -> None:
        self.lut = lut
        self.noise_level = noise_level
        self.noise_offset = noise_offset
        self.blur_ksize = blur_ksize
        self.blur_sigma = blur_sigma
        self.background_bgr = background_bgr
        self.hood_bgr = hood_bgr


def colour_lut(gains_bgr: Any, gamma: float, contrast: float, offset: float) -> np.ndarray:
    """A (1, 256, 3) uint8 LUT: out = 255 * ((gain * in / 255) ** gamma - 0.5) * contrast + 0.5) + offset, clipped."""
    x = np.arange(256, dtype=np.float64)[:, None] / 255.0
    y = np.clip(x * np.asarray(gains_bgr, dtype=np.float64)[None, :], 0.0, 1.0) ** gamma
    y = ((y - 0.5) * contrast + 0.5) * 255.0 + offset
    return np.clip(np.rint(y), 0, 255).astype(np.uint8).reshape(1, 256, 3)


class Photometric(object):
    """Per-frame photometric randomisation for frames of one size.

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

    def sample(self, rng: np.random.Generator) -> Appearance:
        """Draw one frame's appearance from ``rng`` (always the same number of draws)."""
        p = self.params
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

    def apply(self, frame: np.ndarray, look: Appearance) -> np.ndarray:
        """Apply ``look`` to a uint8 BGR frame of this size; returns the new frame (the input may be reused)."""
        import cv2
        out = cv2.LUT(frame, look.lut)
        pos, neg, noisy = self._banks[look.noise_level]
        dy, dx = look.noise_offset
        if noisy:
            cv2.add(out, pos[dy:dy + self.height, dx:dx + self.width], dst=out)
            cv2.subtract(out, neg[dy:dy + self.height, dx:dx + self.width], dst=out)
        if look.blur_ksize:
            out = cv2.GaussianBlur(out, (look.blur_ksize, look.blur_ksize), look.blur_sigma)
        return out
