"""Stand-ins for the packages upstream notebooks import, where they are not installed.

``from jetcam.csi_camera import CSICamera``, ``from jetcam.usb_camera import USBCamera``,
``from jetcam.utils import bgr8_to_jpeg`` and ``from jupyter_clickable_image_widget import
ClickableImageWidget`` work on a desktop or in simulator mode:

* the cameras follow the configured source (``JETRACER_CAMERA`` or ``camera.source``): ``sim`` shows
  the process's real-time simulated world (:mod:`jetracer.sim_mode`, the one ``NvidiaRacecar()``
  drives), ``replay`` a recording; with ``csi`` or ``usb`` and no jetcam, constructing one raises
  :class:`jetracer.camera.JetcamMissing` with one line saying how to install jetcam or use ``sim``;
* the click widget is an ``ipywidgets.Image`` with ipyevents clicks delivered as upstream's widget
  delivered them: ``on_msg(callback)``, ``callback(widget, content, buffers)`` with
  ``content = {'event': 'click', 'eventData': {'offsetX': u, 'offsetY': v}}`` in image pixels.

The stand-ins live in ``jetracer/compat/fallbacks/`` and are reached only through the last-resort
finder of the top-level ``_jetracer_compat`` module, which ``jetracer-compat.pth`` loads at start-up
(normal and editable installs both get it; see setup.py): a real jetcam or widget, when installed,
is always the one imported. :func:`is_fallback` tells them apart.
"""
from ..camera.base import FALLBACK_MARK, is_fallback

__all__ = ["FALLBACK_MARK", "is_fallback"]
