"""jetcam's ``CSICamera`` as upstream writes it; the GStreamer capture is a recording (:mod:`jetcam.recording`)."""
import atexit

import traitlets

from .camera import Camera
from .recording import RecordingCapture


class CSICamera(Camera):

    capture_device = traitlets.Integer(default_value=0)
    capture_fps = traitlets.Integer(default_value=30)
    capture_width = traitlets.Integer(default_value=640)
    capture_height = traitlets.Integer(default_value=480)

    def __init__(self, *args, **kwargs):
        super(CSICamera, self).__init__(*args, **kwargs)
        try:
            self.cap = RecordingCapture(self._gst_str(), (self.width, self.height), self.capture_fps,
                                        camera="CSICamera", pipeline=self._gst_str())
            re, image = self.cap.read()
            if not re:
                raise RuntimeError("Could not read image from camera.")
        except Exception:
            raise RuntimeError("Could not initialize camera.  Please see error trace.")
        atexit.register(self.cap.release)

    def _gst_str(self):
        return "nvarguscamerasrc sensor-id=%d ! video/x-raw(memory:NVMM), width=%d, height=%d, format=(string)NV12, framerate=(fraction)%d/1 ! nvvidconv ! video/x-raw, width=(int)%d, height=(int)%d, format=(string)BGRx ! videoconvert ! appsink" % (
            self.capture_device, self.capture_width, self.capture_height, self.capture_fps, self.width, self.height)

    def _read(self):
        re, image = self.cap.read()
        if re:
            return image
        else:
            raise RuntimeError("Could not read image from camera")
