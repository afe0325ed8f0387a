"""Benchmark: wall-clock time from a failure to the throttle at neutral, per failure, next to the 100 ms promise.

Each run starts ``jetracer drive``'s real-time branch (:func:`jetracer.driving.session.drive`: the
configured car on the emulated PCA9685, the supervisor process, the drive loop on a capture thread)
in a child process, armed, with fault-injecting parts: a 30 fps synthetic camera, a pilot, a gamepad
feed. After one second of driving the failure is injected and timed on ``CLOCK_MONOTONIC`` (one clock
for every process of the machine):

==================  =====================================================  ===========================
failure             injected                                               neutral seen by
==================  =====================================================  ===========================
stale-frame         the camera stops delivering                            a 1 ms poller of the chip
stale-command       the gamepad stops sending (auto-steer mode)            a 1 ms poller of the chip
browser-heartbeat   the browser stops echoing the heartbeat                a 1 ms poller of the chip
hung-model          the model call sleeps (GIL released)                   the supervisor's read-back
gil-model           the model holds the GIL in a C call (ctypes.PyDLL)      the supervisor's read-back
sigstop             SIGSTOP to the drive process                           the supervisor's read-back
sigterm             SIGTERM to the drive process                           a 1 ms poller of the chip
sigkill             SIGKILL to the drive process                           the supervisor's read-back
==================  =====================================================  ===========================

"From the fault" is the injection (the last frame, command or echo for the stale cases); for the stale
cases the configured limit (``max_frame_age_s``, ``command_timeout_s`` 60 ms; ``heartbeat_timeout_s``
300 ms; the supervisor's ``supervisor_timeout_s`` 80 ms for a hung or stopped process) is part of that
time, and "after limit" is the reaction alone (negative for SIGSTOP: the last beat came before the stop). The supervisor's read-back
is the chip's register state read over its own I2C handle right after it wrote neutral. On a real
car add up to one PWM period (20 ms at 50 Hz) before the ESC sees the new pulse.

    python -m jetracer.driving.safety_bench [--runs 5] [--faults gil-model,sigkill] [--json]
"""
import argparse
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
from typing import Any, Dict, List, Optional

import numpy as np

FAULTS = ("stale-frame", "stale-command", "browser-heartbeat", "hung-model", "gil-model", "sigstop", "sigterm",
          "sigkill")
IN_CHILD = ("stale-frame", "stale-command", "browser-heartbeat", "hung-model", "gil-model")
SUPERVISED = ("hung-model", "gil-model", "sigstop", "sigkill")
PROMISE_MS = 100.0
DRIVE_S = 1.0


def _write_json(path: str, data: Dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


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


class ChipPoller(object):
    """Polls the (in-process) emulated throttle channel every 1 ms; records each move back to neutral."""

    def __init__(self, profile: Any) -> None:
        from ..hardware.emulated import shared_bus

        self.chip = shared_bus().chip(profile.throttle.i2c_address)
        self.channel = profile.throttle.channel
        self.center_us = profile.throttle.center_us
        self.neutral_times = []  # type: List[float]
        threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self) -> None:
        moving = False
        while True:
            at_neutral = abs(self.chip.pulse_us(self.channel) - self.center_us) < 5.0
            if moving and at_neutral:
                self.neutral_times.append(time.monotonic())
            moving = not at_neutral
            time.sleep(0.001)


