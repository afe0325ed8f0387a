"""The drive service's runtime directory, and files and sockets in it that another local user cannot redirect or spoof.

Where it is (the first that applies):

1. ``$JETRACER_RUNTIME_DIR`` (set in the display unit to the drive service's directory; tests);
2. ``$RUNTIME_DIRECTORY`` (systemd's ``RuntimeDirectory=jetracer``: ``/run/jetracer``, made by systemd
   for the service's user, mode 0700);
3. for a client (``jetracer arm``, the display run by hand): :data:`SERVICE_RUNTIME_DIR` when the service
   has made it;
4. ``$XDG_RUNTIME_DIR/jetracer`` (a login session's private ``/run/user/UID``);
5. root: :data:`ROOT_RUNTIME_DIR` (``/run/jetracer-root``: only root can make a name in ``/run``);
   another user: ``/tmp/jetracer-UID``, made with mode 0700. Another user can make that name first: it
   is then refused (owned by them), never used, and the error says how to get past it.

A process uses its *own* directory only: a real directory (not a symlink), owned by this user, writable
by nobody else, in a place nobody else can change (every directory above it is root's or this user's
and writable by nobody else, or sticky like ``/tmp``). Root *reading* another user's directory (``sudo
jetracer disarm`` on the service's ``/run/jetracer``) trusts it as that user's only when its name could
not have been made by anyone but root or that user (its parent is theirs and writable by nobody else);
then every file and socket in it must belong to that user, and the process answering on the control
socket must run as that user (``SO_PEERCRED``): a socket another user swapped in cannot answer for the car.
Otherwise :class:`RuntimeDirError` names the problem and the fix.

Every file and socket is reached through a descriptor of the checked directory: files are written as an
``O_EXCL`` temporary file then renamed, read with ``O_NOFOLLOW | O_NONBLOCK`` after checking they are
regular files of the directory's owner; a socket is opened ``O_PATH | O_NOFOLLOW`` and checked before
``connect``. A symlink or a FIFO planted there cannot redirect a write, hang a reader or answer a client.
"""
import errno
import os
import socket
import stat
import struct
import tempfile
from typing import List, Optional, Tuple

from .errors import Failure

SERVICE_RUNTIME_DIR = "/run/jetracer"
ROOT_RUNTIME_DIR = "/run/jetracer-root"
MAX_FILE_BYTES = 64 * 1024
PRIVATE_DIR_FIX = "set JETRACER_RUNTIME_DIR to a private directory (mkdir -m 700 DIR)"


class RuntimeDirError(OSError, Failure):
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
    if os.geteuid() == 0:
        out.append(ROOT_RUNTIME_DIR)  # never a /tmp name another user could make first
    else:
        out.append(os.path.join(tempfile.gettempdir(), "jetracer-%d" % os.geteuid()))
    return out


def _place_problem(path: str, owner_uid: int, strict_parent: bool) -> Optional[str]:
    """Why a user other than root and ``owner_uid`` could have made or could replace ``path``, or None.

    Every directory above it must be root's or ``owner_uid``'s and writable by nobody else; a
    world-writable one (``/tmp``) only when sticky and the entry below it is root's or ``owner_uid``'s
    (nobody else can then rename it). ``strict_parent``: the parent itself must not be writable by others,
    sticky or not (a foreign directory directly in ``/tmp`` may have been made by anyone).
    """
    trusted = (0, owner_uid)
    child_uid = owner_uid
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    first = True
    while True:
        try:
            st = os.stat(folder)
        except OSError as e:
            return "%s above it: %s" % (folder, e.strerror)
        if st.st_uid not in trusted:
            return "%s above it belongs to uid %d" % (folder, st.st_uid)
        if st.st_mode & 0o022:
            sticky = st.st_mode & stat.S_ISVTX
            if not sticky or child_uid not in trusted or (first and strict_parent):
                return "%s above it is writable by group or others (mode %o)" % (folder, stat.S_IMODE(st.st_mode))
        if folder == os.path.dirname(folder):
            return None
        child_uid = st.st_uid
        folder = os.path.dirname(folder)
        first = False


