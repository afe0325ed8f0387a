"""Cameras with one jetcam-like interface: the car's CSI/USB cameras, the simulator, and replays.

``create_camera(config)`` builds the configured one; ``recovering_camera(config)`` the same, reopened by
itself when it stops delivering (what the drive and the notebooks use). Importing this package opens
nothing and does not import jetcam or OpenCV; they load when a camera is created.
"""
from .base import FLIPS, Camera, CameraError, EndOfStream, flip_frame
from .factory import SOURCES, create_camera
from .jetcam_cameras import CSICamera, JetcamMissing, USBCamera, csi_pipeline
from .recovering import RecoveringCamera, recovering_camera
from .replay import ReplayCamera
from .sim_camera import SharedWorldCamera, SimCamera

__all__ = ["Camera", "CameraError", "EndOfStream", "FLIPS", "flip_frame", "SOURCES", "create_camera",
           "CSICamera", "USBCamera", "JetcamMissing", "csi_pipeline", "ReplayCamera", "SimCamera",
           "SharedWorldCamera", "RecoveringCamera", "recovering_camera"]
