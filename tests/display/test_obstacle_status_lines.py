"""The OLED's drive lines for the obstacle stop: the blocked probability after the frame rate, and one line for a
stop ("OBSTACLE p=0.93 STOP", "OBSTACLE clear: ARM"); shown on the emulated panel from the published state."""
import os

import numpy as np
import pytest

from jetracer.config import load_config
from jetracer.display.render import render_lines, status_lines
from jetracer.display.service import run_display
from jetracer.hardware.emulated import reset_shared_bus
from jetracer.state import publish_state

STATS = {"ips": [("wlan0", "192.168.1.7")]}


def drive(stop_reason, state, p, estopped=False):
    return {"mode": "auto", "fps": 29.7, "estopped": estopped, "stop_reason": stop_reason,
            "obstacle": {"state": state, "blocked_p": p, "threshold": 0.5}}


def test_a_clear_way_shows_the_blocked_probability_beside_the_frame_rate():
    assert status_lines(STATS, drive("", "clear", 0.07)) == ["wlan0 192.168.1.7", "", "", "AUTO 30fps p0.07"]


def test_an_obstacle_stop_takes_the_stop_line_and_a_failsafe_keeps_its_own():
    lines = status_lines(STATS, drive("obstacle ahead: p=0.93", "stopped", 0.96))
    assert lines[2:] == ["OBSTACLE p=0.96 STOP", "AUTO 30fps p0.96"]
    waiting = drive("obstacle ahead: p=0.93; the way is clear: arm again to go on", "waiting for arm", 0.02)
    assert status_lines(STATS, waiting, lines=8)[3:5] == ["AUTO 30fps p0.02", "OBSTACLE clear: ARM"]
    failsafe = status_lines(STATS, drive("no camera frame for 70 ms", "stopped", 0.9, estopped=True))
    assert failsafe[1:] == ["stop: no camera frame", " for 70 ms", "AUTO 30fps ESTOP"], "the failsafe's reason wins"
    assert all(len(line) <= 21 for line in lines + failsafe)


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("JETRACER_STATE", str(tmp_path / "drive_state.json"))
    return load_config(path=os.devnull, env={"JETRACER_I2C": "emulated"})


def test_the_panel_shows_the_obstacle_stop_from_the_drive_state(config):
    bus = reset_shared_bus()
    publish_state(drive("obstacle ahead: p=0.93", "stopped", 0.93))
    assert run_display(config, refresh_s=0.01, iterations=1) == {"frames": 1, "faults": 0}
    expected = np.array(render_lines(["", "", "OBSTACLE p=0.93 STOP", "AUTO 30fps p0.93"]), dtype=bool)
    assert (bus.chip(0x3C).image()[17:] == expected[17:]).all()
