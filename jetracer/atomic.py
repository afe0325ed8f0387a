"""Crash-safe file writes: a reader (or the next boot) sees the old file or the new one, never half.

Used for everything the car writes while it may lose power: dataset images, checkpoints and models,
the user config, the drive state and the systemd units.
"""
import contextlib
import os
import tempfile
from typing import IO, Any, Iterator


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
