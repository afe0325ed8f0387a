"""A camera that reopens itself: :class:`RecoveringCamera` wraps a CSI, USB or replay camera.

Why: a CSI camera whose ``nvargus-daemon`` hangs (jetbot #1, #35, #114, #306; jetcam #32) or a USB
camera whose cable slips stops delivering frames, and before this the drive stayed stopped until the
service was restarted. The wrapper watches the frames; when none came for ``stall_s`` (a capture that
hangs in its driver) or the capture thread failed, it drops that camera and opens a new one: at once,
then with back-off (0.5, 1, 2, 4, 4... s between attempts), for as long as it runs (a person may fix
the cable; an attempt whose camera opens but gives no frame within ``stall_s`` has failed too).
While it reopens, ``error`` holds ``"no frame for 2.1 s, reopening (attempt 3)"`` with ``running``
still True (the drive loop stops the car with it: ``camera: no frame ...``); after
``advise_after_attempts`` attempts or ``advise_after_s`` the line ends with the fix for the source
(:data:`FIXES`: ``sudo systemctl restart nvargus-daemon`` for CSI, the cable and port for USB), logged once.
The first frame of a reopened camera clears ``error`` and adds one to ``recoveries`` *before* it is
published, so an observer of ``value`` (the drive loop) knows a new frame comes from a reopened camera.

A camera that does not open at the start is not retried: building the wrapper raises the camera's own
error (for CSI it names ``camera.sensor_id`` and the daemon), so ``jetracer drive`` fails at start with
that line. A replay that ends (``EndOfStream``) ends the wrapper as well: an ended recording is no failure.
Opening and releasing happen on threads of their own, so a driver that hangs in either cannot stop the
watch: one open at a time is in flight, and the status line keeps its attempt number until it returns.
"""
import logging
import threading
import time
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np
import traitlets

from .base import Camera, CameraError

logger = logging.getLogger(__name__)

STALL_S = 1.0  # no frame for this long: the capture hangs (a CSI camera gives one every 33 ms)
BACKOFF_S = (0.5, 1.0, 2.0, 4.0)  # wait after failed attempt 1, 2, 3, 4 and more (the last is the cap)
ADVISE_AFTER_ATTEMPTS = 5
ADVISE_AFTER_S = 30.0
TICK_S = 0.05
RECOVERED_SOURCES = ("csi", "usb", "replay")
FIXES = {
    "csi": "run `sudo systemctl restart nvargus-daemon` (the CSI camera's daemon hangs), then check the ribbon cable",
    "usb": "check the USB camera's cable and port (plug it in again or into another port; `dmesg | tail` says what "
           "the kernel saw)",
    "replay": "check that the recording camera.path names is still there and readable",
}
SHORT_FIXES = {"csi": "fix: restart nvargus", "usb": "fix: USB cable/port", "replay": "fix: camera.path"}  # the OLED's


