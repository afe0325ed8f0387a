"""Loaded at interpreter start by ``jetracer-compat.pth``: jetcam and the click widget where they are missing.

Upstream notebooks import ``jetcam`` and ``jupyter_clickable_image_widget`` in their first cells. Where
those packages are not installed (a desktop, the simulator), jetracer provides stand-ins that follow
the configured camera (``jetracer.compat``). They live inside the jetracer package
(``jetracer/compat/fallbacks/``), off the import path, and are reached only through
:class:`FallbackFinder`, which this module appends to ``sys.meta_path`` after the standard finders
and which first asks every finder after it: an installed jetcam or widget is always found first,
and is the one imported. This module imports nothing heavy and never raises.
"""
import sys

NAMES = ("jetcam", "jupyter_clickable_image_widget")


class FallbackFinder(object):
    """``sys.meta_path`` finder of last resort for :data:`NAMES` (top-level packages only)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in NAMES or path is not None:
            return None
        try:
            for finder in sys.meta_path[sys.meta_path.index(self) + 1:]:  # anything installed after us wins too
                find = getattr(finder, "find_spec", None)
                spec = find(fullname, path, target) if find is not None else None
                if spec is not None:
                    return spec
            return _fallback_spec(fullname)
        except Exception:  # a broken jetracer must not break every import of these names
            return None

    def invalidate_caches(self):
        pass


def _fallback_spec(fullname):
    import importlib.util
    import os
    jetracer = importlib.util.find_spec("jetracer")
    if jetracer is None or not jetracer.submodule_search_locations:
        return None
    folder = os.path.join(list(jetracer.submodule_search_locations)[0], "compat", "fallbacks", fullname)
    init = os.path.join(folder, "__init__.py")
    if not os.path.isfile(init):
        return None
    return importlib.util.spec_from_file_location(fullname, init, submodule_search_locations=[folder])


def install():
    """Append the finder to ``sys.meta_path`` once; returns it."""
    for finder in sys.meta_path:
        if type(finder).__name__ == "FallbackFinder" and getattr(finder, "NAMES", None) == NAMES:
            return finder
    finder = FallbackFinder()
    finder.NAMES = NAMES
    sys.meta_path.append(finder)
    return finder


try:
    install()
except Exception:  # never break interpreter start-up
    pass
