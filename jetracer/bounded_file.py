"""Open a file a user named without letting it hang or exhaust the car: regular files only, under a size limit.

A FIFO blocks ``open`` (or the first read) until a writer comes, ``/dev/zero`` never ends and a sparse file
of a few bytes on disk can claim 3 GiB, so every file jetracer reads whole (model files, dataset indexes and
images, configs) is opened through here. A path that ``stat`` says is not a regular file is refused without
being opened; one that passes is opened with ``O_NONBLOCK | O_NOCTTY`` (a FIFO swapped in meanwhile does not
block, a terminal is not taken over) and checked again with ``fstat`` on the open descriptor, which is what
is then read. Its size is checked before anything is read, and a read never asks for more than the limit.

Each refusal is a :class:`FileLimitError`: one line naming the file and the limit.
"""
import os
import stat
from typing import BinaryIO, Optional

from .errors import Failure

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30


class FileLimitError(OSError, Failure):
    """A file jetracer will not read: not a regular file, or larger than the limit for its kind.

    ``str()`` is one line naming the file and the limit; ``reason`` is the same without the file (for lists
    of problems that show the path beside it); ``path`` is the file.
    """

    def __init__(self, path: str, what: str, reason: str) -> None:
        super(FileLimitError, self).__init__("%s %s %s" % (what, path, reason))
        self.path, self.what, self.reason = path, what, reason

    def __str__(self) -> str:
        return "%s %s %s" % (self.what, self.path, self.reason)


def shown_size(n: int) -> str:
    """``n`` bytes as a short human figure: ``"32 bytes"``, ``"50 MiB"``, ``"3.0 GiB"``."""
    for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if n >= unit:
            return "%d %s" % (n // unit, name) if n % unit == 0 else "%.1f %s" % (n / float(unit), name)
    return "%d bytes" % n


def _not_regular(mode: int) -> Optional[str]:
    """What a file of ``mode`` is when it is not a regular file, else None."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse_kind(path: str, what: str, kind: str) -> FileLimitError:
    return FileLimitError(path, what, "is %s, not a regular file; not read" % kind)


def check_size(path: str, what: str, size: int, max_bytes: int) -> None:
    """:class:`FileLimitError` when ``size`` is above ``max_bytes`` (the limit for a ``what``)."""
    if size > max_bytes:
        raise FileLimitError(path, what, "is %s, over the %s limit; not read" % (shown_size(size), shown_size(max_bytes)))


def open_regular(path: str, what: str, max_bytes: Optional[int] = None) -> BinaryIO:
    """``path`` opened for binary reading, after checking it is a regular file of at most ``max_bytes``.

    Raises :class:`FileLimitError` (a FIFO, device, socket or folder, never opened; a file above the limit)
    or the ``OSError`` of ``stat``/``open`` (missing, permission denied). Symbolic links are followed: what
    counts is the file they lead to.
    """
    kind = _not_regular(os.stat(path).st_mode)
    if kind is not None:
        raise _refuse_kind(path, what, kind)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        kind = _not_regular(st.st_mode)
        if kind is not None:  # replaced between stat and open
            raise _refuse_kind(path, what, kind)
        if max_bytes is not None:
            check_size(path, what, st.st_size, max_bytes)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str, what: str, max_bytes: int) -> bytes:
    """The whole of ``path`` (a regular file of at most ``max_bytes``); :class:`FileLimitError` otherwise.

    Asks for the size ``fstat`` gives (a read of n bytes allocates n first), then reads on in 1 MiB steps,
    so a file that grows after it was checked is refused at the limit.
    """
    with open_regular(path, what, max_bytes) as f:
        parts = [f.read(os.fstat(f.fileno()).st_size + 1)]
        total = len(parts[0])
        while total <= max_bytes and parts[-1]:
            parts.append(f.read(min(MIB, max_bytes + 1 - total)))
            total += len(parts[-1])
    check_size(path, what, total, max_bytes)
    return parts[0] if len(parts) <= 2 and not parts[-1] else b"".join(parts)
