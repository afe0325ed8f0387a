"""The car's real cameras through NVIDIA's jetcam (imported only when a camera is created).

``CSICamera`` builds jetcam's GStreamer pipeline with the profile's flip as ``nvvidconv flip-method``
(done by the Jetson's video converter, free); ``USBCamera`` flips with ``cv2.flip``. Failing to open
raises :class:`CameraError` with the usual causes, instead of jetcam's bare "Could not initialize camera".
"""
import importlib
from typing import Any

from .base import Camera, CameraError, check_flip, flip_frame, is_fallback

JETCAM_INSTALL = ("jetcam is not installed: on the Jetson run `git clone https://github.com/NVIDIA-AI-IOT/jetcam && "
                  "cd jetcam && sudo python3 setup.py install`; no car at hand? use camera source 'sim' or 'replay' "
                  "(JETRACER_CAMERA=sim)")
CSI_FLIP_METHODS = {"none": 0, "rotate-180": 2, "horizontal": 4, "vertical": 6}
CSI_CHECKS = ("check: the sensor id (camera.sensor_id, 0 or 1 on two-camera carrier boards); "
              "restart the camera daemon with `sudo systemctl restart nvargus-daemon`; "
              "the ribbon cable is seated at both ends with its contacts facing the right way; "
              "no other process (a notebook kernel, the drive service) holds the camera; "
              "the capture size/fps is a mode of the sensor (e.g. 1280x720 at 30 or 60 fps)")


class JetcamMissing(CameraError, ImportError):
    """jetcam is not installed (it is installed from source on the Jetson)."""


def import_jetcam(module: str) -> Any:
    """``jetcam.<module>`` of NVIDIA's jetcam, or :class:`JetcamMissing` with the install command.

    jetracer's own stand-in (:mod:`jetracer.compat`, imported as ``jetcam`` where jetcam is missing) does
    not count: it is built on these classes and opens no sensor.
    """
    try:
        found = importlib.import_module("jetcam." + module)
    except ImportError as e:
        raise JetcamMissing("%s (%s)" % (JETCAM_INSTALL, e))
    if is_fallback(found):
        raise JetcamMissing("%s (only jetracer's stand-in for jetcam is importable here)" % JETCAM_INSTALL)
    return found


def csi_pipeline(sensor_id: int, capture_width: int, capture_height: int, capture_fps: int,
                 width: int, height: int, flip: str = "none") -> str:
    """jetcam's CSI GStreamer pipeline with ``flip-method`` for the profile's flip."""
    return ("nvarguscamerasrc sensor-id=%d ! video/x-raw(memory:NVMM), width=%d, height=%d, "
            "format=(string)NV12, framerate=(fraction)%d/1 ! nvvidconv flip-method=%d ! "
            "video/x-raw, width=(int)%d, height=(int)%d, format=(string)BGRx ! videoconvert ! appsink"
            % (sensor_id, capture_width, capture_height, capture_fps, CSI_FLIP_METHODS[check_flip(flip)],
               width, height))


class CSICamera(Camera):
    """The CSI ribbon camera (e.g. the JetRacer's IMX219-160), scaled to ``width`` x ``height``."""

    def __init__(self, sensor_id: int = 0, width: int = 224, height: int = 224, capture_width: int = 1280,
                 capture_height: int = 720, capture_fps: int = 30, flip: str = "none") -> None:
        module = import_jetcam("csi_camera")
        self.flip = check_flip(flip)
        self.pipeline = csi_pipeline(sensor_id, capture_width, capture_height, capture_fps, width, height, flip)
        pipeline = self.pipeline

        class _FlippedCSICamera(module.CSICamera):
            def _gst_str(self) -> str:
                return pipeline

        super(CSICamera, self).__init__(width=int(width), height=int(height))
        try:
            self._inner = _FlippedCSICamera(capture_device=int(sensor_id), width=int(width), height=int(height),
                                            capture_width=int(capture_width), capture_height=int(capture_height),
                                            capture_fps=int(capture_fps))
        except Exception as e:  # jetcam raises a bare RuntimeError for every failure
            raise CameraError("could not open CSI camera %d at %dx%d %d fps (%s). %s. Pipeline: %s"
                              % (sensor_id, capture_width, capture_height, capture_fps, e, CSI_CHECKS, pipeline))

    def _read(self) -> Any:
        try:
            return self._inner._read()
        except Exception as e:
            raise CameraError("CSI camera stopped delivering frames (%s). %s" % (e, CSI_CHECKS))

    def _release(self) -> None:
        cap = getattr(getattr(self, "_inner", None), "cap", None)
        if cap is not None:
            cap.release()


class USBCamera(Camera):
    """A USB (V4L2) webcam ``/dev/video<device>``, resized to ``width`` x ``height`` and flipped by ``flip``."""

    def __init__(self, device: int = 0, width: int = 224, height: int = 224, capture_width: int = 640,
                 capture_height: int = 480, capture_fps: int = 30, flip: str = "none") -> None:
        module = import_jetcam("usb_camera")
        self.flip = check_flip(flip)
        super(USBCamera, self).__init__(width=int(width), height=int(height))
        try:
            self._inner = module.USBCamera(capture_device=int(device), width=int(width), height=int(height),
                                           capture_width=int(capture_width), capture_height=int(capture_height),
                                           capture_fps=int(capture_fps))
        except Exception as e:
            raise CameraError("could not open USB camera /dev/video%d at %dx%d %d fps (%s). Check that the device "
                              "exists (`ls /dev/video*`), that you are in the 'video' group, that no other process "
                              "holds it, and that it supports this size and rate (`v4l2-ctl --list-formats-ext`)"
                              % (device, capture_width, capture_height, capture_fps, e))

    def _read(self) -> Any:
        try:
            frame = self._inner._read()
        except Exception as e:
            raise CameraError("USB camera stopped delivering frames (%s); check its cable and `dmesg`" % e)
        return flip_frame(frame, self.flip)

    def _release(self) -> None:
        cap = getattr(getattr(self, "_inner", None), "cap", None)
        if cap is not None:
            cap.release()
