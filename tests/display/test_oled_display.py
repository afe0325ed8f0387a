"""Rendered status text really lands in the OLED's GDDRAM, through Adafruit_SSD1306 on the emulated bus."""
import os
import time

import numpy as np
import pytest
from PIL import Image

from jetracer.config import load_config
from jetracer.display.oled import Oled
from jetracer.display.render import render_lines, status_lines
from jetracer.display.service import run_display
from jetracer.display.stats import gpu_load_percent, temperatures_c, collect_stats
from jetracer.hardware.emulated import reset_shared_bus
from jetracer.hardware.i2c import open_i2c
from jetracer.state import publish_state


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("JETRACER_STATE", str(tmp_path / "drive_state.json"))
    return load_config(path=os.devnull, env={"JETRACER_I2C": "emulated"})


@pytest.mark.parametrize("height", [32, 64])
def test_oled_pixels_equal_the_rendered_image(height):
    bus = reset_shared_bus(oled_height=height)
    oled = Oled(open_i2c("emulated", 1), height=height)
    image = render_lines(["wlan0 192.168.1.23", "CPU 12% GPU 40% 41C", "Mem 1.2/3.9G Dsk 45%", "AUTO 29fps"] * 2, height)
    oled.show(image)
    panel = bus.chip(0x3C).image()
    assert panel.shape == (height, 128)
    assert panel.any() and (panel == np.array(image, dtype=bool)).all()


def test_a_string_lights_pixels_only_in_its_line():
    bus = reset_shared_bus()
    oled = Oled(open_i2c("emulated", 1))
    oled.show(render_lines(["", "", "", ""]))
    assert not bus.chip(0x3C).image().any()
    oled.show(render_lines(["", "HELLO", "", ""]))
    rows = np.nonzero(bus.chip(0x3C).image().any(axis=1))[0]
    assert rows.min() >= 8 and rows.max() <= 15 and len(rows) >= 5
    columns = np.nonzero(bus.chip(0x3C).image().any(axis=0))[0]
    assert columns.min() == 0 and columns.max() < 5 * 6  # five 6-pixel glyphs from the left edge


def test_status_lines_fit_and_leave_out_what_is_missing():
    stats = {"ips": [("docker0", "172.17.0.1"), ("wlan0", "10.0.0.7")], "cpu_percent": 12.4}
    lines = status_lines(stats, {"mode": "auto", "fps": 29.6, "stop_reason": ""}, 4)
    assert lines[0] == "wlan0 10.0.0.7" and lines[1] == "CPU 12%" and lines[3] == "AUTO 30fps"
    assert "GPU" not in lines[1] and "Mem" not in lines[2]
    assert all(len(line) <= 21 for line in status_lines(collect_stats(), None, 8))
    assert status_lines({}, None, 4)[3] == "drive: not running"


def test_service_shows_the_drive_state_and_writes_the_png(config, tmp_path):
    bus = reset_shared_bus()
    publish_state({"mode": "auto", "fps": 29.6, "stop_reason": "camera stalled", "estopped": False})
    png = tmp_path / "oled.png"
    counts = run_display(config, refresh_s=0.01, iterations=1, save_png=str(png))
    assert counts == {"frames": 1, "faults": 0}
    panel = bus.chip(0x3C).image()
    expected = np.array(render_lines(["", "", "stop: camera stalled", "AUTO 30fps"]), dtype=bool)
    assert (panel[17:] == expected[17:]).all()  # lines 2 and 3 (row 16 may hold a descender of line 1)
    assert (np.array(Image.open(str(png)), dtype=bool) == panel).all()


def test_service_128x64(config, tmp_path):
    bus = reset_shared_bus()
    counts = run_display(config, refresh_s=0.01, iterations=1, height=64, save_png=str(tmp_path / "oled64.png"))
    assert counts["frames"] == 1
    panel = bus.chip(0x3C).image()
    assert panel.shape == (64, 128) and panel[32:].any()  # the second half of the panel is used
    assert Image.open(str(tmp_path / "oled64.png")).size == (128, 64)


