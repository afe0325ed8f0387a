"""Scanning dataset folders: every usable image as an :class:`Entry`, every other entry as a :class:`Problem`.

Two kinds of labels: road frames (``<dataset>/<category>/<u>_<v>_<id>.jpg``), whose index line may also hold
an obstacle label (``"blocked": true/false, "distance_m": metres or null``), and, with ``obstacles=True``,
obstacle frames in upstream JetBot's collision layout (``<dataset>/blocked/*.jpg``, ``<dataset>/free/*.jpg``,
any name; ``distance_m`` from the index line where there is one). Folders named ``blocked`` and ``free``
are that layout, never road categories: a scan for road frames only passes over them.

Nothing here deletes or rewrites a file. An index that is not a regular file or is over
:data:`MAX_INDEX_BYTES` is reported and not read (its images are read without it), as is an index line
over :data:`MAX_INDEX_LINE_BYTES`; a FIFO or device file in a category folder is never opened.
"""
import datetime
import json
import logging
import os
import stat
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..bounded_file import KIB, MIB, FileLimitError, open_regular
from .jpeg import check_jpeg
from .names import (BLOCKED, DEFAULT_CATEGORY, IMAGE_EXTENSIONS, INDEX_NAME, OBSTACLE_FOLDERS, Entry, obstacle_fields,
                    parse_name, shown_path)

logger = logging.getLogger(__name__)

