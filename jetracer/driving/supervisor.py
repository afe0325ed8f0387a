"""A watchdog the drive process cannot block: a separate process that puts the throttle at neutral.

A thread in the drive process cannot be trusted with that job: a model call that holds the GIL, a
stopped (SIGSTOP) or killed process stops every thread in it. So the drive process starts this small
supervisor (no torch, no camera) as a child process and feeds it a heartbeat over a socket pair
(:class:`jetracer.driving.supervisor_link.SupervisorLink`):

* the drive loop beats before each model call and after each actuation;
* the supervisor waits with ``select()`` and a timeout; when no beat came for ``timeout_s``
  (default 80 ms) it **trips**: writes the throttle's neutral through its *own* I2C handle on the
  same chip (:class:`jetracer.hardware.attach.NeutralWriter`: attached to the running chip, no reset,
  one block write per throttle channel), latches, tells the drive process, and
  publishes the state "tripped". The drive process, when it runs again, latches its e-stop before
  its next throttle write and must be re-armed by a person. A beat that shows the throttle moving
  before the drive process saw the trip makes the supervisor write neutral again;
* when the drive process dies (SIGKILL, crash: the socket reaches end-of-file) the supervisor writes
  neutral, publishes "stopped" and exits;
* SIGTERM/SIGINT/SIGHUP/SIGABRT to the supervisor trip it at once (systemd sends SIGTERM to every
  process of the service: its default ``KillMode=control-group`` finds the supervisor in the unit's
  cgroup whatever its session), and it stays until the drive process has gone;
* it runs in a session and process group of its own, out of the terminal's job control: Ctrl-Z
  (SIGTSTP), SIGSTOP or SIGKILL sent to the drive process's group stop or kill the drive process
  alone, and the missing beats (or the end-of-file) make the supervisor write neutral. Ctrl-C reaches
  the drive process only; it stops the car and ends the supervisor with ``bye``;
* it owns the control socket ``drive.sock`` in the runtime directory (``jetracer arm``/``disarm``/
  ``status``; only this user or root may connect) and, under systemd, speaks ``sd_notify``:
  ``READY=1`` at the first beat, ``WATCHDOG=1`` only while beats arrive, so systemd kills and
  restarts (unarmed) a drive process that stays unresponsive for ``WatchdogSec=``.

The drive process watches back: no answer from the supervisor for ``ack_timeout_s`` (a stopped or
dead supervisor) latches its e-stop too.
"""
import argparse
import json
import logging
import os
import select
import signal
import socket
import struct
import sys
import time
from typing import Any, Dict, List, Optional

from .sd_notify import Notifier
from .supervisor_link import DEFAULT_TIMEOUT_S, MAX_MESSAGE, _recv_all, _send

logger = logging.getLogger(__name__)

def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def bind_control_socket(path: str) -> socket.socket:
    """Listen on ``path`` (mode 0600) in this user's own runtime directory. Refuses when another drive
    process answers there, or when the directory is not private (another user could swap the socket)."""
    import stat

    from ..runtime import check_private_dir

    check_private_dir(os.path.dirname(os.path.abspath(path)))
    if os.path.lexists(path):
        st = os.lstat(path)
        if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.geteuid():
            raise RuntimeError("%s exists and is not this user's socket; remove it" % path)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
            raise RuntimeError("another drive process is running (it answers on %s); stop it first "
                               "(sudo systemctl stop jetracer-drive, or Ctrl-C in its terminal)" % path)
        except (ConnectionRefusedError, FileNotFoundError):
            os.unlink(path)
        finally:
            probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(4)
    listener.setblocking(False)
    return listener


