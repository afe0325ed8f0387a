"""A register-level model of the Solomon SSD1306 OLED controller on I2C, with its 128x64 GDDRAM.

Each I2C write starts with a control byte: bit 7 (Co) and bit 6 (D/C#). With Co = 0 the rest of the
transaction is all commands (D/C# = 0) or all display data (D/C# = 1); with Co = 1 one byte follows
and then another control byte. Commands with arguments may be split over transactions, as the
Adafruit driver does (one command byte per write), so the parser keeps its state between writes.

Modelled: addressing modes (0x20: horizontal, vertical, page), COLUMNADDR 0x21, PAGEADDR 0x22, page
start 0xB0-0xB7 and the low/high column nibbles (page mode), display on/off, entire-display-on,
normal/inverse, contrast, multiplex ratio, display start line, display offset, segment remap and COM
scan direction. Timing, charge pump, scrolling and the COM-pin hardware configuration are accepted
and stored but do not change the image.

The panel orientation is that of the common 128x32 / 128x64 modules: with segment remap (0xA1) and
COM scan decrement (0xC8), as every SSD1306 driver sets them, column 0 of page 0 bit 0 is the
top-left pixel.

The whole state is a byte string (``state_bytes``/``load_state``), so a bus can keep it in shared memory.
"""
import json
import struct
import threading
from typing import Any, Dict, List

import numpy as np

from .chip import Chip

WIDTH = 128
PAGES = 8

# command -> number of argument bytes
_ARGS = {0x20: 1, 0x21: 2, 0x22: 2, 0x26: 6, 0x27: 6, 0x29: 5, 0x2A: 5, 0x81: 1, 0x8D: 1, 0xA3: 2,
         0xA8: 1, 0xD3: 1, 0xD5: 1, 0xD9: 1, 0xDA: 1, 0xDB: 1}


_SCALARS = ("height", "display_on", "entire_on", "inverted", "contrast", "multiplex", "start_line", "display_offset",
            "segment_remap", "com_scan_dec", "addressing_mode", "column_range", "page_range", "column", "page",
            "page_mode_column_start", "commands", "data_bytes")


