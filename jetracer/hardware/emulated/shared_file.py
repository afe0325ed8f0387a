"""An emulated I2C bus whose chips live in a file, so several processes drive and watch the same chips.

``JETRACER_EMULATED_BUS=/path/bus.bin`` (with ``JETRACER_I2C=emulated``) makes
:func:`jetracer.hardware.emulated.shared_bus` a :class:`SharedFileBus` on that file: the drive
service, ``jetracer emulator show`` in a second terminal, the OLED service and a test that kills the
drive process with SIGKILL all see one set of PCA9685 and SSD1306 registers, as the processes on a
car share one physical bus. The file is memory-mapped; each transaction (and each look at a chip's
outputs) holds an exclusive ``flock`` on it, so a transaction is atomic across processes as it is on
the wire. A missing or foreign file is created with freshly powered-on chips (PCA9685s at 0x40 and
0x60, a 128x32 SSD1306 at 0x3C).

Layout: a 1 KiB header (magic, table generation, 16 slot records of address, kind, attached flag,
state length and state generation), then 16 slots of 4 KiB, each holding one chip's ``state_bytes()``.
A process reloads a chip's state only when the slot's generation moved, and writes it back only
when the state changed. Fault injection (``fail_next``), the wiring faults of ``$JETRACER_EMULATED_FAULTS``
and the transaction log stay per process.
"""
import errno
import fcntl
import mmap
import os
import stat
import struct
import threading
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from .bus import EmulatedBus
from .chip import Chip
from .pca9685 import PCA9685
from .ssd1306 import SSD1306

MAGIC = b"JRBUS01\n"
SLOTS = 16
SLOT_SIZE = 4096
HEADER_SIZE = 1024
RECORD = struct.Struct("<BBBxIQ")  # address, kind, attached, state length, state generation
RECORDS_AT = 16
FILE_SIZE = HEADER_SIZE + SLOTS * SLOT_SIZE
KINDS = {1: PCA9685, 2: SSD1306}
KIND_OF = {"pca9685": 1, "ssd1306": 2}


class _FileLock(object):
    """Reentrant across threads of this process, exclusive across processes (flock on the bus file)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._thread_lock = threading.RLock()
        self._depth = 0

    def acquire(self) -> None:
        self._thread_lock.acquire()
        if self._depth == 0:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def __enter__(self) -> "_FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


class _SlotLock(object):
    """A chip's lock on a shared bus: loads the chip's state from its slot on entry, stores it on exit if changed."""

    def __init__(self, bus: "SharedFileBus", index: int, chip: Chip) -> None:
        self._bus = bus
        self._index = index
        self._chip = chip
        self._depth = 0
        self._seen = -1
        self._before = b""

    def __enter__(self) -> "_SlotLock":
        self._bus._lock.acquire()
        self._depth += 1
        if self._depth == 1:
            try:
                generation = self._bus._record(self._index)[4]
                if generation != self._seen:
                    self._chip.load_state(self._bus._slot_state(self._index))
                    self._seen = generation
                self._before = self._chip.state_bytes()
            except BaseException:
                self._depth -= 1
                self._bus._lock.release()
                raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._depth == 1:
                after = self._chip.state_bytes()
                if after != self._before:
                    self._seen = self._bus._store(self._index, after)
        finally:
            self._depth -= 1
            self._bus._lock.release()


def _open_bus_file(path: str) -> int:
    """The bus file, never through a symlink and only a regular file: a link planted in a runtime
    directory must not make the bus overwrite the file it points to."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        raise OSError(e.errno, "refusing the emulated bus file %s: it is a symlink (another user may have planted "
                               "it); remove it or set JETRACER_EMULATED_BUS to a file of your own" % path)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "refusing the emulated bus file %s: not a regular file; remove it or set "
                                    "JETRACER_EMULATED_BUS to a file of your own" % path)
    return fd


