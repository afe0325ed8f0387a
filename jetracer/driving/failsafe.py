"""Failsafes that live outside the loop: signal handlers (SIGTERM/SIGINT, Ctrl-Z) and the model self-check.

The per-frame failsafes (stale frame, stale command, lost heartbeat, model error) are in
:class:`jetracer.driving.loop.DriveLoop`; the e-stop latch and the command watchdog are in
:class:`jetracer.racecar.Racecar`.
"""
import logging
import math
import os
import signal
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..config_schema import DRIVE
from ..pilot.limits import MAX_INPUT_SIDE, MAX_OUTPUTS, SelfCheckError, check_pilot_metadata  # noqa: F401 (also here)

logger = logging.getLogger(__name__)


def install_signal_handlers(car: Any, on_signal: Optional[Callable[[str], None]] = None,
                            signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT)) -> Callable[[], None]:
    """Make SIGTERM/SIGINT put the throttle at neutral at once, then let the program end cleanly.

    The handler latches ``car.estop()`` (so no later command of a loop still running can move the car)
    and calls ``on_signal(name)`` (e.g. ``loop.request_stop``). A second signal raises
    ``KeyboardInterrupt`` for a program that does not stop by itself. Returns a function that restores
    the previous handlers. Call it from the main thread (Python delivers signals there only).
    """
    previous = {}
    received = []  # type: List[str]

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        car.estop("%s received" % name)
        first = not received
        received.append(name)
        if on_signal is not None:
            on_signal(name)
        if not first:
            raise KeyboardInterrupt(name)

    for sig in signals:
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


CTRL_Z = "SIGTSTP received (Ctrl-Z): the car stays at neutral after fg until a person arms it"


def install_job_stop_handler(car: Any, on_stop: Optional[Callable[[str], None]] = None) -> Callable[[], None]:
    """Make Ctrl-Z (SIGTSTP) latch the e-stop (throttle at neutral now) before the process stops.

    SIGTSTP's default action freezes the process with the throttle where it was; the supervisor, in a
    session of its own, writes neutral once its timeout passes. This handler makes it immediate and
    makes the stop explicit: it latches ``car.estop()``, calls ``on_stop("SIGTSTP")``, then stops the
    process as the default action would (SIGTSTP re-raised with the default action, so the shell's
    ``fg`` resumes it; in an orphaned process group the kernel discards it and the process goes on,
    disarmed). After ``fg`` the car stays disarmed until a person arms it. A main thread busy in a long
    C call (a model) runs the handler when the call returns; the supervisor covers that time. Call it
    from the main thread; returns a function that restores the previous handler.
    """
    def handler(signum: int, frame: Any) -> None:
        car.estop(CTRL_Z)
        if on_stop is not None:
            on_stop("SIGTSTP")
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        try:
            os.kill(os.getpid(), signal.SIGTSTP)  # delivered before kill() returns: stopped here until SIGCONT
        finally:
            signal.signal(signal.SIGTSTP, handler)

    previous = signal.signal(signal.SIGTSTP, handler)

    def restore() -> None:
        signal.signal(signal.SIGTSTP, previous)

    return restore


def _mirror(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame[:, ::-1])


def _shifted(frame: np.ndarray, delta: int) -> np.ndarray:
    return np.clip(frame.astype(np.int16) + delta, 0, 255).astype(np.uint8)


VARIANTS = ("frame", "mirrored", "brighter", "darker")


def _variants(frame: np.ndarray) -> List[np.ndarray]:
    return [frame, _mirror(frame), _shifted(frame, 40), _shifted(frame, -40)]


