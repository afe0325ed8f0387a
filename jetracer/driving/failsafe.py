"""Failsafes that live outside the loop: signal handlers and the model self-check.

The per-frame failsafes (stale frame, stale command, lost heartbeat, model error) are in
:class:`jetracer.driving.loop.DriveLoop`; the e-stop latch and the command watchdog are in
:class:`jetracer.racecar.Racecar`.
"""
import logging
import math
import signal
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)


class SelfCheckError(RuntimeError):
    """The model is not fit to drive (NaN output, an exception, or the same output for every frame)."""


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


def _mirror(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame[:, ::-1])


def _brighter(frame: np.ndarray) -> np.ndarray:
    return np.clip(frame.astype(np.int16) + 40, 0, 255).astype(np.uint8)


def self_check(pilot: Callable[[np.ndarray], Tuple[float, float]], frames: Iterable[np.ndarray],
               min_spread: float = 1e-4) -> List[Tuple[float, float]]:
    """Run ``pilot`` on ``frames`` (plus a mirrored and a brighter copy of each); return the outputs.

    Raises :class:`SelfCheckError` when the pilot raises, returns NaN/inf, or returns the same ``x``
    (within ``min_spread``) for every image: a model that cannot see should not be allowed to drive.
    """
    images = []  # type: List[np.ndarray]
    for frame in frames:
        images += [frame, _mirror(frame), _brighter(frame)]
    if not images:
        raise SelfCheckError("self-check needs at least one camera frame; is the camera delivering?")
    outputs = []
    for i, image in enumerate(images):
        try:
            x, y = pilot(image)
        except Exception as e:  # noqa: BLE001 - any failure of the model means: do not drive
            raise SelfCheckError("the model raised %s: %s on self-check image %d; refusing to drive" % (type(e).__name__, e, i))
        if not (math.isfinite(x) and math.isfinite(y)):
            raise SelfCheckError("the model returned (%r, %r) on self-check image %d; refusing to drive. "
                                 "Retrain or re-export it (NaN weights or a broken TensorRT engine?)" % (x, y, i))
        outputs.append((float(x), float(y)))
    xs = [x for x, _ in outputs]
    if max(xs) - min(xs) < min_spread:
        raise SelfCheckError("the model returned x=%.4f for all %d self-check images (camera frames, mirrored, brighter); "
                             "a model whose output does not depend on the image cannot steer. Check the checkpoint "
                             "(untrained? wrong file?) and the camera (lens cap?)" % (xs[0], len(xs)))
    return outputs