def _check_dir(path: str, others: bool) -> os.stat_result:
    """The ``lstat`` of ``path`` if it is a safe runtime directory (see the module docstring).

    ``others``: root may read a directory of another user whose place vouches for it.
    """
    try:
        st = os.lstat(path)
    except OSError as e:
        raise RuntimeDirError("runtime directory %s: %s; %s" % (path, e.strerror, PRIVATE_DIR_FIX))
    if stat.S_ISLNK(st.st_mode):
        raise RuntimeDirError("refusing runtime directory %s: it is a symlink (another user may have planted it); "
                              "remove it or %s" % (path, PRIVATE_DIR_FIX))
    if not stat.S_ISDIR(st.st_mode):
        raise RuntimeDirError("refusing runtime directory %s: not a directory; remove it or %s"
                              % (path, PRIVATE_DIR_FIX))
    me = os.geteuid()
    foreign = st.st_uid != me
    if foreign and not (others and me == 0):
        if me == 0:
            fix = "root keeps its files only in a directory of its own: %s" % PRIVATE_DIR_FIX
        else:
            fix = ("ask root to remove it (sudo rm -r %s), or set XDG_RUNTIME_DIR (your login session's /run/user/%d) "
                   "or JETRACER_RUNTIME_DIR to a private directory (mkdir -m 700 DIR)" % (path, me))
        raise RuntimeDirError("refusing runtime directory %s: owned by uid %d, not by you (uid %d); another user may "
                              "have made it first to take over jetracer's files and control socket: %s"
                              % (path, st.st_uid, me, fix))
    if st.st_mode & 0o022:
        raise RuntimeDirError("refusing runtime directory %s: writable by group or others (mode %o); chmod 700 it"
                              % (path, stat.S_IMODE(st.st_mode)))
    problem = _place_problem(path, st.st_uid, strict_parent=foreign)
    if problem:
        whose = "uid %d's" % st.st_uid if foreign else "your"
        raise RuntimeDirError("refusing runtime directory %s as %s: %s, so another user could have made or could "
                              "replace it; %s" % (path, whose, problem, PRIVATE_DIR_FIX))
    return st


def check_private_dir(path: str, create: bool = False) -> str:
    """``path`` if it is this user's own safe runtime directory (see the module docstring).

    ``create`` makes it (mode 0700) when missing. Raises :class:`RuntimeDirError` otherwise, also for a
    directory owned by another user, root or not.
    """
    if create:
        parent = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(parent):
            try:
                os.mkdir(path, 0o700)
            except OSError as e:
                if e.errno != errno.EEXIST:
                    raise RuntimeDirError("cannot create the runtime directory %s: %s; %s"
                                          % (path, e.strerror, PRIVATE_DIR_FIX))
    _check_dir(path, others=False)
    return path


def runtime_dir_owner(path: str) -> int:
    """The uid whose runtime directory ``path`` is, for a reader: this user, or (root only) a user its place
    vouches for.

    Raises :class:`RuntimeDirError` when it is neither.
    """
    return _check_dir(path, others=True).st_uid


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


def find_runtime_file_owner(name: str, refused: Optional[List[str]] = None) -> Optional[Tuple[str, int]]:
    """``(path, owner uid)`` of ``name`` where a running drive process keeps it (state, control socket), or None.

    Looks in the client order of the module docstring (the service's directory before a session's);
    a directory that fails the checks is skipped, and why is appended to ``refused`` when given. The
    uid is the directory's owner: the file, and a process answering on a socket, must be theirs.
    """
    for path in _candidates(client=True):
        candidate = os.path.join(path, name)
        if not os.path.lexists(candidate):
            continue
        try:
            return candidate, runtime_dir_owner(path)
        except RuntimeDirError as e:
            if refused is not None:
                refused.append(str(e))
    return None


def find_runtime_file(name: str) -> Optional[str]:
    """Where a running drive process keeps ``name``, or None (see :func:`find_runtime_file_owner`)."""
    found = find_runtime_file_owner(name)
    return found[0] if found else None


