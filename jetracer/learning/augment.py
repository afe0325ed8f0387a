"""Train and eval transforms for road following: frame and pixel label move together.

Every transform maps ``(frame_bgr, u, v) -> (frame_bgr, u, v)`` with ``u``, ``v`` float pixel
coordinates in the returned frame, so a geometric change of the image moves the label by the same
mapping:

* resize to the model input: ``u * W/w`` (the normalised label does not change);
* horizontal flip: ``u -> w - 1 - u`` (pixel column ``u`` lands on column ``w - 1 - u``), so
  ``x -> -x - 2/w``, i.e. x is negated up to one pixel;
* small rotation about the image centre and translation: the same 2x3 matrix that
  ``cv2.warpAffine`` applies to the image is applied to the label point; a draw that would push the
  label out of the image is not applied;
* colour jitter (brightness, contrast, saturation, hue): labels unchanged.

Random draws come from a ``numpy.random.RandomState``; by default one seeded from torch's generator,
which DataLoader seeds differently per worker and per epoch, so runs repeat with ``--seed``.
"""
from typing import Any, Optional, Tuple

import numpy as np

from ..pilot.preprocess import input_hw, resize_bgr

Frame = Tuple[np.ndarray, float, float]


def resize(frame_bgr: np.ndarray, u: float, v: float, input_size: Any) -> Frame:
    """Resize to ``input_size`` (INTER_AREA) and scale the label with it."""
    h, w = frame_bgr.shape[:2]
    out = resize_bgr(frame_bgr, input_size)
    oh, ow = out.shape[:2]
    return out, u * ow / float(w), v * oh / float(h)


def hflip(frame_bgr: np.ndarray, u: float, v: float) -> Frame:
    """Mirror left-right: column ``u`` becomes ``w - 1 - u``."""
    w = frame_bgr.shape[1]
    return np.ascontiguousarray(frame_bgr[:, ::-1]), (w - 1) - u, v


def affine(frame_bgr: np.ndarray, u: float, v: float, angle_deg: float, tx_px: float, ty_px: float) -> Frame:
    """Rotate by ``angle_deg`` (counter-clockwise on screen) about the centre, then shift by (tx, ty) pixels.

    Returns the input unchanged when the moved label would leave the image.
    """
    import cv2
    h, w = frame_bgr.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle_deg, 1.0)
    m[0, 2] += tx_px
    m[1, 2] += ty_px
    nu = m[0, 0] * u + m[0, 1] * v + m[0, 2]
    nv = m[1, 0] * u + m[1, 1] * v + m[1, 2]
    if not (0 <= nu <= w - 1 and 0 <= nv <= h - 1):
        return frame_bgr, u, v
    out = cv2.warpAffine(frame_bgr, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return out, float(nu), float(nv)


def color_jitter(frame_bgr: np.ndarray, brightness: float = 1.0, contrast: float = 1.0, saturation: float = 1.0,
                 hue_deg: float = 0.0) -> np.ndarray:
    """Multiplicative brightness, contrast about the mean grey, saturation, and a hue shift in degrees."""
    import cv2
    img = frame_bgr
    if saturation != 1.0 or hue_deg != 0.0:
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        if hue_deg != 0.0:  # OpenCV hue is 0..179 (2 degrees per step)
            hsv[:, :, 0] = ((hsv[:, :, 0].astype(np.int16) + int(round(hue_deg / 2.0))) % 180).astype(np.uint8)
        if saturation != 1.0:
            hsv[:, :, 1] = cv2.convertScaleAbs(hsv[:, :, 1], alpha=saturation)
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    if brightness != 1.0 or contrast != 1.0:
        mean = float(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).mean())
        # out = contrast * brightness * (p - mean) + brightness * mean
        alpha = brightness * contrast
        beta = brightness * mean * (1.0 - contrast)
        img = cv2.convertScaleAbs(img, alpha=alpha, beta=beta)
    return img


def _default_rng() -> np.random.RandomState:
    import torch
    return np.random.RandomState(int(torch.randint(0, 2 ** 31 - 1, (1,)).item()))


class EvalTransform(object):
    """Validation/test/car: resize to the model input only.

    Like :class:`TrainTransform`, it is ``prepare`` (the resize: the same every epoch, so a frame can be
    kept after it, ``frame_cache``) then ``augment`` (here nothing)."""

    def __init__(self, input_size: Any = 224) -> None:
        self.input_size = input_hw(input_size)

    def prepare(self, frame_bgr: np.ndarray, u: float, v: float) -> Frame:
        return resize(frame_bgr, u, v, self.input_size)

    def augment(self, frame_bgr: np.ndarray, u: float, v: float) -> Frame:
        return frame_bgr, u, v

    def __call__(self, frame_bgr: np.ndarray, u: float, v: float) -> Frame:
        return self.prepare(frame_bgr, u, v)


class TrainTransform(object):
    """Training: resize, then (each with its own draw) flip, small affine, colour jitter.

    Defaults suit a forward camera on a track: flips at p=0.5, rotation up to 5 degrees, shifts up to
    5 % of the size, brightness/contrast/saturation +-30 %, hue +-8 degrees. A 0 disables a part.
    """

    def __init__(self, input_size: Any = 224, flip_p: float = 0.5, max_rotate_deg: float = 5.0,
                 max_translate: float = 0.05, brightness: float = 0.3, contrast: float = 0.3,
                 saturation: float = 0.3, hue_deg: float = 8.0) -> None:
        self.input_size = input_hw(input_size)
        self.flip_p, self.max_rotate_deg, self.max_translate = flip_p, max_rotate_deg, max_translate
        self.brightness, self.contrast, self.saturation, self.hue_deg = brightness, contrast, saturation, hue_deg

    def prepare(self, frame_bgr: np.ndarray, u: float, v: float) -> Frame:
        """The resize to the model input: the same in every epoch."""
        return resize(frame_bgr, u, v, self.input_size)

    def __call__(self, frame_bgr: np.ndarray, u: float, v: float,
                 rng: Optional[np.random.RandomState] = None) -> Frame:
        return self.augment(*self.prepare(frame_bgr, u, v), rng=rng)

    def augment(self, frame: np.ndarray, u: float, v: float, rng: Optional[np.random.RandomState] = None) -> Frame:
        """The random part, on a prepared frame (never changed in place: a cached frame is used again)."""
        rng = rng if rng is not None else _default_rng()
        h, w = frame.shape[:2]
        if rng.rand() < self.flip_p:
            frame, u, v = hflip(frame, u, v)
        if self.max_rotate_deg > 0 or self.max_translate > 0:
            angle = rng.uniform(-self.max_rotate_deg, self.max_rotate_deg)
            tx, ty = rng.uniform(-self.max_translate, self.max_translate, size=2) * (w, h)
            frame, u, v = affine(frame, u, v, angle, tx, ty)
        draws = rng.uniform(-1.0, 1.0, size=4)
        frame = color_jitter(frame, 1.0 + self.brightness * draws[0], 1.0 + self.contrast * draws[1],
                             1.0 + self.saturation * draws[2], self.hue_deg * draws[3])
        return frame, u, v
