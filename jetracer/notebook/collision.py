"""Upstream JetBot's collision data collection on the live camera: "add blocked" and "add free", with counts.

Put the car where something is in its way (a box, a shoe, a wall a short way ahead) and press **add
blocked**; where the way ahead is clear, **add free**. Each press saves the frame on screen (the one the
person saw, not a newer one) in JetBot's layout, ``<root>/blocked/<uuid>.jpg`` and ``<root>/free/<uuid>.jpg``
(:class:`jetracer.dataset.ObstacleWriter`), which upstream's training and ``jetracer train`` both read. The
counts under the buttons are the folders' JPEG files, so a dataset grown over several sessions shows whole.
"""
from typing import Any, Callable, Dict, Optional

from .camera_view import CameraView
from .click_label import count_images

LABELS = ("blocked", "free")  # JetBot's folders; ImageFolder sorts them, so blocked is class 0


class CollisionCollector(object):
    """Live view + two buttons + counts. ``widget`` is what to display; ``add(blocked)`` does what a button does.

    ``save(frame, blocked) -> path`` defaults to :class:`jetracer.dataset.ObstacleWriter` ``(root).save``.
    """

    def __init__(self, root: str, width_px: Optional[int] = None,
                 save: Optional[Callable[[Any, bool], str]] = None) -> None:
        import ipywidgets

        self.root = root
        self.view = CameraView(width_px=width_px)
        self._save = save
        self._writer = None  # type: Any
        layout = ipywidgets.Layout(width="128px", height="64px")
        self.buttons = {
            "free": ipywidgets.Button(description="add free", button_style="success", layout=layout),
            "blocked": ipywidgets.Button(description="add blocked", button_style="danger", layout=layout),
        }
        self.counts = dict((label, ipywidgets.IntText(layout=layout, disabled=True)) for label in LABELS)
        self.buttons["free"].on_click(lambda _: self.add(False))
        self.buttons["blocked"].on_click(lambda _: self.add(True))
        self.status = ipywidgets.HTML()
        self.widget = ipywidgets.VBox([
            self.view.widget,
            ipywidgets.HBox([self.counts["free"], self.buttons["free"]]),
            ipywidgets.HBox([self.counts["blocked"], self.buttons["blocked"]]),
            self.status,
        ])
        self.update_counts()

    def follow(self, camera: Any) -> "CollisionCollector":
        """Show the camera live; returns self."""
        self.view.follow(camera)
        return self

    def unfollow(self) -> None:
        self.view.unfollow()

    def add(self, blocked: bool) -> str:
        """Save the frame on screen as blocked (True) or free (False); returns its path."""
        frame = self.view.wait_frame()
        if frame is None:
            raise RuntimeError("no camera frame on screen yet: run the camera cell first (camera.running = True)")
        path = self._save_frame(frame, bool(blocked))
        self.update_counts()
        self.status.value = "saved %s" % path
        return path

    def update_counts(self) -> Dict[str, int]:
        """Refresh the counts beside the buttons from the folders; returns them."""
        counts = count_images(self.root, LABELS)
        for label, n in counts.items():
            self.counts[label].value = n
        return counts

    def _save_frame(self, frame: Any, blocked: bool) -> str:
        if self._save is not None:
            return self._save(frame, blocked)
        if self._writer is None:
            from ..dataset import ObstacleWriter

            self._writer = ObstacleWriter(self.root)
        return self._writer.save(frame, blocked)
