"""An emulated I2C bus with the SMBus interface, so the real Adafruit stack runs unchanged on it.

Every SMBus call is turned into the raw I2C transactions a kernel adapter would put on the wire
(a write of ``[register, data...]``, or a write of ``[register]`` followed by a read) and handed to
the chip model at that address. A transaction to an address where no chip answers raises
``OSError(121, 'Remote I/O error')``, as ``/dev/i2c-N`` does. Thread-safe: one transaction at a time.
The chips live in this process; :class:`~jetracer.hardware.emulated.shared_file.SharedFileBus` keeps
them in a file that several processes share.
"""
import errno
import os
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

GENERAL_CALL = 0x00
SWRST = 0x06


def _nack(address: int) -> OSError:
    return OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO) + " (no acknowledge at 0x%02X)" % address)


class EmulatedBus(object):
    """Chips by 7-bit address. A chip has ``write(bytes)`` and ``read(n) -> bytes`` (one transaction each).

    ``log`` (a list) records ``(address, "w" | "r", bytes)`` per transaction while ``logging`` is True.
    ``fail_next(address, n)`` makes the next ``n`` transactions to ``address`` go unacknowledged,
    as a loose wire would, for fault tests.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._chips = {}  # type: Dict[int, Any]
        self._faults = {}  # type: Dict[int, List[int]]
        self.logging = False
        self.log = []  # type: List[Tuple[int, str, bytes]]

    # -- wiring ------------------------------------------------------------------------------------

    def attach(self, address: int, chip: Any) -> Any:
        """Put ``chip`` on the bus at ``address`` (replacing any chip there); return it."""
        with self._lock:
            self._sync()
            self._chips[address] = chip
        return chip

    def detach(self, address: int) -> Optional[Any]:
        """Take the chip at ``address`` off the bus (it keeps its registers); return it or None."""
        with self._lock:
            self._sync()
            return self._chips.pop(address, None)

    def chip(self, address: int) -> Any:
        """The chip model at ``address``; KeyError naming the attached addresses if none."""
        with self._lock:
            self._sync()
            try:
                return self._chips[address]
            except KeyError:
                raise KeyError("no emulated chip at 0x%02X (chips at: %s)" % (address, self.scan_text()))

    def scan(self) -> List[int]:
        """Addresses that acknowledge, like ``i2cdetect``."""
        with self._lock:
            self._sync()
            return sorted(self._chips)

    def scan_text(self) -> str:
        return ", ".join("0x%02X" % a for a in self.scan()) or "none"

    def fail_next(self, address: int, transactions: int = 1, after: int = 0) -> None:
        """Leave ``transactions`` transactions to ``address`` unacknowledged, once ``after`` more have
        gone through (fault injection: a loose wire in the middle of a frame)."""
        with self._lock:
            self._faults[address] = [after, transactions]

    # -- raw transactions --------------------------------------------------------------------------

    def _sync(self) -> None:
        """Bring the chip table up to date (a shared bus reads it from its file; here there is nothing to do)."""

    def _target(self, address: int) -> Any:
        fault = self._faults.get(address)
        if fault:
            if fault[0] > 0:
                fault[0] -= 1
            elif fault[1] > 0:
                fault[1] -= 1
                raise _nack(address)
        chip = self._chips.get(address)
        if chip is None:
            raise _nack(address)
        return chip

    def write(self, address: int, data: Sequence[int]) -> None:
        """One write transaction: START, address+W, ``data``, STOP."""
        payload = bytes(bytearray(int(b) & 0xFF for b in data))
        with self._lock:
            self._sync()
            if address == GENERAL_CALL:
                self._general_call(payload)
                return
            chip = self._target(address)
            if self.logging:
                self.log.append((address, "w", payload))
            chip.write(payload)

    def write_read(self, address: int, data: Sequence[int], length: int) -> bytes:
        """A write of ``data`` then a repeated-START read of ``length`` bytes."""
        with self._lock:
            self._sync()
            chip = self._target(address)
            payload = bytes(bytearray(int(b) & 0xFF for b in data))
            if payload:
                chip.write(payload)
            result = bytes(chip.read(length))
            if self.logging:
                if payload:
                    self.log.append((address, "w", payload))
                self.log.append((address, "r", result))
            return result

    def _general_call(self, payload: bytes) -> None:
        if payload[:1] == bytes([SWRST]):
            for chip in self._chips.values():
                reset = getattr(chip, "software_reset", None)
                if reset is not None:
                    reset()
        if self.logging:
            self.log.append((GENERAL_CALL, "w", payload))

    # -- the SMBus interface (smbus / smbus2 / Adafruit_PureIO names) ----------------------------

    def __call__(self, busnum: Any = None) -> "EmulatedBus":
        """Adafruit_GPIO.I2C.Device calls ``i2c_interface(busnum)``; the bus is its own interface."""
        return self

    def write_quick(self, addr: int) -> None:
        self.write(addr, [])

    def read_byte(self, addr: int) -> int:
        return self.write_read(addr, [], 1)[0]

    def write_byte(self, addr: int, val: int) -> None:
        self.write(addr, [val])

    def read_byte_data(self, addr: int, cmd: int) -> int:
        return self.write_read(addr, [cmd], 1)[0]

    def write_byte_data(self, addr: int, cmd: int, val: int) -> None:
        self.write(addr, [cmd, val])

    def read_word_data(self, addr: int, cmd: int) -> int:
        lo, hi = bytearray(self.write_read(addr, [cmd], 2))
        return lo | hi << 8

    def write_word_data(self, addr: int, cmd: int, val: int) -> None:
        self.write(addr, [cmd, val & 0xFF, (val >> 8) & 0xFF])

    def read_i2c_block_data(self, addr: int, cmd: int, length: int = 32) -> bytearray:
        return bytearray(self.write_read(addr, [cmd], length))

    def write_i2c_block_data(self, addr: int, cmd: int, vals: Sequence[int]) -> None:
        self.write(addr, [cmd] + list(vals))

    def read_bytes(self, addr: int, number: int) -> bytes:
        return self.write_read(addr, [], number)

    def write_bytes(self, addr: int, buf: Sequence[int]) -> None:
        self.write(addr, list(bytearray(buf)))

    def close(self) -> None:
        """Nothing to release (the chips stay on the bus)."""
