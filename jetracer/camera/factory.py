"""Build the configured camera: ``create_camera(config)`` picks CSI, USB, simulator or replay."""
from typing import Any

from ..config_schema import CAMERA, CAMERA_SOURCES, section_defaults
from ..errors import UserError
from ..schema import validate
from .base import Camera, CameraError
from .jetcam_cameras import CSICamera, USBCamera
from .replay import ReplayCamera
from .sim_camera import SharedWorldCamera, SimCamera

SOURCES = CAMERA_SOURCES
SETTINGS = tuple(sorted(CAMERA))


class CameraSettingsError(UserError, CameraError):
    """A camera setting (config ``camera:`` or a keyword of ``create_camera``) is unknown or has a wrong value."""


def camera_settings(config: Any, **overrides: Any) -> Any:
    """``config.camera`` with ``overrides`` (None ignored), checked against :data:`jetracer.config_schema.CAMERA`."""
    settings = section_defaults(CAMERA)
    settings.update(config.camera)
    settings.update((k, v) for k, v in overrides.items() if v is not None)
    problems = validate(settings, CAMERA, "camera")
    if problems:
        raise CameraSettingsError("camera settings: %s" % "; ".join(problems))
    return settings


def create_camera(config: Any = None, world: Any = None, **overrides: Any) -> Camera:
    """The camera that ``config.camera["source"]`` names (csi | usb | sim | replay).

    ``config`` defaults to :func:`jetracer.config.load_config`. Sizes, capture mode and flip come from
    the car profile's ``camera:`` section; ``config.camera`` and then ``overrides`` (any key of
    :data:`jetracer.config_schema.CAMERA`; None values are ignored) may replace them and add ``path``
    (replay: a folder of images or a video), ``device`` (usb: N of /dev/videoN), ``realtime`` (sim),
    ``fps``/``loop`` (replay). For ``sim`` without ``world``: with ``realtime`` the camera shows the
    process's shared real-time world (:func:`jetracer.sim_mode.shared_world`, the one ``NvidiaRacecar()``
    drives in simulator mode); lockstep, a private :class:`jetracer.sim.world.SimWorld` is built from the
    configuration (:func:`jetracer.config.sim_world_args`) and the camera owns (closes) it.
    """
    if config is None:
        from jetracer.config import load_config
        config = load_config()
    settings = camera_settings(config, **overrides)
    profile = config.load_profile()
    cam = profile.camera
    source = settings["source"]
    width = int(settings["width"] or cam.width)
    height = int(settings["height"] or cam.height)
    flip = settings["flip"] or cam.flip
    if source == "csi":
        sensor_id = settings["sensor_id"]
        return CSICamera(sensor_id=int(cam.sensor_id if sensor_id is None else sensor_id), width=width, height=height,
                         capture_width=cam.capture_width, capture_height=cam.capture_height,
                         capture_fps=cam.capture_fps, flip=flip)
    if source == "usb":
        return USBCamera(device=int(settings["device"] or 0), width=width, height=height,
                         capture_width=cam.capture_width, capture_height=cam.capture_height,
                         capture_fps=cam.capture_fps, flip=flip)
    if source == "replay":
        path = settings["path"]
        if not path:
            raise CameraSettingsError("camera source 'replay' needs a path: set camera: {source: replay, path: <folder "
                                      "of images or a video file>} in %s, or pass path=..." % (config.path,))
        return ReplayCamera(path, fps=settings["fps"], loop=bool(settings["loop"]),
                            width=width, height=height, flip=settings["flip"] or "none")
    if world is None and settings["realtime"]:
        from jetracer.sim_mode import shared_world
        return SharedWorldCamera(shared_world(config), width=width, height=height)
    owns = world is None
    if owns:
        from jetracer.sim_mode import build_world
        world = build_world(config.with_overrides(source="create_camera", camera=dict(settings, width=width,
                                                                                       height=height)))
    return SimCamera(world, realtime=bool(settings["realtime"]), owns_world=owns)
