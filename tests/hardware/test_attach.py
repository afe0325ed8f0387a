"""A second handle on a running chip (the supervisor's) puts the throttle exactly where the car's own neutral does.

For every shipped profile a car drives at speed on one emulated bus; the chips' state is copied onto a
second bus, where the attached :class:`NeutralWriter` writes neutral while the car stops itself on the
first. Both buses must then hold the same registers and outputs on every chip, the writer must have
used one block write per throttle channel, and MODE1 (sleep, restart, auto-increment) and PRESCALE
must be as the running car left them.
"""
import os
import pytest

from jetracer.car import create_car
from jetracer.config import load_config
from jetracer.hardware.attach import NeutralWriter, attach_pwm
from jetracer.hardware.emulated import make_bus
from jetracer.hardware.i2c import EmulatedI2C, I2CError
from jetracer.hardware.outputs import OUTPUTS
from jetracer.profiles import available_profiles, load_profile

MODE1, MODE2, PRESCALE, LED0_ON_L = 0x00, 0x01, 0xFE, 0x06
AI, SLEEP = 0x20, 0x10
ADDRESSES = (0x40, 0x60)


def running_car(profile, throttle, tmp_path):
    """A car of ``profile`` on its own bus, steering 0.4 and ``throttle``; returns (car, bus)."""
    bus = make_bus()
    config = load_config(path=os.devnull, env={"JETRACER_I2C": "emulated", "JETRACER_PROFILE": profile})
    car = create_car(config, i2c=EmulatedI2C(bus))
    car.steering, car.throttle = 0.4, throttle
    return car, bus


def copy_of(bus):
    """A second bus whose chips hold the same state (registers, latched outputs) as ``bus``'s."""
    other = make_bus()
    for address in ADDRESSES:
        other.chip(address).load_state(bus.chip(address).state_bytes())
    return other


def snapshot(bus):
    return dict((a, (bytes(bus.chip(a).registers), bytes(bus.chip(a).outputs))) for a in ADDRESSES)


def writes(bus, address):
    """The write transactions to ``address`` (not the register-pointer write that starts each read)."""
    log = bus.log
    return [data for i, (a, kind, data) in enumerate(log) if a == address and kind == "w"
            and not (i + 1 < len(log) and log[i + 1][:2] == (address, "r"))]


def moving(profile, bus):
    s = profile.throttle
    chip = bus.chip(s.i2c_address)
    if s.driver == "motorhat_dc":
        return any(chip.duty(m.pwm_channel) > 0 for m in s.motors)
    return abs(chip.pulse_us(s.channel) - s.center_us) > 50