def _open_dir(path: str, others: bool = False) -> Tuple[int, int]:
    """A descriptor of the checked directory ``path`` and its owner's uid; the descriptor is checked too."""
    st = _check_dir(path, others)
    try:
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise RuntimeDirError("runtime directory %s: %s" % (path, e.strerror))
    opened = os.fstat(dfd)
    if (opened.st_dev, opened.st_ino, opened.st_uid) != (st.st_dev, st.st_ino, st.st_uid) or opened.st_mode & 0o022:
        os.close(dfd)
        raise RuntimeDirError("runtime directory %s was replaced while it was opened (another user may be at work); "
                              "%s" % (path, PRIVATE_DIR_FIX))
    return dfd, st.st_uid


def write_private_file(path: str, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically; the directory must pass :func:`check_private_dir`.

    The temporary file is created with ``O_EXCL | O_NOFOLLOW`` relative to the directory's descriptor
    and renamed over the name, so a symlink or FIFO at ``path`` is replaced, never followed.
    """
    folder, name = os.path.split(os.path.abspath(path))
    dfd, _ = _open_dir(folder)
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
    """The bytes of ``path`` if it is a regular file owned by ``owner_uid``, one link, small.

    ``owner_uid`` defaults to the owner of its directory, which must pass :func:`runtime_dir_owner`
    (this user's own, or for root a user's the place vouches for). Opened relative to the checked
    directory with ``O_NOFOLLOW | O_NONBLOCK``: a symlink fails, a FIFO or device returns at once and is
    refused. Raises :class:`RuntimeDirError` (or ``OSError`` when it does not exist).
    """
    folder, name = os.path.split(os.path.abspath(path))
    dfd, dir_owner = _open_dir(folder, others=True)
    owner_uid = dir_owner if owner_uid is None else owner_uid
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0),
                     dir_fd=dfd)
    finally:
        os.close(dfd)
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


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket (``SO_PEERCRED``; for a
    server: the process that listens)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def connect_private_socket(path: str, timeout_s: Optional[float] = None) -> socket.socket:
    """A stream socket connected to ``path`` in a runtime directory, after checking who answers.

    The directory must pass :func:`runtime_dir_owner`; the socket (looked at without following a
    symlink, relative to the directory's descriptor, and on Linux connected through an ``O_PATH``
    descriptor of that very inode) must belong to the directory's owner, and so must the process that
    answers (``SO_PEERCRED``). Raises :class:`RuntimeDirError` naming what is wrong, or ``OSError`` when
    nothing answers (``FileNotFoundError``, ``ConnectionRefusedError``).
    """
    folder, name = os.path.split(os.path.abspath(path))
    dfd, owner = _open_dir(folder, others=True)
    fd = None
    try:
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise RuntimeDirError("refusing %s: it is a symlink, not the drive process's socket (another user "
                                      "may have planted it); remove it" % path)
            if not stat.S_ISSOCK(st.st_mode):
                raise RuntimeDirError("refusing %s: not a socket; remove it" % path)
            if st.st_uid != owner:
                raise RuntimeDirError("refusing %s: the socket belongs to uid %d but its directory to uid %d (another "
                                      "user may have put it there); remove it" % (path, st.st_uid, owner))
            target = path
            if hasattr(os, "O_PATH") and os.path.isdir("/proc/self/fd"):
                fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
                opened = os.fstat(fd)
                if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
                    raise RuntimeDirError("%s was replaced while it was checked (another user may be at work)" % path)
                target = "/proc/self/fd/%d" % fd  # this inode, whatever the name points to by now
        finally:
            os.close(dfd)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout_s)
            sock.connect(target)
            uid = peer_uid(sock)
            if uid != owner:
                raise RuntimeDirError("refusing the process answering on %s: it runs as uid %d, but the socket and "
                                      "its directory belong to uid %d, so it is not that user's drive process and "
                                      "its answers cannot be trusted (the car may still be driving): stop it, or "
                                      "ask root to" % (path, uid, owner))
        except BaseException:
            sock.close()
            raise
        return sock
    finally:
        if fd is not None:
            os.close(fd)
