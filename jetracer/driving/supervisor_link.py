"""The drive process's side of the supervisor (:mod:`jetracer.driving.supervisor`), and ``jetracer arm``'s client.

Messages are JSON objects, one per datagram of a ``SOCK_SEQPACKET`` socket pair, sent without blocking:

* drive process -> supervisor: ``hb`` (armed, throttle output, trips seen), ``state`` (for the state
  file), ``pause`` (loop ended), ``result`` (answer to an arm/disarm request), ``bye`` (clean stop);
* supervisor -> drive process: ``ok`` (per beat), ``trip``, ``arm``, ``disarm``.
"""
import json
import socket
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from ..config_schema import DRIVE
from ..errors import Failure

SOCKET_NAME = "drive.sock"
DEFAULT_TIMEOUT_S = DRIVE["supervisor_timeout_s"].default  # the schema's drive.supervisor_timeout_s
MAX_MESSAGE = 65536


def _send(sock: socket.socket, message: Dict[str, Any]) -> bool:
    """Send one message without blocking; False if it could not be sent (buffer full or peer gone)."""
    try:
        sock.send(json.dumps(message).encode("utf-8"))
        return True
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return False


def _recv_all(sock: socket.socket) -> Tuple[List[Dict[str, Any]], bool]:
    """Every queued message (non-blocking), and whether the peer has gone (end-of-file)."""
    out = []
    while True:
        try:
            data = sock.recv(MAX_MESSAGE)
        except (BlockingIOError, InterruptedError):
            return out, False
        except OSError:
            return out, True
        if not data:
            return out, True
        try:
            message = json.loads(data.decode("utf-8"))
        except ValueError:
            continue
        if isinstance(message, dict):
            out.append(message)


class SupervisorError(Failure):
    """The supervisor could not start (its message says why); the car must not drive."""


