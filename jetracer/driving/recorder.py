"""Recording while driving: save frames labelled with the steering target, off the drive loop's thread.

:meth:`Recorder.record` only puts the frame in a bounded queue (never blocks); a background thread
writes it with :class:`jetracer.dataset.DatasetWriter` (atomic files, upstream layout
``<root>/<category>/<u>_<v>_<uuid>.jpg``). When the writer falls behind, frames are dropped and
counted, so recording never slows the car.
"""
import logging
import queue
import threading
from typing import Any, Optional

from ..pixels import pixel_label, to_pixel

logger = logging.getLogger(__name__)


class Recorder(object):
    """Save ``(frame, x, y)`` through ``writer.save(frame_bgr, u, v)`` on a thread; ``maxsize`` frames queued.

    ``writer`` defaults to ``DatasetWriter(root, category)``. ``saved``/``dropped`` count outcomes;
    :meth:`close` writes what is queued and stops the thread.
    """

    def __init__(self, root: Optional[str] = None, category: str = "apex", writer: Any = None, maxsize: int = 8) -> None:
        if writer is None:
            if root is None:
                raise ValueError("Recorder needs a dataset root (drive.record_root) or a writer")
            from ..dataset import DatasetWriter

            writer = DatasetWriter(root, category)
        self.writer = writer
        self.saved = 0
        self.dropped = 0
        self.failed = 0
        self._queue = queue.Queue(maxsize=maxsize)  # type: queue.Queue
        self._thread = threading.Thread(target=self._work, name="recorder", daemon=True)
        self._thread.start()

    def record(self, frame: Any, x: float, y: float) -> bool:
        """Queue ``frame`` labelled with target ``(x, y)``; False (and counted) if the queue is full."""
        try:
            self._queue.put_nowait((frame.copy(), x, y))
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            frame, x, y = item
            u, v = pixel_label(*to_pixel(x, y, frame.shape[1], frame.shape[0]), width=frame.shape[1], height=frame.shape[0])
            try:
                self.writer.save(frame, u, v)
                self.saved += 1
            except Exception:  # noqa: BLE001 - a full disk must not stop the car; it is logged and counted
                self.failed += 1
                logger.exception("could not save a recorded frame")

    def close(self, timeout_s: float = 5.0) -> None:
        """Write the queued frames, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=timeout_s)