class Recovery(object):
    """When to reopen a camera that stopped delivering and what to say about it: no threads, times given.

    Fed by :class:`RecoveringCamera` (and tests, with an injected clock): :meth:`started` and
    :meth:`frame` while frames come, :meth:`stalled` to ask, :meth:`failed` when the camera (or an
    attempt) failed, :meth:`due` / :meth:`start_attempt` / :meth:`opened` for each reopening.
    ``message`` is the status line while reopening ("" while frames come).
    """

    def __init__(self, source: str, stall_s: float = STALL_S, backoff_s: Sequence[float] = BACKOFF_S,
                 advise_after_attempts: int = ADVISE_AFTER_ATTEMPTS, advise_after_s: float = ADVISE_AFTER_S) -> None:
        self.source = source
        self.fix = FIXES.get(source, "")
        self.stall_s = float(stall_s)
        self.backoff_s = tuple(float(s) for s in backoff_s)
        self.advise_after_attempts = int(advise_after_attempts)
        self.advise_after_s = float(advise_after_s)
        self.last_frame_s = None  # type: Optional[float]
        self.since_s = None  # type: Optional[float]
        self.deadline_s = None  # type: Optional[float]
        self.next_try_s = float("inf")
        self.attempt = 0
        self.cause = ""  # why the frames stopped
        self.last_error = ""  # why the latest attempt failed
        self.advised = False
        self.recoveries = 0
        self.last_recovery = ""
        self.last_recovery_s = 0.0
        self.last_recovery_time = 0.0
        self._said_s = 0.0

    @property
    def reopening(self) -> bool:
        """True from a failure until a frame comes again."""
        return self.since_s is not None

    def started(self, now: float) -> None:
        """A camera began delivering (its capture thread started): it has ``stall_s`` for a frame."""
        if not self.reopening:
            self.deadline_s = now + self.stall_s

    def frame(self, now: float) -> str:
        """A frame came at ``now``; ``"recovered after 4.2 s (2 reopens)"`` when it ends a failure, else ""."""
        self.last_frame_s = now
        self.deadline_s = now + self.stall_s
        if not self.reopening:
            return ""
        self.last_recovery_s = now - self.since_s
        self.last_recovery = "recovered after %.1f s (%d reopen%s)" % (self.last_recovery_s, self.attempt,
                                                                        "" if self.attempt == 1 else "s")
        self.last_recovery_time = time.time()
        self.recoveries += 1
        self.since_s, self.attempt, self.advised, self.cause, self.last_error = None, 0, False, "", ""
        self.next_try_s = float("inf")
        return self.last_recovery

    def stalled(self, now: float) -> bool:
        """True when the open camera owes a frame: none for ``stall_s`` since the last one or since it opened."""
        return self.deadline_s is not None and now > self.deadline_s

    def failed(self, now: float, cause: str) -> None:
        """The camera stopped delivering (``cause``): reopen now, or, when an attempt failed, after its back-off."""
        self.deadline_s = None
        if not self.reopening:
            self.since_s = self.last_frame_s if self.last_frame_s is not None else now
            self.attempt = 0
            self.next_try_s = now
            self.cause, self.last_error = cause, ""
        else:
            self.last_error = cause
            self.next_try_s = now + self.backoff_s[min(self.attempt, len(self.backoff_s)) - 1]

    def due(self, now: float) -> bool:
        """True when the next reopening attempt should start."""
        return self.reopening and now >= self.next_try_s

    def start_attempt(self, now: float) -> int:
        """Number the attempt starting now (it is judged by :meth:`opened`/:meth:`failed`); returns it."""
        self.attempt += 1
        self.next_try_s = float("inf")
        self._said_s = now - self.since_s
        self.advise(now)
        return self.attempt

    def opened(self, now: float) -> None:
        """The attempt's camera opened: it has ``stall_s`` to deliver its first frame."""
        self.deadline_s = now + self.stall_s

    def advise(self, now: float) -> bool:
        """True once (the time to log the fix): after ``advise_after_attempts`` attempts or ``advise_after_s``."""
        if self.advised or not self.reopening:
            return False
        if self.attempt >= self.advise_after_attempts or now - self.since_s >= self.advise_after_s:
            self.advised = True
            self._said_s = now - self.since_s
            return True
        return False

    @property
    def message(self) -> str:
        """``"no frame for 2.1 s, reopening (attempt 3)"`` (with ``"; fix: ..."`` once advised); "" while delivering."""
        if not self.reopening:
            return ""
        text = "no frame for %.1f s, reopening (attempt %d)" % (self._said_s, max(1, self.attempt))
        if self.advised and self.fix:
            text += "; fix: %s" % self.fix
        return text

    def report(self, now: float) -> Dict[str, Any]:
        """The camera's part of the drive's published state (the OLED and ``jetracer doctor`` read it)."""
        out = {"source": self.source, "status": "reopening" if self.reopening else "ok", "message": self.message,
               "fix": self.fix, "short_fix": SHORT_FIXES.get(self.source, ""), "advised": self.advised,
               "recoveries": self.recoveries}  # type: Dict[str, Any]
        if self.reopening:
            out.update(attempt=max(1, self.attempt), cause=self.cause, last_error=self.last_error,
                       no_frame_s=round(now - self.since_s, 1))
        if self.last_recovery:
            out.update(last_recovery=self.last_recovery, last_recovery_s=round(self.last_recovery_s, 1),
                       last_recovery_time=self.last_recovery_time)
        return out


