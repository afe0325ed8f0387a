"""One owner of the motors: a machine-wide claim on the bus of the car's motor chips, taken by every writer.

Two processes commanding one PCA9685 is how a "disarmed" car drives: the drive service reports
``armed: false`` while a notebook's car moves the throttle. So everything that programs the motor
chips takes the claim first (:func:`jetracer.hardware.create_driver`, hence ``jetracer drive``, a
notebook's ``NvidiaRacecar()``/``Racecar`` from the config and ``jetracer emulator show``; and
``jetracer calibrate``), and a second process gets :class:`MotorsClaimed`: one line naming the
owner (pid, command, uid, since when) and how to stop it.

What is locked (``flock(LOCK_EX | LOCK_NB)``, the descriptor kept open while the claim is held, so
the kernel releases it when the owner exits, however it dies, SIGKILL included):

* a real bus: the device node ``/dev/i2c-N`` itself. Every process that can write the chips must
  open that node, so every such process can take the lock and finds the same one, whichever user
  and runtime directory it has (the service's ``/run/jetracer`` and a login session's
  ``$XDG_RUNTIME_DIR/jetracer`` differ). It needs no directory of its own: the units' sandbox
  (``ProtectSystem=strict``, ``PrivateTmp=yes``) leaves ``/dev/i2c-*`` usable while it makes ``/run/lock``
  read-only, and there is no file another user could plant, swap or leave stale. The owner is
  read from ``/proc/locks`` (the kernel's record of who holds the lock) and ``/proc/PID``.
* a shared emulated bus (``$JETRACER_EMULATED_BUS``): the file ``<bus file>.claim`` beside it, so
  drives on different bus files (tests run many at once) never meet; the owner also writes
  ``{"pid", "uid", "command", "since"}`` into it.
* a process-private emulated bus: nothing (no other process can reach its chips).

The claim covers the bus's motor chips together (a JetRacer's servo/ESC board and motor driver share
one bus): the message names the chips, the lock is the bus's.

Within one process the claim is reference-counted: every car of the process shares it (upstream
notebooks re-run ``car = NvidiaRacecar()``; tests build many cars) and it is released when the last
one closes (or is garbage-collected). A ``fork()``\\ ed child inherits the lock with the descriptor and
cannot take a claim of its own while its parent holds it; a child started with ``exec``
(``subprocess``) inherits nothing.

Who takes no claim, on purpose: the drive's supervisor (:class:`~jetracer.hardware.attach.NeutralWriter`)
writes only neutral, through its own handle, on the chips its parent owns; readers (``jetracer
emulator show`` without a command, the state and the OLED) write nothing to the motor chips.
``jetracer drive --neutral`` (the unit's ``ExecStartPre``/``ExecStopPost``) builds a car, so it takes
the claim like any writer and is refused while another process owns the motors: the owner's car
already started at neutral and stops at neutral when it ends, and opening a car would reprogram the
chip under it (a reset of every channel), so the service does not start while, say, a notebook
owns the car, and says who does.

The API is small on purpose: :func:`claim_motors` (take), :meth:`Claim.release`, :func:`motors_owner`
(look without taking) and :class:`MotorsClaimed` (with ``owner``).
"""
import errno
import fcntl
import json
import os
import stat
import threading
import time
from typing import Any, Dict, Iterable, List, Optional

from .i2c import I2CError, I2CProvider, explain

RECORD_MAX_BYTES = 4096
COMMAND_MAX_CHARS = 120


class MotorsClaimed(I2CError):
    """Another process owns the car's motor chips; ``owner`` is what is known of it (pid, uid, command, since)."""

    def __init__(self, message: str, owner: Optional[Dict[str, Any]] = None) -> None:
        super(MotorsClaimed, self).__init__(errno.EBUSY, message)
        self.owner = owner or {}

    def __str__(self) -> str:
        return self.strerror


class _Held(object):
    """This process's lock on one target: the open descriptor and how many claims share it."""

    def __init__(self, fd: int, pid: int) -> None:
        self.fd = fd
        self.pid = pid
        self.count = 0


_lock = threading.Lock()
_held = {}  # type: Dict[str, _Held]


def _target(provider: I2CProvider) -> Optional[str]:
    """What to lock for ``provider``'s bus: ``/dev/i2c-N``, ``<bus file>.claim``, or None (a private bus)."""
    mode = getattr(provider, "mode", None)
    if mode == "hardware":
        return "/dev/i2c-%d" % int(provider.bus_number)
    if mode == "emulated":
        path = getattr(getattr(provider, "bus", None), "path", None)
        return path + ".claim" if path else None
    return None