class SharedFileBus(EmulatedBus):
    """An :class:`EmulatedBus` whose chips' registers are kept in ``path`` for every process that opens it."""

    def __init__(self, path: str, default_chips: Optional[Callable[[], Iterable[Tuple[int, Chip]]]] = None) -> None:
        super(SharedFileBus, self).__init__()
        self.path = os.path.abspath(path)
        self._default_chips = default_chips or (lambda: [])
        self._fd = _open_bus_file(self.path)
        self._lock = _FileLock(self._fd)
        self._slot_of = {}  # type: Dict[int, int]
        self._table_seen = -1
        with self._lock:
            fresh = os.fstat(self._fd).st_size < FILE_SIZE
            if fresh:
                os.ftruncate(self._fd, FILE_SIZE)
            self._map = mmap.mmap(self._fd, FILE_SIZE)
            if fresh or self._map[:len(MAGIC)] != MAGIC:
                self._initialise(self._default_chips())

    # -- the file ----------------------------------------------------------------------------------

    def _initialise(self, chips: Iterable[Tuple[int, Chip]]) -> None:
        self._map[:HEADER_SIZE] = bytes(HEADER_SIZE)
        self._map[:len(MAGIC)] = MAGIC
        for address, chip in chips:
            self._place(address, chip)
        self._bump_table()

    def reinitialise(self) -> None:
        """Every chip back to its power-on state, in every process (the file's default chips only)."""
        with self._lock:
            self._initialise(self._default_chips())
            self._sync()

    def _record(self, index: int) -> Tuple[int, int, int, int, int]:
        return RECORD.unpack_from(self._map, RECORDS_AT + 8 + index * RECORD.size)

    def _write_record(self, index: int, address: int, kind: int, attached: int, length: int, generation: int) -> None:
        RECORD.pack_into(self._map, RECORDS_AT + 8 + index * RECORD.size, address, kind, attached, length, generation)

    def _table_generation(self) -> int:
        return struct.unpack_from("<Q", self._map, RECORDS_AT)[0]

    def _bump_table(self) -> None:
        struct.pack_into("<Q", self._map, RECORDS_AT, self._table_generation() + 1)

    def _slot_state(self, index: int) -> bytes:
        length = self._record(index)[3]
        start = HEADER_SIZE + index * SLOT_SIZE
        return bytes(self._map[start:start + length])

    def _store(self, index: int, state: bytes) -> int:
        if len(state) > SLOT_SIZE:
            raise ValueError("chip state of %d bytes does not fit a %d-byte slot" % (len(state), SLOT_SIZE))
        address, kind, attached, _, generation = self._record(index)
        start = HEADER_SIZE + index * SLOT_SIZE
        self._map[start:start + len(state)] = state
        self._write_record(index, address, kind, attached, len(state), generation + 1)
        return generation + 1

    def _place(self, address: int, chip: Chip) -> int:
        """Put ``chip``'s state in the slot of ``address`` (or a free one) and mark it attached."""
        kind = KIND_OF[chip.kind]
        slots = [i for i in range(SLOTS) if self._record(i)[2] and self._record(i)[0] == address]
        free = [i for i in range(SLOTS) if not self._record(i)[2]]
        if not slots and not free:
            raise ValueError("the shared emulated bus has room for %d chips" % SLOTS)
        index = (slots or free)[0]
        generation = self._record(index)[4]
        self._write_record(index, address, kind, 1, 0, generation)
        self._store(index, chip.state_bytes())
        return index

    def _bind(self, index: int, chip: Chip) -> Chip:
        chip._lock = _SlotLock(self, index, chip)
        return chip

    # -- the chip table, as every process sees it -------------------------------------------------

    def _sync(self) -> None:
        generation = self._table_generation()
        if generation == self._table_seen:
            return
        chips, slots = {}, {}
        for index in range(SLOTS):
            address, kind, attached, _, _ = self._record(index)
            if not attached:
                continue
            old = self._chips.get(address)
            if old is not None and self._slot_of.get(address) == index and KIND_OF[old.kind] == kind:
                chips[address] = old
            else:
                chips[address] = self._bind(index, KINDS[kind]())
            slots[address] = index
        self._chips, self._slot_of, self._table_seen = chips, slots, generation

    def attach(self, address: int, chip: Chip) -> Chip:
        """Put ``chip`` on the bus at ``address`` for every process (its current state is copied into the file)."""
        with self._lock:
            self._sync()
            index = self._place(address, chip)
            self._bump_table()
            self._bind(index, chip)
            self._chips[address], self._slot_of[address] = chip, index
            self._table_seen = self._table_generation()
        return chip

    def detach(self, address: int) -> Optional[Chip]:
        """Take the chip at ``address`` off the bus for every process; return this process's model of it."""
        with self._lock:
            self._sync()
            chip = self._chips.pop(address, None)
            index = self._slot_of.pop(address, None)
            if index is None:
                return None
            with chip._lock:
                state = chip.state_bytes()
            address_, kind, _, length, generation = self._record(index)
            self._write_record(index, address_, kind, 0, length, generation)
            self._bump_table()
            self._table_seen = self._table_generation()
            chip._lock = threading.RLock()
            chip.load_state(state)
            return chip

    def close(self) -> None:
        """The SMBus ``close()``: the file stays mapped (other devices of this process use it)."""

    def __repr__(self) -> str:
        return "SharedFileBus(%s, chips at %s)" % (self.path, self.scan_text())
