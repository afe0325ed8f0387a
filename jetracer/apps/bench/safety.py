"""Benchmark: wall-clock time from a failure to the throttle at neutral, per failure, next to the 100 ms promise.

Each run starts ``jetracer drive``'s real-time branch (:func:`jetracer.driving.session.drive`: the
configured car on the emulated PCA9685, the supervisor process, the drive loop on a capture thread)
in a child process, armed, with fault-injecting parts: a 30 fps synthetic camera, a pilot, a gamepad
feed. The drive process, its supervisor and the bench share the emulated chips through a bus file
(``JETRACER_EMULATED_BUS``), so the bench watches the drive process's own chip as an oscilloscope on
the wire would: :class:`ThrottleScope` reads the throttle channel(s) every 1 ms from the bench
process, whichever process wrote them. After one second of driving the failure is injected and timed
on ``CLOCK_MONOTONIC`` (one clock for every process of the machine) to the first sample at neutral:

==================  =====================================================
failure             injected
==================  =====================================================
stale-frame         the camera stops delivering
stale-command       the gamepad stops sending (auto-steer mode)
browser-heartbeat   the browser stops echoing the heartbeat
hung-model          the model call sleeps (GIL released)
gil-model           the model holds the GIL in a C call (ctypes.PyDLL)
sigstop             SIGSTOP to the drive process
sigterm             SIGTERM to the drive process
sigkill             SIGKILL to the drive process
sigtstp-group       Ctrl-Z typed at the drive's terminal (SIGTSTP to its process group)
sigstop-group       SIGSTOP to the drive process's whole process group
sigkill-group       SIGKILL to the drive process's whole process group
sigint-group        Ctrl-C typed at the drive's terminal (SIGINT to its process group)
second-writer       a notebook's ``car = NvidiaRacecar(); car.throttle = 0.5`` beside a disarmed drive
==================  =====================================================

The ``-group`` faults run the drive process as a person at a terminal does: :class:`Terminal` gives it
a pseudo-terminal and a stand-in shell that starts it as the terminal's foreground job, in a process
group of its own (with the parent shell in the session, as bash does, so the kernel lets SIGTSTP stop
it); the keys are typed on the terminal. For the two stops the process group is then continued (the
shell's ``fg``) and watched for one second: "after resume" counts the runs whose throttle stayed at
neutral (the drive process must come back disarmed). For SIGKILL "after resume" counts the runs that
left no supervisor process behind.

``second-writer`` is the other way round: nothing may move. ``jetracer drive --sim --model expert`` (the
production command, on the bench's bus file) starts disarmed and owns the motors; ``jetracer arm`` lets
it drive, ``jetracer disarm`` stops it; then the notebook snippet runs in a process of its own on the
same bus, holding its car for 100 ms as a kernel does. The row counts the runs where the snippet was
refused (exit status not 0, one standard-error line naming the drive's pid) and the wire stayed at
neutral; "median ms" and "max ms" are the refusal time, from the ``NvidiaRacecar()`` call to the
snippet's exit; "off neutral" is the farthest the throttle was from neutral during the attempt (us
from ``center_us``, or speed duty for DC motors; the neutral pulse itself is within half a 12-bit
count of ``center_us``).

"From the fault" is the injection (the last frame, command or echo for the stale cases); for the stale
cases the configured limit (``max_frame_age_s``, ``command_timeout_s`` 60 ms; ``heartbeat_timeout_s``
300 ms; the supervisor's ``supervisor_timeout_s`` 80 ms for a hung or stopped process) is part of that
time, and "after limit" is the reaction alone (negative for SIGSTOP: the last beat came before the
stop). The poller adds up to its 1 ms period. "Supervisor says" is, for the faults the supervisor
handles, when it read neutral back over its own I2C handle (the state file's event: this bench's
first method). On a real car add up to one PWM period (20 ms at 50 Hz) before the ESC sees the new
pulse. ``--profile waveshare_ai`` times the DC-motor kit (neutral: zero duty, motors braking).

    jetracer bench safety [--runs 5] [--faults gil-model,sigkill] [--profile latrax] [--json]
"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ...config_schema import default_settings
from ...hardware.base import DRIVING, NEUTRAL
from ...hardware.outputs import OUTPUTS

FAULTS = ("stale-frame", "stale-command", "browser-heartbeat", "hung-model", "gil-model", "sigstop", "sigterm",
          "sigkill", "sigtstp-group", "sigstop-group", "sigkill-group", "sigint-group", "second-writer")
IN_CHILD = ("stale-frame", "stale-command", "browser-heartbeat", "hung-model", "gil-model")
SUPERVISED = ("hung-model", "gil-model", "sigstop", "sigkill", "sigtstp-group", "sigstop-group", "sigkill-group")
AT_TERMINAL = ("sigtstp-group", "sigstop-group", "sigkill-group", "sigint-group")
RESUMED = ("sigtstp-group", "sigstop-group")
PROMISE_MS = 100.0
DRIVE_S = 1.0


def _write_json(path: str, data: Dict[str, Any]) -> None:
    from ...atomic import atomic_write

    with atomic_write(path, "w", fsync=False) as f:  # no fsync: some are written mid-fault, on the clock
        json.dump(data, f)


# -- fault-injecting parts (run in the child) --------------------------------------------------------

class FaultCamera(object):
    """30 fps synthetic frames (a bright stripe that moves) until :meth:`die`: then ``read()`` never returns."""

    width, height = 64, 48

    def __init__(self, fps: float = 30.0) -> None:
        self.period_s = 1.0 / fps
        self.frame_id = 0
        self.timestamp = 0.0
        self.dead = threading.Event()
        self._next = time.monotonic()

    def read(self) -> Any:
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next += self.period_s
        if self.dead.is_set():
            threading.Event().wait()  # a camera that hangs: the capture thread never returns
        self.frame_id += 1
        frame = np.full((self.height, self.width, 3), 40, np.uint8)
        u = int((0.5 + 0.3 * np.sin(self.frame_id / 10.0)) * self.width)
        frame[:, max(0, u - 2):u + 2] = 255
        self.timestamp = time.monotonic()
        return frame

    def die(self) -> float:
        self.dead.set()
        return self.timestamp  # the last frame delivered

    def release(self) -> None:
        pass


class FaultPilot(object):
    """Finds the stripe; after ``fault_after_s`` of driving, hangs (sleep) or holds the GIL in a C call."""

    backend = "fault-pilot"
    last_timing_ms = {}  # type: Dict[str, float]

    def __init__(self, fault: str, fault_after_s: float, marker: str, hang_s: float = 1.5) -> None:
        self.fault = fault
        self.fault_after_s = fault_after_s
        self.marker = marker
        self.hang_s = hang_s
        self.started = None  # type: Optional[float]
        self.done = False

    def __call__(self, frame: Any) -> Any:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        if not self.done and self.fault in ("hung-model", "gil-model") and now - self.started >= self.fault_after_s:
            self.done = True
            _write_json(self.marker, {"fault_at": time.monotonic()})
            if self.fault == "gil-model":
                ctypes.PyDLL(None).usleep(int(self.hang_s * 1e6))  # PyDLL: the GIL stays held
            else:
                time.sleep(self.hang_s)
        column = frame[:, :, 1].mean(axis=0)
        return (float(np.argmax(column)) + 0.5) / (frame.shape[1] / 2.0) - 1.0, 0.0


class FaultTeleop(object):
    """A gamepad feed: throttle forward, stamped every 20 ms on a thread until :meth:`die`."""

    def __init__(self, throttle: float = 0.3) -> None:
        self.steering = 0.0
        self.throttle = throttle
        self.stamp = time.monotonic()
        self.dead = threading.Event()
        threading.Thread(target=self._feed, daemon=True).start()

    def _feed(self) -> None:
        while not self.dead.wait(0.02):
            self.stamp = time.monotonic()

    def die(self) -> float:
        self.dead.set()
        return self.stamp


class FaultHeartbeat(object):
    """The browser heartbeat interface (``send``/``age_s``), echoing at once until :meth:`die`."""

    def __init__(self) -> None:
        self.echo = float("-inf")
        self.dead = False

    def send(self, now: float) -> None:
        if not self.dead:
            self.echo = now

    def age_s(self, now: float) -> float:
        return now - self.echo

    def die(self) -> float:
        self.dead = True
        return self.echo


class ThrottleScope(object):
    """The throttle channel(s) on the shared emulated bus, read every ``period_s`` from a third process.

    What an oscilloscope on the wire would show, whichever process (the drive process, its
    supervisor) wrote the registers: the drive process's own chip, read through the bus file. A
    sample is ``neutral``, ``driving`` or ``other`` as the supervisor's read-back is judged (the
    throttle's own rule, :meth:`jetracer.hardware.base.Output.state_of`: the ESC within half a 12-bit
    count of ``center_us``; or every speed and pair channel at zero duty with each motor's inputs as its
    profile ``neutral`` says). ``transitions`` holds ``(time.monotonic(), state)`` each time the state
    changes; ``peak_off`` the farthest from neutral seen since :meth:`reset_peak` (us off ``center_us``
    for an ESC, the largest speed duty for DC motors), ``half_tick`` half a count in the same unit.
    """

    def __init__(self, bus_path: str, profile: Any, period_s: float = 0.001) -> None:
        from ...hardware.emulated import jetracer_chips
        from ...hardware.emulated.shared_file import SharedFileBus

        self.bus = SharedFileBus(bus_path, default_chips=jetracer_chips)
        self.section = profile.throttle
        self.kind = OUTPUTS[self.section.driver]
        self.unit = self.kind.unit
        self.period_s = period_s
        self.transitions = []  # type: List[Any]
        self.samples = 0
        self.peak_off = 0.0
        self.half_tick = None  # type: Optional[float]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None  # type: Optional[threading.Thread]

    def sample(self) -> Tuple[str, Optional[float]]:
        """``(state, how far from neutral)`` on the wire now (every channel read at one instant)."""
        chip = self.bus.chip(self.section.i2c_address)
        duties = chip.duties()
        frequency_hz = chip.frequency_hz
        self.half_tick = self.kind.half_tick_of(self.section, frequency_hz)
        return self.kind.state_of(self.section, self.kind.read_back_of(self.section, duties, frequency_hz), frequency_hz)

    def state(self) -> str:
        """The throttle's state on the wire now."""
        return self.sample()[0]

    def reset_peak(self) -> None:
        with self._lock:
            self.peak_off = 0.0

    def _poll(self) -> None:
        last = None
        while not self._stop.is_set():
            state, off = self.sample()
            now = time.monotonic()
            with self._lock:
                self.samples += 1
                self.peak_off = max(self.peak_off, off or 0.0)
                if state != last:
                    self.transitions.append((now, state))
                    last = state
            time.sleep(self.period_s)

    def start(self) -> "ThrottleScope":
        self._thread = threading.Thread(target=self._poll, name="throttle-scope", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _state_at(self, t: float) -> Optional[str]:
        with self._lock:
            before = [state for at, state in self.transitions if at <= t]
        return before[-1] if before else None

    def wait_for(self, state: str, timeout_s: float = 30.0) -> Optional[float]:
        """When the throttle is next seen in ``state`` (now if it is), or None after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                current = self.transitions[-1] if self.transitions else None
            if current is not None and current[1] == state:
                return current[0]
            time.sleep(0.005)
        return None

    def neutral_after(self, t: float, wait_s: float = 3.0) -> Optional[float]:
        """When the throttle, driving at ``t``, first reached neutral after it; None if it was not driving at
        ``t`` or not at neutral within ``wait_s``."""
        deadline = time.monotonic() + wait_s
        while True:
            if self._state_at(t) != DRIVING:
                return None
            with self._lock:
                later = [at for at, state in self.transitions if at > t and state == NEUTRAL]
            if later:
                return later[0]
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.005)

    def left_neutral_after(self, t: float) -> List[Any]:
        """Every change away from neutral after ``t`` (``(time, state)``): empty if the throttle stayed there."""
        with self._lock:
            return [(at, state) for at, state in self.transitions if at > t and state != NEUTRAL]

    def __enter__(self) -> "ThrottleScope":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class Terminal(object):
    """``argv`` as the foreground job of a pseudo-terminal, as a person at a terminal runs it.

    A stand-in shell (``python -m jetracer.apps.bench.safety shell``: a session leader whose
    controlling terminal is the pty) starts ``argv`` in a process group of its own and gives it the
    terminal, as bash does; :meth:`ctrl_z` and :meth:`ctrl_c` type the keys, and the terminal signals
    that process group. ``pgid`` is the job's process group (its first process's pid); ``stderr``
    receives the job's standard error (a file, or ``subprocess.PIPE``: read ``shell.stderr``).
    """

    def __init__(self, argv: List[str], env: Dict[str, str], out_dir: str, stdout: Any = subprocess.DEVNULL,
                 stderr: Any = subprocess.PIPE) -> None:
        import pty

        self.master, slave = pty.openpty()
        pid_file = os.path.join(out_dir, "job.json")
        try:
            self.shell = subprocess.Popen([sys.executable, "-m", "jetracer.apps.bench.safety", "shell", pid_file]
                                          + list(argv), stdin=slave, stdout=stdout, stderr=stderr, env=env,
                                          start_new_session=True, universal_newlines=True)
        finally:
            os.close(slave)
        job = _read(pid_file, wait_s=30.0) or {}
        self.pgid = int(job.get("pid", 0))
        if not self.pgid:
            self.close()
            raise RuntimeError("the stand-in shell did not start the job")

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def ctrl_z(self) -> None:
        """Ctrl-Z: the terminal sends SIGTSTP to its foreground process group."""
        self.type(b"\x1a")

    def ctrl_c(self) -> None:
        """Ctrl-C: the terminal sends SIGINT to its foreground process group."""
        self.type(b"\x03")

    def killpg(self, sig: int) -> None:
        os.killpg(self.pgid, sig)

    def close(self, timeout_s: float = 15.0) -> Optional[int]:
        """End the job (SIGCONT, SIGTERM, then SIGKILL to its group) and the shell; the shell's exit code."""
        if self.shell.poll() is None and self.pgid:
            for sig in (signal.SIGCONT, signal.SIGTERM):
                try:
                    os.killpg(self.pgid, sig)
                except ProcessLookupError:
                    break
        try:
            self.shell.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.shell.kill()
            self.shell.wait()
        if self.master is not None:
            os.close(self.master)
            self.master = None
        return self.shell.returncode


