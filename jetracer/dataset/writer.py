"""Writing labelled frames crash-safe, and repairing a category folder after a writer was killed.

A frame goes through a temporary file and ``os.replace``; its index line is one ``write()`` after it, so
a crash leaves at worst a partial last line, which :func:`repair_index` drops.
"""
import datetime
import errno
import json
import os
import re
import stat
import time
import uuid
import zlib
from typing import Any, Dict, List, Optional

import numpy as np

from ..atomic import atomic_write, remove_leftovers
from ..bounded_file import FileLimitError, read_regular
from .names import BLOCKED, DEFAULT_CATEGORY, FREE, INDEX_NAME, obstacle_fields
from .scan import MAX_INDEX_BYTES


def new_session_id() -> str:
    """A fresh session id: UTC time plus a short random part, sortable by time."""
    return "%s-%s" % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S"), uuid.uuid4().hex[:8])


class DatasetWriter(object):
    """Save labelled frames in the upstream layout, crash-safe.

    ``DatasetWriter(root, category, session=None, source="camera").save(frame_bgr, u, v) -> path``
    writes ``<root>/<category>/<u>_<v>_<uuid>.jpg`` through a temporary file in the same folder and
    ``os.replace``, so a crash never leaves a half-written JPEG under a real name, then appends one
    line to ``index.jsonl`` (file, session, width, height, source, time, u, v, and the ``crc32`` of the
    JPEG bytes, so damage on disk is found by ``scan_dataset``). ``u``/``v`` are pixel
    coordinates in ``frame_bgr``; a label outside the frame raises ValueError and writes nothing, and so
    does an index that is not a regular file (:class:`jetracer.bounded_file.FileLimitError`: a FIFO would
    block the writer).
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

    @staticmethod
    def file_name(u: Any, v: Any, uid: Optional[str] = None) -> str:
        """The file name ``save`` gives a frame labelled (u, v): ``<u>_<v>_<uid>.jpg`` (uid default a fresh UUID)."""
        return "%d_%d_%s.jpg" % (int(round(float(u))), int(round(float(v))), uid or uuid.uuid1())

    def save(self, frame_bgr: np.ndarray, u: Any, v: Any, uid: Optional[str] = None, **extra: Any) -> str:
        """Write one labelled frame; returns its path. ``uid`` names it (default a fresh UUID; the
        simulator passes seeded ones so a collection is reproducible); ``extra`` JSON-able fields go to
        the index line. An obstacle label (``blocked=True/False``, optionally ``distance_m``) is checked first
        (:func:`jetracer.dataset.names.obstacle_fields`): a bad value raises ValueError and writes nothing."""
        height, width = _check_frame(frame_bgr)
        u, v = int(round(float(u))), int(round(float(v)))
        if not (0 <= u < width and 0 <= v < height):
            raise ValueError("label (%d, %d) is outside the %dx%d frame" % (u, v, width, height))
        if "blocked" in extra or "distance_m" in extra:
            extra.update(obstacle_fields(extra.get("blocked"), extra.get("distance_m")))
        return self.write(frame_bgr, self.file_name(u, v, uid), dict(extra, u=u, v=v))

    def write(self, frame_bgr: np.ndarray, name: str, fields: Dict[str, Any]) -> str:
        """Write ``frame_bgr`` as ``<folder>/<name>`` and its index line (``fields`` plus file, session, size,
        source, time and crc32), crash-safe; returns its path. ``save`` and :class:`ObstacleWriter` use it."""
        import cv2
        height, width = _check_frame(frame_bgr)
        ok, buf = cv2.imencode(".jpg", frame_bgr, [int(cv2.IMWRITE_JPEG_QUALITY), self.jpeg_quality])
        if not ok:
            raise IOError("OpenCV could not encode the frame as JPEG")
        path = os.path.join(self.folder, name)
        data = buf.tobytes()
        record = dict(fields)
        record.update({"file": name, "session": self.session, "width": width, "height": height,
                       "source": self.source, "time": time.time(), "crc32": zlib.crc32(data) & 0xffffffff})
        line = json.dumps(record, sort_keys=True) + "\n"
        # the index first: one that is not a regular file refuses the frame before its image is written
        with _open_index_for_append(os.path.join(self.folder, INDEX_NAME)) as index:
            with atomic_write(path, fsync=self.fsync) as f:
                f.write(data)
            # one write() of one line: a crash can at worst leave a partial last line, which scan_dataset reports
            index.write(line)
            index.flush()
            if self.fsync:
                os.fsync(index.fileno())
        return path


def _check_frame(frame_bgr: Any) -> Any:
    """(height, width) of a BGR HxWx3 frame; ValueError for anything else."""
    if not isinstance(frame_bgr, np.ndarray) or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        raise ValueError("expected a BGR HxWx3 frame, got %r" % (getattr(frame_bgr, "shape", frame_bgr),))
    return frame_bgr.shape[:2]


class ObstacleWriter(object):
    """Save obstacle frames in upstream JetBot's collision layout, crash-safe: ``<root>/blocked/<uuid>.jpg`` and
    ``<root>/free/<uuid>.jpg`` (JetBot's data_collection names them ``str(uuid1()) + '.jpg'``), each with an
    index line in its folder (session, size, source, time, crc32, ``blocked`` and, where known, ``distance_m``)
    as :class:`DatasetWriter` writes them. What JetBot's training (``ImageFolder``) and ``jetracer train`` read.
    ``counts`` holds the frames this writer saved per class."""

    def __init__(self, root: str, session: Optional[str] = None, source: str = "camera", jpeg_quality: int = 95,
                 fsync: bool = True) -> None:
        self.session = session or new_session_id()
        self.writers = {label: DatasetWriter(root, label, session=self.session, source=source,
                                             jpeg_quality=jpeg_quality, fsync=fsync) for label in (BLOCKED, FREE)}
        self.root = self.writers[BLOCKED].root
        self.counts = {BLOCKED: 0, FREE: 0}

    @staticmethod
    def file_name(uid: Optional[str] = None) -> str:
        """``<uid>.jpg`` (default a fresh uuid1: its time orders the frames, as JetBot's do)."""
        return "%s.jpg" % (uid or uuid.uuid1())

    def save(self, frame_bgr: np.ndarray, blocked: bool, uid: Optional[str] = None,
             distance_m: Optional[float] = None, **extra: Any) -> str:
        """Write one frame into ``blocked/`` or ``free/``; returns its path. ``blocked`` must be True or False."""
        fields = obstacle_fields(blocked, distance_m)
        label = BLOCKED if fields["blocked"] else FREE
        path = self.writers[label].write(frame_bgr, self.file_name(uid), dict(extra, **fields))
        self.counts[label] += 1
        return path


def _open_index_for_append(path: str) -> Any:
    """``path`` opened to append text, refused (FileLimitError) unless it is a regular file: opening a FIFO to
    write blocks until a reader comes, and ``/dev/null`` would swallow every label."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as e:
        if e.errno != errno.ENXIO:  # ENXIO: a FIFO without a reader
            raise
        raise FileLimitError(path, "dataset index", "is a FIFO (named pipe), not a regular file; not written")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileLimitError(path, "dataset index", "is not a regular file (a FIFO, device or socket); not written")
    return os.fdopen(fd, "a")


_WRITER_TEMP_RE = re.compile(r"^\..+\.(?:jpe?g|jsonl)\.[^.]+\.tmp$", re.IGNORECASE)


def repair_index(folder: str) -> Dict[str, dict]:
    """Make a category folder consistent again after a writer was killed, before writing more into it.

    Deletes the temporary files of interrupted writes (``.<name>.jpg.<random>.tmp``, see
    :mod:`jetracer.atomic`) and rewrites ``index.jsonl`` (atomically, only when something changes) with
    one line per image that exists: the first line of each file; unreadable lines (a line cut short by
    the kill) and lines whose image is gone are dropped. Returns {file name: index record}. Images
    without a line are left alone (``scan_dataset`` reads them as legacy files). An index that is not a
    regular file or is over :data:`MAX_INDEX_BYTES` raises :class:`jetracer.bounded_file.FileLimitError`
    (one line naming it and the limit) before anything is changed.
    """
    if not os.path.isdir(folder):
        return {}
    for name in os.listdir(folder):
        if _WRITER_TEMP_RE.match(name):
            os.unlink(os.path.join(folder, name))
    index = os.path.join(folder, INDEX_NAME)
    remove_leftovers(index)
    if not os.path.exists(index):
        return {}
    kept, records, changed = [], {}, False  # type: List[str], Dict[str, dict], bool
    try:
        lines = read_regular(index, "dataset index", MAX_INDEX_BYTES).split(b"\n")
    except FileLimitError as e:
        raise FileLimitError(e.path, e.what, "%s; a collection resumes from it: move it away or collect into "
                             "another folder" % e.reason)
    for raw in lines:
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8", "surrogateescape"))
            name = os.path.basename(str(rec["file"]))
        except (ValueError, KeyError, TypeError, RecursionError):
            changed = True
            continue
        if name in records or not os.path.isfile(os.path.join(folder, name)):
            changed = True
            continue
        records[name] = rec
        kept.append(raw.decode("utf-8", "surrogateescape"))
    if changed:
        with atomic_write(index, "w") as f:
            f.write("".join(line + "\n" for line in kept))
    return records
