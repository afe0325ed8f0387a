"""The jetcam-like camera every source implements: a ``value`` trait kept fresh by a capture thread.

``read()`` captures one frame on the caller's thread; ``running = True`` starts a thread that keeps
``value`` fresh (paced at ``fps`` when the source itself does not block, e.g. a replay or the
real-time simulator), ``running = False`` stops it. Each new frame sets ``timestamp``
(``time.monotonic()`` of its capture) and ``frame_id`` (+1) before ``value``, so an observer of
``value`` sees matching stamps. A capture thread that fails stops, sets ``running`` False and puts
the reason in ``error``: a camera that stops delivering is visible, not silent (a replay that ended also
sets ``ended``). A camera that reopens itself (:class:`jetracer.camera.recovering.RecoveringCamera`) keeps
``running`` True and says in ``error`` what it is doing until frames come again.

As jetcam's cameras, ``value`` starts as a black ``height`` x ``width`` x 3 uint8 frame (never None), so
code written for jetcam (``traitlets.dlink`` of ``value`` through ``bgr8_to_jpeg``, a callback called
once with ``camera.value``) runs before the first capture; ``frame_id`` 0 says no frame came yet.
"""
import threading
import time
from typing import Any, Optional

import numpy as np
import traitlets

from ..config_schema import FLIPS
from ..errors import Failure

CV2_FLIP_CODES = {"rotate-180": -1, "horizontal": 1, "vertical": 0}
FALLBACK_MARK = "JETRACER_FALLBACK"  # set by jetracer's stand-ins for jetcam and the click widget (jetracer.compat)


def is_fallback(module: Any) -> bool:
    """True for jetracer's stand-in of a package (not the real one)."""
    return bool(getattr(module, FALLBACK_MARK, False))


class CameraError(Failure):
    """A camera could not be opened or read; the message says what to check."""


class EndOfStream(CameraError, EOFError):
    """A replay without ``loop`` has no more frames."""


def check_flip(flip: str) -> str:
    """Return ``flip`` if it is one of :data:`FLIPS`, else raise ``CameraError`` listing them."""
    if flip not in FLIPS:
        raise CameraError("camera flip must be one of %s, found %r" % (", ".join(FLIPS), flip))
    return flip


def flip_frame(frame: np.ndarray, flip: str) -> np.ndarray:
    """``frame`` flipped as the profile's ``camera.flip`` says (none | rotate-180 | horizontal | vertical)."""
    if check_flip(flip) == "none":
        return frame
    import cv2
    return cv2.flip(frame, CV2_FLIP_CODES[flip])


class Camera(traitlets.HasTraits):
    """Base of all cameras. Subclasses implement ``_read() -> BGR frame`` and optionally ``_release()``."""

    value = traitlets.Any(allow_none=True)
    width = traitlets.Integer(default_value=224)
    height = traitlets.Integer(default_value=224)
    running = traitlets.Bool(default_value=False)
    timestamp = traitlets.Float(default_value=0.0)
    frame_id = traitlets.Integer(default_value=0)
    fps = traitlets.Float(default_value=0.0)  # capture-thread pace; 0 = as fast as _read returns
    error = traitlets.Unicode(default_value="")

    def __init__(self, **kwargs: Any) -> None:
        super(Camera, self).__init__(**kwargs)
        self.value = np.zeros((self.height, self.width, 3), np.uint8)  # as jetcam: a frame before the first one
        self._thread = None  # type: Optional[threading.Thread]
        self._stop = threading.Event()
        self._released = False
        self.ended = False  # a replay without ``loop`` ran out: no failure, nothing to reopen

    def _read(self) -> np.ndarray:
        raise NotImplementedError

    def _release(self) -> None:
        pass

    def read(self) -> np.ndarray:
        """Capture a new frame now, publish it as ``value`` and return it.

        Raises ``CameraError`` while the capture thread runs (read ``value`` instead) and when the
        source fails; ``EndOfStream`` when a non-looping replay is exhausted.
        """
        if self.running:
            raise CameraError("the camera is running its capture thread: use camera.value, "
                              "or set camera.running = False before calling read()")
        return self._capture()

    def _capture(self) -> np.ndarray:
        if self._released:
            raise CameraError("the camera was released; create a new one")
        frame = self._read()
        self.timestamp = time.monotonic()
        self.frame_id = self.frame_id + 1
        self.value = frame
        return frame

    def age_s(self) -> float:
        """Seconds since the current ``value`` was captured (inf before the first frame)."""
        return time.monotonic() - self.timestamp if self.frame_id else float("inf")

    @traitlets.observe("running")
    def _on_running(self, change: Any) -> None:
        if change["new"] and not change["old"]:
            if self._released:
                self.running = False
                raise CameraError("the camera was released; create a new one")
            self.error = ""
            self.ended = False
            self._stop.clear()
            self._thread = threading.Thread(target=self._capture_loop, name="camera-capture", daemon=True)
            self._thread.start()
        elif change["old"] and not change["new"]:
            self._stop.set()
            thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5.0)
            self._thread = None

    def _capture_loop(self) -> None:
        period = 1.0 / self.fps if self.fps > 0 else 0.0
        due = time.monotonic()
        while not self._stop.is_set():
            try:
                self._capture()
            except EndOfStream as e:
                self.error = str(e)
                self.ended = True
                break
            except CameraError as e:
                self.error = str(e) or type(e).__name__
                break
            except Exception as e:  # noqa: BLE001 - the thread must report, not die silently
                self.error = "%s: %s" % (type(e).__name__, e)
                break
            if period:
                due += period
                now = time.monotonic()
                if due < now - period:
                    due = now  # fell behind: do not burst to catch up
                self._stop.wait(max(0.0, due - now))
        if not self._stop.is_set():
            self.running = False

    def release(self) -> None:
        """Stop the capture thread and free the device (or file); the camera cannot be used after."""
        self.running = False
        if not self._released:
            self._released = True
            self._release()

    def __enter__(self) -> "Camera":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
