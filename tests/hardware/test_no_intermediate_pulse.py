"""No channel ever carries a pulse between two commands that neither command asked for.

A listener on the emulated PCA9685 records the outputs every time they change (at each I2C STOP, or
at each byte with MODE2.OCH = 1), so the states *between* the transactions of one command are seen.
"""
import os
import random

import pytest
from Adafruit_MotorHAT.Adafruit_PWM_Servo_Driver import PWM

from jetracer.car import create_car
from jetracer.config import load_config
from jetracer.hardware.block_pwm import BlockPWM
from jetracer.hardware.emulated import EmulatedBus, PCA9685, reset_shared_bus
from jetracer.hardware.i2c import EmulatedI2C


class Recorder(object):
    """Every output state of a chip: a tuple of 16 pulse widths (us) per change."""

    def __init__(self, chip):
        self.chip = chip
        self.states = []
        chip.listeners.append(self)

    def __call__(self, chip):
        self.states.append(tuple(round(d * 1e6 / chip.frequency_hz, 3) for d in chip.duties()))

    def now(self):
        self(self.chip)
        return self.states.pop()

    def take(self):
        states, self.states = self.states, []
        return states


def one_chip():
    bus = EmulatedBus()
    bus.attach(0x40, PCA9685())
    return bus, bus.chip(0x40)


def test_adafruit_setpwm_passes_through_pulses_nobody_asked_for():
    """The model shows what was measured: four one-byte writes put 2474 us on the way from 1274 to 1225 us."""
    bus, chip = one_chip()
    pwm = PWM(0x40, i2c=EmulatedI2C(bus))
    pwm.setPWMFreq(50)
    pwm.setPWM(0, 0, 261)  # 1274 us
    seen = Recorder(chip)
    pwm.setPWM(0, 0, 251)  # 1225 us
    pulses = [s[0] for s in seen.take()]
    assert max(pulses) == pytest.approx(2474.4, abs=0.5)


def test_a_block_write_changes_the_channel_in_one_step():
    bus, chip = one_chip()
    pwm = BlockPWM(0x40, i2c=EmulatedI2C(bus))
    pwm.setPWMFreq(50)
    assert chip.auto_increment and not chip.registers[0x01] & 0x08  # MODE1.AI set, MODE2.OCH = 0
    pwm.setPWM(0, 0, 261)
    seen = Recorder(chip)
    bus.logging = True
    pwm.setPWM(0, 0, 251)
    assert [s[0] for s in seen.take()] == [pytest.approx(1224.9, abs=0.1)]
    assert bus.log == [(0x40, "w", bytes([0x06, 0, 0, 251, 0]))]  # one transaction: LED0_ON_L..LED0_OFF_H


def test_with_och_set_the_outputs_change_at_every_byte():
    """MODE2.OCH = 1 (outputs change on ACK): even a block write shows the half-written pulse, as the datasheet says."""
    bus, chip = one_chip()
    pwm = BlockPWM(0x40, i2c=EmulatedI2C(bus))
    pwm.setPWMFreq(50)
    pwm.setPWM(0, 0, 261)
    bus.write_byte_data(0x40, 0x01, 0x04 | 0x08)
    seen = Recorder(chip)
    bus.write_i2c_block_data(0x40, 0x06, [0, 0, 251, 0])
    assert max(s[0] for s in seen.take()) == pytest.approx(2474.4, abs=0.5)


def in_hull(value, a, b, slack=1e-6):
    return min(a, b) - slack <= value <= max(a, b) + slack


def make_car(tmp_path, profile, **overrides):
    config = load_config(path=os.devnull, env={"JETRACER_I2C": "emulated", "JETRACER_PROFILE": profile})
    if overrides:
        config = config.with_overrides(profile_overrides=overrides)
    return create_car(config)


def random_commands(seed, n):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        name = rng.choice(["steering", "throttle", "throttle", "steering_gain", "throttle_offset", "stop"])
        value = {"steering_gain": rng.uniform(-1, 1), "throttle_offset": rng.uniform(-0.2, 0.2)}.get(
            name, rng.choice([0.0, rng.uniform(-1, 1), rng.uniform(-0.1, 0.1)]))
        out.append((name, value))
    return out


