"""Crash-safe file writes: a reader (or the next boot) sees the old file or the new one, never half.

Used for everything the car writes while it may lose power: dataset images, checkpoints and models,
the user config, the drive state and the systemd units. The temporary file of ``path`` is named
``.<name>.<random>.tmp`` in the same folder (a rename never crosses file systems); a process killed
mid-write leaves it behind, and :func:`remove_leftovers` is how the writer's next run cleans up.
"""
import contextlib
import os
import shutil
import tempfile
import uuid
from typing import IO, Any, Iterator, List, Optional, Sequence, Type

from .errors import UserError


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "wb", fsync: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` for writing; on success rename it over ``path``.

    On an exception the temporary file is removed and ``path`` is untouched. ``fsync`` makes the
    content durable before the rename (worth it on the car's SD card; the simulator's bulk writes skip it).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def temp_prefix(path: str) -> str:
    """The name prefix of ``path``'s temporary files: ``.<name>.``."""
    return "." + os.path.basename(path) + "."


def remove_leftovers(*paths: str) -> List[str]:
    """Delete the temporary files that interrupted writes of ``paths`` left (see the module docstring);
    returns the files removed. Only names of that exact form are touched."""
    removed = []  # type: List[str]
    by_folder = {}  # type: dict
    for path in paths:
        by_folder.setdefault(os.path.dirname(os.path.abspath(path)), []).append(temp_prefix(path))
    for folder, prefixes in by_folder.items():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.endswith(".tmp") and name.startswith(tuple(prefixes)):
                try:
                    os.unlink(os.path.join(folder, name))
                    removed.append(os.path.join(folder, name))
                except OSError:
                    pass
    return removed


def keep_previous(path: str, previous: str) -> bool:
    """Make ``previous`` a copy of ``path`` (a hard link when the file system has them), atomically, before
    ``path`` is replaced; False when there is no ``path`` to keep. ``path`` itself is not touched."""
    if not os.path.isfile(path):
        return False
    folder = os.path.dirname(os.path.abspath(previous))
    tmp = os.path.join(folder, temp_prefix(previous) + uuid.uuid4().hex[:12] + ".tmp")
    try:
        try:
            os.link(path, tmp)
        except OSError:  # FAT, some network file systems
            shutil.copy2(path, tmp)
        os.replace(tmp, previous)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    return True


def same_file(path: str, other: str) -> bool:
    """True when writing ``path`` would write over ``other``: the same name after resolving symlinks, or the
    same file under another name (a hard link)."""
    if os.path.realpath(path) == os.path.realpath(other):
        return True
    try:
        return os.path.samefile(path, other)
    except OSError:  # one of them does not exist
        return False


class OutputFileError(UserError):
    """An output file named where it cannot be written: a folder, a wrong suffix, a missing or read-only folder."""


def _shown(path: str) -> str:
    return os.fsencode(path).decode("utf-8", "backslashreplace")  # undecodable bytes of a name as \xNN


def check_output_file(path: str, option: Optional[str] = None, suffixes: Sequence[str] = (), what: str = "file",
                      example: Optional[str] = None, default_name: Optional[str] = None, make_folder: bool = False,
                      error: Type[Exception] = OutputFileError) -> str:
    """``path`` (``~`` expanded; a folder becomes ``path/default_name`` when that is set) once a file can be
    written there, checked before any work starts, so minutes of work are not lost at the end.

    Refused with ``error``, one line naming ``option`` (when given), the path and the fix: a folder; a name
    without one of ``suffixes`` (any name when empty); a folder that does not exist (with ``make_folder``,
    as for writers that create it, the nearest existing folder is checked instead); a folder this process
    cannot write in, probed with a temporary file (which also catches a read-only file system).
    """
    path = os.path.expanduser(path)
    if default_name and os.path.isdir(path):
        path = os.path.join(path, default_name)
    lead = "%s %s" % (option, _shown(path)) if option else _shown(path)
    if os.path.isdir(path):
        raise error("%s is a folder; name the %s to write%s" % (lead, what, ", e.g. %s%s" % (
            option + " " if option else "", _shown(os.path.join(path, example))) if example else ""))
    if suffixes and not path.lower().endswith(tuple(s.lower() for s in suffixes)):
        raise error("%s: expected a %s file name%s" % (lead, " or ".join(suffixes), " (or a folder, to write %s in it)"
                                                       % default_name if default_name else ""))
    folder = os.path.dirname(os.path.abspath(path))
    if not make_folder and not os.path.isdir(folder):
        raise error("%s: the folder %s does not exist; create it first" % (lead, _shown(folder)))
    while not os.path.lexists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    try:
        fd, probe = tempfile.mkstemp(prefix=".jetracer-write-test.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise error("%s: cannot write in %s (%s); pick a folder you can write to" % (lead, _shown(folder),
                                                                                    e.strerror or e))
    return path
