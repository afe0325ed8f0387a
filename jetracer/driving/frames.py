"""Where the drive loop gets its frames: the newest frame of a capture thread, or lockstep reads.

Both sources answer ``next(last_id) -> (frame, frame_id, stamp_s)``; the loop compares ``frame_id``
with the one it processed last, so a frame is never processed twice.
"""
import threading
import time
from typing import Any, Callable, Optional, Tuple

import numpy as np

Frame = Tuple[Optional[np.ndarray], int, float]


class LockstepFrames(object):
    """Each ``next()`` calls ``camera.read()`` (deterministic, for the simulator).

    A frame whose ``camera.frame_id`` did not change keeps the stamp of its first read, so a camera
    that stops delivering is seen as an ageing frame on the loop's ``clock``.
    """

    def __init__(self, camera: Any, clock: Callable[[], float]) -> None:
        self.camera = camera
        self.clock = clock
        self._count = 0
        self._last = (None, -1, float("-inf"))  # type: Frame

    def next(self, last_id: int, timeout_s: Optional[float] = None) -> Frame:
        frame = self.camera.read()
        frame_id = getattr(self.camera, "frame_id", None)
        if frame_id is None:
            self._count += 1
            frame_id = self._count
        if frame_id != self._last[1]:
            self._last = (frame, int(frame_id), self.clock())
        return self._last

    def close(self) -> None:
        pass


class ThreadedFrames(object):
    """The newest frame of a capture thread, waited for at most ``period_s``.

    A jetcam-like camera (a ``running`` trait) captures on its own thread and is observed; any other
    camera is read by a thread owned here (a frame grabber). Stamps are ``camera.timestamp`` if the
    camera has one, else ``time.monotonic()`` when the frame arrived.
    """

    def __init__(self, camera: Any, period_s: float) -> None:
        self.camera = camera
        self.period_s = float(period_s)
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
            self._cond.notify_all()

    def _on_value(self, change: Any) -> None:
        self._put(change["new"])

    def _grab(self) -> None:
        while not self._closed:
            try:
                frame = self.camera.read()
            except Exception:  # noqa: BLE001 - a failing camera shows up as an ageing frame
                time.sleep(self.period_s)
                continue
            if frame is not None:
                self._put(frame)

    def next(self, last_id: int, timeout_s: Optional[float] = None) -> Frame:
        """The newest frame, waiting up to ``timeout_s`` (default one period) for one newer than ``last_id``."""
        with self._cond:
            if self._latest[1] == last_id:
                self._cond.wait(self.period_s if timeout_s is None else timeout_s)
            return self._latest

    def close(self) -> None:
        self._closed = True
        if self._observing:
            self.camera.unobserve(self._on_value, names="value")
            if not self._was_running:
                self.camera.running = False
        elif self._thread is not None:
            self._thread.join(timeout=1.0)
