"""The Waveshare JetRacer Pro's soft start, watched on the ESC channel over time."""
import os
import signal
import subprocess
import sys
import time

import pytest

from jetracer.car import create_car
from jetracer.config import load_config
from jetracer.hardware.emulated import reset_shared_bus, shared_bus
from jetracer.throttle_ramp import ThrottleRamp

ESC = 1


def make_car(tmp_path, **ramp):
    config = load_config(path=os.devnull, env={"JETRACER_I2C": "emulated", "JETRACER_PROFILE": "waveshare_pro"})
    if ramp:
        config = config.with_overrides(profile_overrides={"car": {"throttle_ramp": ramp}})
    return create_car(config)


def output_of(chip):
    """The ESC pulse as a throttle output (1500 +- 750 us is +-1)."""
    return (chip.pulse_us(ESC) - 1500.0) / 750.0


def watch(chip, seconds, every_s=0.01):
    samples, start = [], time.monotonic()
    while time.monotonic() - start < seconds:
        samples.append((time.monotonic() - start, output_of(chip)))
        time.sleep(every_s)
    return samples


def first_time_at(samples, value, tolerance):
    return next(t for t, v in samples if abs(v - value) <= tolerance)


def test_upstream_soft_start_on_the_bus_with_the_profile_values(tmp_path):
    """+0.18 at once, +0.18 every 1.2 s, up to throttle * gain (0.5 * 0.8 = 0.4), at 60 Hz."""
    bus = reset_shared_bus()
    car = make_car(tmp_path)
    chip = bus.chip(0x40)
    assert chip.frequency_hz == pytest.approx(59.84, abs=0.01)
    tick = 1.0 / (4096 * chip.frequency_hz * 1e-6) / 750.0
    assert output_of(chip) == pytest.approx(0.0, abs=tick)  # neutral sent at start
    car.throttle = 0.5
    samples = watch(chip, 2.9)
    assert samples[0][1] == pytest.approx(0.18, abs=tick)
    assert first_time_at(samples, 0.36, tick) == pytest.approx(1.2, abs=0.15)
    assert first_time_at(samples, 0.40, tick) == pytest.approx(2.4, abs=0.15)
    assert all(-tick <= v <= 0.4 + tick for _, v in samples)
    assert [round(v, 2) for _, v in samples] == sorted(round(v, 2) for _, v in samples)  # never backwards
    car.close()


def test_slowing_down_stopping_and_estop_are_immediate(tmp_path):
    bus = reset_shared_bus()
    car = make_car(tmp_path, step=0.18, interval_s=0.3, immediate_below=0.1)
    chip = bus.chip(0x40)
    tick = 0.01
    car.throttle = 1.0
    time.sleep(1.6)
    assert output_of(chip) == pytest.approx(0.8, abs=tick)  # 0.18, 0.36, 0.54, 0.72, 0.8 (max_throttle)
    car.throttle = 0.25
    assert output_of(chip) == pytest.approx(0.2, abs=tick)  # at once
    car.throttle = 1.0
    assert output_of(chip) == pytest.approx(0.38, abs=tick)  # the last step was long ago: one step at once
    car.throttle = 0.95
    assert output_of(chip) == pytest.approx(0.38, abs=tick)  # a new command does not add a step
    time.sleep(0.45)
    assert output_of(chip) == pytest.approx(0.56, abs=tick)
    car.estop("test")
    assert output_of(chip) == pytest.approx(0.0, abs=tick)
    time.sleep(0.4)
    assert output_of(chip) == pytest.approx(0.0, abs=tick)  # the ramp does not resume after an e-stop
    car.release_estop()
    car.throttle = 0.1  # 0.08 is below immediate_below: at once
    assert output_of(chip) == pytest.approx(0.08, abs=tick)
    car.stop()
    assert output_of(chip) == pytest.approx(0.0, abs=tick)
    car.close()


