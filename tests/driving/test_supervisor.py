"""The supervisor process stops the car when the drive process cannot: hung or GIL-holding model, SIGSTOP,
SIGKILL; it speaks sd_notify; and a drive process that loses its supervisor stops and exits.

Each test runs the real-time ``jetracer drive`` branch in a child process (emulated chips, the supervisor
process, fault-injecting camera/pilot from :mod:`jetracer.driving.safety_bench`). Bounds are generous
(timings are measured by ``python -m jetracer.driving.safety_bench``). The supervisor's outcome is read
back from the chip over its own I2C handle; the drive process's from its own.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from jetracer.driving import safety_bench
from jetracer.profiles import load_profile

CENTER = load_profile("latrax").throttle.center_us


def child_env(tmp_path):
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=str(tmp_path / "config.yaml"),
               JETRACER_RUNTIME_DIR=str(tmp_path), JETRACER_STATE=str(tmp_path / "state.json"), OMP_NUM_THREADS="1")
    for key in ("JETRACER_PROFILE", "INVOCATION_ID", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        env.pop(key, None)
    return env


def start_child(tmp_path, fault, env=None):
    return subprocess.Popen([sys.executable, "-m", "jetracer.driving.safety_bench", "child", fault, str(tmp_path)],
                            env=env or child_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            universal_newlines=True)


def state(tmp_path):
    return safety_bench._read(str(tmp_path / "state.json")) or {}


def wait_for(predicate, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return None


def stop(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return err


def trip_events(tmp_path):
    return [e for e in (state(tmp_path).get("supervisor") or {}).get("events", []) if e.get("kind") == "trip"]


@pytest.mark.parametrize("fault", ["gil-model", "hung-model"])
def test_a_model_that_hangs_is_stopped_by_the_supervisor_and_the_car_stays_disarmed(tmp_path, fault):
    proc = start_child(tmp_path, fault)
    try:
        assert safety_bench._wait_driving(str(tmp_path / "state.json"), CENTER), "never drove"
        marker = wait_for(lambda: safety_bench._read(str(tmp_path / "fault.json")))
        trips = wait_for(lambda: trip_events(tmp_path), timeout_s=5)
        assert trips, state(tmp_path)
        trip = trips[0]
        assert "no heartbeat" in trip["reason"]
        assert abs(trip["outputs"]["throttle_pulse_us"] - CENTER) < 5, "read back over the supervisor's own handle"
        assert 0 < trip["at"] - marker["fault_at"] < 0.5
        # the model returns after 1.5 s: the drive process must have latched before its next throttle write
        latched = wait_for(lambda: (lambda s: s.get("stop_reason", "").startswith("supervisor:") and s.get("mode") == "auto"
                                    and not s["armed"])(state(tmp_path)), timeout_s=10)
        assert latched, state(tmp_path)
        time.sleep(1.0)
        now = state(tmp_path)
        assert not now["armed"] and abs(now["outputs"]["throttle_pulse_us"] - CENTER) < 5, now
        assert not now["supervisor"]["tripped"], "the drive process acknowledged the trip"
    finally:
        stop(proc)


def test_sigstop_is_a_trip_and_sigkill_leaves_the_state_stopped(tmp_path):
    proc = start_child(tmp_path, "sigkill")
    try:
        assert safety_bench._wait_driving(str(tmp_path / "state.json"), CENTER), "never drove"
        stopped_at = time.monotonic()
        os.kill(proc.pid, signal.SIGSTOP)
        trips = wait_for(lambda: trip_events(tmp_path), timeout_s=5)
        assert trips and trips[0]["at"] - stopped_at < 0.5
        assert abs(trips[0]["outputs"]["throttle_pulse_us"] - CENTER) < 5
        assert state(tmp_path)["mode"] == "tripped"
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        final = wait_for(lambda: (lambda s: s if s.get("mode") == "stopped" else None)(state(tmp_path)), timeout_s=5)
        assert final, state(tmp_path)
        assert "died" in final["stop_reason"] and not final["armed"]
        event = final["supervisor"]["events"][-1]
        assert event["kind"] == "stopped" and event["at"] - killed_at < 0.5
        assert abs(event["outputs"]["throttle_pulse_us"] - CENTER) < 5
        assert wait_for(lambda: not (tmp_path / "drive.sock").exists(), timeout_s=5), "the supervisor exits after"
    finally:
        stop(proc)


@pytest.mark.parametrize("fault", ["stale-frame", "stale-command", "browser-heartbeat"])
def test_real_time_failsafes_reach_neutral(tmp_path, fault):
    result = safety_bench.run_once(fault, str(tmp_path))
    assert result["ms"] is not None, result
    limit_ms = 300.0 if fault == "browser-heartbeat" else 60.0
    assert limit_ms <= result["ms"] < limit_ms + 250.0, result


def test_systemd_hears_ready_and_a_watchdog_that_stops_while_the_drive_process_is_stopped(tmp_path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = str(tmp_path / "notify")
    listener.bind(address)
    listener.settimeout(0.1)
    env = dict(child_env(tmp_path), NOTIFY_SOCKET=address, WATCHDOG_USEC="400000")

    def messages(seconds):
        out = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                out.append(listener.recv(4096).decode())
            except socket.timeout:
                pass
        return out

    proc = subprocess.Popen([sys.executable, "-m", "jetracer", "drive", "--sim", "--model", "expert", "--duration", "60"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        first = []
        deadline = time.monotonic() + 60
        while "READY=1" not in first and time.monotonic() < deadline:
            first += messages(0.5)
        assert "READY=1" in first
        healthy = messages(1.0)
        assert healthy.count("WATCHDOG=1") >= 5, healthy
        assert any(m.startswith("STATUS=disarmed") for m in first + healthy)
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(0.2)
        stalled = messages(1.0)
        assert "WATCHDOG=1" not in stalled, "systemd must see the watchdog stop while the drive process is stopped"
        os.kill(proc.pid, signal.SIGCONT)
        resumed = messages(1.5)
        assert "WATCHDOG=1" in resumed, resumed
    finally:
        stop(proc)
        listener.close()


def test_a_drive_process_that_loses_its_supervisor_stops_and_exits(tmp_path):
    env = child_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "jetracer", "drive", "--sim", "--model", "expert", "--duration", "60",
                             "--json", "--arm"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    try:
        assert safety_bench._wait_driving(str(tmp_path / "state.json"), CENTER), "never drove"
        supervisor_pid = json.loads(subprocess.check_output([sys.executable, "-m", "jetracer", "arm", "--status"], env=env,
                                                            universal_newlines=True))
        assert supervisor_pid["armed"]
        children = subprocess.check_output(["pgrep", "-P", str(proc.pid)], universal_newlines=True).split()
        assert len(children) == 1
        os.kill(int(children[0]), signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3 and "supervisor was lost" in err
    report = json.loads(out.strip().splitlines()[-1])
    assert abs(report["outputs"]["throttle_pulse_us"] - CENTER) < 5
    assert report["stops"].get("supervisor lost", 0) >= 1
