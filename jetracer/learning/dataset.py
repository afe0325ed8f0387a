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

Nothing here deletes or rewrites an image. Every entry of a dataset folder that is not used is
reported in ``DatasetIndex.problems`` (path, reason) and skipped: a truncated JPEG or one corrupt in
the middle (the whole file is decoded strictly, with libjpeg-turbo's warnings as errors when
``simplejpeg`` is installed, else by Pillow; a file whose index line holds a ``crc32`` is checked
against it instead), a badly named file, a label outside the image, a folder, FIFO, device file or
dangling symlink, an unreadable or hidden file, an image over :data:`MAX_IMAGE_BYTES` or whose JPEG header
declares more than :data:`MAX_IMAGE_SIDE` pixels a side (checked before anything is decoded). An index that
is not a regular file (a FIFO, ``/dev/zero``) or is over :data:`MAX_INDEX_BYTES` is reported and not read (its
images are read without it), as is an index line over :data:`MAX_INDEX_LINE_BYTES`. Labels are checked against the image as displayed:
a JPEG with an EXIF orientation is loaded upright (as ``PIL.ImageOps.exif_transpose`` turns it) and
its (u, v) are pixels of that upright image. Any file name works: names that are not UTF-8 are kept
as ``os.fsdecode`` gives them, files are read from bytes (never by passing the name to OpenCV) and
messages show such names with ``\\xNN`` escapes (:func:`shown_path`).
This module does not import torch; ``RoadDataset`` imports it when first indexed.
"""
import datetime
import errno
import io
import json
import logging
import os
import re
import stat
import time
import uuid
import zlib
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..atomic import atomic_write, remove_leftovers
from ..bounded_file import KIB, MIB, FileLimitError, open_regular, read_regular
from ..pixels import to_normalised

logger = logging.getLogger(__name__)

INDEX_NAME = "index.jsonl"
DEFAULT_CATEGORY = "apex"
MAX_IMAGE_BYTES = 50 * MIB          # a 224x224 frame is ~15 KB, a 12 MP photo ~5 MB
MAX_IMAGE_SIDE = 8192               # pixels, from the JPEG header before decoding (8192x8192 decodes to 200 MB)
MAX_INDEX_BYTES = 64 * MIB          # ~250,000 index lines: a category of 250,000 frames is 5 GB of JPEGs
MAX_INDEX_LINE_BYTES = 64 * KIB     # an index line is ~250 bytes
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


class Problem(object):
    """A file that was skipped: ``path`` and a human ``reason``. The file is left where it is."""

    __slots__ = ("path", "reason")

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason

    def as_dict(self) -> Dict[str, str]:
        """``path`` as printable text (see :func:`shown_path`) and ``reason``."""
        return {"path": shown_path(self.path), "reason": self.reason}

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


_UPRIGHT_SWAPS = (5, 6, 7, 8)  # EXIF orientations that turn the stored image by 90 degrees


def _decoder() -> Any:
    try:
        import simplejpeg
        return simplejpeg
    except ImportError:
        return None


def _strict_decode(data: bytes) -> None:
    """Decode the whole JPEG (at 1/8 scale: every byte of the entropy-coded data is still read) and raise
    ValueError on any libjpeg warning: data overwritten or missing in the middle of the file."""
    simplejpeg = _decoder()
    if simplejpeg is not None:
        try:
            simplejpeg.decode_jpeg(data, colorspace="GRAY", fastdct=True, min_height=1, min_width=1, strict=True)
        except ValueError as e:
            raise ValueError("corrupt JPEG data (%s): the file was damaged after it was written" % e)
        return
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.draft("L", (max(1, img.size[0] // 8), max(1, img.size[1] // 8)))
            img.load()
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError... for broken data
        raise ValueError("corrupt JPEG data (%s): the file was damaged after it was written" % e)


def _read_image(path: str) -> bytes:
    """The bytes of the image file ``path``; ValueError saying why not (not a regular file, over
    :data:`MAX_IMAGE_BYTES`: refused before reading, a sparse 3 GiB "JPEG" included; unreadable)."""
    try:
        return read_regular(path, "image file", MAX_IMAGE_BYTES)
    except FileLimitError as e:
        raise ValueError("the image file %s" % e.reason)
    except (IOError, OSError) as e:
        raise ValueError("cannot read the file (%s)" % (e.strerror or e))


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start of frame (not DHT, JPG, DAC)


def jpeg_size(data: bytes) -> Tuple[int, int]:
    """(width, height) as stored, from the JPEG's frame header (SOF marker), without decoding anything;
    ValueError when there is none before the image data."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ValueError("damaged JPEG header (no marker at byte %d)" % at)
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header came
            break
        if marker in _SOF_MARKERS:
            if at + 9 > len(data):
                break
            return (data[at + 7] << 8) | data[at + 8], (data[at + 5] << 8) | data[at + 6]
        at += 2 + ((data[at + 2] << 8) | data[at + 3])
    raise ValueError("damaged JPEG header (no frame header before the image data)")


