"""Road-following datasets in the upstream layout: ``<dataset>/<category>/<u>_<v>_<uuid>.jpg``.

``u``, ``v`` are integer pixel coordinates of the target point in that image (u right, v down), so
existing JetRacer/JetBot datasets load unchanged: JetBot's road_following names its files
``xy_<u>_<v>_<uuid>.jpg`` (``xy_%03d_%03d_%s.jpg``), read the same way, and keeps them in one flat
folder (``dataset_xy``), read as the single category ``apex``. The normalised label is
``x = (u - w/2)/(w/2)``, ``y = (v - h/2)/(h/2)`` with the image's own size.

Optional metadata: ``<dataset>/<category>/index.jsonl``, one JSON object per image
(``file``, ``session``, ``width``, ``height``, ``source``, ``time``...), appended by
``DatasetWriter`` and by the simulator. Images without an index line get their size from the JPEG
header and a session guessed from file modification times (a new session after a 5 minute gap).

Nothing here deletes or rewrites an image: a truncated or undecodable JPEG, a badly named file or a
label outside the image is reported in ``DatasetIndex.problems`` (path, reason) and skipped.
This module does not import torch; ``RoadDataset`` imports it when first indexed.
"""
import datetime
import json
import logging
import os
import re
import time
import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..atomic import atomic_write
from ..pixels import to_normalised

logger = logging.getLogger(__name__)

INDEX_NAME = "index.jsonl"
DEFAULT_CATEGORY = "apex"
LEGACY_SESSION_GAP_S = 300.0
_NAME_RE = re.compile(r"^(?:xy_)?(-?\d+)_(-?\d+)_(.+)\.jpe?g$", re.IGNORECASE)  # JetBot prefixes "xy_"
_IMAGE_EXTENSIONS = (".jpg", ".jpeg")


def shown_path(path: Any) -> str:
    """``path`` as printable text: bytes a file name holds that are not UTF-8 (kept by ``os.fsdecode`` as
    surrogates) are shown as ``\\xNN``, so a message naming the file can always be printed."""
    raw = path if isinstance(path, bytes) else os.fsencode(os.fspath(path))
    return raw.decode("utf-8", "backslashreplace")


class Entry(object):
    """One labelled image: ``path``, ``category``, pixel label ``u``, ``v``, image ``width``, ``height``,
    ``session`` id, ``time`` (seconds, for ordering frames within a session) and ``source``."""

    __slots__ = ("path", "category", "u", "v", "width", "height", "session", "time", "source")

    def __init__(self, path: str, category: str, u: int, v: int, width: int, height: int, session: str,
                 time: float, source: str) -> None:
        self.path, self.category, self.u, self.v = path, category, u, v
        self.width, self.height, self.session, self.time, self.source = width, height, session, time, source

    @property
    def xy(self) -> Tuple[float, float]:
        """Normalised label in [-1, 1): ``((u - w/2)/(w/2), (v - h/2)/(h/2))``."""
        return to_normalised(self.u, self.v, self.width, self.height)

    def __repr__(self) -> str:
        return "Entry(%r, %s, u=%d, v=%d, %dx%d, session=%r)" % (
            self.path, self.category, self.u, self.v, self.width, self.height, self.session)


class Problem(object):
    """A file that was skipped: ``path`` and a human ``reason``. The file is left where it is."""

    __slots__ = ("path", "reason")

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason

    def as_dict(self) -> Dict[str, str]:
        return {"path": self.path, "reason": self.reason}

    def __repr__(self) -> str:
        return "Problem(%r, %r)" % (self.path, self.reason)


class DatasetIndex(object):
    """What ``scan_dataset`` found: ``entries`` (sorted by category, session, time), ``problems``, ``categories``."""

    def __init__(self, entries: List[Entry], problems: List[Problem], categories: List[str]) -> None:
        self.entries, self.problems, self.categories = entries, problems, categories

    def __len__(self) -> int:
        return len(self.entries)

    def sessions(self) -> List[str]:
        return sorted(set(e.session for e in self.entries))


