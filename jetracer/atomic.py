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
from typing import IO, Any, Iterator, List


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
