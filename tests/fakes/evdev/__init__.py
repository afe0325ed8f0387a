"""A stand-in for python-evdev that reads scripted events from files (see tests/fakes/README.md).

Same names and shapes as python-evdev: ``list_devices()``, ``InputDevice(path)`` with a selectable
``fd``, ``capabilities(absinfo=...)``, ``read()`` (raises ``BlockingIOError`` when nothing is
pending), ``read_one()``, ``read_loop()``; ``InputEvent`` and ``AbsInfo``; ``ecodes``.
"""
import collections
import errno
import json
import os
import threading
import time

from . import ecodes

AbsInfo = collections.namedtuple("AbsInfo", "value min max fuzz flat resolution")


class InputEvent(object):
    """One input event: ``sec``, ``usec``, ``type``, ``code``, ``value`` (as evdev.events.InputEvent)."""

    def __init__(self, sec, usec, type, code, value):
        self.sec, self.usec, self.type, self.code, self.value = sec, usec, type, code, value

    def timestamp(self):
        return self.sec + self.usec / 1000000.0

    def __repr__(self):
        return "InputEvent(%d, %d, %d, %d, %d)" % (self.sec, self.usec, self.type, self.code, self.value)


def _directory():
    return os.environ.get("FAKE_EVDEV_DIR", "")


def list_devices(input_device_dir="/dev/input"):
    """The event devices of ``$FAKE_EVDEV_DIR`` (files ``event*`` with a ``.json`` description)."""
    folder = _directory()
    if not folder or not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, n) for n in os.listdir(folder)
                  if n.startswith("event") and not n.endswith(".json"))


class InputDevice(object):
    """A scripted input device: events are the lines appended to ``path`` after it was opened."""

    def __init__(self, dev):
        self.path = str(dev)
        try:
            with open(self.path + ".json") as f:
                desc = json.load(f)
        except (IOError, OSError):
            raise OSError(errno.ENOENT, "No such file or directory", self.path)
        self.name = desc.get("name", "Fake Gamepad")
        self.phys = desc.get("phys", "usb-fake/input0")
        self._keys = [getattr(ecodes, n) for n in desc.get("keys", [])]
        self._abs = [(getattr(ecodes, n), AbsInfo(0, lo, hi, 0, 0, 0)) for n, lo, hi in desc.get("abs", [])]
        self._file = open(self.path, "r")
        self._file.seek(0, os.SEEK_END)  # as a device node: only what happens from now on
        self._read_fd, self._write_fd = os.pipe()
        self._pending = collections.deque()
        self._lock = threading.Lock()
        self._closed = False
        self._unplugged = False
        self._tail = threading.Thread(target=self._follow, name="fake-evdev", daemon=True)
        self._tail.start()

    @property
    def fd(self):
        return self._read_fd

    def fileno(self):
        return self._read_fd

    def _follow(self):
        buffer = ""
        while not self._closed:
            chunk = self._file.readline()
            if not chunk:
                time.sleep(0.005)
                continue
            buffer += chunk
            if not buffer.endswith("\n"):
                continue
            line, buffer = buffer.strip(), ""
            if not line:
                continue
            now = time.time()
            if line == "UNPLUG":
                event = None
            else:
                kind, code, value = line.split()
                event = InputEvent(int(now), int((now % 1) * 1e6), getattr(ecodes, kind), getattr(ecodes, code), int(value))
            with self._lock:
                self._pending.append(event)
            try:
                os.write(self._write_fd, b"e")
            except OSError:
                return

    def capabilities(self, verbose=False, absinfo=True):
        caps = {ecodes.EV_SYN: [0], ecodes.EV_KEY: list(self._keys)}
        if self._abs:
            caps[ecodes.EV_ABS] = list(self._abs) if absinfo else [code for code, _ in self._abs]
        return caps

    def read_one(self):
        """The next pending event, or None."""
        with self._lock:
            if not self._pending:
                return None
            try:
                os.read(self._read_fd, 1)
            except OSError:
                pass
            event = self._pending.popleft()
        if event is None:
            self._unplugged = True
        if self._unplugged:
            raise OSError(errno.ENODEV, "No such device")
        return event

    def read(self):
        """A generator of the pending events; ``BlockingIOError`` when there are none (as evdev)."""
        if self._unplugged:
            raise OSError(errno.ENODEV, "No such device")
        with self._lock:
            empty = not self._pending
        if empty:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        events = []
        while True:
            event = self.read_one()
            if event is None:
                break
            events.append(event)
        return iter(events)

    def read_loop(self):
        import select
        while True:
            select.select([self.fd], [], [])
            for event in self.read():
                yield event

    def close(self):
        if self._closed:
            return
        self._closed = True
        self._tail.join(timeout=1.0)
        self._file.close()
        os.close(self._read_fd)
        os.close(self._write_fd)

    def __repr__(self):
        return "InputDevice(%r)" % self.path


__all__ = ["InputDevice", "InputEvent", "AbsInfo", "list_devices", "ecodes"]