def parse_name(filename: str) -> Tuple[int, int]:
    """``"<u>_<v>_<anything>.jpg"`` (or JetBot's ``"xy_<u>_<v>_<anything>.jpg"``) -> ``(u, v)``; ValueError
    saying what was expected otherwise."""
    m = _NAME_RE.match(os.path.basename(filename))
    if not m:
        raise ValueError("file name is not <u>_<v>_<id>.jpg (or JetBot's xy_<u>_<v>_<id>.jpg) with integer pixel "
                         "coordinates")
    return int(m.group(1)), int(m.group(2))


def _jpeg_size(path: str) -> Tuple[int, int]:
    """(width, height) from the JPEG header, after checking the file is a complete JPEG.

    A crash while writing leaves a file without the end-of-image marker; decoders would silently fill
    the missing part with grey, so this is checked here rather than trusted to the decoder.
    """
    from PIL import Image
    with open(path, "rb") as f:
        head = f.read(3)
        if head != b"\xff\xd8\xff":
            raise ValueError("not a JPEG file (no JPEG start marker)")
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 64))
        if b"\xff\xd9" not in f.read():
            raise ValueError("truncated JPEG (no end-of-image marker): was the writer interrupted?")
    try:
        with Image.open(path) as img:
            return int(img.size[0]), int(img.size[1])
    except Exception as e:  # PIL raises many types for broken headers
        raise ValueError("undecodable JPEG header: %s" % e)


def _read_index(path: str, problems: List[Problem]) -> Dict[str, dict]:
    records = {}  # type: Dict[str, dict]
    try:
        with open(path, "r") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                    records[os.path.basename(str(rec["file"]))] = dict(rec, _line=lineno)
                except (ValueError, KeyError, TypeError) as e:
                    problems.append(Problem("%s:%d" % (path, lineno), "unreadable index line (%s); line ignored" % e))
    except (IOError, OSError) as e:
        problems.append(Problem(path, "cannot read index: %s" % e))
    return records


def _category_dirs(root: str) -> List[Tuple[str, str]]:
    """[(category, folder)] of a dataset root; a flat folder of JPEGs is the single category ``apex``."""
    if not os.path.isdir(root):
        raise FileNotFoundError("dataset folder %r does not exist" % root)
    names = sorted(os.listdir(root))
    if any(n.lower().endswith(_IMAGE_EXTENSIONS) for n in names):
        return [(DEFAULT_CATEGORY, root)]
    return [(n, os.path.join(root, n)) for n in names if os.path.isdir(os.path.join(root, n)) and not n.startswith(".")]


def _legacy_sessions(dataset_name: str, category: str, items: List[Tuple[str, float]]) -> Dict[str, str]:
    """Files without an index line: a session per burst of recording (gap > 5 min between mtimes)."""
    sessions = {}
    current, last = None, None
    for path, mtime in sorted(items, key=lambda pm: (pm[1], pm[0])):
        if current is None or mtime - last > LEGACY_SESSION_GAP_S:
            stamp = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
            current = "legacy:%s/%s@%s" % (dataset_name, category, stamp)
        sessions[path] = current
        last = mtime
    return sessions


