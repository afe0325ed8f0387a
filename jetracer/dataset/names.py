"""The dataset's names: ``<u>_<v>_<uuid>.jpg`` (JetBot's ``xy_<u>_<v>_<uuid>.jpg``), the index file, the entry.

A name holds the label in pixels of its image; :class:`Entry` is one labelled image as the scan found it.
Obstacle frames in upstream JetBot's collision layout (``<dataset>/blocked/*.jpg``, ``<dataset>/free/*.jpg``,
any file name) carry their label in the folder's name: :data:`OBSTACLE_FOLDERS`.
"""
import math
import os
import re
from typing import Any, Dict, Optional, Tuple

from ..pixels import to_normalised

INDEX_NAME = "index.jsonl"
DEFAULT_CATEGORY = "apex"
_NAME_RE = re.compile(r"^(?:xy_)?(-?\d+)_(-?\d+)_(.+)\.jpe?g$", re.IGNORECASE)  # JetBot prefixes "xy_"
IMAGE_EXTENSIONS = (".jpg", ".jpeg")
BLOCKED, FREE = "blocked", "free"
OBSTACLE_FOLDERS = (BLOCKED, FREE)  # JetBot's collision classes; ImageFolder sorts them: blocked is class 0


def obstacle_fields(blocked: Any, distance_m: Any = None) -> Dict[str, Any]:
    """The obstacle label of an index line, checked: ``{"blocked": bool, "distance_m": float >= 0 or None}``;
    ValueError naming the bad value (JSON's true/false for blocked, metres or null for the distance)."""
    if not isinstance(blocked, bool):
        raise ValueError("blocked must be true or false, not %r" % (blocked,))
    if distance_m is not None:
        if isinstance(distance_m, bool) or not isinstance(distance_m, (int, float)) or not math.isfinite(distance_m) \
                or distance_m < 0:
            raise ValueError("distance_m must be metres >= 0 or null, not %r" % (distance_m,))
        distance_m = float(distance_m)
    return {"blocked": blocked, "distance_m": distance_m}


def shown_path(path: Any) -> str:
    """``path`` as printable text: bytes a file name holds that are not UTF-8 (kept by ``os.fsdecode`` as
    surrogates) are shown as ``\\xNN``, so a message naming the file can always be printed."""
    raw = path if isinstance(path, bytes) else os.fsencode(os.fspath(path))
    return raw.decode("utf-8", "backslashreplace")


class Entry(object):
    """One labelled image: ``path``, ``category``, pixel label ``u``, ``v``, image ``width``, ``height``,
    ``session`` id, ``time`` (seconds, for ordering frames within a session) and ``source``; and the obstacle
    label where there is one: ``blocked`` (True/False, None: not labelled) and ``distance_m`` (metres to what
    is in the way, None: not known). A frame of a blocked/free folder has no road label (``u``, ``v`` None,
    ``category`` the folder's name); a road frame may have an obstacle label from its index line."""

    __slots__ = ("path", "category", "u", "v", "width", "height", "session", "time", "source", "orientation",
                 "blocked", "distance_m")

    def __init__(self, path: str, category: str, u: Optional[int], v: Optional[int], width: int, height: int,
                 session: str, time: float, source: str, orientation: int = 1, blocked: Optional[bool] = None,
                 distance_m: Optional[float] = None) -> None:
        self.path, self.category, self.u, self.v = path, category, u, v
        self.width, self.height, self.session, self.time, self.source = width, height, session, time, source
        self.orientation = orientation  # EXIF orientation of the file (1: stored upright); width/height are upright
        self.blocked, self.distance_m = blocked, distance_m

    @property
    def has_road(self) -> bool:
        """True when the frame has a road label (u, v)."""
        return self.u is not None

    @property
    def has_obstacle(self) -> bool:
        """True when the frame says whether the way is blocked."""
        return self.blocked is not None

    @property
    def xy(self) -> Tuple[float, float]:
        """Normalised label in [-1, 1): ``((u - w/2)/(w/2), (v - h/2)/(h/2))``; ValueError for a frame without one."""
        if self.u is None or self.v is None:
            raise ValueError("%s is an obstacle frame (%s) without a road label" % (shown_path(self.path), self.category))
        return to_normalised(self.u, self.v, self.width, self.height)

    def __repr__(self) -> str:
        road = "u=%d, v=%d" % (self.u, self.v) if self.has_road else "no road label"
        obstacle = "" if self.blocked is None else ", blocked=%s%s" % (
            self.blocked, "" if self.distance_m is None else " at %.2f m" % self.distance_m)
        return "Entry(%r, %s, %s, %dx%d, session=%r%s)" % (
            self.path, self.category, road, self.width, self.height, self.session, obstacle)


def parse_name(filename: str) -> Tuple[int, int]:
    """``"<u>_<v>_<anything>.jpg"`` (or JetBot's ``"xy_<u>_<v>_<anything>.jpg"``) -> ``(u, v)``; ValueError
    saying what was expected otherwise."""
    m = _NAME_RE.match(os.path.basename(filename))
    if not m:
        raise ValueError("file name is not <u>_<v>_<id>.jpg (or JetBot's xy_<u>_<v>_<id>.jpg) with integer pixel "
                         "coordinates")
    return int(m.group(1)), int(m.group(2))
