"""The file-backed emulated bus: separate processes see and change the same chips."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from jetracer.hardware.block_pwm import BlockPWM
from jetracer.hardware.emulated import BUS_FILE_ENV, EmulatedBus, reset_shared_bus, shared_bus
from jetracer.hardware.emulated.shared_file import SharedFileBus
from jetracer.hardware.i2c import EmulatedI2C

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DRIVE = textwrap.dedent("""
    import sys
    from jetracer.car import create_car
    from jetracer.hardware.emulated import shared_bus
    car = create_car()
    car.steering, car.throttle = 0.5, 0.3
    print("ready", flush=True)
    for line in sys.stdin:  # each line: print what this process sees on the ESC channel
        print("%.1f" % shared_bus().chip(0x40).pulse_us(1), flush=True)
""")


@pytest.fixture
def bus_file(tmp_path, monkeypatch):
    path = str(tmp_path / "bus.bin")
    monkeypatch.setenv(BUS_FILE_ENV, path)
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    monkeypatch.setenv("JETRACER_CONFIG", os.devnull)
    monkeypatch.setenv("JETRACER_PROFILE", "latrax")
    yield path
    monkeypatch.delenv(BUS_FILE_ENV)
    reset_shared_bus()  # later tests get this process's own bus again


def start(script):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, universal_newlines=True)
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read()
    return proc


def ask(proc):
    proc.stdin.write("?\n")
    proc.stdin.flush()
    return float(proc.stdout.readline())


def test_a_supervisor_sees_the_drive_process_pulses_changes_them_and_survives_its_sigkill(bus_file):
    drive = start(DRIVE)
    try:
        bus = shared_bus()
        assert isinstance(bus, SharedFileBus)
        chip = bus.chip(0x40)
        assert chip.frequency_hz == pytest.approx(50.03, abs=0.01)
        assert chip.pulse_us(0) == pytest.approx(1500 - 0.325 * 750, abs=4.9)  # the drive process's command
        assert chip.pulse_us(1) == pytest.approx(1500 + 0.24 * 750, abs=4.9)
        pwm = BlockPWM.__new__(BlockPWM)  # the supervisor writes the ESC channel without re-initialising the chip
        pwm.i2c = EmulatedI2C(bus).get_i2c_device(0x40)
        pwm.setPWM(1, 0, 307)
        assert ask(drive) == pytest.approx(1498.2, abs=0.1)  # the drive process sees the supervisor's write
        drive.send_signal(signal.SIGKILL)
        drive.wait(10)
        assert chip.pulse_us(0) == pytest.approx(1500 - 0.325 * 750, abs=4.9)  # a dead process leaves its pulses
        from jetracer.driving.session import put_at_neutral
        from jetracer.config import load_config

        report = put_at_neutral(load_config())  # what the service's ExecStopPost does
        assert report["outputs"]["throttle_pulse_us"] == pytest.approx(1498.2, abs=0.1)
        assert chip.pulse_us(0) == pytest.approx(1498.2, abs=0.1)
    finally:
        if drive.poll() is None:
            drive.kill()
        drive.wait(10)


def test_emulator_show_in_another_terminal_reads_the_live_pulses_without_touching_them(bus_file):
    drive = start(DRIVE)
    try:
        env = dict(os.environ, PYTHONPATH=ROOT)
        out = subprocess.check_output([sys.executable, "-m", "jetracer", "emulator", "show"], env=env,
                                      universal_newlines=True, stderr=subprocess.STDOUT, timeout=60)
        assert "shared emulated bus %s (live)" % bus_file in out
        assert "channel  0: duty   6.27%  pulse  1254.2 us" in out
        assert "channel  1: duty   8.40%  pulse  1678.7 us" in out
        assert ask(drive) == pytest.approx(1678.7, abs=0.1)  # still the drive process's pulse
    finally:
        drive.kill()
        drive.wait(10)


def test_emulator_show_finds_the_bus_file_a_drive_session_left_in_the_runtime_dir(tmp_path, monkeypatch):
    from jetracer.driving.supervisor_link import SOCKET_NAME
    from jetracer.runtime import EMULATED_BUS_NAME

    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("JETRACER_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    monkeypatch.setenv("JETRACER_CONFIG", os.devnull)
    monkeypatch.setenv("JETRACER_PROFILE", "latrax")
    monkeypatch.setenv(BUS_FILE_ENV, str(runtime / EMULATED_BUS_NAME))  # what share_emulated_bus names
    drive = start(DRIVE)
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        env = dict(os.environ, PYTHONPATH=ROOT)
        del env[BUS_FILE_ENV]  # a second terminal knows nothing of the drive session's bus
        show = [sys.executable, "-m", "jetracer", "emulator", "show"]
        out = subprocess.check_output(show, env=env, universal_newlines=True, stderr=subprocess.STDOUT, timeout=60)
        assert "(live)" not in out  # no drive answers on its control socket: the file is a leftover
        control.bind(str(runtime / SOCKET_NAME))  # a running drive listens there
        control.listen(1)
        out = subprocess.check_output(show, env=env, universal_newlines=True, stderr=subprocess.STDOUT, timeout=60)
        assert "shared emulated bus %s (live)" % (runtime / EMULATED_BUS_NAME) in out
        assert "channel  1: duty   8.40%  pulse  1678.7 us" in out
    finally:
        control.close()
        drive.kill()
        drive.wait(10)
        monkeypatch.delenv(BUS_FILE_ENV)
        reset_shared_bus()


WRITER = textwrap.dedent("""
    import sys
    from jetracer.hardware.block_pwm import BlockPWM
    from jetracer.hardware.emulated import shared_bus
    from jetracer.hardware.i2c import EmulatedI2C
    pwm = BlockPWM(0x40, i2c=EmulatedI2C(shared_bus()))
    pwm.setPWMFreq(50)
    pwm.setPWM(0, 0, 0x105)
    print("ready", flush=True)
    for i in range(3000):
        pwm.setPWM(0, 0, 0x0FB if i % 2 else 0x105)  # 1225 <-> 1274 us: a torn write would show 2474 us
    print("done", flush=True)
