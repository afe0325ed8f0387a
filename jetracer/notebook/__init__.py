"""Widgets shared by the notebooks in ``notebooks/``: camera view, click-to-label, car controls.

The notebooks are thin clients of this package and of the rest of ``jetracer``; importing this
package touches no hardware (ipywidgets and ipyevents are imported by the modules that need them).
"""
from .smoke import smoke_mode, smoke_or

__all__ = ["smoke_mode", "smoke_or"]
