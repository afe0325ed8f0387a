"""An emulated I2C bus with the SMBus interface, so the real Adafruit stack runs unchanged on it.

Every SMBus call is turned into the raw I2C transactions a kernel adapter would put on the wire
(a write of ``[register, data...]``, or a write of ``[register]`` followed by a read) and handed to
the chip model at that address. A transaction to an address where no chip answers raises
``OSError(121, 'Remote I/O error')``, as ``/dev/i2c-N`` does. Thread-safe: one transaction at a time.
The chips live in this process; :class:`~jetracer.hardware.emulated.shared_file.SharedFileBus` keeps
them in a file that several processes share.

Wiring faults: ``$JETRACER_EMULATED_FAULTS`` (comma-separated ``absent:0x40``, ``moved:0x40:0x41``,
``error:0x40``) makes the bus behave like a miswired car, so the doctor, calibration and the drive can be
tried against one: an absent chip does not acknowledge (errno 121, EREMOTEIO, as the Linux I2C stack
reports it), a moved chip answers at the other address only (address jumpers, another board), an
erroring chip fails every transfer with errno 121 (a chip without power on a powered bus, a cracked
joint). Each such error carries ``emulated_fault`` (the form that caused it), so
:func:`jetracer.hardware.i2c.explain` gives the advice the real bus would get, and says it is emulated.
The faults are per process, read when a bus is made (and again by ``shared_bus()``); ``chip(address)``
still finds a chip by its own address wherever the wiring puts it, so a test can read its pulses.
"""
import errno
import os
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ...errors import UserError
from .chip import Chip

GENERAL_CALL = 0x00
SWRST = 0x06
FAULTS_ENV = "JETRACER_EMULATED_FAULTS"
FAULT_FORMS = "absent:0xNN (no chip answers), moved:0xNN:0xMM (the chip answers at 0xMM), error:0xNN (every transfer fails)"


class EmulatedFaultsError(UserError):
    """``$JETRACER_EMULATED_FAULTS`` holds something that is not a wiring fault; the message names the forms."""


def _nack(address: int, fault: Optional[str] = None) -> OSError:
    error = OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO) + " (no acknowledge at 0x%02X)" % address)
    if fault:
        error.emulated_fault = fault  # type: ignore[attr-defined]
    return error


def _fault_address(text: str, item: str) -> int:
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        value = -1
    if not 0x03 <= value <= 0x77:
        raise EmulatedFaultsError("%s: %r in %r is not a 7-bit I2C address (0x03-0x77); the forms are %s, "
                                  "comma-separated, e.g. %s=absent:0x40" % (FAULTS_ENV, text, item, FAULT_FORMS,
                                                                            FAULTS_ENV))
    return value


class Wiring(object):
    """The wiring faults of ``$JETRACER_EMULATED_FAULTS`` (see the module docstring); empty: a car wired right."""

    def __init__(self, text: str = "") -> None:
        self.text = text or ""
        self.absent = {}  # type: Dict[int, str]
        self.error = {}  # type: Dict[int, str]
        self.moved = {}  # type: Dict[int, Tuple[int, str]]
        for item in (part.strip() for part in self.text.split(",")):
            if not item:
                continue
            words = item.split(":")
            kind = words[0].strip().lower()
            arity = {"absent": 2, "error": 2, "moved": 3}.get(kind)
            if arity is None or len(words) != arity:
                raise EmulatedFaultsError("%s=%s: %r is not a wiring fault; the forms are %s, comma-separated, "
                                          "e.g. %s=absent:0x40" % (FAULTS_ENV, self.text, item, FAULT_FORMS,
                                                                   FAULTS_ENV))
            address = _fault_address(words[1].strip(), item)
            if kind == "moved":
                target = _fault_address(words[2].strip(), item)
                if target == address:
                    raise EmulatedFaultsError("%s: %r moves 0x%02X to itself; the forms are %s, comma-separated, "
                                              "e.g. %s=moved:0x40:0x41" % (FAULTS_ENV, item, address, FAULT_FORMS,
                                                                           FAULTS_ENV))
                self.moved[address] = (target, item)
            else:
                getattr(self, kind)[address] = item

    def __bool__(self) -> bool:
        return bool(self.absent or self.error or self.moved)

    __nonzero__ = __bool__

    def answers_at(self, address: int) -> Optional[int]:
        """Where the chip of ``address`` answers on the wire (None: nowhere)."""
        if address in self.absent or address in self.error:
            return None
        return self.moved[address][0] if address in self.moved else address

    def route(self, wire_address: int, chips: Dict[int, Chip]) -> Tuple[Optional[int], Optional[str]]:
        """The chip address that answers at ``wire_address`` and the fault that applies there, if any.

        Raises the OSError the wire would give for an erroring chip or two chips at one address.
        """
        movers = [a for a, (target, _) in self.moved.items() if target == wire_address and a in chips]
        own = wire_address if wire_address in chips and self.answers_at(wire_address) == wire_address else None
        candidates = movers + ([own] if own is not None else [])
        if len(candidates) > 1:
            fault = self.moved[movers[0]][1]
            error = OSError(errno.EIO, "%s (two chips answer at 0x%02X)" % (os.strerror(errno.EIO), wire_address))
            error.emulated_fault = fault  # type: ignore[attr-defined]
            raise error
        if wire_address in self.error and wire_address in chips:
            raise _nack(wire_address, self.error[wire_address])
        if candidates:
            return candidates[0], (self.moved[candidates[0]][1] if candidates[0] in self.moved else None)
        for table in (self.absent, self.error):
            if wire_address in table:
                return None, table[wire_address]
        if wire_address in self.moved:
            return None, self.moved[wire_address][1]
        return None, None