def _retire(camera: Any) -> None:
    """Stop and release a camera that stopped delivering, on a thread of its own (its driver may hang)."""
    def work() -> None:
        try:
            camera.release()
        except Exception:  # noqa: BLE001 - a camera that fails to close is already replaced
            logger.debug("releasing the old camera failed", exc_info=True)

    threading.Thread(target=work, name="camera-retire", daemon=True).start()


class RecoveringCamera(Camera):
    """A camera that reopens itself (module docstring): ``open_camera()`` builds each camera, ``source``
    (csi, usb, replay) names its fix.

    ``recovery`` (a :class:`Recovery`) holds the schedule and the status; ``recoveries`` (a trait) counts the
    failures it recovered from; ``recovered_message`` says the last one ("recovered after 4.2 s (2 reopens)").
    """

    recoveries = traitlets.Integer(default_value=0)

    def __init__(self, open_camera: Callable[[], Camera], source: str, recovery: Optional[Recovery] = None,
                 clock: Callable[[], float] = time.monotonic, tick_s: float = TICK_S) -> None:
        inner = open_camera()  # a camera that never opened fails here, with its own line
        super(RecoveringCamera, self).__init__(width=int(inner.width), height=int(inner.height))
        self.kind = source
        self.recovery = recovery or Recovery(source)
        self.clock = clock
        self.tick_s = float(tick_s)
        self.recovered_message = ""
        self._open_camera = open_camera
        self._lock = threading.Lock()
        self._inner = inner  # type: Optional[Camera]
        self._observer = None  # type: Optional[Callable[[Any], None]]
        self._pending = None  # type: Optional[threading.Thread]
        self._opened = {}  # type: Dict[str, Any]
        self._closing = False

    @property
    def inner(self) -> Optional[Camera]:
        """The camera delivering now (None while a new one is being opened)."""
        return self._inner

    def health(self) -> Dict[str, Any]:
        """The camera's status for the drive's state file (:meth:`Recovery.report`)."""
        return self.recovery.report(self.clock())

    # -- one frame on the caller's thread ----------------------------------------------------------

    def _read(self) -> np.ndarray:
        inner = self._inner
        if inner is None:
            raise CameraError(self.error or "the camera is being reopened")
        frame = inner.read()
        self.recovery.frame(self.clock())
        return frame

    # -- the capture thread: watch the inner camera, reopen it ---------------------------------------

    def _capture_loop(self) -> None:
        with self._lock:
            inner = self._inner
        if inner is not None:
            self._attach(inner)
        self.recovery.started(self.clock())
        ended = False
        while not ended and not self._stop.wait(self.tick_s):
            try:
                ended = self.tick()
            except Exception:  # noqa: BLE001 - the watch must go on; the car stays stopped by the stale frames
                logger.exception("camera recovery step failed")
        self._detach()
        if not self._stop.is_set():
            self.running = False

    def tick(self) -> bool:
        """One look (every ``tick_s``): judge the camera, start a reopening that is due; True: the source ended."""
        now = self.clock()
        recovery = self.recovery
        if self._pending is not None:
            if self._pending.is_alive():
                self._say(recovery.advise(now))
                return False
            self._take_opened(now)
        with self._lock:  # judged and dropped as one step: a frame arriving meanwhile cannot end this failure
            inner = self._inner
            if inner is not None and getattr(inner, "ended", False):
                self.error = inner.error
                return True
            cause = self._trouble(inner, now)
            if cause:
                if not recovery.reopening:
                    logger.warning("camera stopped delivering frames (%s): reopening it with back-off", cause)
                recovery.failed(now, cause)
                self._inner, observer, self._observer = None, self._observer, None
        if cause and inner is not None:
            self._drop(inner, observer)
        if recovery.due(now) and not self._closing:
            attempt = recovery.start_attempt(now)
            logger.info("camera: reopening, attempt %d", attempt)
            self._open_async()
        self._say(recovery.advise(now))
        return False

    def _trouble(self, inner: Optional[Camera], now: float) -> str:
        """Why ``inner`` is failing ("" when it is fine, or while no camera is open: a reopening is under way)."""
        if inner is None:
            return "" if self.recovery.reopening else "no camera open"
        if not inner.running:
            return inner.error or "its capture thread stopped"
        if self.recovery.stalled(now):
            last = self.recovery.last_frame_s
            return "no frame for %.1f s" % (now - last) if last is not None and not self.recovery.reopening else \
                "opened, but no frame for %.1f s" % self.recovery.stall_s
        return ""

    def _say(self, advised_now: bool) -> None:
        message = self.recovery.message
        if advised_now:
            logger.error("camera: %s", message)
        if message and self.error != message:
            self.error = message

    def _attach(self, inner: Camera) -> None:
        def on_value(change: Any) -> None:
            self._on_frame(inner, change["new"])

        self._observer = on_value
        inner.observe(on_value, names="value")
        inner.running = True

    def _detach(self) -> None:
        with self._lock:
            inner, observer, self._observer = self._inner, self._observer, None
        if inner is not None and observer is not None:
            inner.unobserve(observer, names="value")
            inner.running = False

    @staticmethod
    def _drop(inner: Camera, observer: Optional[Callable[[Any], None]]) -> None:
        if observer is not None:
            inner.unobserve(observer, names="value")
        _retire(inner)

    def _open_async(self) -> None:
        box = {}  # type: Dict[str, Any]

        def work() -> None:
            try:
                box["camera"] = self._open_camera()
            except Exception as e:  # noqa: BLE001 - a failed attempt, reported by the next tick
                box["error"] = e
                return
            if self._closing:  # released while this open hung: nobody will take it
                box.pop("camera").release()

        self._opened = box
        self._pending = threading.Thread(target=work, name="camera-reopen", daemon=True)
        self._pending.start()

    def _take_opened(self, now: float) -> None:
        box, self._pending = self._opened, None
        camera = box.get("camera")
        if camera is None:
            error = box.get("error")
            cause = "reopening failed: %s" % (str(error) if isinstance(error, CameraError) and str(error) else
                                              "%s: %s" % (type(error).__name__, error))
            logger.info("camera: %s", cause)
            self.recovery.failed(now, cause)
            return
        if self._closing:
            _retire(camera)
            return
        with self._lock:
            self._inner = camera
            self.recovery.opened(now)
        self._attach(camera)

    def _on_frame(self, inner: Camera, frame: Any) -> None:
        """A frame of ``inner``: a stale camera's is dropped; the first after a failure ends it before it is shown."""
        with self._lock:
            if inner is not self._inner:
                return
            recovered = self.recovery.frame(self.clock())
        if recovered:
            self.recovered_message = recovered
            logger.warning("camera %s", recovered)
            self.error = ""
            self.recoveries = self.recoveries + 1
        stamp = getattr(inner, "timestamp", 0.0)
        self.timestamp = float(stamp) if stamp else time.monotonic()
        self.frame_id = self.frame_id + 1
        self.value = frame

    def _release(self) -> None:
        self._closing = True
        with self._lock:
            inner, self._inner = self._inner, None
        if inner is not None:
            inner.release()
        camera = self._opened.pop("camera", None) if self._pending is not None else None
        if camera is not None:
            camera.release()


def recovering_camera(config: Any = None, **overrides: Any) -> Camera:
    """The configured camera (:func:`jetracer.camera.create_camera`), as a :class:`RecoveringCamera` for the
    sources that can stop delivering (:data:`RECOVERED_SOURCES`: csi, usb, replay); sim as it is."""
    from ..config import load_config
    from .factory import create_camera

    if config is None:
        config = load_config()
    first = create_camera(config, **overrides)
    source = str(overrides.get("source") or config.camera.source)
    if source not in RECOVERED_SOURCES:
        return first
    opened = [first]

    def open_camera() -> Camera:
        return opened.pop() if opened else create_camera(config, **overrides)

    return RecoveringCamera(open_camera, source)