class Supervisor(object):
    """The supervising side: ``serve()`` until the drive process has gone. See the module docstring."""

    def __init__(self, link: socket.socket, writer: Any = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 state_file: Optional[str] = None, control_path: Optional[str] = None,
                 notifier: Optional[Notifier] = None, clock: Any = time.monotonic) -> None:
        self.link = link
        self.link.setblocking(False)
        self.writer = writer
        self.timeout_s = float(timeout_s)
        self.state_file = state_file
        self.control_path = control_path
        self.listener = bind_control_socket(control_path) if control_path else None
        self.notifier = notifier or Notifier({})
        self.clock = clock
        self.last_beat = None  # type: Optional[float]
        self.trips = 0
        self.tripped = False
        self.trip_reason = ""
        self.armed = False
        self.worker_throttle = 0.0
        self.stopping = False
        self.stop_deadline = None  # type: Optional[float]
        self.events = []  # type: List[Dict[str, Any]]
        self.last_state = {}  # type: Dict[str, Any]
        self._clients = {}  # type: Dict[int, Dict[str, Any]]
        self._pending = {}  # type: Dict[int, Dict[str, Any]]
        self._next_id = 0
        self._ready_sent = False

    # -- actions -----------------------------------------------------------------------------------

    def _neutral(self) -> Dict[str, Any]:
        event = {"at": None, "outputs": None}  # type: Dict[str, Any]
        if self.writer is not None:
            try:
                self.writer.neutral()
                event["at"] = self.clock()
                event["outputs"] = self.writer.read_back()
            except OSError as e:
                logger.error("supervisor could not write neutral: %s", e)
                event["error"] = str(e)
        else:
            event["at"] = self.clock()
        return event

    def trip(self, reason: str) -> None:
        """Neutral through our own handle, latch, tell the drive process, publish."""
        started = self.clock()
        if not self.tripped:
            self.trips += 1
        self.tripped = True
        self.trip_reason = reason
        _send(self.link, {"t": "trip", "n": self.trips, "reason": reason})  # first, so a late beat already sees it
        event = self._neutral()
        event.update(kind="trip", reason=reason, detected_at=started, trips=self.trips)
        self.events.append(event)
        del self.events[:-20]
        logger.warning("supervisor tripped: %s (throttle at neutral)", reason)
        self.notifier.status("tripped: %s" % reason)
        self._publish({"mode": "tripped", "armed": False, "stop_reason": "supervisor: %s" % reason})

    def _publish(self, state: Dict[str, Any]) -> None:
        if not self.state_file:
            return
        from ..state import publish_state

        data = dict(self.last_state)
        data.update(state)
        data["supervisor"] = {"trips": self.trips, "tripped": self.tripped, "events": self.events[-5:],
                              "timeout_ms": round(1000 * self.timeout_s, 1)}
        try:
            publish_state(data, path=self.state_file)
        except OSError as e:
            logger.warning("supervisor could not publish the state: %s", e)

    # -- messages from the drive process -----------------------------------------------------------

    def _on_worker(self, message: Dict[str, Any], now: float) -> None:
        kind = message.get("t")
        if kind == "hb":
            self.last_beat = now
            self.armed = bool(message.get("armed"))
            self.worker_throttle = float(message.get("throttle", 0.0) or 0.0)
            seen = int(message.get("trips_seen", 0))
            if seen < self.trips and (self.armed or self.worker_throttle != 0.0):
                self.events.append(dict(self._neutral(), kind="re-neutral",
                                        reason="the drive process moved before it saw trip %d" % self.trips))
            elif self.tripped and seen >= self.trips and not self.stopping:
                self.tripped = False  # acknowledged: the drive process latched its e-stop; a person re-arms it
            if not self._ready_sent:
                self._ready_sent = True
                self.notifier.notify("READY=1")
            if not self.tripped:
                self.notifier.pet(now)
            self.notifier.status("armed" if self.armed else ("tripped: %s" % self.trip_reason if self.tripped
                                                             else "disarmed (jetracer arm, or START on the gamepad)"))
            _send(self.link, {"t": "ok", "trips": self.trips})
        elif kind == "state":
            state = message.get("state")
            if isinstance(state, dict):
                self.last_state = state
                self._publish({})
        elif kind == "pause":
            self.last_beat = None
            _send(self.link, {"t": "ok", "trips": self.trips})
        elif kind == "result":
            pending = self._pending.pop(int(message.get("id", -1)), None)
            if pending is not None:
                self._reply(pending["conn"], {"ok": bool(message.get("ok")), "message": message.get("message", "")})
        elif kind == "bye":
            self.stopping = True

    # -- the control socket ------------------------------------------------------------------------

    def _reply(self, conn: socket.socket, answer: Dict[str, Any]) -> None:
        try:
            conn.send((json.dumps(answer) + "\n").encode("utf-8"))  # small: fits the empty socket buffer
        except OSError:
            pass
        self._drop_client(conn)

    def _drop_client(self, conn: socket.socket) -> None:
        self._clients.pop(conn.fileno(), None)
        try:
            conn.close()
        except OSError:
            pass

    def _accept(self, now: float) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        uid = _peer_uid(conn)
        if uid not in (os.geteuid(), 0):
            logger.warning("refused a control connection from uid %d", uid)
            conn.close()
            return
        conn.setblocking(False)
        self._clients[conn.fileno()] = {"conn": conn, "buffer": b"", "deadline": now + 2.0}

    def _on_client(self, client: Dict[str, Any], now: float) -> None:
        conn = client["conn"]
        try:
            data = conn.recv(256)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop_client(conn)
            return
        client["buffer"] += data
        if b"\n" not in client["buffer"] and len(client["buffer"]) < 256:
            return
        command = client["buffer"].split(b"\n")[0].decode("utf-8", "replace").strip()
        self._clients.pop(conn.fileno(), None)
        self._command(command, conn, now)

    def _alive(self, now: float) -> bool:
        return self.last_beat is not None and now - self.last_beat <= self.timeout_s

    def _command(self, command: str, conn: socket.socket, now: float) -> None:
        if command == "status":
            self._reply(conn, {"ok": True, "running": self._alive(now), "armed": self.armed, "tripped": self.tripped,
                               "trip_reason": self.trip_reason, "trips": self.trips, "events": self.events[-5:],
                               "state": self.last_state})
        elif command == "disarm":
            event = self._neutral()
            self._forward({"t": "disarm", "reason": "jetracer disarm"}, conn, now,
                          fallback={"ok": True, "message": "throttle at neutral (the drive process did not answer)",
                                    "outputs": event.get("outputs")})
        elif command == "arm":
            if not self._alive(now):
                self._reply(conn, {"ok": False, "message": "the drive loop is not running (starting, or unresponsive); "
                                                           "see journalctl -u jetracer-drive"})
            elif self.tripped:
                self._reply(conn, {"ok": False, "message": "tripped (%s); waiting for the drive process to "
                                                           "acknowledge" % self.trip_reason})
            else:
                self._forward({"t": "arm"}, conn, now, fallback={"ok": False, "message": "the drive process did not answer"})
        else:
            self._reply(conn, {"ok": False, "message": "unknown command %r; use arm, disarm or status" % command})

    def _forward(self, message: Dict[str, Any], conn: socket.socket, now: float, fallback: Dict[str, Any]) -> None:
        self._next_id += 1
        message["id"] = self._next_id
        if not _send(self.link, message):
            self._reply(conn, fallback)
            return
        self._pending[self._next_id] = {"conn": conn, "deadline": now + 1.0, "fallback": fallback}

    # -- the loop ----------------------------------------------------------------------------------

    def _timeout(self, now: float) -> Optional[float]:
        deadlines = [p["deadline"] for p in self._pending.values()] + [c["deadline"] for c in self._clients.values()]
        if self.last_beat is not None and not self.tripped:
            deadlines.append(self.last_beat + self.timeout_s)
        if self.stop_deadline is not None:
            deadlines.append(self.stop_deadline)
        return max(0.0, min(deadlines) - now) if deadlines else None

    def on_signal(self, signum: int, frame: Any = None) -> None:
        name = signal.Signals(signum).name
        self.trip("%s received" % name)
        self.stopping = True
        if self.stop_deadline is None:
            self.stop_deadline = self.clock() + 10.0

    def serve(self) -> None:
        """Supervise until the drive process closes the link (or 10 s after a stop signal)."""
        try:
            while True:
                readers = [self.link] + ([self.listener] if self.listener is not None else [])
                readers += [c["conn"] for c in self._clients.values()]
                now = self.clock()
                ready, _, _ = select.select(readers, [], [], self._timeout(now))
                now = self.clock()
                if self.link in ready:
                    messages, gone = _recv_all(self.link)
                    for message in messages:
                        self._on_worker(message, now)
                    if gone:
                        self._worker_gone()
                        return
                for sock in ready:
                    if sock is self.listener:
                        self._accept(now)
                    elif sock is not self.link and sock.fileno() in self._clients:
                        self._on_client(self._clients[sock.fileno()], now)
                for key, pending in list(self._pending.items()):
                    if now >= pending["deadline"]:
                        del self._pending[key]
                        self._reply(pending["conn"], pending["fallback"])
                for client in list(self._clients.values()):
                    if now >= client["deadline"]:
                        self._drop_client(client["conn"])
                if self.last_beat is not None and not self.tripped and now - self.last_beat > self.timeout_s:
                    self.trip("no heartbeat from the drive process for %.0f ms (stopped by Ctrl-Z or SIGSTOP, "
                              "hung model, or overloaded)" % (1000 * (now - self.last_beat)))
                if self.stop_deadline is not None and now >= self.stop_deadline:
                    self._neutral()
                    return
        finally:
            if self.listener is not None:
                self.listener.close()
                try:
                    os.unlink(self.control_path)
                except OSError:
                    pass

    def _worker_gone(self) -> None:
        clean = self.stopping
        event = self._neutral()
        reason = "drive service ended" if clean else "the drive process died (killed or crashed)"
        event.update(kind="stopped", reason=reason)
        self.events.append(event)
        self.tripped = True
        self.notifier.status("stopped: %s" % reason)
        if not clean:
            logger.warning("supervisor: %s; throttle at neutral", reason)
        self._publish({"mode": "stopped", "armed": False, "stop_reason": reason,
                       "outputs": event.get("outputs") or self.last_state.get("outputs")})


