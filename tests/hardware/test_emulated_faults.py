"""Wiring faults on the emulated bus (``JETRACER_EMULATED_FAULTS``): the bus behaves like the miswired car, and the
car, the drive and the calibration report it as the real bus would, naming the bus, the address and what to check.

Issue 21, item 2: an absent chip does not acknowledge (errno 121, EREMOTEIO, as Linux's I2C stack gives), a moved
chip answers at the other address only, an erroring chip fails every transfer with errno 121.
"""
import errno
import os
import subprocess
import sys

import pytest

from jetracer.hardware import I2CError
from jetracer.hardware.emulated import FAULTS_ENV, EmulatedFaultsError, reset_shared_bus, shared_bus
from jetracer.hardware.emulated.bus import EmulatedBus
from jetracer.hardware.emulated.pca9685 import PCA9685
from jetracer.hardware.emulated.shared_file import SharedFileBus

MODE1 = 0x00


def bus_with(faults):
    bus = EmulatedBus(faults=faults)
    for address in (0x40, 0x60):
        bus.attach(address, PCA9685())
    return bus


def nack_of(call):
    with pytest.raises(OSError) as info:
        call()
    return info.value


def test_an_absent_chip_does_not_acknowledge_and_is_not_in_the_scan():
    bus = bus_with("absent:0x40")
    error = nack_of(lambda: bus.read_byte_data(0x40, MODE1))
    assert error.errno == errno.EREMOTEIO == 121 and error.emulated_fault == "absent:0x40"
    assert bus.scan() == [0x60]
    assert bus.read_byte_data(0x60, MODE1) == 0x11  # the other chip answers, at power-on state


def test_a_moved_chip_answers_at_its_new_address_only():
    bus = bus_with("moved:0x40:0x41")
    assert bus.scan() == [0x41, 0x60]
    assert nack_of(lambda: bus.read_byte(0x40)).emulated_fault == "moved:0x40:0x41"
    bus.write_byte_data(0x41, MODE1, 0x01)  # wake the chip through its new address
    assert not bus.chip(0x40).asleep, "the chip of 0x40 got the write sent to 0x41"


def test_an_erroring_chip_fails_every_transfer_with_errno_121():
    bus = bus_with("error:0x40")
    for call in (lambda: bus.read_byte(0x40), lambda: bus.write_byte_data(0x40, MODE1, 0x01),
                 lambda: bus.read_i2c_block_data(0x40, 0x06, 4)):
        error = nack_of(call)
        assert error.errno == 121 and error.emulated_fault == "error:0x40"
    assert bus.chip(0x40).asleep, "no write reached it"
    assert bus.scan() == [0x60]


def test_a_chip_moved_onto_another_collides():
    bus = bus_with("moved:0x40:0x60")
    assert nack_of(lambda: bus.read_byte(0x60)).errno == errno.EIO
    assert bus.scan() == [0x60]


def test_faults_combine_and_a_bus_without_faults_is_untouched():
    bus = bus_with("absent:0x60, moved:0x40:0x41")
    assert bus.scan() == [0x41]
    assert bus_with("").scan() == [0x40, 0x60]


@pytest.mark.parametrize("value", ["bogus", "absent", "absent:0x40:0x41", "moved:0x40", "absent:0x99", "error:forty",
                                   "moved:0x40:0x40", "absent:0x40,,gone:0x60"])
def test_a_bad_value_is_one_line_naming_the_variable_and_the_forms(value):
    with pytest.raises(EmulatedFaultsError) as info:
        EmulatedBus(faults=value)
    message = str(info.value)
    assert "\n" not in message and FAULTS_ENV in message
    assert "absent:0xNN" in message and "moved:0xNN:0xMM" in message and "error:0xNN" in message


