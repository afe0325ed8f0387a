"""The PCA9685 model at register level, driven through the real Adafruit_GPIO I2C Device and PWM driver."""
import errno

import pytest
from Adafruit_MotorHAT.Adafruit_PWM_Servo_Driver import PWM

from jetracer.hardware.emulated import EmulatedBus, PCA9685
from jetracer.hardware.i2c import EmulatedI2C

MODE1, PRESCALE = 0x00, 0xFE


@pytest.fixture
def bus():
    bus = EmulatedBus()
    bus.attach(0x40, PCA9685())
    return bus


def led(channel, offset=0):
    return 0x06 + 4 * channel + offset


def test_power_on_state_is_asleep_with_every_channel_full_off(bus):
    chip = bus.chip(0x40)
    assert bus.read_byte_data(0x40, MODE1) == 0x11
    assert chip.asleep
    assert chip.prescale == 0x1E and chip.frequency_hz == pytest.approx(196.9, abs=0.1)
    assert all(chip.is_full_off(c) and chip.duty(c) == 0.0 for c in range(16))


@pytest.mark.parametrize("asked_hz, prescale, real_hz", [(50, 121, 50.03), (60, 101, 59.84), (1600, 3, 1525.88)])
def test_frequency_comes_from_the_prescale_the_library_programs(bus, asked_hz, prescale, real_hz):
    pwm = PWM(0x40, i2c=EmulatedI2C(bus))
    pwm.setPWMFreq(asked_hz)
    chip = bus.chip(0x40)
    assert chip.prescale == prescale
    assert chip.frequency_hz == pytest.approx(real_hz, abs=0.01)
    # within the chip's quantisation: the next prescale step either side is farther away
    step = 25e6 / 4096 / (prescale + 1) - 25e6 / 4096 / (prescale + 2)
    assert abs(chip.frequency_hz - asked_hz) <= step or prescale == 3
    assert not chip.asleep and not chip.restart_pending


def test_prescale_is_written_only_while_asleep(bus):
    chip = bus.chip(0x40)
    bus.write_byte_data(0x40, MODE1, 0x01)  # wake
    bus.write_byte_data(0x40, PRESCALE, 121)
    assert chip.prescale == 0x1E
    bus.write_byte_data(0x40, MODE1, 0x11)  # sleep
    bus.write_byte_data(0x40, PRESCALE, 121)
    assert chip.prescale == 121
    bus.write_byte_data(0x40, PRESCALE, 1)
    assert chip.prescale == 3  # the hardware minimum


def test_sleep_stops_the_outputs_and_restart_resumes_them(bus):
    chip = bus.chip(0x40)
    bus.write_byte_data(0x40, MODE1, 0x01)
    bus.write_i2c_block_data(0x40, led(0), [0, 0, 0x33, 0x01])  # off = 0x133 = 307 counts
    # AI is off: every byte went to LED0_ON_L (the last one wins); the channel is still full-off
    assert chip.counts(0) == [0x01, 0] and chip.is_full_off(0)
    bus.write_byte_data(0x40, MODE1, 0x21)  # AI on
    bus.write_i2c_block_data(0x40, led(0), [0, 0, 0x33, 0x01])
    assert chip.counts(0) == [0, 307] and chip.duty(0) == pytest.approx(307 / 4096.0)
    bus.write_byte_data(0x40, MODE1, 0x31)  # sleep with a running channel
    assert chip.duty(0) == 0.0
    assert bus.read_byte_data(0x40, MODE1) & 0x80  # RESTART reads back set
    bus.write_byte_data(0x40, MODE1, 0x21)  # wake; RESTART still pending
    assert bus.read_byte_data(0x40, MODE1) & 0x80
    bus.write_byte_data(0x40, MODE1, 0xA1)  # write 1 to RESTART
    assert not bus.read_byte_data(0x40, MODE1) & 0x80
    assert chip.duty(0) == pytest.approx(307 / 4096.0)


def test_all_led_registers_write_every_channel_and_read_zero(bus):
    pwm = PWM(0x40, i2c=EmulatedI2C(bus))
    pwm.setPWMFreq(50)
    pwm.setAllPWM(0, 300)
    chip = bus.chip(0x40)
    assert [chip.counts(c) for c in range(16)] == [[0, 300]] * 16
    assert bus.read_byte_data(0x40, 0xFC) == 0
    pwm.setAllPWM(0x1000, 0)  # full on everywhere
    assert all(chip.duty(c) == 1.0 for c in range(16))


def test_full_off_bit_wins_over_full_on(bus):
    chip = bus.chip(0x40)
    bus.write_byte_data(0x40, MODE1, 0x01)
    bus.write_byte_data(0x40, led(3, 1), 0x10)
    bus.write_byte_data(0x40, led(3, 3), 0x00)
    assert chip.is_full_on(3) and chip.duty(3) == 1.0
    bus.write_byte_data(0x40, led(3, 3), 0x10)
    assert chip.is_full_off(3) and chip.duty(3) == 0.0


def test_pulse_us_is_the_high_time_per_period(bus):
    pwm = PWM(0x40, i2c=EmulatedI2C(bus))
    pwm.setPWMFreq(50)
    pwm.setPWM(5, 100, 100 + 307)  # a phase shift does not change the pulse width
    assert bus.chip(0x40).pulse_us(5) == pytest.approx(307 / 4096.0 / bus.chip(0x40).frequency_hz * 1e6)


def test_general_call_software_reset_restores_power_on_state(bus):
    provider = EmulatedI2C(bus)
    pwm = PWM(0x40, i2c=provider)
    pwm.setPWMFreq(50)
    pwm.setPWM(0, 0, 307)
    PWM.softwareReset(i2c=provider)
    chip = bus.chip(0x40)
    assert chip.asleep and chip.prescale == 0x1E and chip.is_full_off(0)


def test_an_address_without_a_chip_is_not_acknowledged(bus):
    with pytest.raises(OSError) as info:
        bus.write_byte_data(0x41, MODE1, 0)
    assert info.value.errno == errno.EREMOTEIO


def test_transaction_log_records_what_went_over_the_wire(bus):
    bus.logging = True
    bus.write_byte_data(0x40, 0x06, 0x12)
    assert bus.read_byte_data(0x40, 0x06) == 0x12
    assert bus.log == [(0x40, "w", b"\x06\x12"), (0x40, "w", b"\x06"), (0x40, "r", b"\x12")]