def _main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="the drive process's supervisor (started by jetracer drive)")
    parser.add_argument("--fd", type=int, required=True, help="the socket-pair descriptor to the drive process")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    link = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, 0, args.fd)
    link.settimeout(30.0)
    try:
        init = json.loads(link.recv(MAX_MESSAGE).decode("utf-8"))
    except (OSError, ValueError) as e:
        logger.error("supervisor: no start message from the drive process (%s)", e)
        return 2
    try:
        writer = None
        if init.get("profile") is not None:
            from ..hardware.i2c import open_i2c
            from ..profiles import Profile
            from ..hardware.attach import NeutralWriter

            writer = NeutralWriter(Profile(init["profile"]), open_i2c(init["i2c"], init["i2c_bus"]))
        control = init.get("control_path")
        supervisor = Supervisor(link, writer, timeout_s=init.get("timeout_s", DEFAULT_TIMEOUT_S),
                                state_file=init.get("state_file"), control_path=control, notifier=Notifier())
    except Exception as e:  # noqa: BLE001 - whatever it is, the drive process must hear it and refuse to drive
        link.send(json.dumps({"t": "error", "message": str(e)}).encode("utf-8"))
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGABRT):
        signal.signal(sig, supervisor.on_signal)
    link.send(json.dumps({"t": "ready", "pid": os.getpid(), "control_path": control}).encode("utf-8"))
    supervisor.serve()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
