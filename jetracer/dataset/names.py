"""The dataset's names: ``<u>_<v>_<uuid>.jpg`` (JetBot's ``xy_<u>_<v>_<uuid>.jpg``), the index file, the entry.

A name holds the label in pixels of its image; :class:`Entry` is one labelled image as the scan found it.
"""
import os
import re
from typing import Any, Tuple

from ..pixels import to_normalised

INDEX_NAME = "index.jsonl"
DEFAULT_CATEGORY = "apex"
_NAME_RE = re.compile(r"^(?:xy_)?(-?\d+)_(-?\d+)_(.+)\.jpe?g$", re.IGNORECASE)  # JetBot prefixes "xy_"
IMAGE_EXTENSIONS = (".jpg", ".jpeg")


def shown_path(path: Any) -> str:
    """``path`` as printable text: bytes a file name holds that are not UTF-8 (kept by ``os.fsdecode`` as
    surrogates) are shown as ``\\xNN``, so a message naming the file can always be printed."""
    raw = path if isinstance(path, bytes) else os.fsencode(os.fspath(path))
    return raw.decode("utf-8", "backslashreplace")


class Entry(object):
    """One labelled image: ``path``, ``category``, pixel label ``u``, ``v``, image ``width``, ``height``,
    ``session`` id, ``time`` (seconds, for ordering frames within a session) and ``source``."""

    __slots__ = ("path", "category", "u", "v", "width", "height", "session", "time", "source", "orientation")

    def __init__(self, path: str, category: str, u: int, v: int, width: int, height: int, session: str,
                 time: float, source: str, orientation: int = 1) -> None:
        self.path, self.category, self.u, self.v = path, category, u, v
        self.width, self.height, self.session, self.time, self.source = width, height, session, time, source
        self.orientation = orientation  # EXIF orientation of the file (1: stored upright); width/height are upright

    @property
    def xy(self) -> Tuple[float, float]:
        """Normalised label in [-1, 1): ``((u - w/2)/(w/2), (v - h/2)/(h/2))``."""
        return to_normalised(self.u, self.v, self.width, self.height)

    def __repr__(self) -> str:
        return "Entry(%r, %s, u=%d, v=%d, %dx%d, session=%r)" % (
            self.path, self.category, self.u, self.v, self.width, self.height, self.session)


def parse_name(filename: str) -> Tuple[int, int]:
    """``"<u>_<v>_<anything>.jpg"`` (or JetBot's ``"xy_<u>_<v>_<anything>.jpg"``) -> ``(u, v)``; ValueError
    saying what was expected otherwise."""
    m = _NAME_RE.match(os.path.basename(filename))
    if not m:
        raise ValueError("file name is not <u>_<v>_<id>.jpg (or JetBot's xy_<u>_<v>_<id>.jpg) with integer pixel "
                         "coordinates")
    return int(m.group(1)), int(m.group(2))
