"""Every emulated chip a bus file can hold is a Chip whose state survives the trip through bytes.

A shared bus file keeps each chip as ``(kind, state_bytes)`` and rebuilds it in another process with
``load_state``: a chip that lost anything on the way would show another process other pulses or pixels.
"""
from jetracer.hardware.emulated import OLED_ADDRESS, PCA9685, SSD1306, make_bus
from jetracer.hardware.emulated.chip import Chip
from jetracer.hardware.emulated.shared_file import KIND_OF, KINDS


def test_every_kind_a_bus_file_records_is_a_chip_named_by_its_kind():
    assert set(KINDS.values()) == {PCA9685, SSD1306}
    for code, cls in KINDS.items():
        assert issubclass(cls, Chip) and KIND_OF[cls.kind] == code


def test_a_chip_rebuilt_from_its_state_bytes_answers_and_shows_the_same():
    bus = make_bus(oled_height=64)
    bus.write(0x40, [0x00, 0x31])  # MODE1: sleep, auto-increment, allcall
    bus.write(0x40, [0xFE, 0x79])  # PRESCALE for 50 Hz
    bus.write(0x40, [0x00, 0x21])  # awake
    bus.write(0x40, [0x06 + 4 * 3, 0, 0, 0x33, 0x01])  # channel 3: 307 counts
    bus.write(OLED_ADDRESS, [0x00, 0xA8, 0x3F, 0xA1, 0xC8, 0xAF, 0x20, 0x00])  # 64 rows, upright, on, horizontal
    bus.write(OLED_ADDRESS, [0x40] + [0xFF, 0x81] * 8)
    pulse_us, image = bus.chip(0x40).pulse_us(3), bus.chip(OLED_ADDRESS).image()
    assert abs(pulse_us - 307 * 1e6 / (bus.chip(0x40).frequency_hz * 4096)) < 1e-6 and image[:8, :16].any()
    originals = {}
    for address, cls in ((0x40, PCA9685), (OLED_ADDRESS, SSD1306)):
        chip = originals[address] = bus.chip(address)
        copy = cls() if cls is PCA9685 else cls(height=64)
        copy.load_state(chip.state_bytes())
        assert copy.state_bytes() == chip.state_bytes()
        assert bus.attach(address, copy) is bus.chip(address) is copy
    assert bus.write_read(0x40, [0x00], 2) == bytes(originals[0x40].registers[:2])  # MODE1, MODE2 as they were
    assert bus.chip(0x40).pulse_us(3) == pulse_us
    assert (bus.chip(OLED_ADDRESS).image() == image).all()