class SSD1306(Chip):
    """The controller's command state and GDDRAM, and the picture a panel of ``height`` rows shows."""

    kind = "ssd1306"

    def __init__(self, height: int = 32) -> None:
        if height not in (32, 64):
            raise ValueError("SSD1306 panel height must be 32 or 64, got %r" % (height,))
        self.height = height
        self._lock = threading.RLock()  # type: Any
        self.reset()

    def state_bytes(self) -> bytes:
        """Command state as JSON, then the 1024 bytes of GDDRAM."""
        with self._lock:
            fields = dict((k, getattr(self, k)) for k in _SCALARS)
            fields["settings"] = dict(("%d" % c, a) for c, a in self.settings.items())
            fields["pending"] = self._pending
            head = json.dumps(fields, sort_keys=True).encode("ascii")
            return struct.pack("<I", len(head)) + head + self.gddram.tobytes()

    def load_state(self, state: bytes) -> None:
        with self._lock:
            (n,) = struct.unpack_from("<I", state, 0)
            fields = json.loads(bytes(state[4:4 + n]).decode("ascii"))
            for key in _SCALARS:
                setattr(self, key, fields[key])
            self.settings = dict((int(c), a) for c, a in fields["settings"].items())
            self._pending = list(fields["pending"])
            self.gddram = np.frombuffer(bytes(state[4 + n:4 + n + PAGES * WIDTH]), dtype=np.uint8).reshape(PAGES, WIDTH).copy()

    def reset(self) -> None:
        """The state after the RES# pin: display off, page addressing, zero offsets, GDDRAM cleared."""
        with self._lock:
            self.gddram = np.zeros((PAGES, WIDTH), dtype=np.uint8)
            self.display_on = False
            self.entire_on = False
            self.inverted = False
            self.contrast = 0x7F
            self.multiplex = 63
            self.start_line = 0
            self.display_offset = 0
            self.segment_remap = False
            self.com_scan_dec = False
            self.addressing_mode = 2  # page addressing after reset
            self.column_range = [0, WIDTH - 1]
            self.page_range = [0, PAGES - 1]
            self.column = 0
            self.page = 0
            self.page_mode_column_start = 0
            self.settings = {}  # type: Dict[int, List[int]]
            self._pending = []  # type: List[int]
            self.commands = 0
            self.data_bytes = 0

    # -- I2C ---------------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """One write transaction: control byte(s) then command or data bytes."""
        with self._lock:
            data = bytearray(data)
            i = 0
            while i < len(data):
                control = data[i]
                i += 1
                is_data = bool(control & 0x40)
                if control & 0x80:  # Co = 1: exactly one byte, then another control byte
                    if i < len(data):
                        self._byte(data[i], is_data)
                        i += 1
                    continue
                for value in data[i:]:
                    self._byte(value, is_data)
                return

    def read(self, length: int) -> bytes:
        """The status byte (bit 6 = display off), as a read on I2C returns."""
        with self._lock:
            return bytes(bytearray([0x00 if self.display_on else 0x40] * length))

    def _byte(self, value: int, is_data: bool) -> None:
        if is_data:
            self._data(value)
        else:
            self._command_byte(value)

    # -- commands ----------------------------------------------------------------------------------

    def _command_byte(self, value: int) -> None:
        self._pending.append(value)
        if len(self._pending) - 1 < _ARGS.get(self._pending[0], 0):
            return
        command, args = self._pending[0], self._pending[1:]
        self._pending = []
        self.commands += 1
        self._command(command, args)

    def _command(self, c: int, args: List[int]) -> None:
        if c == 0x20:
            self.addressing_mode = args[0] & 0x03 if args[0] & 0x03 != 3 else self.addressing_mode
        elif c == 0x21:
            self.column_range = [args[0] & 0x7F, args[1] & 0x7F]
            self.column = self.column_range[0]
        elif c == 0x22:
            self.page_range = [args[0] & 0x07, args[1] & 0x07]
            self.page = self.page_range[0]
        elif 0xB0 <= c <= 0xB7:
            self.page = c & 0x07
        elif c <= 0x0F:
            self.page_mode_column_start = (self.page_mode_column_start & 0xF0) | c
            self.column = self.page_mode_column_start
        elif 0x10 <= c <= 0x1F:
            self.page_mode_column_start = (self.page_mode_column_start & 0x0F) | (c & 0x07) << 4
            self.column = self.page_mode_column_start
        elif 0x40 <= c <= 0x7F:
            self.start_line = c & 0x3F
        elif c == 0x81:
            self.contrast = args[0]
        elif c in (0xA0, 0xA1):
            self.segment_remap = c == 0xA1
        elif c in (0xA4, 0xA5):
            self.entire_on = c == 0xA5
        elif c in (0xA6, 0xA7):
            self.inverted = c == 0xA7
        elif c == 0xA8:
            self.multiplex = max(15, args[0] & 0x3F)
        elif c in (0xAE, 0xAF):
            self.display_on = c == 0xAF
        elif c in (0xC0, 0xC8):
            self.com_scan_dec = c == 0xC8
        elif c == 0xD3:
            self.display_offset = args[0] & 0x3F
        else:
            self.settings[c] = list(args)  # timing, charge pump, scrolling, COM pins: stored only

    # -- display data ------------------------------------------------------------------------------

    def _data(self, value: int) -> None:
        self.data_bytes += 1
        self.gddram[self.page, self.column] = value
        if self.addressing_mode == 0:
            self.column += 1
            if self.column > self.column_range[1]:
                self.column = self.column_range[0]
                self.page = self.page + 1 if self.page < self.page_range[1] else self.page_range[0]
        elif self.addressing_mode == 1:
            self.page += 1
            if self.page > self.page_range[1]:
                self.page = self.page_range[0]
                self.column = self.column + 1 if self.column < self.column_range[1] else self.column_range[0]
        else:
            self.column = self.column + 1 if self.column < WIDTH - 1 else self.page_mode_column_start

    # -- what the panel shows ----------------------------------------------------------------------

    def ram_bits(self) -> np.ndarray:
        """GDDRAM as a 64x128 bool array (row = page * 8 + bit)."""
        with self._lock:
            bits = np.unpackbits(self.gddram[:, None, :], axis=1, bitorder="little")
            return bits.reshape(PAGES * 8, WIDTH).astype(bool)

    def image(self) -> np.ndarray:
        """The lit pixels of the panel, a ``height`` x 128 bool array (row 0 at the top)."""
        with self._lock:
            ram = self.ram_bits()
            out = np.zeros((self.height, WIDTH), dtype=bool)
            if not self.display_on:
                return out
            rows = min(self.height, self.multiplex + 1)
            for y in range(rows):
                com = y if self.com_scan_dec else rows - 1 - y
                line = ram[(com + self.start_line + self.display_offset) % 64]
                out[y] = line if self.segment_remap else line[::-1]
            if self.entire_on:
                out[:rows] = True
            elif self.inverted:
                out[:rows] = ~out[:rows]
            return out

    def save_png(self, path: str, scale: int = 1) -> str:
        """Write the panel picture (lit = white) as a PNG; return ``path``."""
        from PIL import Image

        pixels = np.repeat(np.repeat(self.image(), scale, axis=0), scale, axis=1)
        Image.fromarray(pixels.astype(np.uint8) * 255).convert("1").save(path)
        return path

    def __repr__(self) -> str:
        return "SSD1306(128x%d, %s)" % (self.height, "on" if self.display_on else "off")

