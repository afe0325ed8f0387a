"""jetcam's ``USBCamera`` as upstream writes it; the V4L2 capture is a recording (:mod:`jetcam.recording`)."""
import atexit

import cv2
import traitlets

from .camera import Camera
from .recording import RecordingCapture


class USBCamera(Camera):

    capture_fps = traitlets.Integer(default_value=30)
    capture_width = traitlets.Integer(default_value=640)
    capture_height = traitlets.Integer(default_value=480)
    capture_device = traitlets.Integer(default_value=0)

    def __init__(self, *args, **kwargs):
        super(USBCamera, self).__init__(*args, **kwargs)
        try:
            self.cap = RecordingCapture(self.capture_device, (self.capture_width, self.capture_height), self.capture_fps,
                                        camera="USBCamera", device=self.capture_device)
            re, image = self.cap.read()
            if not re:
                raise RuntimeError("Could not read image from camera.")
        except Exception:
            raise RuntimeError("Could not initialize camera.  Please see error trace.")
        atexit.register(self.cap.release)

    def _read(self):
        re, image = self.cap.read()
        if re:
            image_resized = cv2.resize(image, (int(self.width), int(self.height)))
            return image_resized
        else:
            raise RuntimeError("Could not read image from camera")