def faults_from_env() -> str:
    """The wiring faults this process's emulated buses get (``$JETRACER_EMULATED_FAULTS``, or "")."""
    return os.environ.get(FAULTS_ENV, "")


class EmulatedBus(object):
    """Chips (:class:`~jetracer.hardware.emulated.chip.Chip`) by 7-bit address, one transaction at a time.

    ``log`` (a list) records ``(address, "w" | "r", bytes)`` per transaction while ``logging`` is True.
    ``fail_next(address, n)`` makes the next ``n`` transactions to ``address`` go unacknowledged,
    as a loose wire would, for fault tests. ``faults`` (default ``$JETRACER_EMULATED_FAULTS``) are
    wiring faults (see the module docstring; :meth:`set_faults` changes them).
    """

    def __init__(self, faults: Optional[str] = None) -> None:
        self._lock = threading.RLock()
        self._chips = {}  # type: Dict[int, Chip]
        self._faults = {}  # type: Dict[int, List[int]]
        self.wiring = Wiring(faults_from_env() if faults is None else faults)
        self.env_faults = faults_from_env()  # the variable's value shared_bus() last saw (it rewires when it changes)
        self.logging = False
        self.log = []  # type: List[Tuple[int, str, bytes]]

    def set_faults(self, faults: str) -> None:
        """Rewire: ``faults`` in the ``$JETRACER_EMULATED_FAULTS`` forms ("" for none); EmulatedFaultsError if bad."""
        wiring = Wiring(faults)
        with self._lock:
            self.wiring = wiring

    # -- wiring ------------------------------------------------------------------------------------

    def attach(self, address: int, chip: Chip) -> Chip:
        """Put ``chip`` on the bus at ``address`` (replacing any chip there); return it."""
        with self._lock:
            self._sync()
            self._chips[address] = chip
        return chip

    def detach(self, address: int) -> Optional[Chip]:
        """Take the chip at ``address`` off the bus (it keeps its registers); return it or None."""
        with self._lock:
            self._sync()
            return self._chips.pop(address, None)

    def chip(self, address: int) -> Chip:
        """The chip model at ``address``; KeyError naming the attached addresses if none."""
        with self._lock:
            self._sync()
            try:
                return self._chips[address]
            except KeyError:
                raise KeyError("no emulated chip at 0x%02X (chips at: %s)" % (address, self.scan_text()))

    def scan(self) -> List[int]:
        """Addresses that acknowledge, like ``i2cdetect`` (after the wiring faults)."""
        with self._lock:
            self._sync()
            if not self.wiring:
                return sorted(self._chips)
            return sorted(set(a for a in (self.wiring.answers_at(c) for c in self._chips) if a is not None))

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

    def _target(self, address: int) -> Chip:
        fault = self._faults.get(address)
        if fault:
            if fault[0] > 0:
                fault[0] -= 1
            elif fault[1] > 0:
                fault[1] -= 1
                raise _nack(address)
        if self.wiring:
            own, wiring_fault = self.wiring.route(address, self._chips)
            if own is None:
                raise _nack(address, wiring_fault)
            return self._chips[own]
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
            for address, chip in self._chips.items():
                if self.wiring and self.wiring.answers_at(address) is None:
                    continue  # no power or no contact: it does not hear the general call either
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