@pytest.mark.parametrize("throttle", [0.6, -0.5])
@pytest.mark.parametrize("name", available_profiles())
def test_the_attached_neutral_is_the_cars_own_neutral_on_every_channel(name, throttle, tmp_path):
    profile = load_profile(name)
    car, bus = running_car(name, throttle, tmp_path)
    assert moving(profile, bus), "the car must be under way before the fault"
    wire = copy_of(bus)
    address = profile.throttle.i2c_address
    before = bus.chip(address).registers
    mode1, prescale = before[MODE1], before[PRESCALE]
    assert mode1 & AI and not mode1 & SLEEP

    writer = NeutralWriter(profile, EmulatedI2C(wire))
    wire.logging = True
    writer.neutral()
    wire.logging = False
    car.stop()  # the car's own neutral, on the original bus

    assert snapshot(wire) == snapshot(bus), "every register and output of every chip as the car's own neutral"
    chip = wire.chip(address)
    s = profile.throttle
    if s.driver == "motorhat_dc":  # Waveshare: zero duty, each motor braking (IN1 low, IN2 high)
        for m in s.motors:
            assert (chip.duty(m.pwm_channel), chip.duty(m.in1_channel), chip.duty(m.in2_channel)) == (0.0, 0.0, 1.0)
        for p in s.pwm_pairs:
            assert chip.duty(p.forward_channel) == chip.duty(p.reverse_channel) == 0.0
    else:
        tick_us = 1e6 / (chip.frequency_hz * 4096)
        assert abs(chip.pulse_us(s.channel) - s.center_us) <= tick_us / 2
    assert chip.registers[MODE1] == mode1 and chip.registers[PRESCALE] == prescale and not chip.asleep
    sent = writes(wire, address)
    assert all(len(data) == 5 and LED0_ON_L <= data[0] < LED0_ON_L + 64 and (data[0] - LED0_ON_L) % 4 == 0
               for data in sent), "only 4-byte block writes of LEDn registers: %s" % sent
    channels = [(data[0] - LED0_ON_L) // 4 for data in sent]
    assert sorted(channels) == sorted(OUTPUTS[s.driver].channels_of(s)), "one transaction per throttle channel"
    assert not any(writes(wire, a) for a in ADDRESSES if a != address)
    assert writer.at_neutral()
    car.close()


@pytest.mark.parametrize("name", ["latrax", "waveshare_ai"])
def test_no_state_between_the_running_car_and_neutral_drives_harder_or_the_other_way(name, tmp_path):
    profile = load_profile(name)
    car, bus = running_car(name, 0.6, tmp_path)
    wire = copy_of(bus)
    s = profile.throttle
    chip = wire.chip(s.i2c_address)
    old = chip.duties()
    states = []
    chip.listeners.append(lambda c: states.append(c.duties()))
    NeutralWriter(profile, EmulatedI2C(wire)).neutral()
    assert states, "the outputs changed"
    if s.driver != "motorhat_dc":
        assert all(state[s.channel] in (old[s.channel], states[-1][s.channel]) for state in states)
        assert len(states) == 1
        return
    speeds = [m.pwm_channel for m in s.motors] + [c for p in s.pwm_pairs for c in (p.forward_channel, p.reverse_channel)]
    pins = [c for m in s.motors for c in (m.in1_channel, m.in2_channel)]
    for state in states:
        assert all(state[c] in (old[c], 0.0) for c in speeds), state
        if any(state[c] != old[c] for c in pins):
            assert all(state[c] == 0.0 for c in speeds), "direction inputs move only once every speed is 0"
        for m in s.motors:
            assert not (state[m.in1_channel] == 1.0 and state[m.in2_channel] == 1.0)
    car.close()


def test_a_chip_that_lost_auto_increment_gets_it_back_before_the_first_block_write(tmp_path):
    """Without MODE1.AI the four bytes of a block write would all land in LEDn_ON_L (a reset, or a plain driver)."""
    profile = load_profile("latrax")
    car, bus = running_car("latrax", 0.6, tmp_path)
    wire = copy_of(bus)
    chip = wire.chip(0x40)
    wire.write(0x40, [MODE1, chip.registers[MODE1] & ~AI])
    mode1, prescale = chip.registers[MODE1], chip.registers[PRESCALE]
    wire.logging = True
    NeutralWriter(profile, EmulatedI2C(wire)).neutral()
    sent = writes(wire, 0x40)
    assert sent[0] == bytes([MODE1, mode1 | AI]), "AI first, no other MODE1 bit changed"
    assert [data[0] for data in sent[1:]] == [LED0_ON_L + 4 * profile.throttle.channel]
    assert abs(chip.pulse_us(profile.throttle.channel) - 1500) < 2.5 and chip.registers[PRESCALE] == prescale
    assert chip.pulse_us(profile.steering.channel) == bus.chip(0x40).pulse_us(profile.steering.channel)
    car.close()


def test_a_chip_nobody_started_stays_asleep_at_its_frequency():
    """The supervisor neither wakes a sleeping chip nor programs its frequency: that is the drive process's job."""
    wire = make_bus()
    chip = wire.chip(0x60)
    mode1, prescale = chip.registers[MODE1], chip.registers[PRESCALE]
    NeutralWriter(load_profile("waveshare_ai"), EmulatedI2C(wire)).neutral()
    assert chip.asleep and chip.registers[MODE1] == mode1 | AI and chip.registers[PRESCALE] == prescale
    assert set(chip.duties()) == {0.0}


def test_an_absent_chip_is_named():
    wire = make_bus()
    wire.detach(0x60)
    with pytest.raises(I2CError, match="0x60"):
        NeutralWriter(load_profile("waveshare_ai"), EmulatedI2C(wire))
    with pytest.raises(I2CError, match="0x60"):
        attach_pwm(EmulatedI2C(wire), 0x60)


def test_read_back_reports_what_the_chip_holds(tmp_path):
    car, bus = running_car("waveshare_ai", 0.5, tmp_path)
    writer = NeutralWriter(load_profile("waveshare_ai"), EmulatedI2C(bus))
    back = writer.read_back()
    one_count = 1.0 / 4096
    assert [m["duty"] for m in back["motors"]] == [pytest.approx(0.4, abs=one_count)] * 2  # 0.5 * gain 0.8
    assert [(m["in1"], m["in2"]) for m in back["motors"]] == [(1.0, 0.0), (1.0, 0.0)]
    assert back["pwm_pairs"] == [{"forward": pytest.approx(0.4, abs=one_count), "reverse": 0.0}]
    assert not writer.at_neutral()
    writer.neutral()
    assert writer.read_back()["motors"][0] == {"duty": 0.0, "in1": 0.0, "in2": 1.0} and writer.at_neutral()
    car.close()