def test_shared_bus_is_rewired_when_the_variable_changes(monkeypatch):
    monkeypatch.delenv(FAULTS_ENV, raising=False)
    monkeypatch.delenv("JETRACER_EMULATED_BUS", raising=False)
    bus = reset_shared_bus()
    assert 0x40 in bus.scan()
    monkeypatch.setenv(FAULTS_ENV, "absent:0x40")
    assert 0x40 not in shared_bus().scan() and shared_bus() is bus
    bus.set_faults("")  # a set_faults call stays until the variable changes again
    assert 0x40 in shared_bus().scan()
    monkeypatch.setenv(FAULTS_ENV, "error:0x60")
    assert shared_bus().scan() == [0x3C, 0x40]


def test_faults_are_per_process_on_a_shared_bus_file(tmp_path, monkeypatch):
    monkeypatch.delenv(FAULTS_ENV, raising=False)
    path = str(tmp_path / "bus.bin")
    wired_right = SharedFileBus(path, default_chips=lambda: [(0x40, PCA9685())])
    miswired = SharedFileBus(path)
    miswired.set_faults("absent:0x40")
    assert nack_of(lambda: miswired.read_byte(0x40)).emulated_fault == "absent:0x40"
    wired_right.write_byte_data(0x40, MODE1, 0x01)
    assert not miswired.chip(0x40).asleep, "one chip in the file: the other process's write reached it"


@pytest.mark.parametrize("fault", ["absent:0x40", "moved:0x40:0x41", "error:0x40"])
def test_nvidia_racecar_names_the_bus_the_address_and_what_to_check(monkeypatch, fault):
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    monkeypatch.setenv("JETRACER_CONFIG", os.devnull)
    monkeypatch.delenv("JETRACER_PROFILE", raising=False)
    monkeypatch.delenv("JETRACER_EMULATED_BUS", raising=False)
    monkeypatch.setenv(FAULTS_ENV, fault)
    reset_shared_bus()
    from jetracer.nvidia_racecar import NvidiaRacecar

    with pytest.raises(I2CError) as info:
        NvidiaRacecar()
    message = str(info.value)
    assert "\n" not in message
    for needle in ("I2C address 0x40 on bus 1", "wiring and power", "i2cdetect -y -r 1", "i2c_address",
                   "emulated: %s" % fault):
        assert needle in message, (needle, message)


def cli(args, env, timeout_s=120):
    return subprocess.run([sys.executable, "-m", "jetracer"] + args, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout_s)


def cli_env(tmp_path, **extra):
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=str(tmp_path / "config.yaml"),
               JETRACER_RUNTIME_DIR=str(tmp_path), JETRACER_STATE=str(tmp_path / "state.json"), OMP_NUM_THREADS="1")
    for key in ("JETRACER_PROFILE", "JETRACER_CAMERA", "JETRACER_EMULATED_BUS", FAULTS_ENV, "INVOCATION_ID",
                "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        env.pop(key, None)
    (tmp_path / "config.yaml").write_text("# my car\n")
    env.update(extra)
    return env


def one_line(proc, code):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["drive", "--neutral"], ["calibrate"]])
def test_drive_and_calibrate_give_one_line_naming_bus_and_address(tmp_path, command):
    env = cli_env(tmp_path, **{FAULTS_ENV: "absent:0x40"})
    line = one_line(cli(command, env), 1)
    for needle in ("jetracer %s:" % command[0], "I2C address 0x40 on bus 1", "wiring and power",
                   "absent:0x40 in JETRACER_EMULATED_FAULTS"):
        assert needle in line, (needle, line)
    assert (tmp_path / "config.yaml").read_text() == "# my car\n", "nothing was saved"


@pytest.mark.parametrize("command", [["drive", "--neutral"], ["calibrate"], ["emulator", "show"]])
def test_a_bad_variable_is_a_one_line_usage_error(tmp_path, command):
    env = cli_env(tmp_path, **{FAULTS_ENV: "unplugged:0x40"})
    line = one_line(cli(command, env), 2)
    assert "JETRACER_EMULATED_FAULTS=unplugged:0x40" in line and "absent:0xNN" in line and "moved:0xNN:0xMM" in line
