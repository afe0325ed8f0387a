"""Upstream's own libraries next to our car, on two emulated buses, with the same command sequences.

Upstream drives its PCA9685s with CircuitPython's adafruit_servokit / adafruit_pca9685 /
adafruit_motor (NVIDIA-AI-IOT/jetracer ``NvidiaRacecar``: ``continuous_servo[ch].throttle =
value * gain + offset``; waveshare/jetracer: the same for steering and raw ``duty_cycle`` writes on a
second PCA9685 at 0x60 for the motors). Those libraries run here unchanged over a busio.I2C adapter;
only upstream's few lines that turn a command into library calls are restated in this file. Every
channel must agree within one 12-bit tick after every command.
"""
import os
import importlib
import random
import sys
import time
import types

import pytest
import traitlets

from jetracer.car import create_car
from jetracer.config import load_config
from jetracer.hardware.emulated import make_bus, reset_shared_bus
from jetracer.hardware.emulated.circuitpython import BusioI2C

pytest.importorskip("adafruit_pca9685", reason="the upstream comparison needs the dev extra: pip install -e .[dev]")
pytest.importorskip("adafruit_motor", reason="the upstream comparison needs the dev extra: pip install -e .[dev]")


def servokit_module():
    """adafruit_servokit; where Blinka's ``board`` refuses this machine, a bare stand-in ``board`` lets it import
    (it is only used when no ``i2c=`` is given, and we always give one)."""
    try:
        return importlib.import_module("adafruit_servokit")
    except ImportError:
        raise
    except Exception:  # noqa: BLE001 - Blinka raises NotImplementedError/RuntimeError on unknown boards
        sys.modules["board"] = types.ModuleType("board")
        sys.modules.pop("adafruit_servokit", None)
        return importlib.import_module("adafruit_servokit")


class UpstreamRacecar(traitlets.HasTraits):
    """Upstream's NvidiaRacecar semantics: inputs clipped to [-1, 1], then ``value * gain + offset`` handed to
    ServoKit's ContinuousServo on change (which raises ValueError outside [-1, 1] and keeps the old pulse)."""

    steering = traitlets.Float(0.0)
    throttle = traitlets.Float(0.0)
    steering_gain = traitlets.Float(-0.65)
    steering_offset = traitlets.Float(0.0)
    throttle_gain = traitlets.Float(0.8)

    def __init__(self, bus, frequency_hz=None, **traits):
        super(UpstreamRacecar, self).__init__(**traits)
        self.kit = servokit_module().ServoKit(channels=16, i2c=BusioI2C(bus), address=0x40)
        if frequency_hz is not None:  # the ws/pro branch sets 60 Hz before taking its servos
            self.kit._pca.frequency = frequency_hz
        self.steering_motor = self.kit.continuous_servo[0]
        self.throttle_motor = self.kit.continuous_servo[1]

    @traitlets.validate("steering", "throttle")
    def _clip(self, proposal):
        return max(-1.0, min(1.0, proposal["value"]))

    @traitlets.observe("steering")
    def _on_steering(self, change):
        self.steering_motor.throttle = change["new"] * self.steering_gain + self.steering_offset

    @traitlets.observe("throttle")
    def _on_throttle(self, change):
        self.throttle_motor.throttle = change["new"] * self.throttle_gain


# waveshare/jetracer master's motor driver (PCA9685 at 0x60, 1600 Hz): duty written per channel.
# "d" is int(0xFFFF * |throttle * gain|), "on" 0xFFFF, "off" 0; throttle 0 takes the reverse row.
WAVESHARE_CHANNELS = {
    "forward": {0: "d", 1: "on", 2: "off", 3: "off", 4: "d", 7: "d", 6: "on", 5: "off"},
    "reverse": {0: "d", 1: "off", 2: "on", 3: "d", 4: "off", 7: "d", 6: "off", 5: "on"},
}