def check_jpeg_size(data: bytes) -> Tuple[int, int]:
    """:func:`jpeg_size`, refused (ValueError naming the limit) when a side is 0 or over :data:`MAX_IMAGE_SIDE`:
    a header of a few bytes may declare an image that decodes to gigabytes."""
    width, height = jpeg_size(data)
    if not (1 <= width <= MAX_IMAGE_SIDE and 1 <= height <= MAX_IMAGE_SIDE):
        raise ValueError("the JPEG header declares %dx%d pixels, over the %d pixels a side limit; not decoded"
                         % (width, height, MAX_IMAGE_SIDE))
    return width, height


def _check_jpeg(path: str, record: Optional[dict] = None) -> Tuple[int, int, int]:
    """(width, height, EXIF orientation) of the upright image, after checking the file is a complete,
    undamaged JPEG: its ``crc32`` from the index line when there is one, else a strict decode.

    A crash while writing leaves a file without the end-of-image marker, and bytes damaged in the middle
    decode silently into grey or garbage, so neither is trusted to the decoder at training time.
    """
    from PIL import Image
    data = _read_image(path)
    if not data:
        raise ValueError("empty file (0 bytes)")
    if data[:3] != b"\xff\xd8\xff":
        raise ValueError("not a JPEG file (no JPEG start marker)")
    if b"\xff\xd9" not in data[-64:]:
        raise ValueError("truncated JPEG (no end-of-image marker): was the writer interrupted?")
    check_jpeg_size(data)
    crc = record.get("crc32") if record is not None else None
    if isinstance(crc, int):
        if zlib.crc32(data) & 0xffffffff != crc:
            raise ValueError("the file's content differs from what was written (crc32 in %s): damaged on disk"
                             % INDEX_NAME)
    else:
        _strict_decode(data)
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = int(img.size[0]), int(img.size[1])
            orientation = int(img.getexif().get(0x0112, 1) or 1)
    except Exception as e:  # PIL raises many types for broken headers
        raise ValueError("undecodable JPEG header: %s" % e)
    if orientation not in range(1, 9):
        orientation = 1
    if orientation in _UPRIGHT_SWAPS:
        width, height = height, width
    return width, height, orientation


def load_frame(path: str, orientation: int = 1) -> Optional[np.ndarray]:
    """The image at ``path`` as an upright BGR array, or None when it cannot be decoded (or is not a regular
    file, is over :data:`MAX_IMAGE_BYTES`, or its JPEG header declares over :data:`MAX_IMAGE_SIDE` pixels a side).

    The file is read by Python (so any file name works) and decoded from memory; a JPEG with an EXIF
    ``orientation`` other than 1 is turned upright by ``PIL.ImageOps.exif_transpose``.
    """
    import cv2
    try:
        data = _read_image(path)
        if data[:2] == b"\xff\xd8":
            check_jpeg_size(data)
    except ValueError:
        return None
    if orientation != 1:
        from PIL import Image, ImageOps
        try:
            with Image.open(io.BytesIO(data)) as img:
                rgb = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
        except Exception:
            return None
        return np.ascontiguousarray(rgb[:, :, ::-1])
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)


def _entry_problem(path: str, name: str) -> Optional[str]:
    """Why the folder entry ``name`` is not read as an image, or None for a regular file worth a look.
    Only ``lstat``/``stat``: a FIFO or device is never opened."""
    try:
        st = os.lstat(path)
    except OSError as e:
        return "cannot look at it (%s)" % (e.strerror or e)
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError:
            return "dangling symbolic link (to %s, which does not exist)" % shown_path(os.readlink(path))
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return ("a folder named like an image; not read" if name.lower().endswith(_IMAGE_EXTENSIONS)
                else "a folder inside a category folder; not read (categories are not nested)")
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not an image file; not read"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file, not an image file; not read"
    if stat.S_ISSOCK(mode):
        return "a socket, not an image file; not read"
    if not stat.S_ISREG(mode):
        return "not a regular file; not read"
    if name.startswith(".") and name.endswith(".tmp"):
        return "temporary file of an interrupted write; not read (safe to delete)"
    if name.startswith("."):
        return "hidden file; not read"
    if not name.lower().endswith(_IMAGE_EXTENSIONS):
        return "not a .jpg image; not read"
    return None