""")


def test_every_transaction_is_atomic_across_processes(bus_file):
    reset_shared_bus()
    writer = start(WRITER)
    try:
        chip = shared_bus().chip(0x40)
        seen = set()
        deadline = time.monotonic() + 30
        while writer.poll() is None and time.monotonic() < deadline:
            seen.add(chip.counts(0)[1])
        assert writer.wait(30) == 0, writer.stderr.read()
        assert seen <= {0x0FB, 0x105} and seen == {0x0FB, 0x105}
    finally:
        if writer.poll() is None:
            writer.kill()


def test_a_new_file_has_powered_on_chips_and_every_process_shares_attach_and_detach(bus_file):
    first, second = SharedFileBus(bus_file), SharedFileBus(bus_file)
    assert first.scan() == []  # no default chips asked for: an empty bus
    reset_shared_bus()
    assert shared_bus().scan() == [0x3C, 0x40, 0x60]
    other = SharedFileBus(bus_file)
    assert other.scan() == [0x3C, 0x40, 0x60] and other.chip(0x40).asleep
    other.detach(0x60)
    assert shared_bus().scan() == [0x3C, 0x40]
    with pytest.raises(OSError):
        shared_bus().write_byte_data(0x60, 0x00, 0x01)
    assert second.scan() == [0x3C, 0x40]


def test_without_the_variable_the_bus_is_private_to_the_process(monkeypatch):
    monkeypatch.delenv(BUS_FILE_ENV, raising=False)
    bus = reset_shared_bus()
    assert type(bus) is EmulatedBus and shared_bus() is bus


OLED = textwrap.dedent("""
    from PIL import Image, ImageDraw
    from jetracer.display.oled import Oled
    from jetracer.hardware.i2c import open_i2c
    oled = Oled(open_i2c("emulated", 1), height=32)
    image = Image.new("1", (128, 32))
    ImageDraw.Draw(image).rectangle((10, 4, 40, 20), fill=1)
    oled.show(image)
    print("ready", flush=True)
""")


def test_an_oled_drawn_by_another_process_shows_here(bus_file):
    reset_shared_bus()
    display = start(OLED)
    display.wait(30)
    panel = shared_bus().chip(0x3C).image()
    rows, columns = panel.any(axis=1).nonzero()[0], panel.any(axis=0).nonzero()[0]
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (4, 20, 10, 40)