def scan_dataset(paths: Any, categories: Optional[Sequence[str]] = None) -> DatasetIndex:
    """Index one or more dataset folders; never raises on a bad image, never touches a file.

    ``paths``: a folder or a list of folders in the upstream layout. ``categories``: keep only these
    (in this order; the model's output layout follows it). Default: every category found, sorted.
    Each skipped file is a ``Problem(path, reason)``. Raises FileNotFoundError for a missing folder.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    entries, problems = [], []  # type: List[Entry], List[Problem]
    found = set()
    for root in paths:
        root = os.fspath(root)
        name = os.path.basename(os.path.normpath(os.path.abspath(root)))
        for category, folder in _category_dirs(root):
            if categories is not None and category not in categories:
                continue
            found.add(category)
            index = _read_index(os.path.join(folder, INDEX_NAME), problems) \
                if os.path.exists(os.path.join(folder, INDEX_NAME)) else {}
            pending, legacy = [], []
            for fname in sorted(os.listdir(folder)):
                path = os.path.join(folder, fname)
                if fname == INDEX_NAME or fname.startswith(".") or not os.path.isfile(path):
                    continue
                if not fname.lower().endswith(_IMAGE_EXTENSIONS):
                    if not fname.endswith(".tmp"):
                        problems.append(Problem(path, "not a .jpg image; ignored"))
                    continue
                try:
                    u, v = parse_name(fname)
                    width, height = _jpeg_size(path)
                    if not (0 <= u < width and 0 <= v < height):
                        raise ValueError("label (%d, %d) is outside the %dx%d image" % (u, v, width, height))
                except (ValueError, IOError, OSError) as e:
                    problems.append(Problem(path, str(e)))
                    continue
                rec = index.get(fname)
                if rec is not None and (rec.get("width"), rec.get("height")) not in ((None, None), (width, height)):
                    problems.append(Problem(path, "index says %sx%s but the JPEG is %dx%d; using the JPEG size"
                                            % (rec.get("width"), rec.get("height"), width, height)))
                mtime = os.path.getmtime(path)
                if rec is None or not rec.get("session"):
                    legacy.append((path, mtime))
                t = float(rec["time"]) if rec is not None and isinstance(rec.get("time"), (int, float)) else (
                    float(rec["_line"]) if rec is not None else mtime)
                pending.append((path, u, v, width, height, rec, t))
            guessed = _legacy_sessions(name, category, legacy)
            for path, u, v, width, height, rec, t in pending:
                session = str(rec["session"]) if rec is not None and rec.get("session") else guessed[path]
                source = str(rec.get("source", "unknown")) if rec is not None else "legacy"
                entries.append(Entry(path, category, u, v, width, height, session, t, source))
    cats = list(categories) if categories is not None else sorted(found)
    entries.sort(key=lambda e: (cats.index(e.category), e.session, e.time, e.path))
    for p in problems:
        logger.warning("skipped %s: %s", p.path, p.reason)
    return DatasetIndex(entries, problems, cats)


def new_session_id() -> str:
    """A fresh session id: UTC time plus a short random part, sortable by time."""
    return "%s-%s" % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S"), uuid.uuid4().hex[:8])


class DatasetWriter(object):
    """Save labelled frames in the upstream layout, crash-safe.

    ``DatasetWriter(root, category, session=None, source="camera").save(frame_bgr, u, v) -> path``
    writes ``<root>/<category>/<u>_<v>_<uuid>.jpg`` through a temporary file in the same folder and
    ``os.replace``, so a crash never leaves a half-written JPEG under a real name, then appends one
    line to ``index.jsonl`` (file, session, width, height, source, time, u, v). ``u``/``v`` are pixel
    coordinates in ``frame_bgr``; a label outside the frame raises ValueError and writes nothing.
    """

    def __init__(self, root: str, category: str = DEFAULT_CATEGORY, session: Optional[str] = None,
                 source: str = "camera", jpeg_quality: int = 95, fsync: bool = True) -> None:
        if not category or os.sep in category or category.startswith("."):
            raise ValueError("category must be a plain folder name, got %r" % (category,))
        self.root, self.category = os.fspath(root), category
        self.folder = os.path.join(self.root, category)
        self.session = session or new_session_id()
        self.source, self.jpeg_quality, self.fsync = source, int(jpeg_quality), bool(fsync)
        os.makedirs(self.folder, exist_ok=True)

    def save(self, frame_bgr: np.ndarray, u: Any, v: Any, uid: Optional[str] = None, **extra: Any) -> str:
        """Write one labelled frame; returns its path. ``uid`` names it (default a fresh UUID; the
        simulator passes seeded ones so a collection is reproducible); ``extra`` JSON-able fields go to
        the index line."""
        import cv2
        if not isinstance(frame_bgr, np.ndarray) or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
            raise ValueError("expected a BGR HxWx3 frame, got %r" % (getattr(frame_bgr, "shape", frame_bgr),))
        height, width = frame_bgr.shape[:2]
        u, v = int(round(float(u))), int(round(float(v)))
        if not (0 <= u < width and 0 <= v < height):
            raise ValueError("label (%d, %d) is outside the %dx%d frame" % (u, v, width, height))
        ok, buf = cv2.imencode(".jpg", frame_bgr, [int(cv2.IMWRITE_JPEG_QUALITY), self.jpeg_quality])
        if not ok:
            raise IOError("OpenCV could not encode the frame as JPEG")
        name = "%d_%d_%s.jpg" % (u, v, uid or uuid.uuid1())
        path = os.path.join(self.folder, name)
        with atomic_write(path, fsync=self.fsync) as f:
            f.write(buf.tobytes())
        record = dict(extra)
        record.update({"file": name, "session": self.session, "width": width, "height": height,
                       "source": self.source, "time": time.time(), "u": u, "v": v})
        # one write() of one line: a crash can at worst leave a partial last line, which scan_dataset reports
        with open(os.path.join(self.folder, INDEX_NAME), "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        return path


def summarize(index: DatasetIndex, bins: int = 10) -> Dict[str, Any]:
    """Counts per category and session, x/y label histograms on [-1, 1] (``bins`` bins) and the problems."""
    per_category = {c: 0 for c in index.categories}
    per_session = {}  # type: Dict[str, int]
    for e in index.entries:
        per_category[e.category] = per_category.get(e.category, 0) + 1
        per_session[e.session] = per_session.get(e.session, 0) + 1
    xy = np.array([e.xy for e in index.entries], dtype=np.float64).reshape(-1, 2)
    edges = np.linspace(-1.0, 1.0, bins + 1)
    return {
        "images": len(index.entries),
        "categories": per_category,
        "sessions": per_session,
        "histogram": {"edges": [round(float(b), 6) for b in edges],
                      "x": np.histogram(np.clip(xy[:, 0], -1, 1), edges)[0].tolist(),
                      "y": np.histogram(np.clip(xy[:, 1], -1, 1), edges)[0].tolist()},
        "problems": [p.as_dict() for p in index.problems],
    }


class RoadDataset(object):
    """Map-style dataset for ``torch.utils.data.DataLoader``: item -> ``(frame, category_index, xy)``.

    ``frame`` is a uint8 HxWx3 BGR tensor at the model input size (normalisation happens on the
    training device via ``Preprocessor.batch``); ``xy`` a float32 tensor ``(x, y)`` of the label
    after ``transform``. ``transform(frame_bgr, u, v) -> (frame_bgr, u, v)`` works in pixels and
    must return a frame of the input size (``augment.EvalTransform`` / ``augment.TrainTransform``).
    The image is decoded with OpenCV (BGR); an image that fails to decode raises IOError naming it.
    """

    def __init__(self, entries: Sequence[Entry], categories: Sequence[str],
                 transform: Callable[..., Tuple[np.ndarray, float, float]]) -> None:
        self.entries, self.categories, self.transform = list(entries), list(categories), transform

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> Tuple[Any, int, Any]:
        import cv2
        import torch
        e = self.entries[i]
        frame = cv2.imread(e.path, cv2.IMREAD_COLOR)
        if frame is None:
            raise IOError("could not decode %s; run `jetracer dataset info` to list bad files" % e.path)
        frame, u, v = self.transform(frame, float(e.u), float(e.v))
        h, w = frame.shape[:2]
        xy = torch.tensor(to_normalised(u, v, w, h), dtype=torch.float32)
        return torch.from_numpy(np.ascontiguousarray(frame)), self.categories.index(e.category), xy


def iter_frames(entries: Iterable[Entry]) -> Iterable[Tuple[Entry, np.ndarray]]:
    """Decode each entry's image (BGR), skipping ones that fail: for calibration and previews."""
    import cv2
    for e in entries:
        frame = cv2.imread(e.path, cv2.IMREAD_COLOR)
        if frame is not None:
            yield e, frame
