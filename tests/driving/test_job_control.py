"""Ctrl-Z, SIGSTOP and SIGKILL of the whole process group of ``jetracer drive --arm`` at a terminal.

The production path (``python -m jetracer drive --arm``: a recorded camera, a real ONNX model, the
supervisor process, the emulated PCA9685 in a bus file) runs as a person runs it: the foreground job
of a pseudo-terminal, started by a stand-in shell in a process group of its own
(:class:`jetracer.apps.bench.safety.Terminal`), so Ctrl-Z is typed on the terminal and the kernel
stops the job as it would in bash. Every assertion is on the throttle channel of the drive process's
chip, read every 1 ms from this process (:class:`~jetracer.apps.bench.safety.ThrottleScope`), or on
the processes themselves. Bounds: the 100 ms promise plus room for a loaded 2-core machine (the
safety bench measures the time itself).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from jetracer.driving.loop import STALLED, DriveLoop
from jetracer.apps.bench.safety import (DRIVING, NEUTRAL, Terminal, ThrottleScope, children_of, gone,
                                           process_state)
from jetracer.driving.supervisor_link import SupervisorLink
from jetracer.profiles import load_profile
from production import drive_env, read_state, road_model, wait_for, write_frames
from driving_doubles import at_neutral, law, settings

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

PROFILE = load_profile("latrax")
BOUND_S = 0.3  # the 100 ms promise, plus 200 ms for a loaded 2-core machine


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return road_model(tmp_path_factory.mktemp("model") / "road.onnx")


@pytest.fixture
def armed_drive(tmp_path, model):
    """``jetracer drive --json --arm`` as the foreground job of a terminal, driving; yields (terminal, scope, env)."""
    frames = write_frames(tmp_path / "frames", [-1.0] * 4)
    env = drive_env(tmp_path, {"profile": "latrax", "camera": {"source": "replay", "path": frames, "fps": 30},
                               "drive": {"model": model, "mode": "auto", "throttle": 0.3, "self_check_frames": 2,
                                         "max_frame_age_s": 0.2}})  # the supervisor keeps its 80 ms default
    scope = ThrottleScope(str(tmp_path / "bus.bin"), PROFILE).start()
    with open(str(tmp_path / "stdout.json"), "w") as out, open(str(tmp_path / "stderr.log"), "w") as err:
        terminal = Terminal([sys.executable, "-m", "jetracer", "drive", "--json", "--arm"], env, str(tmp_path),
                            stdout=out, stderr=err)
    try:
        assert scope.wait_for(DRIVING, timeout_s=90), "never drove: %s" % (tmp_path / "stderr.log").read_text()
        yield terminal, scope, env
    finally:
        terminal.close()
        scope.stop()


def the_supervisor(drive_pid):
    children = children_of(drive_pid)
    assert len(children) == 1, children
    return children[0]


def run_cli(env, *args):
    return subprocess.run([sys.executable, "-m", "jetracer"] + list(args), env=env, timeout=60,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)


@pytest.mark.parametrize("how", ["ctrl-z", "sigstop-group"])
def test_stopping_the_drive_process_group_stops_the_car_and_fg_brings_it_back_disarmed(tmp_path, armed_drive, how):
    terminal, scope, env = armed_drive
    drive_pid = terminal.pgid
    supervisor = the_supervisor(drive_pid)
    assert os.getpgid(supervisor) != terminal.pgid and os.getsid(supervisor) != os.getsid(drive_pid)
    time.sleep(0.3)
    stopped_at = time.monotonic()
    if how == "ctrl-z":
        terminal.ctrl_z()
    else:
        terminal.killpg(signal.SIGSTOP)
    at = scope.neutral_after(stopped_at, wait_s=5.0)
    assert at is not None, "the throttle stayed off neutral: %s" % scope.transitions[-3:]
    assert at - stopped_at < BOUND_S, "neutral %.0f ms after the stop" % (1000 * (at - stopped_at))
    assert wait_for(lambda: process_state(drive_pid) == "T", 5), "the job was not stopped"
    assert process_state(supervisor) in ("R", "S"), "the supervisor must not stop with the drive process's group"
    time.sleep(1.0)
    assert not scope.left_neutral_after(at), "the throttle left neutral while the job was stopped"

    terminal.killpg(signal.SIGCONT)  # fg
    assert wait_for(lambda: process_state(drive_pid) in ("R", "S"), 5)
    assert wait_for(lambda: (lambda s: s.get("armed") is False and s.get("supervisor", {}).get("tripped") is False
                             and s.get("mode") == "auto")(read_state(tmp_path)), 10), read_state(tmp_path)
    time.sleep(1.5)
    assert not scope.left_neutral_after(at), "the resumed drive process drove without being armed again"
    assert json.loads(run_cli(env, "arm", "--status").stdout)["armed"] is False

    armed = run_cli(env, "arm")
    assert armed.returncode == 0, armed.stderr
    assert scope.wait_for(DRIVING, timeout_s=5) is not None, "jetracer arm did not re-arm the resumed drive process"

    terminal.ctrl_c()  # Ctrl-C reaches the drive process alone: it stops the car and ends the supervisor
    assert terminal.shell.wait(timeout=30) == 0, (tmp_path / "stderr.log").read_text()
    assert scope.state() == NEUTRAL
    assert wait_for(lambda: gone(supervisor), 5), "a supervisor process was left behind after Ctrl-C"
    report = json.loads((tmp_path / "stdout.json").read_text().strip().splitlines()[-1])
    assert report["signal"]["name"] == "SIGINT"
    assert abs(report["outputs"]["throttle_pulse_us"] - PROFILE.throttle.center_us) < 5


def test_sigkill_of_the_drive_process_group_leaves_neutral_and_no_supervisor(tmp_path, armed_drive):
    terminal, scope, env = armed_drive
    supervisor = the_supervisor(terminal.pgid)
    time.sleep(0.3)
    killed_at = time.monotonic()
    terminal.killpg(signal.SIGKILL)
    at = scope.neutral_after(killed_at, wait_s=5.0)
    assert at is not None, "the throttle stayed off neutral: %s" % scope.transitions[-3:]
    assert at - killed_at < BOUND_S, "neutral %.0f ms after the kill" % (1000 * (at - killed_at))
    assert wait_for(lambda: gone(supervisor), 5), "the supervisor outlived the drive process"
    assert not (tmp_path / "drive.sock").exists()
    final = read_state(tmp_path)
    assert final["mode"] == "stopped" and "died" in final["stop_reason"] and not final["armed"]
    time.sleep(0.3)
    assert not scope.left_neutral_after(at)


@pytest.mark.parametrize("where", ["model", "camera"])
def test_a_loop_stalled_longer_than_the_supervisor_timeout_latches_before_its_next_throttle_write(car, where):
    """The drive loop does not wait for the supervisor's trip message: with a supervisor that has sent none
    (yet), a loop that went 150 ms without a beat (in the model call: between a beat and the throttle
    write; in the camera: between two iterations) comes back disarmed, the throttle at neutral at once."""
    from driving_doubles import StripeCamera

    class StallingCamera(StripeCamera):
        stall_s = 0.0

        def read(self):
            time.sleep(self.stall_s)
            self.stall_s = 0.0
            return super(StallingCamera, self).read()

    class StallingPilot(object):
        last_timing_ms = {}
        stall_s = 0.0

        def __call__(self, frame):
            time.sleep(self.stall_s)
            self.stall_s = 0.0
            return 0.0, 0.0

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    link = SupervisorLink(ours, timeout_s=0.08, ack_timeout_s=30.0)  # the peer never answers: no trip message
    camera, pilot = StallingCamera(), StallingPilot()
    loop = DriveLoop(car, camera, pilot, law(throttle=0.3), settings(), lockstep=True, armed=True, supervisor=link)
    try:
        for _ in range(5):
            loop.step()
        assert not at_neutral(car) and loop.armed
        (pilot if where == "model" else camera).stall_s = 0.15
        loop.step()
        assert at_neutral(car) and not loop.armed, "the first iteration after the stall wrote the throttle"
        assert loop.stop_reason.startswith(STALLED), loop.stop_reason
        for _ in range(5):
            loop.step()
        assert at_neutral(car) and not loop.armed
        loop.arm()  # a person arms it again
        loop.step()
        assert not at_neutral(car)
    finally:
        loop.close()
        ours.close()
        theirs.close()