def test_bus_fault_is_retried_and_the_display_recovers(config):
    bus = reset_shared_bus()
    bus.fail_next(0x3C, 1)  # the panel misses one transaction (a loose cable): one refresh fails
    counts = run_display(config, refresh_s=0.01, iterations=3)
    assert counts == {"frames": 2, "faults": 1}
    chip = bus.chip(0x3C)
    assert chip.display_on and chip.image().any()


def test_fault_in_the_middle_of_a_frame_reopens_the_display(config):
    bus = reset_shared_bus()
    bus.logging = True
    run_display(config, refresh_s=0.01, iterations=1)
    first_frame = sum(1 for entry in bus.log if entry[0] == 0x3C)  # open + first frame
    bus = reset_shared_bus()
    bus.fail_next(0x3C, 1, after=first_frame + 10)  # inside the second frame's transfer
    assert run_display(config, refresh_s=0.01, iterations=3) == {"frames": 2, "faults": 1}
    chip = bus.chip(0x3C)
    assert chip.display_on and chip.image().any()


def test_chip_removed_for_one_refresh_then_back(config):
    bus = reset_shared_bus()
    assert run_display(config, refresh_s=0.01, iterations=1)["frames"] == 1
    chip = bus.detach(0x3C)
    assert run_display(config, refresh_s=0.01, iterations=1) == {"frames": 0, "faults": 1}
    bus.attach(0x3C, chip)
    chip.reset()  # it lost power while unplugged
    assert run_display(config, refresh_s=0.01, iterations=1)["frames"] == 1
    assert chip.display_on and chip.image().any()


def test_absent_panel_backs_off_instead_of_spinning(config):
    reset_shared_bus().detach(0x3C)
    started = time.monotonic()
    counts = run_display(config, refresh_s=0.01, iterations=3)
    assert counts == {"frames": 0, "faults": 3}
    assert time.monotonic() - started >= 0.01 * (2 + 4)  # 2x then 4x the refresh period


def test_gpu_load_and_temperatures_are_read_from_sysfs_or_left_out(tmp_path):
    load = tmp_path / "load"
    load.write_text("523\n")
    assert gpu_load_percent((str(tmp_path / "missing"), str(load))) == pytest.approx(52.3)
    assert gpu_load_percent((str(tmp_path / "missing"),)) is None
    for i, (kind, milli) in enumerate([("CPU-therm", "41500"), ("GPU-therm", "39000")]):
        zone = tmp_path / ("thermal_zone%d" % i)
        zone.mkdir()
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text(milli + "\n")
    (tmp_path / "thermal_zone9").mkdir()  # a zone that reports nothing is skipped
    assert temperatures_c(str(tmp_path / "thermal_zone*")) == {"CPU-therm": 41.5, "GPU-therm": 39.0}


def test_collected_stats_are_the_system_values():
    import psutil

    stats = collect_stats()
    assert stats["mem_total_bytes"] == psutil.virtual_memory().total
    assert 0 <= stats["cpu_percent"] <= 100
    assert ("gpu_percent" in stats) == (gpu_load_percent() is not None)


def test_cli_display_once_writes_the_png(tmp_path, monkeypatch):
    from jetracer.cli.main import main

    monkeypatch.setenv("JETRACER_I2C", "emulated")
    monkeypatch.setenv("JETRACER_CONFIG", os.devnull)
    monkeypatch.setenv("JETRACER_STATE", str(tmp_path / "state.json"))
    reset_shared_bus()
    with pytest.raises(SystemExit) as done:
        main(["display", "--once", "--height", "64", "--save-png", str(tmp_path / "cli.png")])
    assert done.value.code == 0
    assert np.array(Image.open(str(tmp_path / "cli.png")), dtype=bool).shape == (64, 128)
