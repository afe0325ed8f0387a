"""Frames for widgets: JPEG bytes for ``ipywidgets.Image`` and markers drawn on a copy of a frame.

Frames are BGR uint8 HxWx3 (OpenCV order). Pixel ``(u, v)``: u to the right, v down. Normalised
``(x, y)`` in [-1, 1]: ``x = (u - w/2)/(w/2)``, ``y = (v - h/2)/(h/2)`` (see docs/architecture.md).
"""
from typing import Any, Optional, Sequence

from ..pixels import to_pixel

GREEN = (0, 255, 0)
RED = (0, 0, 255)
BLUE = (255, 96, 0)


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise ImportError("the notebook widgets need OpenCV: on the Jetson it comes with JetPack; "
                          "elsewhere run `pip install -e .[sim]` (opencv-python-headless)")
    return cv2


def to_jpeg(frame_bgr: Any, quality: int = 85) -> bytes:
    """JPEG bytes of a BGR frame (what ``ipywidgets.Image(format="jpeg")`` shows)."""
    ok, data = _cv2().imencode(".jpg", frame_bgr, [int(_cv2().IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise ValueError("could not encode a frame of shape %r as JPEG" % (getattr(frame_bgr, "shape", None),))
    return bytes(data)


def draw_point(frame_bgr: Any, u: float, v: float, color: Sequence[int] = GREEN, radius: int = 0) -> Any:
    """A copy of the frame with a filled circle at pixel ``(u, v)`` (radius 0: about 3% of the width)."""
    cv2 = _cv2()
    out = frame_bgr.copy()
    h, w = out.shape[:2]
    r = radius or max(2, int(round(0.03 * w)))
    center = (int(round(u)), int(round(v)))
    cv2.circle(out, center, r, tuple(int(c) for c in color), -1)
    cv2.circle(out, center, r, (0, 0, 0), 1)
    return out


def draw_target(frame_bgr: Any, x: float, y: float, color: Sequence[int] = GREEN,
                steering: Optional[float] = None) -> Any:
    """A copy with the normalised target ``(x, y)`` drawn, a line from the bottom centre to it and,
    if given, the steering command as a bar along the bottom edge (right of centre: turning right)."""
    cv2 = _cv2()
    h, w = frame_bgr.shape[:2]
    u, v = (int(round(c)) for c in to_pixel(x, y, w, h))
    out = draw_point(frame_bgr, u, v, color)
    cv2.line(out, (w // 2, h - 1), (u, v), tuple(int(c) for c in color), 1)
    if steering is not None:
        end = int(round(w / 2.0 * (1.0 + max(-1.0, min(1.0, steering)))))
        cv2.line(out, (w // 2, h - 3), (end, h - 3), BLUE, 3)
    return out
