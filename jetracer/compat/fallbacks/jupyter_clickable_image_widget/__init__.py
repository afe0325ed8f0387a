"""jetracer's stand-in for ``jupyter_clickable_image_widget`` (not on PyPI; broken by ipywidgets 8).

``ClickableImageWidget`` is an ``ipywidgets.Image`` whose clicks (through ipyevents) reach the
callbacks registered with ``on_msg`` as upstream's widget sent them: ``callback(widget, content,
buffers)`` with ``content = {'event': 'click', 'eventData': {'offsetX': u, 'offsetY': v, ...}}`` and
``(u, v)`` the clicked pixel of the image (whatever size it is shown at). Works with ipywidgets 7
and 8. The real package, once installed, is imported instead of this.
"""
from typing import Any, Dict, List, Optional

import ipywidgets

JETRACER_FALLBACK = True
__version__ = "0.1.0+jetracer"

_KEYS = ("altKey", "ctrlKey", "metaKey", "shiftKey", "button", "clientX", "clientY", "pageX", "pageY",
         "screenX", "screenY")


class ClickableImageWidget(ipywidgets.Image):
    """An image that reports clicks (see the module docstring); ``click(u, v)`` delivers one from Python."""

    def __init__(self, **kwargs: Any) -> None:
        import ipyevents
        kwargs.setdefault("format", "jpeg")
        super(ClickableImageWidget, self).__init__(**kwargs)
        self._click_callbacks = ipywidgets.CallbackDispatcher()
        self._events = ipyevents.Event(source=self, watched_events=["click"], prevent_default_action=True)
        self._events.on_dom_event(self._on_dom_event)

    def on_msg(self, callback: Any, remove: bool = False) -> None:
        """Register (or with ``remove``, unregister) ``callback(widget, content, buffers)`` for clicks."""
        self._click_callbacks.register_callback(callback, remove=remove)
        super(ClickableImageWidget, self).on_msg(callback, remove=remove)

    def click(self, u: int, v: int, **event: Any) -> None:
        """Deliver a click at image pixel ``(u, v)`` to the callbacks, as a mouse click does."""
        data = dict(event, offsetX=int(u), offsetY=int(v), type="click")
        self._click_callbacks(self, {"event": "click", "eventData": data}, [])

    def image_size(self) -> Optional[List[int]]:
        """``[width, height]`` in pixels of the image shown (from the JPEG/PNG bytes), None when empty."""
        if not self.value:
            return None
        import io
        from PIL import Image
        try:
            with Image.open(io.BytesIO(bytes(self.value))) as img:
                return [int(img.size[0]), int(img.size[1])]
        except Exception:  # noqa: BLE001 - an unreadable image has no size to scale clicks by
            return None

    def _on_dom_event(self, event: Dict[str, Any]) -> None:
        from jetracer.notebook.click_label import event_pixel
        if event.get("type") != "click":
            return
        size = self.image_size()
        if size is None:
            return
        u, v = event_pixel(event, size[0], size[1])
        self.click(u, v, **{k: event[k] for k in _KEYS if k in event})


__all__ = ["ClickableImageWidget"]
