"""Two devices at one I2C address: the OLED configured at the motor chip's address is refused before any write.

Issue 17, item 6: with ``display.i2c_address`` at the servo/ESC board's PCA9685, each display refresh
wrote the OLED's commands into that chip and put it to sleep (both channels lost their signal), and
nothing reported a fault. A car in another process holds pulses on the shared emulated PCA9685; the
test watches that chip, as an oscilloscope on the wire would, while ``jetracer display`` and
``jetracer drive`` are run with the clashing config.
"""
import os
import subprocess
import sys
import textwrap

import pytest

from cli_run import cli_env, jetracer, one_line_error
from jetracer.hardware.emulated.shared_file import SharedFileBus

HOLD = textwrap.dedent("""
    import sys
    from jetracer.car import create_car
    car = create_car()
    car.steering, car.throttle = 0.5, 0.3
    print("ready", flush=True)
    sys.stdin.read()
""")
CLASH = "display:\n  i2c_address: 0x40\n"


@pytest.fixture
def driven_bus(tmp_path):
    """A bus file whose PCA9685 at 0x40 carries a car's steering and throttle pulses (another process's car)."""
    path = str(tmp_path / "bus.bin")
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_EMULATED_BUS=path, JETRACER_CONFIG=os.devnull,
               JETRACER_PROFILE="latrax", JETRACER_RUNTIME_DIR=str(tmp_path))
    car = subprocess.Popen([sys.executable, "-c", HOLD], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
    assert car.stdout.readline().strip() == "ready", car.stderr.read()
    yield path
    car.kill()
    car.wait(10)


def pulses(path):
    chip = SharedFileBus(path).chip(0x40)
    return round(chip.pulse_us(0), 1), round(chip.pulse_us(1), 1)


def registers(path):
    """Every register of the PCA9685 at 0x40, as an I2C read returns them."""
    return bytes(SharedFileBus(path).chip(0x40).registers)


@pytest.mark.parametrize("command", [["display", "--once"], ["drive", "--neutral"],
                                     ["drive", "--sim", "--duration", "1"]])
def test_the_display_at_the_motor_chips_address_is_refused_and_the_chip_keeps_its_pulses(tmp_path, driven_bus, command):
    before = registers(driven_bus)
    assert pulses(driven_bus) == (1254.2, 1678.7)
    env = cli_env(tmp_path, CLASH, JETRACER_EMULATED_BUS=driven_bus)
    proc = jetracer(command, env)
    one_line_error(proc, 2, "config file %s" % env["JETRACER_CONFIG"],
                   "display.i2c_address 0x40 is also the latrax profile's steering/throttle PCA9685 on I2C bus 1",
                   "set display.i2c_address to the OLED's own address", "0x3C")
    assert registers(driven_bus) == before, "nothing was written to the motor chip"
    assert pulses(driven_bus) == (1254.2, 1678.7)


def test_the_display_at_its_own_address_leaves_the_motor_chip_alone(tmp_path, driven_bus):
    before = registers(driven_bus)
    env = cli_env(tmp_path, "display:\n  i2c_address: 0x3C\n", JETRACER_EMULATED_BUS=driven_bus)
    proc = jetracer(["display", "--once"], env)
    assert proc.returncode == 0, proc.stderr
    assert registers(driven_bus) == before and pulses(driven_bus) == (1254.2, 1678.7)
    assert SharedFileBus(driven_bus).chip(0x3C).image().any(), "the OLED shows a frame"