def _job_process() -> None:
    """In the job's process before exec: its own process group, default signal actions (what bash does)."""
    os.setpgid(0, 0)
    for sig in (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def shell(pid_file: str, argv: List[str]) -> int:
    """The stand-in shell of :class:`Terminal` (``python -m jetracer.apps.bench.safety shell FILE ARGV...``).

    Takes its standard input, a terminal, as its controlling terminal, starts ``argv`` as a job in a process
    group of its own, makes it the terminal's foreground process group and waits for it; exits with its code.
    """
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    job = subprocess.Popen(argv, preexec_fn=_job_process)
    os.tcsetpgrp(0, job.pid)
    _write_json(pid_file, {"pid": job.pid, "shell": os.getpid()})
    code = job.wait()
    return code if code >= 0 else 128 - code


def children_of(pid: int) -> List[int]:
    """The pids whose parent is ``pid`` (from /proc)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(name))
    return out


def process_state(pid: int) -> Optional[str]:
    """``pid``'s state from /proc (``R``/``S`` running, ``T`` stopped, ``Z`` exited but unreaped), None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def terminate(proc: Any, timeout_s: float = 15.0) -> None:
    """SIGTERM ``proc`` and wait for it; SIGKILL it if it is still there after ``timeout_s``."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def gone(pid: int) -> bool:
    return process_state(pid) in (None, "Z", "X")


def child(fault: str, out_dir: str) -> int:
    """The drive process of one run (``python -m jetracer.apps.bench.safety child FAULT DIR``)."""
    from ...config import load_config
    from ...driving.session import DriveParts, drive

    config = load_config()
    marker = os.path.join(out_dir, "fault.json")
    camera = FaultCamera()
    pilot = FaultPilot(fault, DRIVE_S, marker)
    teleop = FaultTeleop() if fault == "stale-command" else None
    heartbeat = FaultHeartbeat() if fault == "browser-heartbeat" else None
    _write_json(os.path.join(out_dir, "child.json"), {"pid": os.getpid()})

    def inject() -> None:
        time.sleep(DRIVE_S + 0.5)
        part = {"stale-frame": camera, "stale-command": teleop, "browser-heartbeat": heartbeat}[fault]
        injected = time.monotonic()
        _write_json(marker, {"fault_at": part.die(), "injected_at": injected})

    if fault in ("stale-frame", "stale-command", "browser-heartbeat"):
        threading.Thread(target=inject, daemon=True).start()

    config = config.with_overrides(source="safety bench", drive={
        "mode": "auto-steer" if fault == "stale-command" else "auto", "self_check_frames": 0})
    report = drive(config, arm=True, duration_s=DRIVE_S + 3.0,
                   parts=DriveParts(pilot=pilot, camera=camera, teleop=teleop, heartbeat=heartbeat))
    _write_json(os.path.join(out_dir, "observed.json"), {"report": report})
    return 0


# -- the bench (parent) -------------------------------------------------------------------------------

def _read(path: str, wait_s: float = 0.0) -> Optional[Dict[str, Any]]:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)


def _supervisor_event(state_file: str, kinds: List[str], after: float, wait_s: float = 3.0) -> Optional[float]:
    """When the supervisor last wrote neutral for one of ``kinds`` after ``after``, by its own read-back
    (the state file's events; the method of the first version of this bench)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        state = _read(state_file) or {}
        for event in (state.get("supervisor") or {}).get("events", []):
            if event.get("kind") in kinds and event.get("at") and event["at"] >= after:
                return float(event["at"])
        time.sleep(0.01)
    return None


def child_env(out_dir: str, profile: str = "latrax", base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment of a drive process under test: emulated chips in ``out_dir/bus.bin`` (shared with
    its supervisor and the bench), its own config, runtime directory and state file, ``profile``."""
    env = dict(os.environ if base is None else base)
    config = os.path.join(out_dir, "config.yaml")
    if not os.path.exists(config):
        open(config, "a").close()  # an empty config (the defaults) unless the caller wrote one
    env.update(JETRACER_I2C="emulated", JETRACER_EMULATED_BUS=os.path.join(out_dir, "bus.bin"),
               JETRACER_PROFILE=profile, JETRACER_CONFIG=config,
               JETRACER_RUNTIME_DIR=out_dir, JETRACER_STATE=os.path.join(out_dir, "state.json"), OMP_NUM_THREADS="1")
    for key in ("INVOCATION_ID", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        env.pop(key, None)
    return env


def start_child(fault: str, out_dir: str, env: Dict[str, str]) -> Any:
    return subprocess.Popen([sys.executable, "-m", "jetracer.apps.bench.safety", "child", fault, out_dir], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True)


_DRIVE = default_settings("drive")  # the child drives on the schema's defaults: its limits are these
LIMIT_S = {"stale-frame": _DRIVE.max_frame_age_s, "stale-command": _DRIVE.command_timeout_s,
           "browser-heartbeat": _DRIVE.heartbeat_timeout_s, "hung-model": _DRIVE.supervisor_timeout_s,
           "gil-model": _DRIVE.supervisor_timeout_s, "sigstop": _DRIVE.supervisor_timeout_s,
           "sigstop-group": _DRIVE.supervisor_timeout_s}


NOTEBOOK = ("from jetracer.nvidia_racecar import NvidiaRacecar\n"
            "import time; print(time.monotonic(), flush=True)\n"  # the bench's clock: the car is asked for now
            "car = NvidiaRacecar()\n"
            "car.throttle = 0.5\n"
            "time.sleep(0.1)\n")  # a kernel keeps its car: long enough for the 1 ms poller to see any pulse


def _jetracer(env: Dict[str, str], *args: str) -> Any:
    return subprocess.run([sys.executable, "-m", "jetracer"] + list(args), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def second_writer(workdir: str, profile: str = "latrax", env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """One ``second-writer`` run (see the module docstring): ``{"refused", "stayed_neutral", "ms": from the
    ``NvidiaRacecar()`` call to the snippet's exit, "process_ms": from its start, "off": the farthest from
    neutral on the wire during the attempt, "half_tick", "unit", "refusal": the line}``."""
    from ...profiles import load_profile

    out = tempfile.mkdtemp(prefix="run-", dir=workdir)
    os.chmod(out, 0o700)
    env = child_env(out, profile, env)
    scope = ThrottleScope(env["JETRACER_EMULATED_BUS"], load_profile(profile)).start()
    result = {"fault": "second-writer", "profile": profile, "ms": None, "after_limit_ms": None, "refused": False,
              "stayed_neutral": False, "off": None, "unit": scope.unit,
              "source": "the bench's 1 ms poller of the shared chip"}  # type: Dict[str, Any]
    log = open(os.path.join(out, "drive.log"), "w")
    drive = subprocess.Popen([sys.executable, "-m", "jetracer", "drive", "--sim", "--model", "expert"], env=env,
                             stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 60.0
        while (_read(env["JETRACER_STATE"]) or {}).get("armed") is not False:
            if drive.poll() is not None or time.monotonic() > deadline:
                result["error"] = "the drive did not start disarmed"
                return result
            time.sleep(0.02)
        for verb, wanted in (("arm", DRIVING), ("disarm", NEUTRAL)):
            answer = _jetracer(env, verb)
            if answer.returncode != 0 or scope.wait_for(wanted, timeout_s=10.0) is None:
                result["error"] = "jetracer %s: %s" % (verb, answer.stderr.strip() or "the throttle never %s" % wanted)
                return result
        time.sleep(0.1)
        scope.reset_peak()
        started = time.monotonic()
        notebook = subprocess.Popen([sys.executable, "-c", NOTEBOOK], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, universal_newlines=True)
        stdout, stderr = notebook.communicate(timeout=60)
        ended = time.monotonic()
        time.sleep(0.01)  # the poller's last samples of the attempt
        with scope._lock:
            result["off"] = round(scope.peak_off, 4)
        result["half_tick"] = round(scope.half_tick, 4)
        result["stayed_neutral"] = scope._state_at(started) == NEUTRAL and not scope.left_neutral_after(started)
        owned = [line for line in stderr.splitlines() if "owned by pid %d " % drive.pid in line]
        result["refused"] = notebook.returncode != 0 and len(owned) == 1
        result["refusal"] = owned[0] if owned else (stderr.strip().splitlines() or ["exit %d" % notebook.returncode])[-1]
        try:
            asked = float(stdout.split()[0])
            result["ms"] = round(1000.0 * (ended - asked), 1)
            result["process_ms"] = round(1000.0 * (ended - started), 1)
        except (IndexError, ValueError):
            result["error"] = "the snippet never reached NvidiaRacecar()"
        return result
    finally:
        if drive.poll() is None:
            terminate(drive)
        log.close()
        scope.stop()
        shutil.rmtree(out, ignore_errors=True)


def _start_fault_child(fault: str, out: str, env: Dict[str, str]) -> Tuple[Any, Any, int]:
    """The child under test: behind a terminal for the faults typed there, else a plain process; its pid."""
    terminal = proc = None  # type: Any
    if fault in AT_TERMINAL:
        with open(os.path.join(out, "stderr.log"), "w") as log:
            terminal = Terminal([sys.executable, "-m", "jetracer.apps.bench.safety", "child", fault, out], env, out,
                                stderr=log)
        pid = terminal.pgid
    else:
        proc = start_child(fault, out, env)
        pid = proc.pid
    return terminal, proc, pid


def _inject_fault(fault: str, out: str, pid: int, terminal: Any) -> Optional[float]:
    """The fault's moment: read from the child's marker for faults it makes itself, else sent from here now."""
    if fault in IN_CHILD:
        marker = _read(os.path.join(out, "fault.json"), wait_s=10.0) or {}
        return marker.get("fault_at")
    time.sleep(0.2)
    fault_at = time.monotonic()
    if fault == "sigtstp-group":
        terminal.ctrl_z()
    elif fault == "sigint-group":
        terminal.ctrl_c()
    elif terminal is not None:
        terminal.killpg({"sigstop-group": signal.SIGSTOP, "sigkill-group": signal.SIGKILL}[fault])
    else:
        os.kill(pid, {"sigstop": signal.SIGSTOP, "sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL}[fault])
    return fault_at


def _measure_neutral(result: Dict[str, Any], scope: Any, fault: str, fault_at: float,
                     state_file: str) -> Optional[float]:
    """Fault to neutral on the wire (and by the supervisor's read-back) into ``result``; the neutral moment."""
    at = scope.neutral_after(fault_at)
    if at is None:
        result["error"] = "not driving at the fault" if scope._state_at(fault_at) != DRIVING else "never at neutral"
    else:
        result["ms"] = round(1000.0 * (at - fault_at), 2)
        result["after_limit_ms"] = round(result["ms"] - 1000.0 * LIMIT_S.get(fault, 0.0), 2)
    if fault in SUPERVISED:
        supervisor_at = _supervisor_event(state_file, ["trip", "stopped"], fault_at)
        result["supervisor_ms"] = None if supervisor_at is None else round(1000.0 * (supervisor_at - fault_at), 2)
    return at


def _check_after(result: Dict[str, Any], fault: str, pid: int, terminal: Any, scope: Any, supervisors: List[int],
                 at: Optional[float]) -> None:
    """What must hold after the stop: the group stayed stopped and at neutral once continued, or died whole."""
    if fault == "sigstop":
        os.kill(pid, signal.SIGCONT)
    elif fault in RESUMED:
        time.sleep(0.3)
        result["stopped"] = process_state(pid) == "T" and all(process_state(p) not in ("T", None)
                                                              for p in supervisors)
        terminal.killpg(signal.SIGCONT)
        time.sleep(1.0)
        result["after_ok"] = at is not None and not scope.left_neutral_after(at)
    elif fault == "sigkill-group":
        deadline = time.monotonic() + 3.0
        while not all(gone(p) for p in supervisors) and time.monotonic() < deadline:
            time.sleep(0.01)
        result["after_ok"] = bool(supervisors) and all(gone(p) for p in supervisors)


def _clean_up(terminal: Any, proc: Any, scope: Any, out: str) -> None:
    """Leave nothing behind: the child ended (continued first, then TERM, then KILL), the poller stopped, files gone."""
    if terminal is not None:
        terminal.close()
    elif proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)
        terminate(proc)
    scope.stop()
    if proc is not None and proc.stderr is not None:
        proc.stderr.close()
    shutil.rmtree(out, ignore_errors=True)


def run_once(fault: str, workdir: str, profile: str = "latrax", env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """One run of ``fault`` on ``profile``: ``{"ms": from the fault to neutral on the wire, "after_limit_ms",
    "supervisor_ms": by the supervisor's own read-back (supervised faults), "after_ok": for the group stops,
    the throttle stayed at neutral for 1 s after the group was continued; for the group kill, no supervisor
    process was left}`` (ms None: never); ``second-writer`` is :func:`second_writer`'s."""
    from ...profiles import load_profile

    if fault == "second-writer":
        return second_writer(workdir, profile, env)
    out = tempfile.mkdtemp(prefix="run-", dir=workdir)
    os.chmod(out, 0o700)
    env = child_env(out, profile, env)
    state_file = env["JETRACER_STATE"]
    scope = ThrottleScope(env["JETRACER_EMULATED_BUS"], load_profile(profile)).start()
    terminal, proc, pid = _start_fault_child(fault, out, env)
    result = {"fault": fault, "profile": profile, "ms": None, "after_limit_ms": None,
              "source": "the bench's 1 ms poller of the shared chip"}  # type: Dict[str, Any]
    try:
        if scope.wait_for(DRIVING) is None:
            result["error"] = "never drove"
            return result
        supervisors = children_of(pid)
        fault_at = _inject_fault(fault, out, pid, terminal)
        if fault_at is None:
            result["error"] = "no fault marker"
            return result
        at = _measure_neutral(result, scope, fault, fault_at, state_file)
        _check_after(result, fault, pid, terminal, scope, supervisors, at)
        return result
    finally:
        _clean_up(terminal, proc, scope, out)


def _median(values: List[float]) -> Optional[float]:
    return round(float(np.median(values)), 1) if values else None


def bench(faults: List[str], runs: int = 5, profile: str = "latrax") -> Dict[str, Any]:
    workdir = tempfile.mkdtemp(prefix="jetracer-safety-bench-")
    rows = {}
    try:
        for fault in faults:
            samples = [run_once(fault, workdir, profile) for _ in range(runs)]
            ms = [s["ms"] for s in samples if s["ms"] is not None]
            rows[fault] = {"runs": runs, "neutral_reached": len(ms), "median_ms": _median(ms),
                           "max_ms": round(max(ms), 1) if ms else None,
                           "median_after_limit_ms": _median([s["after_limit_ms"] for s in samples
                                                             if s["after_limit_ms"] is not None]),
                           "supervisor_median_ms": _median([s["supervisor_ms"] for s in samples
                                                            if s.get("supervisor_ms") is not None]),
                           "after_ok": (sum(1 for s in samples if s.get("after_ok"))
                                        if fault in RESUMED + ("sigkill-group",) else None),
                           "errors": [s["error"] for s in samples if "error" in s]}
            if fault == "second-writer":  # nothing may move: "neutral_reached" counts refused runs that stayed there
                offs = [s["off"] for s in samples if s["off"] is not None]
                rows[fault].update(neutral_reached=sum(1 for s in samples if s["refused"] and s["stayed_neutral"]),
                                   refused=sum(1 for s in samples if s["refused"]),
                                   max_off_neutral=max(offs) if offs else None, unit=samples[0]["unit"],
                                   half_tick=max([s["half_tick"] for s in samples if s.get("half_tick")] or [None]),
                                   refusal=next((s["refusal"] for s in samples if s.get("refusal")), None))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"promise_ms": PROMISE_MS, "profile": profile, "faults": rows,
            "measured_by": "the throttle channel(s) of the drive process's chip, polled every 1 ms by the bench process"}


def _second_writer_note(row: Dict[str, Any]) -> str:
    if "refused" not in row:
        return ""
    off = "-" if row["max_off_neutral"] is None else "%g %s" % (row["max_off_neutral"], row["unit"])
    tick = "-" if row["half_tick"] is None else "%g %s" % (row["half_tick"], row["unit"])
    return "  refused %d/%d; off neutral at most %s (half a count: %s)" % (row["refused"], row["runs"], off, tick)


def format_report(result: Dict[str, Any]) -> str:
    """The table a person reads: one row per failure, next to the promise."""
    lines = ["profile %s; neutral timed on the wire: %s (promise: neutral within %.0f ms)"
             % (result["profile"], result["measured_by"], PROMISE_MS),
             "%-18s %5s %10s %8s %12s %16s %13s" % ("failure", "runs", "median ms", "max ms", "after limit",
                                                    "supervisor says", "after resume")]
    for fault, row in result["faults"].items():
        fmt = lambda v: "-" if v is None else "%.1f" % v  # noqa: E731
        after = "-" if row["after_ok"] is None else "%d/%d" % (row["after_ok"], row["runs"])
        lines.append("%-18s %2d/%-2d %10s %8s %12s %16s %13s%s" % (
            fault, row["neutral_reached"], row["runs"], fmt(row["median_ms"]), fmt(row["max_ms"]),
            fmt(row["median_after_limit_ms"]), fmt(row["supervisor_median_ms"]), after,
            _second_writer_note(row) + (("  errors: %s" % row["errors"]) if row["errors"] else "")))
    return "\n".join(lines)


def _main(argv: List[str]) -> int:
    """The processes the bench spawns: ``child FAULT DIR`` (a drive under test) and ``shell FILE ARGV...``
    (the stand-in shell of :class:`Terminal`). The bench itself is ``jetracer bench safety``."""
    if argv[:1] == ["child"] and len(argv) == 3:
        return child(argv[1], argv[2])
    if argv[:1] == ["shell"] and len(argv) > 2:
        return shell(argv[1], argv[2:])
    print("usage: python -m jetracer.apps.bench.safety child FAULT DIR | shell FILE ARGV... (the bench's own "
          "processes; run the bench with `jetracer bench safety`)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
