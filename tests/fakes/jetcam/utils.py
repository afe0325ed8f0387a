"""jetcam's ``bgr8_to_jpeg``, as upstream."""
import cv2


def bgr8_to_jpeg(value, quality=75):
    return bytes(cv2.imencode(".jpg", value)[1])
