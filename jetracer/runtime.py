"""The drive service's runtime directory, and files in it that another local user cannot redirect or spoof.

Where it is (the first that applies):

1. ``$JETRACER_RUNTIME_DIR`` (set in the display unit to the drive service's directory; tests);
2. ``$RUNTIME_DIRECTORY`` (systemd's ``RuntimeDirectory=jetracer``: ``/run/jetracer``, made by systemd
   for the service's user, mode 0700);
3. for a client (``jetracer arm``, the display run by hand): :data:`SERVICE_RUNTIME_DIR` when the service
   has made it;
4. ``$XDG_RUNTIME_DIR/jetracer`` (a login session's private ``/run/user/UID``);
5. ``/tmp/jetracer-UID``, made with mode 0700.

Whichever it is, it is used only when it is a real directory (not a symlink), owned by this user (or
root; root may also use the service user's), and writable by nobody else; otherwise :class:`RuntimeDirError` names the problem and the fix.
Files in it are written through a descriptor of that directory (``O_NOFOLLOW``, ``O_EXCL`` temporary
file, then ``rename``), and read with ``O_NOFOLLOW | O_NONBLOCK`` after checking that they are regular
files of the expected owner, so a symlink or a FIFO planted there cannot redirect a write or hang a reader.
"""
import errno
import os
import stat
import tempfile
from typing import List, Optional

SERVICE_RUNTIME_DIR = "/run/jetracer"
MAX_FILE_BYTES = 64 * 1024


class RuntimeDirError(OSError):
    """The runtime directory or a file in it is not safe to use; the message says why and what to do."""


def _candidates(client: bool) -> List[str]:
    out = []
    explicit = os.environ.get("JETRACER_RUNTIME_DIR")
    if explicit:
        return [explicit]
    systemd = os.environ.get("RUNTIME_DIRECTORY")
    if systemd:
        return [systemd.split(":")[0]]
    if client:
        out.append(SERVICE_RUNTIME_DIR)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        out.append(os.path.join(xdg, "jetracer"))
    out.append(os.path.join(tempfile.gettempdir(), "jetracer-%d" % os.geteuid()))
    return out


def check_private_dir(path: str, create: bool = False) -> str:
    """``path`` if it is a directory (not a symlink) owned by this user or root and writable only by its owner.

    ``create`` makes it (mode 0700) when missing. Raises :class:`RuntimeDirError` otherwise.
    """
    if create:
        parent = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(parent):
            try:
                os.mkdir(path, 0o700)
            except OSError as e:
                if e.errno != errno.EEXIST:
                    raise RuntimeDirError("cannot create the runtime directory %s: %s" % (path, e))
    try:
        st = os.lstat(path)
    except OSError as e:
        raise RuntimeDirError("runtime directory %s: %s" % (path, e.strerror))
    if stat.S_ISLNK(st.st_mode):
        raise RuntimeDirError("refusing runtime directory %s: it is a symlink (another user may have planted it); "
                              "remove it or set JETRACER_RUNTIME_DIR to a private directory" % path)
    if not stat.S_ISDIR(st.st_mode):
        raise RuntimeDirError("refusing runtime directory %s: not a directory" % path)
    if st.st_uid not in (os.geteuid(), 0) and os.geteuid() != 0:  # root may use the service user's directory
        raise RuntimeDirError("refusing runtime directory %s: owned by uid %d, not by you (uid %d); another user may "
                              "have made it: remove it or set JETRACER_RUNTIME_DIR" % (path, st.st_uid, os.geteuid()))
    if st.st_mode & 0o022:
        raise RuntimeDirError("refusing runtime directory %s: writable by group or others (mode %o); chmod 700 it"
                              % (path, stat.S_IMODE(st.st_mode)))
    return path


def runtime_dir(create: bool = True) -> str:
    """The checked runtime directory a drive process writes to (see the module docstring)."""
    problems = []
    candidates = _candidates(client=False)
    for path in candidates:
        try:
            return check_private_dir(path, create=create)
        except RuntimeDirError as e:
            if len(candidates) == 1:
                raise
            problems.append(str(e))
    raise RuntimeDirError("no usable runtime directory: %s" % "; ".join(problems))


EMULATED_BUS_NAME = "emulated_bus.bin"


def emulated_bus_path() -> str:
    """Where a drive session keeps its emulated chips (see :func:`jetracer.driving.session.share_emulated_bus`)."""
    return os.path.join(runtime_dir(), EMULATED_BUS_NAME)


def find_runtime_file(name: str) -> Optional[str]:
    """Where a running drive process keeps ``name`` (its state, its control socket), or None.

    Looks in the client order of the module docstring (the service's directory before a session's),
    skipping directories that fail :func:`check_private_dir`.
    """
    for path in _candidates(client=True):
        candidate = os.path.join(path, name)
        if not os.path.lexists(candidate):
            continue
        try:
            check_private_dir(path)
        except RuntimeDirError:
            continue
        return candidate
    return None


def _open_dir(path: str) -> int:
    check_private_dir(path)
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)


def write_private_file(path: str, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically; the directory must pass :func:`check_private_dir`.

    The temporary file is created with ``O_EXCL | O_NOFOLLOW`` relative to the directory's descriptor
    and renamed over the name, so a symlink or FIFO at ``path`` is replaced, never followed.
    """
    folder, name = os.path.split(os.path.abspath(path))
    dfd = _open_dir(folder)
    try:
        tmp = ".%s.%d.%s.tmp" % (name, os.getpid(), os.urandom(4).hex())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
            raise
    finally:
        os.close(dfd)


def read_private_file(path: str, owner_uid: Optional[int] = None, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file owned by ``owner_uid`` (default: this user), one link, small.

    Opened with ``O_NOFOLLOW | O_NONBLOCK``: a symlink fails, a FIFO or device returns at once and is refused.
    Raises :class:`RuntimeDirError` (or ``OSError`` when it does not exist).
    """
    owner_uid = os.geteuid() if owner_uid is None else owner_uid
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RuntimeDirError("%s is not a regular file" % path)
        if st.st_uid != owner_uid:
            raise RuntimeDirError("%s is owned by uid %d, expected %d" % (path, st.st_uid, owner_uid))
        if st.st_nlink != 1:
            raise RuntimeDirError("%s has %d hard links" % (path, st.st_nlink))
        if st.st_size > max_bytes:
            raise RuntimeDirError("%s is %d bytes, more than %d" % (path, st.st_size, max_bytes))
        chunks = []
        while True:
            chunk = os.read(fd, max_bytes + 1)
            if not chunk:
                break
            chunks.append(chunk)
            if sum(len(c) for c in chunks) > max_bytes:
                raise RuntimeDirError("%s grew past %d bytes" % (path, max_bytes))
        return b"".join(chunks)
    finally:
        os.close(fd)
