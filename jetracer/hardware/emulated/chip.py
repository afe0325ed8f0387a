"""What a bus needs of an emulated chip: one I2C transaction at a time, and its whole state as bytes.

:class:`~jetracer.hardware.emulated.bus.EmulatedBus` hands each transaction to the chip at its
address (``write`` for START, bytes, STOP; ``read`` for the bytes after a repeated START) and
:class:`~jetracer.hardware.emulated.shared_file.SharedFileBus` keeps each chip's ``state_bytes`` in a
file, rebuilding the model in another process by its ``kind``. A chip serialises its transactions
and state changes with its ``_lock`` (reentrant); a shared bus replaces that lock with one that loads
the chip's state from the file on entry and stores it on exit.
"""


class Chip(object):
    """An emulated I2C chip (the PCA9685 and SSD1306 models)."""

    kind = ""  # the model's name, as a shared bus file records it

    def write(self, data: bytes) -> None:
        """One write transaction: the bytes between START and STOP."""
        raise NotImplementedError

    def read(self, length: int) -> bytes:
        """``length`` bytes read in one transaction."""
        raise NotImplementedError

    def state_bytes(self) -> bytes:
        """Everything the chip holds, as bytes (:meth:`load_state` gives the same chip back)."""
        raise NotImplementedError

    def load_state(self, state: bytes) -> None:
        """Become the chip whose :meth:`state_bytes` were ``state``."""
        raise NotImplementedError