def test_a_reversal_goes_to_neutral_at_once_then_ramps_the_other_way(tmp_path):
    bus = reset_shared_bus()
    car = make_car(tmp_path, step=0.18, interval_s=0.2, immediate_below=0.1)
    chip = bus.chip(0x40)
    car.throttle = 0.5
    time.sleep(0.6)
    assert output_of(chip) == pytest.approx(0.4, abs=0.01)
    car.throttle = -0.5
    samples = watch(chip, 1.0)
    # at once: neutral, or already the first reverse step when the last forward step is 0.2 s old
    assert min(abs(samples[0][1]), abs(samples[0][1] + 0.18)) <= 0.01
    assert min(v for _, v in samples) == pytest.approx(-0.4, abs=0.01)
    assert all(v <= 0.01 for _, v in samples)  # never forward again
    car.close()


def test_the_command_watchdog_stops_a_ramping_car(tmp_path):
    bus = reset_shared_bus()
    car = make_car(tmp_path, step=0.1, interval_s=0.05, immediate_below=0.0)
    car.command_timeout_s = 0.2
    car.throttle = 1.0
    time.sleep(0.6)
    assert output_of(bus.chip(0x40)) == pytest.approx(0.0, abs=0.01)
    assert "no throttle command" in car.stop_reason
    car.close()


def test_the_ramp_is_a_rate_limit_whatever_the_command_stream():
    """Upstream takes a step on every new command; a stream of commands cannot outpace this one."""
    ramp = ThrottleRamp(0.18, 1.2, 0.1)
    current, now = 0.0, 100.0
    for i in range(100):  # a drive loop at 50 Hz asking for slightly different throttles for 2 s
        current, _ = ramp.advance(current, 0.8 - 0.001 * (i % 2), now + i * 0.02)
    assert current == pytest.approx(0.36)  # two steps in 2 s: at once and at 1.2 s
    assert ramp.advance(current, 0.05, now + 2.0) == (0.05, None)
    assert ramp.advance(0.05, 0.5, now + 2.01)[0] == pytest.approx(0.23)  # from neutral the first step is at once


HOLDER = """
import os, sys
from jetracer.car import create_car
from jetracer.config import load_config
car = create_car(load_config(path=os.devnull))
car.throttle = 0.5
print("ramping", flush=True)
sys.stdin.readline()  # hold the car until the test says
car.close()
"""


def test_a_stopped_process_resumes_without_a_step_up(tmp_path, monkeypatch):
    """SIGSTOP a process whose waveshare_pro car is ramping, past its next step's time: on SIGCONT the ramp
    thread writes no step up (a drive loop latches its e-stop first); the car ramps on one interval later."""
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_PROFILE="waveshare_pro",
               JETRACER_EMULATED_BUS=str(tmp_path / "bus.bin"))
    monkeypatch.setenv("JETRACER_EMULATED_BUS", str(tmp_path / "bus.bin"))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              universal_newlines=True)
    try:
        assert holder.stdout.readline().strip() == "ramping"
        chip = shared_bus().chip(0x40)  # the holder's chip, read through the bus file
        tick = 1.0 / (4096 * chip.frequency_hz * 1e-6) / 750.0
        assert output_of(chip) == pytest.approx(0.18, abs=tick)  # the first step, at once
        time.sleep(0.3)
        os.kill(holder.pid, signal.SIGSTOP)
        time.sleep(1.3)  # the second step was due 1.2 s after the first
        assert output_of(chip) == pytest.approx(0.18, abs=tick)
        os.kill(holder.pid, signal.SIGCONT)
        after = watch(chip, 0.6)
        assert all(abs(v - 0.18) <= tick for _, v in after), "a step up was written on resume: %s" % after[:5]
        later = watch(chip, 1.2)  # the next step is due 1.2 s after the resume, the one after it at 2.4 s
        assert any(abs(v - 0.36) <= tick for _, v in later), "the ramp did not carry on after the stall"
        assert all(0.18 - tick <= v <= 0.36 + tick for _, v in later)
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    assert output_of(chip) == pytest.approx(0.0, abs=tick)  # close(): neutral