MAX_INDEX_BYTES = 64 * MIB          # ~250,000 index lines: a category of 250,000 frames is 5 GB of JPEGs
MAX_INDEX_LINE_BYTES = 64 * KIB     # an index line is ~250 bytes
LEGACY_SESSION_GAP_S = 300.0


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
    """What ``scan_dataset`` found: ``entries`` (sorted by category, session, time; the obstacle folders'
    after the road categories), ``problems``, ``categories`` (the road categories)."""

    def __init__(self, entries: List[Entry], problems: List[Problem], categories: List[str]) -> None:
        self.entries, self.problems, self.categories = entries, problems, categories

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def road_entries(self) -> List[Entry]:
        """The frames with a road label."""
        return [e for e in self.entries if e.has_road]

    @property
    def obstacle_entries(self) -> List[Entry]:
        """The frames with an obstacle label (blocked/free folders, and road frames labelled in the index)."""
        return [e for e in self.entries if e.has_obstacle]

    def sessions(self) -> List[str]:
        return sorted(set(e.session for e in self.entries))


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
        return ("a folder named like an image; not read" if name.lower().endswith(IMAGE_EXTENSIONS)
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
    if not name.lower().endswith(IMAGE_EXTENSIONS):
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
    """[(category, folder)] of a dataset root (the obstacle folders among them); a flat folder of JPEGs is the
    single category ``apex``. Other entries of the root (files, hidden folders) go to ``problems``."""
    if not os.path.isdir(root):
        raise FileNotFoundError("dataset folder %s does not exist" % shown_path(root))
    try:
        names = sorted(os.listdir(root))
    except OSError as e:
        raise FileNotFoundError("dataset folder %s cannot be listed (%s)" % (shown_path(root), e.strerror or e))
    if any(n.lower().endswith(IMAGE_EXTENSIONS) for n in names):
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


def _obstacle_label(rec: Optional[dict], path: str, problems: List[Problem]) -> Tuple[Optional[bool], Optional[float]]:
    """(blocked, distance_m) of a road frame's index line (None, None without one); a bad value is reported
    and the obstacle label ignored (the road label stays)."""
    if rec is None or ("blocked" not in rec and "distance_m" not in rec):
        return None, None
    try:
        fields = obstacle_fields(rec.get("blocked"), rec.get("distance_m"))
    except ValueError as e:
        problems.append(Problem(path, "obstacle label in %s ignored: %s" % (INDEX_NAME, e)))
        return None, None
    return fields["blocked"], fields["distance_m"]


def _obstacle_distance(rec: Optional[dict], category: str, path: str, problems: List[Problem]) -> Optional[float]:
    """distance_m of a blocked/free frame's index line (None where unknown); the folder is the label, so an
    index line that says otherwise is reported (the folder wins)."""
    if rec is None:
        return None
    blocked = category == BLOCKED
    if isinstance(rec.get("blocked"), bool) and rec["blocked"] != blocked:
        problems.append(Problem(path, "%s says blocked=%s but the frame is in %s/; the folder is the label"
                                % (INDEX_NAME, str(rec["blocked"]).lower(), category)))
    try:
        return obstacle_fields(blocked, rec.get("distance_m"))["distance_m"]
    except ValueError as e:
        problems.append(Problem(path, "distance in %s ignored: %s" % (INDEX_NAME, e)))
        return None


def scan_dataset(paths: Any, categories: Optional[Sequence[str]] = None, obstacles: bool = False) -> DatasetIndex:
    """Index one or more dataset folders; never raises on a bad image, never touches a file.

    ``paths``: a folder or a list of folders in the upstream layout. ``categories``: keep only these
    (in this order; the model's output layout follows it). Default: every category found, sorted.
    ``obstacles``: also read the blocked/free folders (JetBot's collision layout) as obstacle frames without
    a road label; without it they are passed over (a road-only reader never sees a frame it cannot use).
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
            obstacle_folder = category in OBSTACLE_FOLDERS
            if obstacle_folder and not obstacles:
                continue
            if not obstacle_folder and categories is not None and category not in categories:
                continue
            if not obstacle_folder:
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
                    u, v = parse_name(fname) if not obstacle_folder else (None, None)
                    width, height, orientation = check_jpeg(path, rec)
                    if u is not None and not (0 <= u < width and 0 <= v < height):
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
                if obstacle_folder:
                    blocked, distance = category == BLOCKED, _obstacle_distance(rec, category, path, problems)
                else:
                    blocked, distance = _obstacle_label(rec, path, problems)
                entries.append(Entry(path, category, u, v, width, height, session, t, source, orientation,
                                     blocked=blocked, distance_m=distance))
    cats = list(categories) if categories is not None else sorted(found)

    def order(c: str) -> int:
        return cats.index(c) if c in cats else len(cats) + OBSTACLE_FOLDERS.index(c)
    entries.sort(key=lambda e: (order(e.category), e.session, e.time, e.path))
    for p in problems:
        logger.warning("skipped %s: %s", shown_path(p.path), p.reason)
    return DatasetIndex(entries, problems, cats)


def summarize(index: DatasetIndex, bins: int = 10) -> Dict[str, Any]:
    """Counts per category and session, x/y label histograms on [-1, 1] (``bins`` bins) of the road frames,
    the problems, and where there are obstacle labels ``obstacles``: blocked and free counts and how many
    give a distance."""
    per_category = {shown_path(c): 0 for c in index.categories}
    per_session = {}  # type: Dict[str, int]
    for e in index.entries:
        per_category[shown_path(e.category)] = per_category.get(shown_path(e.category), 0) + 1
        per_session[shown_path(e.session)] = per_session.get(shown_path(e.session), 0) + 1
    xy = np.array([e.xy for e in index.entries if e.has_road], dtype=np.float64).reshape(-1, 2)
    edges = np.linspace(-1.0, 1.0, bins + 1)
    labelled = index.obstacle_entries
    extra = {"obstacles": {"blocked": sum(1 for e in labelled if e.blocked),
                           "free": sum(1 for e in labelled if not e.blocked),
                           "with_distance": sum(1 for e in labelled if e.distance_m is not None)}} if labelled else {}
    return dict(extra, **{
        "images": len(index.entries),
        "categories": per_category,
        "sessions": per_session,
        "histogram": {"edges": [round(float(b), 6) for b in edges],
                      "x": np.histogram(np.clip(xy[:, 0], -1, 1), edges)[0].tolist(),
                      "y": np.histogram(np.clip(xy[:, 1], -1, 1), edges)[0].tolist()},
        "problems": [p.as_dict() for p in index.problems],
    })
