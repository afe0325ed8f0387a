"""The camera an upstream ``CSICamera(...)``/``USBCamera(...)`` call gets where jetcam is not installed."""
from typing import Any

from ..camera.jetcam_cameras import JetcamMissing

MISSING = ("jetcam is not installed and the configured camera is %r: on the Jetson install it (git clone "
           "https://github.com/NVIDIA-AI-IOT/jetcam && cd jetcam && sudo python3 setup.py install), or run "
           "without a car with JETRACER_CAMERA=sim (or camera: {source: sim} in %s)")


def upstream_camera(kind: str, *args: Any, **kwargs: Any) -> Any:
    """The configured camera for jetcam's ``kind`` ("csi" or "usb") constructor arguments.

    ``width``/``height`` size the frames; jetcam's capture settings (``capture_width``, ``capture_fps``,
    ``capture_device``...) belong to a real sensor and are ignored by the simulator and replays.
    Raises JetcamMissing (one line) when the configured source is a real camera.
    """
    from ..camera import create_camera
    from ..config import load_config
    if args:
        raise TypeError("jetcam cameras take keyword arguments only (width=..., height=...), got %r" % (args,))
    config = load_config()
    source = config.camera.source
    if source in ("csi", "usb"):
        raise JetcamMissing(MISSING % (source, config.path))
    size = {k: int(kwargs[k]) for k in ("width", "height") if k in kwargs}
    if source == "sim":
        return create_camera(config, realtime=True, **size)
    return create_camera(config, **size)
