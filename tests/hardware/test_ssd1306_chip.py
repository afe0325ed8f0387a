"""The SSD1306 model at register level: control bytes, command stream, addressing modes, panel image."""
import numpy as np
import pytest

from jetracer.hardware.emulated import EmulatedBus, SSD1306

CMD, DATA = 0x00, 0x40


@pytest.fixture
def bus():
    bus = EmulatedBus()
    bus.attach(0x3C, SSD1306(height=32))
    return bus


def upright(bus, *extra):
    """The init every driver sends: on, 32 rows, segment remap, COM scan decrement."""
    bus.write_i2c_block_data(0x3C, CMD, [0xA8, 0x1F, 0xA1, 0xC8, 0xAF] + list(extra))


def test_display_is_dark_until_switched_on(bus):
    chip = bus.chip(0x3C)
    bus.write_i2c_block_data(0x3C, CMD, [0x20, 0x00])
    bus.write_i2c_block_data(0x3C, DATA, [0xFF] * 16)
    assert not chip.image().any()
    upright(bus)
    assert chip.image()[:8, :16].all() and chip.image().sum() == 8 * 16
    assert bus.read_byte(0x3C) & 0x40 == 0  # status: display on


def test_continuation_bit_takes_one_byte_per_control_byte(bus):
    chip = bus.chip(0x3C)
    # Co=1 command 0xAF, Co=1 data 0x01 (page mode, page 0 col 0), then Co=0 data stream
    bus.write(0x3C, [0x80, 0xAF, 0xC0, 0x01, 0x40, 0x03, 0x07])
    assert chip.display_on
    assert list(chip.gddram[0, :3]) == [0x01, 0x03, 0x07]


def test_commands_split_over_transactions_keep_their_arguments(bus):
    chip = bus.chip(0x3C)
    for byte in (0x21, 10, 20, 0x22, 1, 2):  # as Adafruit_SSD1306 sends them: one byte per write
        bus.write_byte_data(0x3C, CMD, byte)
    assert chip.column_range == [10, 20] and chip.page_range == [1, 2]
    assert (chip.column, chip.page) == (10, 1)


def test_horizontal_addressing_wraps_inside_the_window(bus):
    chip = bus.chip(0x3C)
    bus.write_i2c_block_data(0x3C, CMD, [0x20, 0x00, 0x21, 4, 5, 0x22, 2, 3])
    bus.write_i2c_block_data(0x3C, DATA, [1, 2, 3, 4, 5])
    # columns 4..5 of page 2, then of page 3, then back to page 2 column 4
    assert list(chip.gddram[2, 4:6]) == [5, 2] and list(chip.gddram[3, 4:6]) == [3, 4]
    assert (chip.page, chip.column) == (2, 5)
    assert int(chip.gddram.sum()) == 5 + 2 + 3 + 4


def test_vertical_addressing_fills_columns_first(bus):
    chip = bus.chip(0x3C)
    bus.write_i2c_block_data(0x3C, CMD, [0x20, 0x01, 0x21, 0, 127, 0x22, 0, 3])
    bus.write_i2c_block_data(0x3C, DATA, [1, 2, 3, 4, 5])
    assert list(chip.gddram[0:4, 0]) == [1, 2, 3, 4] and chip.gddram[0, 1] == 5


def test_page_addressing_with_page_start_and_column_nibbles(bus):
    chip = bus.chip(0x3C)
    bus.write_i2c_block_data(0x3C, CMD, [0x20, 0x02, 0xB5, 0x0A, 0x17])  # page 5, column 0x7A
    bus.write_i2c_block_data(0x3C, DATA, list(range(1, 9)))
    # columns 122..127, then back to the start column; the page does not change
    assert list(chip.gddram[5, 0x7A:]) == [7, 8, 3, 4, 5, 6]
    assert chip.gddram[6].sum() == 0 and chip.gddram[5, :0x7A].sum() == 0


def test_invert_entire_on_and_contrast(bus):
    chip = bus.chip(0x3C)
    upright(bus, 0xA7, 0x81, 0x20)
    assert chip.image().all() and chip.contrast == 0x20
    bus.write_i2c_block_data(0x3C, CMD, [0xA6, 0xA5])
    assert chip.image().all()
    bus.write_i2c_block_data(0x3C, CMD, [0xA4])
    assert not chip.image().any()


def test_segment_remap_and_com_scan_orient_the_picture(bus):
    chip = bus.chip(0x3C)
    upright(bus, 0x20, 0x00, 0x21, 0, 127, 0x22, 0, 3)
    bus.write_i2c_block_data(0x3C, DATA, [0x01])  # column 0, page 0, bit 0
    assert np.argwhere(chip.image()).tolist() == [[0, 0]]
    bus.write_i2c_block_data(0x3C, CMD, [0xA0])
    assert np.argwhere(chip.image()).tolist() == [[0, 127]]
    bus.write_i2c_block_data(0x3C, CMD, [0xA1, 0xC0])
    assert np.argwhere(chip.image()).tolist() == [[31, 0]]


def test_multiplex_ratio_limits_the_rows_shown():
    chip = SSD1306(height=64)
    chip.write(bytes([CMD, 0xA8, 0x1F, 0xA1, 0xC8, 0xAF, 0x20, 0x00]))
    chip.write(bytes([DATA] + [0xFF] * (128 * 8)))
    image = chip.image()
    assert image.shape == (64, 128) and image[:32].all() and not image[32:].any()


def test_save_png_writes_the_panel(tmp_path, bus):
    from PIL import Image

    upright(bus)
    bus.write_i2c_block_data(0x3C, DATA, [0xFF, 0x00, 0xFF])
    path = bus.chip(0x3C).save_png(str(tmp_path / "oled.png"))
    pixels = np.array(Image.open(path)).astype(bool)
    assert pixels.shape == (32, 128) and (pixels == bus.chip(0x3C).image()).all()