class UpstreamWaveshareRacecar(UpstreamRacecar):
    def __init__(self, bus, **traits):
        super(UpstreamWaveshareRacecar, self).__init__(bus, **traits)
        self.motor = servokit_module().ServoKit(channels=16, i2c=BusioI2C(bus), address=0x60)
        self.motor._pca.frequency = 1600

    @traitlets.observe("throttle")
    def _on_throttle(self, change):
        value = change["new"] * self.throttle_gain
        d = int(0xFFFF * abs(value))
        for channel, level in sorted(WAVESHARE_CHANNELS["forward" if value > 0 else "reverse"].items()):
            self.motor._pca.channels[channel].duty_cycle = {"d": d, "on": 0xFFFF, "off": 0}[level]


def our_car(tmp_path, profile, **overrides):
    config = load_config(path=os.devnull, env={"JETRACER_I2C": "emulated", "JETRACER_PROFILE": profile})
    if overrides:
        config = config.with_overrides(profile_overrides=overrides)
    return create_car(config)


def assert_same_channels(theirs, ours, where):
    assert theirs.prescale == ours.prescale, where
    tick = 1.0 / 4096
    for channel in range(16):
        assert abs(theirs.duty(channel) - ours.duty(channel)) <= tick + 1e-12, (
            where, channel, theirs.pulse_us(channel), ours.pulse_us(channel))


def command_sequence(seed, n=150):
    """Commands and gain/offset changes that upstream accepts (no ValueError), each command a new value."""
    rng = random.Random(seed)
    steps = []
    for _ in range(n):
        r = rng.random()
        if r < 0.08:
            steps.append(("steering_gain", rng.uniform(-1.0, 1.0)))
            steps.append(("steering_offset", rng.uniform(-0.3, 0.3) * (1 - abs(steps[-1][1]))))
        elif r < 0.12:
            steps.append(("throttle_gain", rng.choice([-1, 1]) * rng.uniform(0.1, 0.8)))
        steps.append(("steering", rng.uniform(-1.0, 1.0)))
        steps.append(("throttle", rng.choice([0.0, rng.uniform(-1.0, 1.0), rng.uniform(-0.2, 0.2)])))
    return steps


def replay(steps, upstream, car, check):
    changed_gain = set()
    for name, value in steps:
        before = getattr(upstream, name)
        setattr(upstream, name, value)
        setattr(car, name, value)
        if name.endswith(("_gain", "_offset")):
            changed_gain.add(name.split("_")[0])
        elif getattr(upstream, name) != before:
            changed_gain.discard(name)
            if not changed_gain:  # upstream applies a gain only at the next command; we apply it at once
                check(name, value)


@pytest.mark.parametrize("profile", ["latrax", "tamiya_tt02"])
@pytest.mark.parametrize("seed", [0, 1])
def test_nvidia_profiles_give_upstream_pulses(tmp_path, profile, seed):
    theirs_bus, ours_bus = make_bus(), reset_shared_bus()
    upstream = UpstreamRacecar(theirs_bus)
    car = our_car(tmp_path, profile)
    # upstream sends nothing before the first command; we send neutral and centre at once
    assert theirs_bus.chip(0x40).duty(0) == theirs_bus.chip(0x40).duty(1) == 0.0
    assert ours_bus.chip(0x40).pulse_us(0) == ours_bus.chip(0x40).pulse_us(1) == pytest.approx(1498.2, abs=0.1)
    upstream.steering = upstream.throttle = 0.5
    upstream.steering = upstream.throttle = 0.0
    assert_same_channels(theirs_bus.chip(0x40), ours_bus.chip(0x40), "neutral")
    checks = []

    def check(name, value):
        checks.append(name)
        assert_same_channels(theirs_bus.chip(0x40), ours_bus.chip(0x40), (name, value))

    replay(command_sequence(seed), upstream, car, check)
    assert len(checks) > 250
    for steering, throttle in ((1.0, 1.0), (-1.0, -1.0), (0.3, 0.1), (0.0, 0.0)):  # the measured points in upstream.md
        upstream.steering_gain = car.steering_gain = -0.65
        upstream.steering_offset = car.steering_offset = 0.0
        upstream.throttle_gain = car.throttle_gain = 0.8
        upstream.steering, upstream.throttle = steering + 0.5, throttle + 0.5  # force a change for upstream
        upstream.steering, upstream.throttle = steering, throttle
        car.steering, car.throttle = steering, throttle
        assert_same_channels(theirs_bus.chip(0x40), ours_bus.chip(0x40), (steering, throttle))
    car.close()


