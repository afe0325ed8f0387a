"""How the doctor looks at the machine without ever hanging or raising: files, commands, time-boxed calls.

Every external command runs with a timeout in its own process group (killed as a whole when it does
not answer, so a child that keeps the pipes open cannot stall the doctor); a file that is missing or
unreadable is ``None``; a call that may block (opening a camera, an I2C scan) runs on a daemon thread
the doctor stops waiting for.
"""
import os
import signal
import subprocess
import sys
import threading
from typing import Any, Callable, List, Optional, Sequence, Tuple

DEFAULT_COMMAND_TIMEOUT_S = 5.0


def read_text(path: str, limit: int = 65536) -> Optional[str]:
    """The text of ``path`` (at most ``limit`` bytes, NULs dropped: device-tree strings end in one), or None."""
    try:
        with open(path, "rb") as f:
            return f.read(limit).replace(b"\x00", b"").decode("utf-8", "replace")
    except (OSError, ValueError):
        return None


class CommandResult(object):
    """What a command did: ``rc`` (None when it did not run or was killed), ``out``, ``err`` and ``problem``
    (why it gave no answer: not installed, timed out, could not start), empty when it ran."""

    def __init__(self, rc: Optional[int], out: str = "", err: str = "", problem: str = "") -> None:
        self.rc = rc
        self.out = out
        self.err = err
        self.problem = problem

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def text(self) -> str:
        """The first line of output, or of the error, or the problem: for a finding."""
        for chunk in (self.out, self.err, self.problem):
            lines = [line.strip() for line in (chunk or "").splitlines() if line.strip()]
            if lines:
                return lines[0][:200]
        return "exit code %s" % self.rc

    def __repr__(self) -> str:
        return "CommandResult(rc=%r, out=%r, problem=%r)" % (self.rc, self.out[:60], self.problem)


def which(name: str) -> Optional[str]:
    """The path of command ``name`` on $PATH (and the sbin folders a user's $PATH may lack), or None."""
    folders = os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/sbin", "/usr/local/sbin"]
    for folder in folders:
        candidate = os.path.join(folder, name)
        if folder and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_command(argv: Sequence[str], timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S,
                env: Optional[dict] = None) -> CommandResult:
    """Run ``argv`` with stdin closed, at most ``timeout_s``; never raises."""
    exe = argv[0] if os.path.isabs(argv[0]) else which(argv[0])
    if exe is None:
        return CommandResult(None, problem="%s is not installed" % argv[0])
    try:
        proc = subprocess.Popen([exe] + list(argv[1:]), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True, start_new_session=True, env=env)
    except OSError as e:
        return CommandResult(None, problem="%s could not start: %s" % (argv[0], e.strerror or e))
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=1.0)
        except (subprocess.TimeoutExpired, OSError, ValueError):
            out, err = "", ""
        return CommandResult(None, out or "", err or "", problem="`%s` did not answer within %.0f s"
                             % (" ".join(argv), timeout_s))
    return CommandResult(proc.returncode, out or "", err or "")


def _kill_group(proc: Any) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        try:
            proc.kill()
        except OSError:
            pass


def run_python(code_or_module: List[str], timeout_s: float, env: Optional[dict] = None) -> CommandResult:
    """This interpreter on ``code_or_module`` (``["-c", CODE]`` or ``["-m", MODULE, ...]``), with this
    jetracer first on its path, so a probe sees the same packages and the same jetracer as the doctor."""
    env = dict(os.environ if env is None else env)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return run_command([sys.executable] + list(code_or_module), timeout_s=timeout_s, env=env)


def time_boxed(func: Callable[[], Any], timeout_s: float, name: str = "doctor-probe") -> Tuple[bool, Any, Any]:
    """``(finished, value, error)`` of ``func()`` run on a daemon thread for at most ``timeout_s``.

    A call still running is left to finish on its own (the doctor moves on; the thread dies with the
    process).
    """
    box = {}  # type: dict

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as e:  # noqa: BLE001 - reported to the caller, never raised out of the doctor
            box["error"] = e

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        return False, None, None
    return True, box.get("value"), box.get("error")


def one_line(error: BaseException) -> str:
    """An exception as one line: its message, or its type when it has none."""
    text = " ".join(str(error).split())
    return text or type(error).__name__
