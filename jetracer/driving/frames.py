"""Where the drive loop gets its frames: the newest frame of a capture thread, or lockstep reads.

Both sources answer ``next(last_id) -> (frame, frame_id, stamp_s)``; the loop compares ``frame_id``
with the one it processed last, so a frame is never processed twice. A camera that fails is not
hidden behind an ageing frame: ``error`` holds its message (the capture thread's ``camera.error`` or the
exception ``read()`` raised) until a new frame arrives, and the loop stops the car with it.
"""
import threading
import time
from typing import Any, Callable, Optional, Tuple

import numpy as np

from ..camera.base import Camera

Frame = Tuple[Optional[np.ndarray], int, float]


class LockstepFrames(object):
    """Each ``next()`` calls ``camera.read()`` (deterministic, for the simulator).

    A frame whose ``camera.frame_id`` did not change keeps the stamp of its first read, so a camera
    that stops delivering is seen as an ageing frame on the loop's ``clock``.
    """

    def __init__(self, camera: Camera, clock: Callable[[], float]) -> None:
        self.camera = camera
        self.clock = clock
        self.error = ""
        self._count = 0
        self._last = (None, -1, float("-inf"))  # type: Frame

    def next(self, last_id: int, timeout_s: Optional[float] = None) -> Frame:
        try:
            frame = self.camera.read()
        except Exception as e:  # noqa: BLE001 - reported to the loop, which stops the car with the message
            self.error = describe_error(e)
            return self._last
        self.error = ""
        frame_id = getattr(self.camera, "frame_id", None)
        if frame_id is None:
            self._count += 1
            frame_id = self._count
        if frame_id != self._last[1]:
            self._last = (frame, int(frame_id), self.clock())
        return self._last

    def close(self) -> None:
        pass


def describe_error(e: BaseException) -> str:
    """A camera exception as one line: a ``CameraError``'s own message, else the type and message."""
    from ..camera.base import CameraError

    return str(e) if isinstance(e, CameraError) and str(e) else "%s: %s" % (type(e).__name__, e)


class ThreadedFrames(object):
    """The newest frame of a capture thread, waited for at most ``period_s``.

    A jetcam-like camera (a ``running`` trait) captures on its own thread and is observed; any other
    camera is read by a thread owned here (a frame grabber). Stamps are ``camera.timestamp`` if the
    camera has one, else ``time.monotonic()`` when the frame arrived. When the camera's capture thread
    stops with an ``error`` (jetracer's cameras), it is restarted every ``retry_s`` (a camera that
    recovers drives again; the error stays reported until a new frame comes).
    """

    def __init__(self, camera: Camera, period_s: float, retry_s: float = 1.0) -> None:
        self.camera = camera
        self.period_s = float(period_s)
        self.retry_s = float(retry_s)
        self.error = ""
        self._retry_at = 0.0
        self._cond = threading.Condition()
        self._latest = (None, -1, float("-inf"))  # type: Frame
        self._seq = 0
        self._closed = False
        self._thread = None  # type: Optional[threading.Thread]
        self._observing = hasattr(camera, "has_trait") and camera.has_trait("running") and camera.has_trait("value")
        if self._observing:
            self._was_running = bool(camera.running)
            camera.observe(self._on_value, names="value")
            camera.running = True
        else:
            self._thread = threading.Thread(target=self._grab, name="frame-grabber", daemon=True)
            self._thread.start()

    def _put(self, frame: Any) -> None:
        stamp = getattr(self.camera, "timestamp", None)
        with self._cond:
            self._seq += 1
            self._latest = (frame, self._seq, float(stamp) if stamp else time.monotonic())
            self.error = ""
            self._cond.notify_all()

    def _on_value(self, change: Any) -> None:
        self._put(change["new"])

    def _grab(self) -> None:
        while not self._closed:
            try:
                frame = self.camera.read()
            except Exception as e:  # noqa: BLE001 - reported to the loop (it stops the car); the grabber retries
                with self._cond:
                    self.error = describe_error(e)
                    self._cond.notify_all()
                time.sleep(self.period_s)
                continue
            if frame is not None:
                self._put(frame)

    def next(self, last_id: int, timeout_s: Optional[float] = None) -> Frame:
        """The newest frame, waiting up to ``timeout_s`` (default one period) for one newer than ``last_id``."""
        if self._observing:
            self._check_capture()
        with self._cond:
            if self._latest[1] == last_id or self._latest[0] is None:  # nothing new: wait, do not spin
                self._cond.wait(self.period_s if timeout_s is None else timeout_s)
            return self._latest

    def _check_capture(self) -> None:
        """Take the error of a capture thread that stopped, and restart it every ``retry_s``; take the status
        of a camera that reopens itself (its thread runs, its ``error`` says so) until its next frame."""
        camera = self.camera
        error = getattr(camera, "error", "")
        if camera.running and error:
            with self._cond:
                self.error = str(error)
        if camera.running or not error:
            return
        with self._cond:
            self.error = str(camera.error)
        now = time.monotonic()
        if now >= self._retry_at and not self._closed:
            self._retry_at = now + self.retry_s
            try:
                camera.running = True
            except Exception as e:  # noqa: BLE001 - e.g. released: keep reporting, keep the car stopped
                with self._cond:
                    self.error = describe_error(e)

    def close(self) -> None:
        self._closed = True
        if self._observing:
            self.camera.unobserve(self._on_value, names="value")
            if not self._was_running:
                self.camera.running = False
        elif self._thread is not None:
            self._thread.join(timeout=1.0)