class SupervisorLink(object):
    """The drive process's end: start the supervisor, beat, read its messages, close.

    ``poll()`` returns the supervisor's messages (``trip``, ``arm``, ``disarm``) and sets ``lost`` when
    the supervisor has not answered for ``ack_timeout_s`` or has gone.
    """

    def __init__(self, sock: socket.socket, process: Any = None, ack_timeout_s: float = 0.5,
                 control_path: Optional[str] = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.sock = sock
        self.sock.setblocking(False)
        self.process = process
        self.ack_timeout_s = ack_timeout_s
        self.timeout_s = float(timeout_s)
        self.control_path = control_path
        self.trips_seen = 0
        self.lost = ""
        self._last_rx = time.monotonic()

    @classmethod
    def start(cls, profile: Any = None, i2c: str = "hardware", i2c_bus: int = 1, timeout_s: float = DEFAULT_TIMEOUT_S,
              state_file: Optional[str] = None, control_path: Optional[str] = None,
              start_timeout_s: float = 20.0) -> "SupervisorLink":
        """Start ``python -m jetracer.driving.supervisor`` attached to ``profile``'s throttle on ``i2c``.

        ``profile`` None: no chip to hold (the simulator without emulated chips). Raises
        :class:`SupervisorError` when it cannot attach, or another drive process holds ``control_path``.

        The supervisor runs in a session (and process group) of its own, so nothing that stops or kills
        the drive process's group reaches it: Ctrl-Z (SIGTSTP), ``kill -STOP -PGID`` or ``kill -9 -PGID``
        at a terminal stop the drive process alone, and the supervisor puts the throttle at neutral (a
        stopped process: no beat; a killed one: end-of-file on the link). It reads nothing from the
        terminal. Ctrl-C no longer reaches it either: the drive process ends it with ``bye``
        (:meth:`close`). Under systemd the default ``KillMode=control-group`` still signals it on stop.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        process = subprocess.Popen([sys.executable, "-m", "jetracer.driving.supervisor", "--fd", str(theirs.fileno())],
                                   pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        init = {"profile": profile.to_dict() if profile is not None else None, "i2c": i2c, "i2c_bus": i2c_bus,
                "timeout_s": timeout_s, "state_file": state_file, "control_path": control_path}
        ours.send(json.dumps(init).encode("utf-8"))
        ours.settimeout(start_timeout_s)
        try:
            reply = json.loads(ours.recv(MAX_MESSAGE).decode("utf-8") or "{}")
        except (OSError, ValueError) as e:
            reply = {"t": "error", "message": "no answer (%s)" % e}
        if reply.get("t") != "ready":
            if process.poll() is None:  # hung (an I2C open that never returns): not left behind holding the socket
                process.kill()
            process.wait(timeout=5)
            ours.close()
            raise SupervisorError("the supervisor could not start: %s" % reply.get("message", reply))
        return cls(ours, process, control_path=control_path, timeout_s=timeout_s)

    def beat(self, armed: bool, throttle_output: float) -> None:
        _send(self.sock, {"t": "hb", "armed": bool(armed), "throttle": float(throttle_output),
                          "trips_seen": self.trips_seen})

    def publish(self, state: Dict[str, Any]) -> None:
        """Hand the state to the supervisor, which writes the state file (one writer)."""
        _send(self.sock, {"t": "state", "state": state})

    def pause(self) -> None:
        """The loop stopped (throttle at neutral): no deadline until the next beat."""
        _send(self.sock, {"t": "pause"})

    def reply(self, request: Dict[str, Any], ok: bool, message: str = "") -> None:
        if "id" in request:
            _send(self.sock, {"t": "result", "id": request["id"], "ok": bool(ok), "message": message})

    def poll(self) -> List[Dict[str, Any]]:
        messages, gone = _recv_all(self.sock)
        now = time.monotonic()
        if gone:
            self.lost = self.lost or "the supervisor process has gone"
        elif messages:
            self._last_rx = now
        elif now - self._last_rx > self.ack_timeout_s:
            self.lost = self.lost or "the supervisor has not answered for %.0f ms" % (1000 * (now - self._last_rx))
        for message in messages:
            if message.get("t") == "trip":
                self.trips_seen = max(self.trips_seen, int(message.get("n", 0)))
        return [m for m in messages if m.get("t") != "ok"]

    def close(self, timeout_s: float = 5.0) -> None:
        """Say goodbye (a clean stop), close the link, wait for the supervisor to exit."""
        _recv_all(self.sock)  # unread data at close would reset the link before the supervisor reads "bye"
        _send(self.sock, {"t": "bye"})
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            if self.process is not None:
                try:
                    self.process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            self.sock.close()


def control(command: str, path: Optional[str] = None, timeout_s: float = 3.0) -> Dict[str, Any]:
    """Send ``arm``, ``disarm`` or ``status`` to the running drive process; its answer as a dict.

    The answer is trusted only from a process of the user whose runtime directory holds the socket
    (:func:`jetracer.runtime.connect_private_socket`: no symlink followed, socket and ``SO_PEERCRED``
    checked), so a socket another user swapped in cannot report "disarmed" for a car that drives.
    Raises ``OSError`` naming the socket when no drive process answers, ``RuntimeDirError`` when the
    one answering is not to be trusted.
    """
    from ..runtime import RuntimeDirError, connect_private_socket, find_runtime_file_owner

    refused = []  # type: List[str]
    found = find_runtime_file_owner(SOCKET_NAME, refused) if not path else None
    path = path or (found[0] if found else None)
    if not path and refused:
        raise RuntimeDirError("no drive process to trust: %s" % "; ".join(refused))
    if not path:
        raise FileNotFoundError("no drive process is running (no %s in its runtime directory); start it with "
                                "jetracer drive, or sudo systemctl start jetracer-drive" % SOCKET_NAME)
    try:
        sock = connect_private_socket(path, timeout_s=timeout_s)
    except RuntimeDirError:
        raise
    except OSError as e:
        raise OSError(e.errno, "no drive process answers on %s (%s)" % (path, e.strerror))
    try:
        sock.sendall((command + "\n").encode("utf-8"))
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(MAX_MESSAGE)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError:
        raise OSError("the drive process gave no answer on %s" % path)