def _index_lines(f: Any, path: str, problems: List[Problem]) -> Iterable[Tuple[int, bytes]]:
    """(line number, line) of an open index, at most :data:`MAX_INDEX_BYTES` in all; a line over
    :data:`MAX_INDEX_LINE_BYTES` is reported and skipped without being kept in memory."""
    total, lineno = 0, 0
    while total <= MAX_INDEX_BYTES:
        line = f.readline(MAX_INDEX_LINE_BYTES + 1)
        if not line:
            return
        lineno += 1
        total += len(line)
        if len(line) > MAX_INDEX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n") and total <= MAX_INDEX_BYTES:
                line = f.readline(MAX_INDEX_LINE_BYTES)
                total += len(line)
            problems.append(Problem("%s:%d" % (path, lineno), "index line longer than the %d KiB limit; line ignored"
                                    % (MAX_INDEX_LINE_BYTES // KIB)))
            continue
        yield lineno, line
    problems.append(Problem(path, "index grew past the %d MiB limit while being read; the rest is ignored"
                            % (MAX_INDEX_BYTES // MIB)))


def _read_index(path: str, problems: List[Problem], names: Optional[Iterable[str]] = None) -> Dict[str, dict]:
    """{file name: index record} of the index ``path``, for the files in ``names`` (all when None).

    Never blocks or fills memory: an index that is not a regular file (a FIFO, a link to ``/dev/zero``) or
    is over :data:`MAX_INDEX_BYTES` is reported and not read; its images are then read as files without
    an index line (sessions guessed from modification times). Unreadable lines are reported and ignored.
    """
    wanted = None if names is None else set(names)
    records = {}  # type: Dict[str, dict]
    try:
        with open_regular(path, "index", MAX_INDEX_BYTES) as f:
            for lineno, raw in _index_lines(f, path, problems):
                line = raw.decode("utf-8", "surrogateescape").strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                    name = os.path.basename(str(rec["file"]))
                except (ValueError, KeyError, TypeError, RecursionError) as e:
                    problems.append(Problem("%s:%d" % (path, lineno), "unreadable index line (%s); line ignored"
                                            % (type(e).__name__ if isinstance(e, RecursionError) else e)))
                    continue
                if wanted is None or name in wanted:
                    records[name] = dict(rec, _line=lineno)
    except FileLimitError as e:
        problems.append(Problem(path, "the index %s; its images are read without it (sessions guessed from file "
                                      "times)" % e.reason))
    except (IOError, OSError) as e:
        problems.append(Problem(path, "cannot read index: %s" % e))
    return records


def _category_dirs(root: str, problems: List[Problem]) -> List[Tuple[str, str]]:
    """[(category, folder)] of a dataset root; a flat folder of JPEGs is the single category ``apex``.
    Other entries of the root (files, hidden folders) go to ``problems``."""
    if not os.path.isdir(root):
        raise FileNotFoundError("dataset folder %s does not exist" % shown_path(root))
    try:
        names = sorted(os.listdir(root))
    except OSError as e:
        raise FileNotFoundError("dataset folder %s cannot be listed (%s)" % (shown_path(root), e.strerror or e))
    if any(n.lower().endswith(_IMAGE_EXTENSIONS) for n in names):
        return [(DEFAULT_CATEGORY, root)]
    out = []  # type: List[Tuple[str, str]]
    for n in names:
        path = os.path.join(root, n)
        if os.path.isdir(path) and not n.startswith("."):
            out.append((n, path))
        elif n != INDEX_NAME:
            problems.append(Problem(path, "hidden folder; not read" if os.path.isdir(path) else
                                    "not a category folder (<dataset>/<category>/<u>_<v>_<id>.jpg); not read"))
    return out


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
        name = shown_path(os.path.basename(os.path.normpath(os.path.abspath(root))))
        for category, folder in _category_dirs(root, problems):
            if categories is not None and category not in categories:
                continue
            found.add(category)
            try:
                names = sorted(os.listdir(folder))
            except OSError as e:
                problems.append(Problem(folder, "cannot list the category folder (%s)" % (e.strerror or e)))
                names = []
            index = _read_index(os.path.join(folder, INDEX_NAME), problems, names) if INDEX_NAME in names else {}
            pending, legacy = [], []
            for fname in names:
                path = os.path.join(folder, fname)
                if fname == INDEX_NAME:
                    continue
                reason = _entry_problem(path, fname)
                if reason is not None:
                    problems.append(Problem(path, reason))
                    continue
                rec = index.get(fname)
                try:
                    u, v = parse_name(fname)
                    width, height, orientation = _check_jpeg(path, rec)
                    if not (0 <= u < width and 0 <= v < height):
                        raise ValueError("label (%d, %d) is outside the %dx%d image%s" % (
                            u, v, width, height, " (upright, EXIF orientation %d)" % orientation
                            if orientation != 1 else ""))
                except (ValueError, IOError, OSError) as e:
                    problems.append(Problem(path, str(e)))
                    continue
                if rec is not None and (rec.get("width"), rec.get("height")) not in ((None, None), (width, height)):
                    problems.append(Problem(path, "index says %sx%s but the JPEG is %dx%d; using the JPEG size"
                                            % (rec.get("width"), rec.get("height"), width, height)))
                mtime = os.path.getmtime(path)
                if rec is None or not rec.get("session"):
                    legacy.append((path, mtime))
                t = float(rec["time"]) if rec is not None and isinstance(rec.get("time"), (int, float)) else (
                    float(rec["_line"]) if rec is not None else mtime)
                pending.append((path, u, v, width, height, rec, t, orientation))
            guessed = _legacy_sessions(name, category, legacy)
            for path, u, v, width, height, rec, t, orientation in pending:
                session = str(rec["session"]) if rec is not None and rec.get("session") else guessed[path]
                source = str(rec.get("source", "unknown")) if rec is not None else "legacy"
                entries.append(Entry(path, category, u, v, width, height, session, t, source, orientation))
    cats = list(categories) if categories is not None else sorted(found)
    entries.sort(key=lambda e: (cats.index(e.category), e.session, e.time, e.path))
    for p in problems:
        logger.warning("skipped %s: %s", shown_path(p.path), p.reason)
    return DatasetIndex(entries, problems, cats)


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
        the index line."""
        import cv2
        if not isinstance(frame_bgr, np.ndarray) or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
            raise ValueError("expected a BGR HxWx3 frame, got %r" % (getattr(frame_bgr, "shape", frame_bgr),))
        height, width = frame_bgr.shape[:2]
        u, v = int(round(float(u))), int(round(float(v)))
        if not (0 <= u < width and 0 <= v < height):
            raise ValueError("label (%d, %d) is outside the %dx%d frame" % (u, v, width, height))
        name = self.file_name(u, v, uid)
        ok, buf = cv2.imencode(".jpg", frame_bgr, [int(cv2.IMWRITE_JPEG_QUALITY), self.jpeg_quality])
        if not ok:
            raise IOError("OpenCV could not encode the frame as JPEG")
        path = os.path.join(self.folder, name)
        data = buf.tobytes()
        record = dict(extra)
        record.update({"file": name, "session": self.session, "width": width, "height": height,
                       "source": self.source, "time": time.time(), "u": u, "v": v,
                       "crc32": zlib.crc32(data) & 0xffffffff})
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


def summarize(index: DatasetIndex, bins: int = 10) -> Dict[str, Any]:
    """Counts per category and session, x/y label histograms on [-1, 1] (``bins`` bins) and the problems."""
    per_category = {shown_path(c): 0 for c in index.categories}
    per_session = {}  # type: Dict[str, int]
    for e in index.entries:
        per_category[shown_path(e.category)] = per_category.get(shown_path(e.category), 0) + 1
        per_session[shown_path(e.session)] = per_session.get(shown_path(e.session), 0) + 1
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
    The image is decoded by :func:`load_frame` (BGR, upright); one that fails to decode raises IOError naming it.
    """

    def __init__(self, entries: Sequence[Entry], categories: Sequence[str],
                 transform: Callable[..., Tuple[np.ndarray, float, float]]) -> None:
        self.entries, self.categories, self.transform = list(entries), list(categories), transform

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> Tuple[Any, int, Any]:
        import torch
        e = self.entries[i]
        frame = load_frame(e.path, e.orientation)
        if frame is None:
            raise IOError("could not decode %s; run `jetracer dataset info` to list bad files" % shown_path(e.path))
        frame, u, v = self.transform(frame, float(e.u), float(e.v))
        h, w = frame.shape[:2]
        xy = torch.tensor(to_normalised(u, v, w, h), dtype=torch.float32)
        return torch.from_numpy(np.ascontiguousarray(frame)), self.categories.index(e.category), xy


def iter_frames(entries: Iterable[Entry]) -> Iterable[Tuple[Entry, np.ndarray]]:
    """Decode each entry's image (BGR), skipping ones that fail: for calibration and previews."""
    for e in entries:
        frame = load_frame(e.path, e.orientation)
        if frame is not None:
            yield e, frame
