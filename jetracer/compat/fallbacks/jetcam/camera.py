"""jetcam's ``Camera`` base: jetracer's, which has the same ``value``, ``width``, ``height``, ``running``."""
from jetracer.camera.base import Camera

JETRACER_FALLBACK = True

__all__ = ["Camera"]
