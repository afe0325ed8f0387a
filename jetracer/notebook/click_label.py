"""Click-to-label: click on the live camera image where the car should head; the frame is saved
with the clicked pixel in its file name (``<u>_<v>_<uuid>.jpg``, upstream's dataset layout).

Built on ``ipyevents`` over a plain ``ipywidgets.Image`` (``jupyter_clickable_image_widget`` is not on
PyPI and broke with ipywidgets 8). The frame saved is the one on screen when the click happened,
not a newer one, so the label matches what the user saw.
"""
import math
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .camera_view import CameraView, image_widget
from .frames import RED, draw_point, to_jpeg


def event_pixel(event: Dict[str, Any], width: int, height: int) -> Tuple[int, int]:
    """The image pixel ``(u, v)`` of an ipyevents mouse event on a ``width`` x ``height`` Image widget.

    The click's CSS position relative to the widget, scaled by image size / shown size, is used when
    the event has it: ipyevents' own ``dataX``/``dataY`` scale by the ``<img>``'s natural size read at
    click time, which is 0 while the live view decodes its next frame, so a click then reads (0, 0)
    (seen in a real browser). ``dataX``/``dataY`` serve only events without the CSS position.
    The result is clamped into the image.
    """
    shown_w, shown_h = float(event.get("boundingRectWidth") or 0), float(event.get("boundingRectHeight") or 0)
    if "relativeX" in event and "relativeY" in event and shown_w > 0 and shown_h > 0:
        # whole CSS pixels, rounded half up: what ipyevents computes when the natural size is there
        u = math.floor(int(float(event["relativeX"])) * width / shown_w + 0.5)
        v = math.floor(int(float(event["relativeY"])) * height / shown_h + 0.5)
    elif "dataX" in event and "dataY" in event:
        u, v = int(round(float(event["dataX"]))), int(round(float(event["dataY"])))
    else:
        raise ValueError("a click event without a position (no relativeX/boundingRectWidth nor dataX): %s"
                         % sorted(event))
    return min(max(int(u), 0), width - 1), min(max(int(v), 0), height - 1)


def count_images(root: str, categories: Sequence[str]) -> Dict[str, int]:
    """How many ``.jpg`` files each category folder under ``root`` holds (0 if it does not exist)."""
    counts = {}
    for category in categories:
        folder = os.path.join(root, category)
        counts[category] = len([n for n in os.listdir(folder) if n.endswith(".jpg")]) if os.path.isdir(folder) else 0
    return counts


class ClickToLabel(object):
    """Live view + click-to-save + the last snapshot with its label drawn + counts per category.

    ``root`` is the dataset folder (``<root>/<category>/<u>_<v>_<uuid>.jpg``); ``save`` defaults to
    ``jetracer.dataset.DatasetWriter(root, category).save``. ``widget`` is what to display.
    ``click(u, v)`` labels the frame on screen programmatically (the same path a mouse click takes).
    """

    def __init__(self, root: str, categories: Sequence[str] = ("apex",), width_px: Optional[int] = None,
                 save: Optional[Callable[[Any, int, int, str], str]] = None) -> None:
        import ipyevents
        import ipywidgets

        self.root = root
        self.categories = list(categories)
        self.view = CameraView(width_px=width_px)
        self.view.widget.add_class("jetracer-click-to-label")
        self.snapshot = image_widget(width_px)
        self.category = ipywidgets.Dropdown(options=self.categories, value=self.categories[0], description="category")
        self.status = ipywidgets.HTML()
        self.saved = []  # type: List[str]
        self._save = save
        self._writers = {}  # type: Dict[str, Any]
        self.event = ipyevents.Event(source=self.view.widget, watched_events=["click"], prevent_default_action=True)
        self.event.on_dom_event(self._on_event)
        self.widget = ipywidgets.VBox([
            ipywidgets.HBox([self.view.widget, self.snapshot]),
            ipywidgets.HBox([self.category, self.status]),
        ])
        self.update_counts()

    def follow(self, camera: Any) -> "ClickToLabel":
        """Show the camera live; returns self."""
        self.view.follow(camera)
        return self

    def unfollow(self) -> None:
        self.view.unfollow()

    def click(self, u: int, v: int) -> str:
        """Save the frame on screen labelled with pixel ``(u, v)``; show it with the point; return its path."""
        frame = self.view.wait_frame()
        if frame is None:
            raise RuntimeError("no camera frame on screen yet: run the camera cell first (camera.running = True)")
        h, w = frame.shape[:2]
        if not (0 <= u < w and 0 <= v < h):
            raise ValueError("label (%d, %d) is outside the %dx%d image" % (u, v, w, h))
        path = self._save_frame(frame, int(u), int(v), self.category.value)
        self.saved.append(path)
        self.snapshot.value = to_jpeg(draw_point(frame, u, v, RED))
        self.update_counts()
        return path

    def update_counts(self) -> Dict[str, int]:
        """Refresh the per-category counts shown under the images; returns them."""
        counts = count_images(self.root, self.categories)
        self.status.value = " &nbsp; ".join("<b>%s</b>: %d" % (c, n) for c, n in counts.items())
        return counts

    def _on_event(self, event: Dict[str, Any]) -> None:
        frame = self.view.frame
        if event.get("type") != "click" or frame is None:
            return
        h, w = frame.shape[:2]
        u, v = event_pixel(event, w, h)
        self.click(u, v)

    def _save_frame(self, frame: Any, u: int, v: int, category: str) -> str:
        if self._save is not None:
            return self._save(frame, u, v, category)
        if category not in self._writers:
            from ..dataset import DatasetWriter

            self._writers[category] = DatasetWriter(self.root, category)
        return self._writers[category].save(frame, u, v)

