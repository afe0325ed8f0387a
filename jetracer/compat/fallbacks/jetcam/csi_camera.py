"""``CSICamera(width=224, height=224, capture_fps=65, ...)`` without jetcam: the configured camera."""
from typing import Any

from jetracer.compat.cameras import upstream_camera

from .camera import Camera

JETRACER_FALLBACK = True


class CSICamera(Camera):
    """Constructing one gives the configured camera (simulator or replay), sized ``width`` x ``height``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return upstream_camera("csi", *args, **kwargs)
