"""jetcam's ``bgr8_to_jpeg``: JPEG bytes of a BGR frame, for ``ipywidgets.Image``."""
from typing import Any

JETRACER_FALLBACK = True


def bgr8_to_jpeg(value: Any, quality: int = 75) -> bytes:
    """JPEG bytes of a BGR uint8 frame (what upstream's widgets show through ``traitlets.dlink``)."""
    import cv2
    ok, data = cv2.imencode(".jpg", value, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise ValueError("could not encode a frame of shape %r as JPEG" % (getattr(value, "shape", None),))
    return bytes(data)
