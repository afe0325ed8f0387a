"""Cameras with one jetcam-like interface: the car's CSI/USB cameras, the simulator, and replays.

``create_camera(config)`` builds the configured one. Importing this package opens nothing and does
not import jetcam or OpenCV; they load when a camera is created.
"""
from .base import FLIPS, Camera, CameraError, EndOfStream, flip_frame
from .factory import SOURCES, create_camera
from .jetcam_cameras import CSICamera, JetcamMissing, USBCamera, csi_pipeline
from .replay import ReplayCamera
from .sim_camera import SharedWorldCamera, SimCamera

__all__ = ["Camera", "CameraError", "EndOfStream", "FLIPS", "flip_frame", "SOURCES", "create_camera",
           "CSICamera", "USBCamera", "JetcamMissing", "csi_pipeline", "ReplayCamera", "SimCamera",
           "SharedWorldCamera"]
