"""Build the configured camera: ``create_camera(config)`` picks CSI, USB, simulator or replay."""
from typing import Any

from .base import Camera, CameraError

SOURCES = ("csi", "usb", "sim", "replay")
SETTINGS = ("source", "path", "device", "realtime", "fps", "loop", "flip", "width", "height", "sensor_id")


def create_camera(config: Any = None, world: Any = None, **overrides: Any) -> Camera:
    """The camera that ``config.camera["source"]`` names (csi | usb | sim | replay).

    ``config`` defaults to :func:`jetracer.config.load_config`. Sizes, capture mode and flip come from
    the car profile's ``camera:`` section; ``config.camera`` and then ``overrides`` (any of
    :data:`SETTINGS`; None values are ignored) may replace them and add ``path`` (replay: a folder of
    images or a video), ``device`` (usb: N of /dev/videoN), ``realtime`` (sim), ``fps``/``loop`` (replay).
    For ``sim`` without ``world``: with ``realtime`` the camera shows the process's shared real-time world
    (:func:`jetracer.sim_mode.shared_world`, the one ``NvidiaRacecar()`` drives in simulator mode);
    lockstep, a private :class:`jetracer.sim.world.SimWorld` is built from ``config.sim`` (``track``,
    ``seed``, ``fps``, ``randomize``) and the profile, and the camera owns (closes) it.
    """
    if config is None:
        from jetracer.config import load_config
        config = load_config()
    settings = dict(config.camera)
    settings.update((k, v) for k, v in overrides.items() if v is not None)
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise CameraError("camera: unknown setting(s) %s; known: %s" % (", ".join(unknown), ", ".join(SETTINGS)))
    profile = config.load_profile()
    cam = profile.camera
    source = settings.get("source", "csi")
    width = int(settings.get("width", cam.width))
    height = int(settings.get("height", cam.height))
    flip = settings.get("flip", cam.flip)
    if source == "csi":
        from .jetcam_cameras import CSICamera
        return CSICamera(sensor_id=int(settings.get("sensor_id", cam.sensor_id)), width=width, height=height,
                         capture_width=cam.capture_width, capture_height=cam.capture_height,
                         capture_fps=cam.capture_fps, flip=flip)
    if source == "usb":
        from .jetcam_cameras import USBCamera
        return USBCamera(device=int(settings.get("device", 0)), width=width, height=height,
                         capture_width=cam.capture_width, capture_height=cam.capture_height,
                         capture_fps=cam.capture_fps, flip=flip)
    if source == "replay":
        from .replay import ReplayCamera
        path = settings.get("path")
        if not path:
            raise CameraError("camera source 'replay' needs a path: set camera: {source: replay, path: <folder of "
                              "images or a video file>} in the config, or pass path=...")
        return ReplayCamera(path, fps=settings.get("fps"), loop=bool(settings.get("loop", True)),
                            width=width, height=height, flip=settings.get("flip", "none"))
    if source == "sim":
        from .sim_camera import SharedWorldCamera, SimCamera
        if world is None and settings.get("realtime"):
            from jetracer.sim_mode import shared_world
            return SharedWorldCamera(shared_world(config), width=width, height=height)
        owns = world is None
        if owns:
            from jetracer.sim_mode import build_world
            world = build_world(config.with_overrides(camera=dict(settings, width=width, height=height)))
        return SimCamera(world, realtime=bool(settings.get("realtime", False)), owns_world=owns)
    raise CameraError("camera source must be one of %s, found %r" % (", ".join(SOURCES), source))
