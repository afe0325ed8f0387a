"""A live camera view: an ``ipywidgets.Image`` that follows ``camera.value``, with an optional target.

Upstream notebooks ``dlink`` the camera to an Image through ``bgr8_to_jpeg``; this does the same and
can also draw a point (the pilot's prediction or a label) on each frame.
"""
import threading
import time
from typing import Any, Callable, Optional, Tuple

from .frames import GREEN, draw_target, to_jpeg

Target = Optional[Tuple[float, float]]


def image_widget(width_px: Optional[int] = None) -> Any:
    """An empty JPEG Image widget, shown ``width_px`` CSS pixels wide (None: natural size)."""
    import ipywidgets

    layout = ipywidgets.Layout(width="%dpx" % width_px) if width_px else ipywidgets.Layout()
    return ipywidgets.Image(format="jpeg", layout=layout)


class CameraView(object):
    """Shows frames in ``self.widget``; ``follow(camera)`` updates it on every new camera frame.

    ``target`` (normalised ``(x, y)`` or None) is drawn on every shown frame, and ``overlay`` (a
    function frame -> frame) is applied if set, so a drive loop can draw what it decided.
    ``frame`` is the last frame shown, undrawn: what the user saw when they clicked or pressed a key.
    """

    def __init__(self, width_px: Optional[int] = None, color: Tuple[int, int, int] = GREEN) -> None:
        self.widget = image_widget(width_px)
        self.color = color
        self.target = None  # type: Target
        self.overlay = None  # type: Optional[Callable[[Any], Any]]
        self.frame = None  # type: Any
        self.shown = 0
        self._camera = None  # type: Any
        self._lock = threading.Lock()

    def show(self, frame_bgr: Any, target: Target = None) -> None:
        """Show a frame (with ``target``, else ``self.target``, drawn on it)."""
        if frame_bgr is None:
            return
        target = target if target is not None else self.target
        drawn = frame_bgr
        if target is not None:
            drawn = draw_target(frame_bgr, target[0], target[1], self.color)
        if self.overlay is not None:
            drawn = self.overlay(drawn)
        data = to_jpeg(drawn)
        with self._lock:
            self.frame = frame_bgr
            self.widget.value = data
            self.shown += 1

    def wait_frame(self, timeout_s: float = 5.0) -> Any:
        """The frame on screen, waiting up to ``timeout_s`` for the first one; None if none came."""
        deadline = time.monotonic() + timeout_s
        while self.frame is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.frame

    def follow(self, camera: Any) -> "CameraView":
        """Show every new ``camera.value`` (and the current one now, if the camera captured one); returns self.

        A jetcam-like camera's ``value`` is a black frame before its first capture (``frame_id`` 0): that is
        not shown, so ``frame`` (what a click labels) is always a captured frame.
        """
        self.unfollow()
        self._camera = camera
        camera.observe(self._on_frame, names="value")
        if getattr(camera, "frame_id", 1):
            self.show(getattr(camera, "value", None))
        return self

    def unfollow(self) -> None:
        """Stop following the camera (the last frame stays on screen)."""
        if self._camera is not None:
            self._camera.unobserve(self._on_frame, names="value")
            self._camera = None

    def _on_frame(self, change: Any) -> None:
        self.show(change["new"])