def child(fault: str, out_dir: str) -> int:
    """The drive process of one run (``python -m jetracer.driving.safety_bench child FAULT DIR``)."""
    from ..config import load_config
    from .session import drive

    config = load_config()
    profile = config.load_profile()
    marker = os.path.join(out_dir, "fault.json")
    camera = FaultCamera()
    pilot = FaultPilot(fault, DRIVE_S, marker)
    teleop = FaultTeleop() if fault == "stale-command" else None
    heartbeat = FaultHeartbeat() if fault == "browser-heartbeat" else None
    poller = ChipPoller(profile)
    _write_json(os.path.join(out_dir, "child.json"), {"pid": os.getpid()})

    def inject() -> None:
        time.sleep(DRIVE_S + 0.5)
        part = {"stale-frame": camera, "stale-command": teleop, "browser-heartbeat": heartbeat}[fault]
        injected = time.monotonic()
        _write_json(marker, {"fault_at": part.die(), "injected_at": injected})

    if fault in ("stale-frame", "stale-command", "browser-heartbeat"):
        threading.Thread(target=inject, daemon=True).start()

    report = drive(config, pilot=pilot, camera=camera, teleop=teleop, heartbeat=heartbeat, arm=True,
                   mode="auto-steer" if fault == "stale-command" else "auto", duration_s=DRIVE_S + 3.0,
                   self_check_frames=0)
    _write_json(os.path.join(out_dir, "observed.json"), {"neutral_times": poller.neutral_times, "report": report})
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
    """When the supervisor last wrote neutral for one of ``kinds`` after ``after`` (from the state file)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        state = _read(state_file) or {}
        for event in (state.get("supervisor") or {}).get("events", []):
            if event.get("kind") in kinds and event.get("at") and event["at"] >= after:
                return float(event["at"])
        time.sleep(0.01)
    return None


def _wait_driving(state_file: str, center_us: float, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = _read(state_file) or {}
        outputs = state.get("outputs") or {}
        if state.get("armed") and abs(outputs.get("throttle_pulse_us", center_us) - center_us) > 5:
            return True
        time.sleep(0.02)
    return False


def run_once(fault: str, workdir: str, env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """One run of ``fault``: ``{"ms": from the fault, "after_limit_ms": ..., "source": ...}`` (ms None: never)."""
    from ..profiles import load_profile

    out = tempfile.mkdtemp(prefix="run-", dir=workdir)
    os.chmod(out, 0o700)
    env = dict(env or os.environ)
    env.update(JETRACER_I2C="emulated", JETRACER_CONFIG=os.path.join(out, "config.yaml"), JETRACER_RUNTIME_DIR=out,
               JETRACER_STATE=os.path.join(out, "state.json"), OMP_NUM_THREADS="1")
    env.pop("JETRACER_PROFILE", None)
    state_file = env["JETRACER_STATE"]
    center = load_profile("latrax").throttle.center_us
    proc = subprocess.Popen([sys.executable, "-m", "jetracer.driving.safety_bench", "child", fault, out], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True)
    result = {"fault": fault, "ms": None, "after_limit_ms": None, "source": ""}  # type: Dict[str, Any]
    try:
        if not _wait_driving(state_file, center):
            result["error"] = "never drove"
            return result
        limit_s = {"stale-frame": 0.06, "stale-command": 0.06, "browser-heartbeat": 0.3, "hung-model": 0.08,
                   "gil-model": 0.08, "sigstop": 0.08}.get(fault, 0.0)
        if fault in IN_CHILD:
            marker = _read(os.path.join(out, "fault.json"), wait_s=10.0) or {}
            fault_at = marker.get("fault_at")
        else:
            time.sleep(0.2)
            fault_at = time.monotonic()
            os.kill(proc.pid, {"sigstop": signal.SIGSTOP, "sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL}[fault])
        if fault in SUPERVISED:
            at = _supervisor_event(state_file, ["trip", "stopped"], fault_at or 0.0)
            result["source"] = "supervisor read-back"
            if fault == "sigstop":
                os.kill(proc.pid, signal.SIGCONT)
        else:
            proc.wait(timeout=30)
            times = (_read(os.path.join(out, "observed.json"), wait_s=5.0) or {}).get("neutral_times", [])
            later = [t for t in times if fault_at is not None and t >= fault_at]
            at = later[0] if later else None
            result["source"] = "chip poller"
        if at is not None and fault_at is not None:
            result["ms"] = round(1000.0 * (at - fault_at), 2)
            result["after_limit_ms"] = round(result["ms"] - 1000.0 * limit_s, 2)
        return result
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        shutil.rmtree(out, ignore_errors=True)


def bench(faults: List[str], runs: int = 5) -> Dict[str, Any]:
    workdir = tempfile.mkdtemp(prefix="jetracer-safety-bench-")
    rows = {}
    try:
        for fault in faults:
            samples = [run_once(fault, workdir) for _ in range(runs)]
            ms = [s["ms"] for s in samples if s["ms"] is not None]
            after = [s["after_limit_ms"] for s in samples if s["after_limit_ms"] is not None]
            rows[fault] = {"runs": runs, "neutral_reached": len(ms), "median_ms": round(float(np.median(ms)), 1) if ms else None,
                           "max_ms": round(max(ms), 1) if ms else None,
                           "median_after_limit_ms": round(float(np.median(after)), 1) if after else None,
                           "source": samples[0]["source"], "errors": [s["error"] for s in samples if "error" in s]}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"promise_ms": PROMISE_MS, "faults": rows}


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        return child(argv[1], argv[2])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--faults", default=",".join(FAULTS), help="comma-separated, of: %s" % ", ".join(FAULTS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    faults = [f for f in args.faults.split(",") if f]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        parser.error("unknown fault(s) %s" % ", ".join(unknown))
    result = bench(faults, args.runs)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    print("%-18s %5s %10s %8s %12s  %s   (promise: neutral within %.0f ms)"
          % ("failure", "runs", "median ms", "max ms", "after limit", "measured by", PROMISE_MS))
    for fault, row in result["faults"].items():
        fmt = lambda v: "-" if v is None else "%.1f" % v  # noqa: E731
        print("%-18s %2d/%-2d %10s %8s %12s  %s%s" % (fault, row["neutral_reached"], row["runs"], fmt(row["median_ms"]),
                                                    fmt(row["max_ms"]), fmt(row["median_after_limit_ms"]), row["source"],
                                                    ("  errors: %s" % row["errors"]) if row["errors"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