def _where(provider: I2CProvider, addresses: Iterable[int]) -> str:
    chips = "/".join("0x%02X" % a for a in sorted(set(int(a) for a in addresses))) or "?"
    mode = getattr(provider, "mode", None)
    if mode == "hardware":
        return "the car's motor chips (PCA9685 %s on I2C bus %s)" % (chips, provider.bus_number)
    return "the car's motor chips (PCA9685 %s on the emulated bus %s)" % (
        chips, getattr(getattr(provider, "bus", None), "path", "?"))


def _open(target: str, provider: I2CProvider, address: int) -> int:
    """A descriptor of ``target`` to lock; an :class:`I2CError` like the bus's own when it cannot be opened."""
    flags = os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW
    if getattr(provider, "mode", None) == "hardware":
        try:  # the node as the bus opens it (udev's /dev, which only root may change)
            return os.open(target, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as e:  # the node missing or not ours: the same message the bus would give
            raise explain(e, provider.bus_number, address, "the car's motor PCA9685")
    try:
        try:
            fd = os.open(target, os.O_RDWR | os.O_CREAT | flags, 0o666)
        except OSError as e:
            if e.errno != errno.EACCES:
                raise
            fd = os.open(target, os.O_RDONLY | flags)  # another user's claim file: lockable, not writable
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise I2CError("refusing the motor claim file %s: it is a symlink (another user may have planted it); "
                           "remove it or set JETRACER_EMULATED_BUS to a file of your own" % target)
        raise I2CError("cannot open the motor claim file %s (%s); remove it or set JETRACER_EMULATED_BUS to a file "
                       "of your own" % (target, e.strerror))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise I2CError("refusing the motor claim file %s: not a regular file; remove it" % target)
    return fd


def _command_line(pid: int) -> List[str]:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            raw = f.read(4096)
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def describe_command(argv: List[str]) -> str:
    """``argv`` as a person would type it: ``jetracer drive --json`` for ``python -m jetracer drive --json``."""
    if not argv:
        return ""
    words = list(argv)
    if len(words) > 2 and words[1] == "-m":
        words = [words[2]] + words[3:]
    elif len(words) > 1 and os.path.basename(words[0]).startswith("python") and words[1].endswith("jetracer"):
        words = ["jetracer"] + words[2:]
    else:
        words[0] = os.path.basename(words[0])
    text = " ".join(" ".join(words).split())  # one line, whatever ``python -c`` held
    return text if len(text) <= COMMAND_MAX_CHARS else text[:COMMAND_MAX_CHARS - 3] + "..."


def _process(pid: int) -> Dict[str, Any]:
    """What ``/proc`` says of ``pid``: command, uid and start time (whatever is readable)."""
    out = {"pid": pid}  # type: Dict[str, Any]
    command = describe_command(_command_line(pid))
    if command:
        out["command"] = command
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    out["uid"] = int(line.split()[1])
                    break
        with open("/proc/%d/stat" % pid) as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot_s = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        out["since"] = boot_s + start_ticks / float(os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    return out


def _lock_holders(fd: int) -> List[int]:
    """Pids that ``/proc/locks`` says hold an ``flock`` on the file of ``fd`` (empty if it cannot tell)."""
    st = os.fstat(fd)
    key = "%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    pids = []
    try:
        with open("/proc/locks") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == key and fields[4].isdigit():
                    pids.append(int(fields[4]))
    except OSError:
        pass
    return [pid for pid in pids if pid > 0]


def _read_record(fd: int) -> Dict[str, Any]:
    """The owner's ``{"pid", "uid", "command", "since"}`` from a claim file ({} when absent or not that)."""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return {}
        record = json.loads(os.pread(fd, RECORD_MAX_BYTES, 0).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return {}
    return {k: record[k] for k in ("pid", "uid", "command", "since") if k in record}


def _owner(fd: int) -> Dict[str, Any]:
    """Who holds the lock on ``fd``'s file: the kernel's pid first, the claim file's record for the rest."""
    record = _read_record(fd)
    holders = _lock_holders(fd)
    if holders and record.get("pid") not in holders:
        record = {}
    pid = record.get("pid") or (holders[0] if holders else None)
    if pid is None:
        return {}
    live = _process(pid)
    for key, value in live.items():
        record.setdefault(key, value)
    return record


def _write_record(fd: int) -> None:
    """Say who owns the claim file (a device node, or one opened read-only, stays as it is)."""
    record = {"pid": os.getpid(), "uid": os.getuid(), "since": round(time.time(), 3),
              "command": describe_command(_command_line(os.getpid())) or "pid %d" % os.getpid()}
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)
    except OSError:
        pass  # read-only: /proc/locks still names the owner


def how_to_stop(command: str) -> str:
    """What stops the owner, by what it is."""
    if "jetracer drive" in command:
        return ("stop the drive: `sudo systemctl stop jetracer-drive` for the service, or Ctrl-C where it runs "
                "(`jetracer disarm` does not release the motors)")
    if "jetracer calibrate" in command:
        return "finish that calibration, or quit it with q"
    if "ipykernel" in command or "jupyter" in command:
        return "run `car.close()` in that notebook or shut its kernel down"
    return ("end it: `car.close()` or shut the notebook kernel down for a Python car, `sudo systemctl stop "
            "jetracer-drive` for the drive service (`jetracer disarm` does not release the motors)")


def describe_owner(owner: Dict[str, Any]) -> str:
    """``pid 1234 (`jetracer drive --json`, uid 1000, since 14:02:11)``, from what is known."""
    if not owner.get("pid"):
        return "another process"
    details = []
    if owner.get("command"):
        details.append("`%s`" % owner["command"])
    if owner.get("uid") is not None:
        details.append("uid %s" % owner["uid"])
    if isinstance(owner.get("since"), (int, float)):
        details.append("since %s" % time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner["since"])))
    return "pid %d%s" % (owner["pid"], " (%s)" % ", ".join(details) if details else "")


