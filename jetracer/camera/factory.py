"""Build the configured camera: ``create_camera(config)`` picks CSI, USB, simulator or replay.

The settings arrive validated and typed (``config.camera``, a :class:`jetracer.config_schema.CameraSettings`);
each source of :data:`jetracer.config_schema.CAMERA_SOURCES` has its builder in :data:`BUILDERS` (a test
holds the two equal).
"""
from typing import Any, Callable, Dict, NamedTuple, Optional

from ..config import Config, ConfigError, load_config
from ..config_schema import CAMERA, CAMERA_SOURCES, CameraSettings
from ..errors import UserError
from .base import Camera, CameraError
from .jetcam_cameras import CSICamera, USBCamera
from .replay import ReplayCamera
from .sim_camera import SharedWorldCamera, SimCamera

SOURCES = CAMERA_SOURCES
SETTINGS = tuple(sorted(CAMERA))


class CameraSettingsError(UserError, CameraError):
    """A camera setting cannot be used: a wrong keyword of ``create_camera``, or a replay without a path."""


class _Asked(NamedTuple):
    """What a builder gets: the configuration, its camera settings and the size and flip they resolve to."""

    config: Config
    settings: CameraSettings
    profile_camera: Any
    width: int
    height: int
    flip: str
    world: Any


def _csi(asked: _Asked) -> Camera:
    cam, sensor_id = asked.profile_camera, asked.settings.sensor_id
    return CSICamera(sensor_id=int(cam.sensor_id if sensor_id is None else sensor_id), width=asked.width,
                     height=asked.height, capture_width=cam.capture_width, capture_height=cam.capture_height,
                     capture_fps=cam.capture_fps, flip=asked.flip)


def _usb(asked: _Asked) -> Camera:
    cam = asked.profile_camera
    return USBCamera(device=int(asked.settings.device or 0), width=asked.width, height=asked.height,
                     capture_width=cam.capture_width, capture_height=cam.capture_height,
                     capture_fps=cam.capture_fps, flip=asked.flip)


def _replay(asked: _Asked) -> Camera:
    settings = asked.settings
    if not settings.path:
        raise CameraSettingsError("camera source 'replay' needs a path: set camera: {source: replay, path: <folder "
                                  "of images or a video file>} in %s, or pass path=..." % (asked.config.path,))
    return ReplayCamera(settings.path, fps=settings.fps, loop=settings.loop, width=asked.width, height=asked.height,
                        flip=settings.flip or "none")


def _sim(asked: _Asked) -> Camera:
    settings, world = asked.settings, asked.world
    if world is None and settings.realtime:
        from jetracer.sim_mode import shared_world
        return SharedWorldCamera(shared_world(asked.config), width=asked.width, height=asked.height)
    owns = world is None
    if owns:
        from jetracer.sim_mode import build_world
        world = build_world(asked.config.with_overrides(source="create_camera", camera=settings._replace(
            width=asked.width, height=asked.height)))
    return SimCamera(world, realtime=settings.realtime, owns_world=owns)


BUILDERS = {"csi": _csi, "usb": _usb, "replay": _replay, "sim": _sim}  # type: Dict[str, Callable[[_Asked], Camera]]


def create_camera(config: Optional[Config] = None, world: Any = None, **overrides: Any) -> Camera:
    """The camera that ``config.camera.source`` names (csi | usb | sim | replay).

    ``config`` defaults to :func:`jetracer.config.load_config`. Sizes, capture mode and flip come from
    the car profile's ``camera:`` section; ``config.camera`` and then ``overrides`` (any key of
    :data:`jetracer.config_schema.CAMERA`; None values are ignored; checked as the config file is) may
    replace them and add ``path`` (replay: a folder of images or a video), ``device`` (usb: N of
    /dev/videoN), ``realtime`` (sim), ``fps``/``loop`` (replay). For ``sim`` without ``world``: with
    ``realtime`` the camera shows the process's shared real-time world (:func:`jetracer.sim_mode.shared_world`,
    the one ``NvidiaRacecar()`` drives in simulator mode); lockstep, a private
    :class:`jetracer.sim.world.SimWorld` is built from the configuration
    (:func:`jetracer.config.sim_world_args`) and the camera owns (closes) it.
    """
    if config is None:
        config = load_config()
    if any(v is not None for v in overrides.values()):
        try:
            config = config.with_overrides(source="create_camera", camera=overrides)
        except ConfigError as e:  # a keyword of this function: the caller's camera is what is wrong
            raise CameraSettingsError(str(e)) from None
    settings = config.camera
    cam = config.load_profile().camera
    asked = _Asked(config, settings, cam, int(settings.width or cam.width), int(settings.height or cam.height),
                   settings.flip or cam.flip, world)
    return BUILDERS[settings.source](asked)
