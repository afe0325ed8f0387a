"""systemd's notification protocol (sd_notify(3)): one datagram to ``$NOTIFY_SOCKET`` per message."""
import logging
import os
import socket
from typing import Dict, Optional

logger = logging.getLogger(__name__)


class Notifier(object):
    """``READY=1``/``WATCHDOG=1``/``STATUS=`` to systemd when ``$NOTIFY_SOCKET`` is set (else nothing)."""

    def __init__(self, env: Optional[Dict[str, str]] = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self.sock = None  # type: Optional[socket.socket]
        self.watchdog_s = None  # type: Optional[float]
        if address:
            if address.startswith("@"):
                address = "\0" + address[1:]
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self.sock.connect(address)
                self.sock.setblocking(False)
            except OSError as e:
                logger.warning("cannot reach systemd's notify socket %s: %s", address, e)
                self.sock = None
        usec = env.get("WATCHDOG_USEC")
        if self.sock is not None and usec and usec.isdigit() and int(usec) > 0:
            self.watchdog_s = int(usec) / 1e6
        self._last_pet = float("-inf")
        self._status = None  # type: Optional[str]

    def notify(self, text: str) -> None:
        if self.sock is not None:
            try:
                self.sock.send(text.encode("utf-8"))
            except OSError:
                pass

    def pet(self, now: float) -> None:
        """``WATCHDOG=1``, at most four times per watchdog period."""
        if self.watchdog_s is not None and now - self._last_pet >= self.watchdog_s / 4.0:
            self._last_pet = now
            self.notify("WATCHDOG=1")

    def status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self.notify("STATUS=" + text)