def test_where_upstream_raises_we_clip_to_the_end_of_travel(tmp_path):
    theirs_bus, ours_bus = make_bus(), reset_shared_bus()
    upstream = UpstreamRacecar(theirs_bus, steering_offset=0.5)
    car = our_car(tmp_path, "latrax")
    car.steering_offset = 0.5
    with pytest.raises(ValueError):
        upstream.steering = -1.0  # 0.65 + 0.5 > 1: ServoKit refuses and keeps the old pulse
    car.steering = -1.0
    assert ours_bus.chip(0x40).pulse_us(0) == pytest.approx(2250, abs=4.9)  # ours goes to the end stop
    car.close()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_waveshare_ai_kit_gives_upstream_channel_outputs(tmp_path, seed):
    theirs_bus, ours_bus = make_bus(), reset_shared_bus()
    upstream = UpstreamWaveshareRacecar(theirs_bus)
    car = our_car(tmp_path, "waveshare_ai")
    started = []

    def check(name, value):
        if name == "throttle" and value != 0.0:
            started.append(value)  # upstream sends nothing to 0x60 before its first throttle change
        if started:
            assert_same_channels(theirs_bus.chip(0x60), ours_bus.chip(0x60), ("0x60", name, value))
        assert_same_channels(theirs_bus.chip(0x40), ours_bus.chip(0x40), ("0x40", name, value))

    steps = [s for s in command_sequence(seed) if s[0] != "throttle_gain" or s[1] > 0]
    replay(steps, upstream, car, check)
    upstream.throttle, car.throttle = 0.5, 0.5
    upstream.throttle, car.throttle = 0.0, 0.0  # neutral: upstream's brake (IN2 high), ours the same
    assert_same_channels(theirs_bus.chip(0x60), ours_bus.chip(0x60), "neutral")
    assert ours_bus.chip(0x60).is_full_on(2) and ours_bus.chip(0x60).is_full_on(5)
    car.close()


def test_waveshare_pro_gives_upstream_pulses_at_60_hz_once_the_ramp_is_done(tmp_path):
    theirs_bus, ours_bus = make_bus(), reset_shared_bus()
    upstream = UpstreamRacecar(theirs_bus, frequency_hz=60)
    upstream.steering_motor.throttle = 0  # the ws/pro branch sends neutral at start, as we do
    upstream.throttle_motor.throttle = 0
    car = our_car(tmp_path, "waveshare_pro", car={"throttle_ramp": {"step": 0.18, "interval_s": 0.01,
                                                                    "immediate_below": 0.1}})
    assert ours_bus.chip(0x40).prescale == 101  # 59.84 Hz
    assert_same_channels(theirs_bus.chip(0x40), ours_bus.chip(0x40), "start")
    rng = random.Random(5)
    for _ in range(30):
        steering, throttle = rng.uniform(-1, 1), rng.uniform(-1, 1)
        upstream.steering = car.steering = steering
        upstream.throttle_motor.throttle = throttle * 0.8  # where upstream's soft start ends
        car.throttle = throttle
        deadline = time.monotonic() + 2.0
        while car.throttle_output != pytest.approx(throttle * 0.8) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert_same_channels(theirs_bus.chip(0x40), ours_bus.chip(0x40), (steering, throttle))
    car.close()