def self_check(pilot: Callable[[np.ndarray], Tuple[float, float]], frames: Iterable[np.ndarray],
               min_spread: float = 1e-4, timeout_s: float = DRIVE["self_check_timeout_s"].default,
               mirror_tol: float = 0.005) -> List[Tuple[float, float]]:
    """Run ``pilot`` on ``frames`` and on a mirrored, a brighter and a darker copy of each; return the outputs.

    Raises :class:`SelfCheckError`, and the car never moves, when the model:

    * claims an impossible input size or output count (:func:`check_pilot_metadata`, before any call);
    * raises, returns NaN/inf, or takes longer than ``timeout_s`` (wall clock) for all the images;
    * returns the same ``x`` (within ``min_spread``) for every image: it does not look at the image;
    * ignores the road: a left-right mirror swaps a left turn and a right turn, so a road-following
      ``x`` must move under it. A model whose ``x`` moves by less than ``mirror_tol`` (normalised
      units; 0.005 is half a pixel at 224 px) on every mirrored frame steers by something a mirror
      keeps, such as how bright the image is (it may still move with brightness). Trained models
      move by 0.1-0.3 on the simulator's start frames; a brightness-only model by 0.
    """
    check_pilot_metadata(pilot)
    images = []  # type: List[np.ndarray]
    for frame in frames:
        images += _variants(frame)
    if not images:
        raise SelfCheckError("self-check needs at least one camera frame; is the camera delivering?")
    outputs = _run_with_deadline(pilot, images, timeout_s)
    xs = [x for x, _ in outputs]
    if max(xs) - min(xs) < min_spread:
        raise SelfCheckError("the model returned x=%.4f for all %d self-check images (camera frames, mirrored, brighter, "
                             "darker); a model whose output does not depend on the image cannot steer. Check the "
                             "checkpoint (untrained? wrong file?) and the camera (lens cap?)" % (xs[0], len(xs)))
    n = len(VARIANTS)
    groups = [xs[i:i + n] for i in range(0, len(xs), n)]
    mirror_move = max(abs(g[0] - g[1]) for g in groups)
    light_move = max(max(abs(g[0] - g[2]), abs(g[0] - g[3])) for g in groups)
    if mirror_move < max(min_spread, mirror_tol):
        raise SelfCheckError("the model's x does not move when the camera image is mirrored left-right (at most %.4f) "
                             "but moves by %.4f with brightness: it steers by something a mirror keeps (how bright the "
                             "image is?), not by where the road goes. Refusing to drive: check the checkpoint (trained "
                             "on this task? the right file?) and that the camera sees the track"
                             % (mirror_move, light_move))
    return outputs


_abandoned = []  # type: List[threading.Thread]


def abandoned_self_checks() -> int:
    """How many self-check workers are still running a model that missed its time limit.

    A process that refused such a model should end with ``os._exit`` (after stopping the car): the
    model's runtime (torch's thread pool) aborts the interpreter's normal shutdown while it computes.
    """
    return sum(1 for t in _abandoned if t.is_alive())


def _run_with_deadline(pilot: Callable[[np.ndarray], Tuple[float, float]], images: List[np.ndarray],
                       timeout_s: float) -> List[Tuple[float, float]]:
    """``pilot`` on every image on a worker thread, finished within ``timeout_s`` or refused.

    A model that hangs cannot be stopped from Python; the worker is a daemon thread, so the refusal
    still ends the program (the car is at neutral: the self-check runs before the loop drives).
    """
    result = {}  # type: Dict[str, Any]
    outputs = []  # type: List[Tuple[float, float]]

    def work() -> None:
        try:
            for i, image in enumerate(images):
                try:
                    x, y = pilot(image)
                except Exception as e:  # noqa: BLE001 - any failure of the model means: do not drive
                    result["error"] = SelfCheckError("the model raised %s: %s on self-check image %d (%s); refusing "
                                                     "to drive" % (type(e).__name__, e, i, VARIANTS[i % len(VARIANTS)]))
                    return
                if not (_finite(x) and _finite(y)):
                    result["error"] = SelfCheckError(
                        "the model returned (%r, %r) on self-check image %d (%s); refusing to drive. Retrain or "
                        "re-export it (NaN weights or a broken TensorRT engine?)" % (x, y, i, VARIANTS[i % len(VARIANTS)]))
                    return
                outputs.append((float(x), float(y)))
        except BaseException as e:  # noqa: BLE001 - reported on the caller's thread
            result["error"] = SelfCheckError("the self-check failed: %s: %s" % (type(e).__name__, e))

    started = time.monotonic()
    worker = threading.Thread(target=work, name="model-self-check", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        _abandoned.append(worker)
        raise SelfCheckError("the model answered %d of %d self-check images in %.0f s (the limit, "
                             "drive.self_check_timeout_s); refusing to drive a model that slow or hung. Check the "
                             "device (a GPU model on the CPU?) and the model's input size"
                             % (len(outputs), len(images), time.monotonic() - started))
    if "error" in result:
        raise result["error"]
    return outputs


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except TypeError:
        return False
