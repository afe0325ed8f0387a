"""What replaces the sensor: ``cv2.VideoCapture``'s ``read()``/``release()``/``isOpened()`` over a recording."""
import json
import os
import time

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
_delivered = [0]  # frames of every capture of this process: a sensor that broke stays broken when reopened


def control():
    """The word in ``$FAKE_JETCAM_CONTROL`` (a test writes it while the process runs): "freeze", "fail" or "run"."""
    path = os.environ.get("FAKE_JETCAM_CONTROL")
    if not path:
        return "run"
    try:
        with open(path) as f:
            return f.read().strip() or "run"
    except OSError:
        return "run"


class RecordingCapture(object):
    """Frames of ``$FAKE_JETCAM_SOURCE`` at ``fps``, looping; ``read()`` fails after ``$FAKE_JETCAM_FAIL_AFTER``
    frames of the process (every capture counted, so a reopened camera fails too).

    ``$FAKE_JETCAM_CONTROL`` names a file whose word the test changes: ``freeze`` makes ``read()`` hang
    (as a CSI capture does when nvargus-daemon hangs; the open's first read too) until the word changes
    or the capture is released, ``fail`` makes it return no frame (the open then fails), ``run`` (or no
    file) delivers. ``size`` (w, h) is what the capture delivers (a CSI pipeline scales in ``nvvidconv``;
    a V4L2 device delivers its capture size). Each ``open`` is logged to ``$FAKE_JETCAM_LOG``.
    """

    def __init__(self, opened, size, fps, **log):
        import cv2
        self._cv2 = cv2
        self.size = (int(size[0]), int(size[1]))
        self.period_s = 1.0 / fps if fps else 0.0
        self.count = 0
        self.fail_after = int(os.environ.get("FAKE_JETCAM_FAIL_AFTER", "-1"))
        self._next_due = 0.0
        source = os.environ.get("FAKE_JETCAM_SOURCE", "")
        self._files, self._video = [], None
        if os.path.isdir(source):
            self._files = sorted(os.path.join(source, n) for n in os.listdir(source) if n.lower().endswith(IMAGE_EXTENSIONS))
        elif os.path.isfile(source):
            self._video = cv2.VideoCapture(source)
        self.opened = bool(self._files) or (self._video is not None and self._video.isOpened())
        path = os.environ.get("FAKE_JETCAM_LOG")
        if path:
            with open(path, "a") as f:
                f.write(json.dumps(dict(log, opened=opened, size=list(self.size), ok=self.opened)) + "\n")

    def isOpened(self):
        return self.opened

    def _raw(self):
        if self._files:
            return self._cv2.imread(self._files[self.count % len(self._files)], self._cv2.IMREAD_COLOR)
        ok, frame = self._video.read()
        if not ok:
            self._video.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._video.read()
        return frame if ok else None

    def read(self):
        while self.opened and control() == "freeze":
            time.sleep(0.01)
        if not self.opened or control() == "fail" or (0 <= self.fail_after <= _delivered[0]):
            return False, None
        if self.period_s:  # a sensor delivers at its frame rate
            now = time.monotonic()
            if self._next_due > now:
                time.sleep(self._next_due - now)
            self._next_due = max(now, self._next_due) + self.period_s
        frame = self._raw()
        if frame is None:
            return False, None
        self.count += 1
        _delivered[0] += 1
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = self._cv2.resize(frame, self.size, interpolation=self._cv2.INTER_AREA)
        return True, frame

    def release(self):
        self.opened = False
        if self._video is not None:
            self._video.release()
