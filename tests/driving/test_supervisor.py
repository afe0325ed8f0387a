"""The supervisor process stops the car when the drive process cannot: hung or GIL-holding model, SIGSTOP,
SIGKILL; it speaks sd_notify; and a drive process that loses its supervisor stops and exits.

Each test runs the real-time ``jetracer drive`` branch in a child process (the supervisor process,
fault-injecting camera/pilot from :mod:`jetracer.apps.bench.safety`) on emulated chips kept in a bus
file, and watches the drive process's own chip from the test process, as an oscilloscope on the wire
would (:class:`~jetracer.apps.bench.safety.ThrottleScope`, every 1 ms). Bounds are generous (timings
are measured by ``jetracer bench safety``). The supervisor's own read-back, over its
I2C handle, is checked as well.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from jetracer.apps.bench import safety as safety_bench
from jetracer.apps.bench.safety import DRIVING, NEUTRAL, ThrottleScope
from jetracer.profiles import load_profile

BOUND_S = 0.5  # fault to neutral on the wire (the bench measures about 80 ms)


def child_env(tmp_path, profile="latrax"):
    return safety_bench.child_env(str(tmp_path), profile)


def start_child(tmp_path, fault, profile="latrax"):
    return safety_bench.start_child(fault, str(tmp_path), child_env(tmp_path, profile))


@pytest.fixture
def scope_of(tmp_path):
    """``scope_of(profile)``: a 1 ms scope on the throttle channel(s) of ``tmp_path/bus.bin``, stopped after the test."""
    scopes = []

    def make(profile="latrax"):
        scopes.append(ThrottleScope(str(tmp_path / "bus.bin"), load_profile(profile)).start())
        return scopes[-1]

    yield make
    for scope in scopes:
        scope.stop()


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


def events(tmp_path, kind):
    return [e for e in (state(tmp_path).get("supervisor") or {}).get("events", []) if e.get("kind") == kind]


def read_back_at_neutral(outputs, profile):
    """The supervisor's read-back (over its own handle) shows the profile's neutral."""
    if "throttle_pulse_us" in outputs:
        return abs(outputs["throttle_pulse_us"] - profile.throttle.center_us) < 5
    brake = [(0.0, 0.0, 1.0) if m.neutral == "brake" else (0.0, 0.0, 0.0) for m in profile.throttle.motors]
    return ([(m["duty"], m["in1"], m["in2"]) for m in outputs["motors"]] == brake
            and all(p["forward"] == p["reverse"] == 0.0 for p in outputs["pwm_pairs"]))


def assert_wire_neutral(scope, profile):
    """The drive process's chip, read now from this process, holds the profile's neutral: the ESC centre
    pulse, or zero duty with the motors braking."""
    assert scope.state() == NEUTRAL
    s = profile.throttle
    chip = scope.bus.chip(s.i2c_address)
    if s.driver == "motorhat_dc":
        for m in s.motors:
            assert (chip.duty(m.pwm_channel), chip.duty(m.in1_channel), chip.duty(m.in2_channel)) == (0.0, 0.0, 1.0)
        assert all(chip.duty(c) == 0.0 for p in s.pwm_pairs for c in (p.forward_channel, p.reverse_channel))
    else:
        assert abs(chip.pulse_us(s.channel) - s.center_us) < 5


@pytest.mark.parametrize("fault, profile", [("gil-model", "latrax"), ("hung-model", "latrax"),
                                            ("gil-model", "waveshare_ai")])
def test_a_model_that_hangs_is_stopped_on_the_wire_and_the_car_stays_disarmed(tmp_path, scope_of, fault, profile):
    # the car's own watchdog thread off: only the supervisor, another process, can stop this car
    (tmp_path / "config.yaml").write_text("drive:\n  watchdog_s: 0\n")
    scope = scope_of(profile)
    proc = start_child(tmp_path, fault, profile)
    try:
        assert scope.wait_for(DRIVING), "never drove"
        marker = wait_for(lambda: safety_bench._read(str(tmp_path / "fault.json")))
        at = scope.neutral_after(marker["fault_at"], wait_s=5.0)
        assert at is not None, scope.transitions
        assert 0 < at - marker["fault_at"] < BOUND_S, "the drive process's own chip at neutral, seen from outside"
        assert_wire_neutral(scope, load_profile(profile))
        trips = wait_for(lambda: events(tmp_path, "trip"), timeout_s=5)
        assert trips and "no heartbeat" in trips[0]["reason"], state(tmp_path)
        assert read_back_at_neutral(trips[0]["outputs"], load_profile(profile)), trips[0]
        # the model returns after 1.5 s: the drive process must latch before its next throttle write
        latched = wait_for(lambda: (lambda s: s.get("stop_reason", "").startswith("supervisor:") and s.get("mode") == "auto"
                                    and not s["armed"])(state(tmp_path)), timeout_s=10)
        assert latched, state(tmp_path)
        time.sleep(1.0)
        assert not scope.left_neutral_after(at), "the throttle never left neutral after the trip"
        now = state(tmp_path)
        assert not now["armed"] and not now["supervisor"]["tripped"], "the drive process acknowledged the trip"
    finally:
        stop(proc)


def test_sigstop_is_a_trip_on_the_wire_and_the_resumed_process_does_not_drive(tmp_path, scope_of):
    scope = scope_of()
    proc = start_child(tmp_path, "sigstop")
    try:
        assert scope.wait_for(DRIVING), "never drove"
        stopped_at = time.monotonic()
        os.kill(proc.pid, signal.SIGSTOP)
        at = scope.neutral_after(stopped_at, wait_s=5.0)
        assert at is not None and at - stopped_at < BOUND_S, scope.transitions
        assert_wire_neutral(scope, load_profile("latrax"))
        assert wait_for(lambda: state(tmp_path).get("mode") == "tripped", timeout_s=5)
        os.kill(proc.pid, signal.SIGCONT)
        assert wait_for(lambda: (lambda s: s.get("stop_reason", "").startswith("supervisor:")
                                 and not s["supervisor"]["tripped"])(state(tmp_path)), timeout_s=10), state(tmp_path)
        time.sleep(0.5)
        assert not scope.left_neutral_after(at), "the resumed drive process latched before its next throttle write"
    finally:
        stop(proc)


@pytest.mark.parametrize("profile", ["latrax", "waveshare_ai"])
def test_sigkill_of_a_moving_car_is_neutral_on_the_wire_and_the_state_says_stopped(tmp_path, scope_of, profile):
    scope = scope_of(profile)
    proc = start_child(tmp_path, "sigkill", profile)
    try:
        assert scope.wait_for(DRIVING), "never drove"
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        at = scope.neutral_after(killed_at, wait_s=5.0)
        assert at is not None and at - killed_at < BOUND_S, scope.transitions
        assert_wire_neutral(scope, load_profile(profile))
        final = wait_for(lambda: (lambda s: s if s.get("mode") == "stopped" else None)(state(tmp_path)), timeout_s=5)
        assert final, state(tmp_path)
        assert "died" in final["stop_reason"] and not final["armed"]
        event = final["supervisor"]["events"][-1]
        assert event["kind"] == "stopped" and read_back_at_neutral(event["outputs"], load_profile(profile)), event
        assert wait_for(lambda: not (tmp_path / "drive.sock").exists(), timeout_s=5), "the supervisor exits after"
        time.sleep(0.2)
        assert not scope.left_neutral_after(at)
    finally:
        stop(proc)


@pytest.mark.parametrize("fault", ["stale-frame", "stale-command", "browser-heartbeat"])
def test_real_time_failsafes_reach_neutral_on_the_wire(tmp_path, fault):
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
        messages(0.2)  # a beat sent just before the stop may still be answered: the trip comes 80 ms later
        stalled = messages(1.0)
        assert "WATCHDOG=1" not in stalled, "systemd must see the watchdog stop while the drive process is stopped"
        os.kill(proc.pid, signal.SIGCONT)
        resumed = messages(1.5)
        assert "WATCHDOG=1" in resumed, resumed
    finally:
        stop(proc)
        listener.close()


def test_a_drive_process_that_loses_its_supervisor_stops_and_exits(tmp_path, scope_of):
    env = child_env(tmp_path)
    scope = scope_of()
    proc = subprocess.Popen([sys.executable, "-m", "jetracer", "drive", "--sim", "--model", "expert", "--duration", "60",
                             "--json", "--arm"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    try:
        assert scope.wait_for(DRIVING), "never drove"
        status = json.loads(subprocess.check_output([sys.executable, "-m", "jetracer", "arm", "--status"], env=env,
                                                    universal_newlines=True))
        assert status["armed"]
        children = subprocess.check_output(["pgrep", "-P", str(proc.pid)], universal_newlines=True).split()
        assert len(children) == 1
        killed_at = time.monotonic()
        os.kill(int(children[0]), signal.SIGKILL)
        at = scope.neutral_after(killed_at, wait_s=5.0)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3 and "supervisor was lost" in err
    assert at is not None and at - killed_at < BOUND_S, scope.transitions
    assert_wire_neutral(scope, load_profile("latrax"))
    report = json.loads(out.strip().splitlines()[-1])
    assert abs(report["outputs"]["throttle_pulse_us"] - load_profile("latrax").throttle.center_us) < 5
    assert report["stops"].get("supervisor lost", 0) >= 1