def refusal(where: str, owner: Dict[str, Any]) -> str:
    """The one line a second writer gets."""
    return ("%s are owned by %s; one process at a time may command them: %s, then try again"
            % (where, describe_owner(owner), how_to_stop(owner.get("command", ""))))


class Claim(object):
    """This process's share of the claim on a bus's motor chips; :meth:`release` gives it back (idempotent)."""

    def __init__(self, target: Optional[str], where: str, held: Optional[_Held] = None) -> None:
        self.target = target
        self.where = where
        self._held = held

    @property
    def held(self) -> bool:
        return self._held is not None

    def release(self) -> None:
        """Give this share back; the lock goes when the last share of the process does."""
        with _lock:
            held, self._held = self._held, None
            if held is None or held.pid != os.getpid() or _held.get(self.target or "") is not held:
                return  # released already, or inherited through fork() (the parent's to release)
            held.count -= 1
            if held.count <= 0:
                del _held[self.target or ""]
                os.close(held.fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __repr__(self) -> str:
        return "Claim(%s, %s)" % (self.target or "process-private bus", "held" if self.held else "not held")


def _lock_or_owner(fd: int, target: str, where: str) -> None:
    """``flock`` ``fd`` exclusively; :class:`MotorsClaimed` naming the holder if another process has it.

    Tries three times over ~40 ms, so a look by :func:`motors_owner` (a shared lock for a moment) is
    not taken for an owner.
    """
    for attempt in range(3):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise I2CError("cannot lock %s for %s: %s" % (target, where, e.strerror))
        if attempt < 2:
            time.sleep(0.02)
    owner = _owner(fd)
    raise MotorsClaimed(refusal(where, owner), owner)


def claim_motors(provider: I2CProvider, addresses: Iterable[int]) -> Claim:
    """Claim the motor chips at ``addresses`` on ``provider``'s bus for this process, before anything is written.

    Returns a :class:`Claim` (release it when the outputs are closed); raises :class:`MotorsClaimed`
    naming the owner when another process holds them, or an :class:`I2CError` when the bus cannot be
    opened. A process-private emulated bus (or an unknown provider) gives a claim that holds nothing.
    """
    addresses = list(addresses)
    target = _target(provider)
    where = _where(provider, addresses)
    if target is None:
        return Claim(None, where)  # a process-private bus: nobody else can reach it
    with _lock:
        held = _held.get(target)
        if held is not None and held.pid != os.getpid():  # inherited through fork(): the parent's lock
            del _held[target]
            os.close(held.fd)  # this copy must not keep the parent's lock alive after the parent ends
            held = None
        if held is None:
            fd = _open(target, provider, addresses[0] if addresses else 0)
            try:
                _lock_or_owner(fd, target, where)
            except BaseException:
                os.close(fd)
                raise
            _write_record(fd)
            held = _held[target] = _Held(fd, os.getpid())
        held.count += 1
    return Claim(target, where, held)


def motors_owner(provider: I2CProvider) -> Optional[Dict[str, Any]]:
    """Who owns the motor chips on ``provider``'s bus now (``{"pid", ...}``), or None when nobody does.

    Takes nothing (a safety check or a status display may call it at any time); this process's own
    claim counts as an owner.
    """
    target = _target(provider)
    if target is None:
        return None
    with _lock:
        held = _held.get(target)
        if held is not None and held.pid == os.getpid():
            return _process(os.getpid())
    try:
        fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return _owner(fd) or {"pid": None}
            return None
        return None
    finally:
        os.close(fd)