def apply(car, name, value):
    if name == "stop":
        car.stop()
    else:
        setattr(car, name, value)


@pytest.mark.parametrize("profile", ["latrax", "waveshare_pro"])
def test_random_servo_and_esc_commands_never_show_a_pulse_outside_old_and_new(bus_reset, tmp_path, profile):
    # waveshare_pro at 60 Hz; its ramp made a single step per 10 s, so no step lands between two commands
    ramp = {"car": {"throttle_ramp": {"step": 1.0, "interval_s": 10.0, "immediate_below": 0.0}}}
    car = make_car(tmp_path, profile, **(ramp if profile == "waveshare_pro" else {}))
    chip = bus_reset.chip(0x40)
    seen = Recorder(chip)
    limits = {0: car.profile.steering, 1: car.profile.throttle}
    tick = 1e6 / (chip.frequency_hz * 4096)
    changes = 0
    for name, value in random_commands(7, 2000):
        before = seen.now()
        apply(car, name, value)
        after = seen.now()
        for state in seen.take():
            changes += 1
            for channel, s in limits.items():
                assert in_hull(state[channel], before[channel], after[channel]), (name, value, channel, before, state, after)
                assert s.min_us - tick <= state[channel] <= s.max_us + tick
            t = car.profile.throttle
            assert t.center_us - 0.8 * (t.center_us - t.min_us) - tick <= state[1] <= t.center_us + 0.8 * (t.max_us - t.center_us) + tick
            assert all(p == 0 for p in state[2:])
    assert changes > 1000
    car.close()


def motor_drive(chip, motor):
    """Signed drive of one H-bridge from its channel states: +duty forward, -duty backward, 0 braked or released."""
    speed = chip.duty(motor["pwm_channel"])
    in1, in2 = chip.duty(motor["in1_channel"]) == 1.0, chip.duty(motor["in2_channel"]) == 1.0
    for channel in (motor["in1_channel"], motor["in2_channel"]):
        assert chip.duty(channel) in (0.0, 1.0), "a direction input must be fully on or off"
    return speed if in1 and not in2 else -speed if in2 and not in1 else 0.0


def pair_drive(chip, pair):
    forward, reverse = chip.duty(pair["forward_channel"]), chip.duty(pair["reverse_channel"])
    assert forward == 0.0 or reverse == 0.0, "both inputs of a PWM pair driven"
    return forward - reverse


def test_random_motor_commands_never_drive_harder_or_the_other_way(bus_reset, tmp_path):
    car = make_car(tmp_path, "waveshare_ai")
    chip = bus_reset.chip(0x60)
    motors = [m.to_dict() for m in car.profile.throttle.motors]
    pairs = [p.to_dict() for p in car.profile.throttle.pwm_pairs]
    states = []

    def drives(c):
        return [motor_drive(c, m) for m in motors] + [pair_drive(c, p) for p in pairs]

    chip.listeners.append(lambda c: states.append(drives(c)))
    changes = 0
    for name, value in random_commands(11, 2000):
        before = drives(chip)
        apply(car, name, value)
        after = drives(chip)
        for state in states:
            changes += 1
            for b, s, a in zip(before, state, after):
                assert in_hull(s, b, a), (name, value, before, state, after)
                assert abs(s) <= 0.8 + 1 / 4096.0
        del states[:]
    assert changes > 1000
    car.close()


def test_reopening_a_live_chip_goes_from_the_old_pulses_to_none_to_neutral(bus_reset, tmp_path):
    """After a crash the chip still holds the last pulses; the next car never shows anything but those, none, or neutral."""
    car = make_car(tmp_path, "latrax")
    car.steering, car.throttle = 0.7, 0.6
    chip = bus_reset.chip(0x40)
    seen = Recorder(chip)
    old = seen.now()
    car._closed = True  # as if the process died: nothing sent on the way out
    again = make_car(tmp_path, "latrax")
    neutral = seen.now()
    assert neutral[1] == pytest.approx(1498.2, abs=0.1)
    for state in seen.take():
        for channel in (0, 1):
            assert state[channel] in (old[channel], 0.0, neutral[channel]), state
    again.close()


@pytest.fixture
def bus_reset():
    return reset_shared_bus()
