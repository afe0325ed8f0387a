"""One owner of the motors: a drive, a notebook's car, calibrate and ``emulator show`` on one shared emulated
bus, each in its own process. A second writer is refused with one line naming the owner and writes nothing;
the claim goes with its owner (close, exit, SIGKILL); cars of one process share it."""
import gc
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from jetracer.car import create_car
from jetracer.config import load_config
from jetracer.hardware.claim import MotorsClaimed, claim_motors, motors_owner
from jetracer.hardware.emulated import shared_bus
from jetracer.hardware.i2c import EmulatedI2C

STEERING, THROTTLE = 0, 1  # latrax channels on the PCA9685 at 0x40
NEUTRAL_US = 1500

NOTEBOOK = """
import json, sys
from jetracer.nvidia_racecar import NvidiaRacecar
from jetracer.hardware.emulated import shared_bus
car = NvidiaRacecar()
car.throttle = 0.5
print(json.dumps({"throttle_us": shared_bus().chip(0x40).pulse_us(1)}), flush=True)
if len(sys.argv) > 1:
    sys.stdin.readline()  # hold the car until the test says
car.close()
"""


def env_for(tmp_path, **extra):
    """A user's environment on the emulated chips of ``tmp_path/bus.bin`` (the wire every process shares)."""
    config = tmp_path / "config.yaml"
    if not config.exists():
        config.write_text(yaml.safe_dump({"profile": "latrax"}))
    os.chmod(str(tmp_path), 0o700)
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=str(config), JETRACER_RUNTIME_DIR=str(tmp_path),
               JETRACER_STATE=str(tmp_path / "state.json"), JETRACER_EMULATED_BUS=str(tmp_path / "bus.bin"),
               OMP_NUM_THREADS="1")
    for key in ("JETRACER_PROFILE", "JETRACER_CAMERA", "INVOCATION_ID", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        env.pop(key, None)
    env.update(extra)
    return env


def run(env, *args, **kwargs):
    return subprocess.run(list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, **kwargs)


def jetracer(env, *args, **kwargs):
    return run(env, sys.executable, "-m", "jetracer", *args, **kwargs)


def notebook(env):
    return run(env, sys.executable, "-c", NOTEBOOK)


def wire(monkeypatch, tmp_path):
    """This process's view of the shared bus file (reading it claims nothing)."""
    monkeypatch.setenv("JETRACER_EMULATED_BUS", str(tmp_path / "bus.bin"))
    return shared_bus()


def assert_refused(proc, owner_pid, owner_words):
    """Non-zero exit and one line naming the owner's pid and command, and how to stop it."""
    assert proc.returncode != 0, proc.stdout
    lines = [line for line in proc.stderr.splitlines() if "owned by" in line]
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert "pid %d (`%s" % (owner_pid, owner_words) in line and "one process at a time" in line, line
    assert "PCA9685 0x40" in line
    return line


def wait_until(condition, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_notebook_car_calibrate_and_emulator_show_are_refused_while_a_disarmed_drive_owns_the_motors(
        tmp_path, monkeypatch):
    env = env_for(tmp_path)
    drive = subprocess.Popen([sys.executable, "-m", "jetracer", "drive", "--sim", "--model", "expert", "--json"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        state = tmp_path / "state.json"
        assert wait_until(lambda: state.exists() and json.loads(state.read_text() or "{}").get("armed") is False), \
            "the drive never reported disarmed"
        bus = wire(monkeypatch, tmp_path)
        esc = bus.chip(0x40)
        assert abs(esc.pulse_us(THROTTLE) - NEUTRAL_US) < 3
        owner = motors_owner(EmulatedI2C(bus))
        assert owner["pid"] == drive.pid and "jetracer drive --sim" in owner["command"]

        line = assert_refused(notebook(env), drive.pid, "jetracer drive --sim")
        assert line.startswith("jetracer.hardware.claim.MotorsClaimed: ")
        assert "sudo systemctl stop jetracer-drive" in line and "`jetracer disarm` does not release" in line
        assert abs(esc.pulse_us(THROTTLE) - NEUTRAL_US) < 3, "the refused notebook moved the throttle"

        for args in (("calibrate",), ("emulator", "show", "--throttle", "0.5"), ("drive", "--neutral")):
            proc = jetracer(env, *args, input="\n" * 8)
            assert proc.returncode == 1 and proc.stderr.count("\n") == 1, (args, proc.stderr)
            assert proc.stderr.startswith("jetracer %s: " % args[0]) and "Traceback" not in proc.stderr
            assert_refused(proc, drive.pid, "jetracer drive --sim")
        assert abs(esc.pulse_us(THROTTLE) - NEUTRAL_US) < 3, "a refused writer moved the throttle"
        assert drive.poll() is None, "a refused writer stopped the drive"
    finally:
        if drive.poll() is None:
            drive.send_signal(signal.SIGTERM)
        out, err = drive.communicate(timeout=60)
    assert drive.returncode == 0, err

    after = notebook(env)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout.splitlines()[-1])["throttle_us"] > NEUTRAL_US + 100, "the notebook could not drive"
    assert abs(esc.pulse_us(THROTTLE) - NEUTRAL_US) < 3, "the notebook's car.close() left the throttle off neutral"


def test_the_claim_goes_with_its_owner_even_on_sigkill(tmp_path, monkeypatch):
    env = env_for(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", NOTEBOOK, "hold"], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        assert holder.stdout.readline(), holder.stderr.read()
        monkeypatch.setenv("JETRACER_I2C", "emulated")
        bus = wire(monkeypatch, tmp_path)
        config = load_config(str(tmp_path / "config.yaml"))
        with pytest.raises(MotorsClaimed) as refused:
            create_car(config)
        assert refused.value.owner["pid"] == holder.pid and "python -c" in refused.value.owner["command"]
        assert "`car.close()`" in str(refused.value) and "\n" not in str(refused.value)
        assert bus.chip(0x40).pulse_us(THROTTLE) > NEUTRAL_US + 100, "the refused car wrote to the chip"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.communicate()
    car = create_car(config)  # the kernel dropped the dead owner's lock
    try:
        assert abs(bus.chip(0x40).pulse_us(THROTTLE) - NEUTRAL_US) < 3, "a new car starts at neutral"
        assert motors_owner(EmulatedI2C(bus))["pid"] == os.getpid()
    finally:
        car.close()
    assert motors_owner(EmulatedI2C(bus)) is None


def test_cars_of_one_process_share_the_claim_until_the_last_one_closes(tmp_path, monkeypatch):
    env = env_for(tmp_path)
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    bus = wire(monkeypatch, tmp_path)
    config = load_config(str(tmp_path / "config.yaml"))
    first = create_car(config)
    second = create_car(config)  # a notebook re-running `car = NvidiaRacecar()`
    second.throttle = 0.2
    assert bus.chip(0x40).pulse_us(THROTTLE) > NEUTRAL_US + 50
    first.close()
    assert_refused(notebook(env), os.getpid(), "")  # the second car still owns the motors
    second.close()
    assert notebook(env).returncode == 0

    third = create_car(config)
    assert notebook(env).returncode != 0
    del third  # a car dropped without close() gives its share back when it is collected
    gc.collect()
    assert notebook(env).returncode == 0


def test_each_bus_file_has_its_own_claim_and_a_private_bus_needs_none(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    bus_a = wire(monkeypatch, tmp_path / "a")
    env_for(tmp_path / "a")
    car = create_car(load_config(str(tmp_path / "a" / "config.yaml")))
    try:
        other = notebook(env_for(tmp_path / "b"))  # another drive's bus file: not these chips
        assert other.returncode == 0, other.stderr
        private = notebook(env_for(tmp_path / "a", JETRACER_EMULATED_BUS=""))  # a bus of its own process
        assert private.returncode == 0, private.stderr
        assert motors_owner(EmulatedI2C(bus_a))["pid"] == os.getpid()
    finally:
        car.close()


def test_the_claim_file_cannot_be_redirected(tmp_path, monkeypatch):
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    bus = wire(monkeypatch, tmp_path)
    target = tmp_path / "elsewhere"
    target.write_text("keep me\n")
    os.symlink(str(target), str(tmp_path / "bus.bin.claim"))
    with pytest.raises(OSError, match="motor claim file .*bus.bin.claim"):
        claim_motors(EmulatedI2C(bus), [0x40])
    assert target.read_text() == "keep me\n"


def test_a_second_calibration_is_refused_while_one_runs(tmp_path, monkeypatch):
    env = env_for(tmp_path)
    first = subprocess.Popen([sys.executable, "-m", "jetracer", "calibrate"], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        bus = wire(monkeypatch, tmp_path)
        assert wait_until(lambda: (motors_owner(EmulatedI2C(bus)) or {}).get("pid") == first.pid or
                          first.poll() is not None), "the calibration never took the motors"
        line = assert_refused(jetracer(env, "calibrate", input="\n" * 6), first.pid, "jetracer calibrate")
        assert "quit it with q" in line
        assert_refused(jetracer(env, "emulator", "show", "--throttle", "0.3"), first.pid, "jetracer calibrate")
        out, err = first.communicate("q\n", timeout=60)
        assert first.returncode == 1 and "aborted" in err
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    shown = jetracer(env, "emulator", "show", "--throttle", "0.3")
    assert shown.returncode == 0 and "channel  1" in shown.stdout, shown.stderr


def test_a_device_node_owner_is_named_from_the_kernels_lock_table(tmp_path):
    """On a real bus the claim is an flock on /dev/i2c-N, which holds no record: the owner comes from
    /proc/locks and /proc/PID. A character device every machine has (/dev/null) stands in for the node."""
    from jetracer.hardware.claim import _lock_or_owner

    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys; fd = os.open('/dev/null', os.O_RDONLY); "
                               "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.readline()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True)
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(MotorsClaimed) as refused:
            _lock_or_owner(fd, "/dev/null", "the car's motor chips (PCA9685 0x40 on I2C bus 1)")
        owner = refused.value.owner
        assert owner["pid"] == holder.pid and owner["command"].startswith("python") and owner["uid"] == os.getuid()
        assert "since" in owner and "pid %d (`python" % holder.pid in str(refused.value)
    finally:
        os.close(fd)
        holder.communicate("\n", timeout=30)


def test_a_missing_i2c_bus_is_named_before_anything_is_claimed():
    from jetracer.hardware.i2c import I2CError, LinuxI2C

    with pytest.raises(I2CError, match=r"cannot open I2C bus 97 .*/dev/i2c-97 does not exist"):
        claim_motors(LinuxI2C(97), [0x40])
