"""A stand-in for NVIDIA's jetcam whose cameras read a recording instead of a sensor (tests/fakes/README.md).

The classes are written as jetcam writes them (``Camera`` traits and capture thread, ``CSICamera``
building a GStreamer string with ``_gst_str()`` and opening it with ``cv2.VideoCapture``); only the
capture object is replaced by :class:`jetcam.recording.RecordingCapture`.
"""
