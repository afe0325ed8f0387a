"""Numeric options are range-checked when parsed: one line, exit 2, nothing runs, nothing hangs or allocates.

Each probe once hung (``sim drive --fps 1e9``, ``drive --duration nan``), allocated without bound
(``sim collect --size 100000 100000``, a huge ``--track-seeds`` range) or crashed (``bench inference --runs 0``,
``dataset info --bins -3``).
"""
import os

import numpy as np
import pytest
from PIL import Image

from cli_run import cli_env, jetracer, one_line_error

PROBES = [
    (["drive", "--sim", "--model", "expert", "--duration", "nan"], "--duration", "finite number in (0, 1000000]"),
    (["drive", "--sim", "--model", "expert", "--duration", "inf"], "--duration", "finite number"),
    (["drive", "--sim", "--model", "expert", "--duration", "-1"], "--duration", "(0, 1000000]"),
    (["drive", "--sim", "--model", "expert", "--seed", "-1"], "--seed", "[0, 4294967295]"),
    (["sim", "drive", "--expert", "--fps", "1e9"], "--fps", "[1, 240], got 1e9"),
    (["sim", "drive", "--expert", "--laps", "0"], "--laps", "[1, 1000]"),
    (["sim", "drive", "--expert", "--max-seconds", "1e12"], "--max-seconds", "(0, 3600]"),
    (["sim", "drive", "--expert", "--gain", "nan"], "--gain", "finite number"),
    (["sim", "collect", "--frames", "10", "--out", "x", "--size", "100000", "100000"], "--size", "[16, 1024]"),
    (["sim", "collect", "--frames", "0", "--out", "x"], "--frames", "[1, 1000000]"),
    (["sim", "collect", "--frames", "3", "--out", "x", "--track-seeds", "0-100000000"], "--track-seeds",
     "at most 10000 track seeds"),
    (["sim", "collect", "--frames", "3", "--out", "x", "--track-seeds", "5-1"], "--track-seeds", "low <= high"),
    (["sim", "collect", "--frames", "3", "--out", "x", "--category", "../up"], "--category", "plain folder name"),
    (["sim", "bench", "--runs", "0"], "--runs", "[1, 100]"),
    (["bench", "inference", "--runs", "0"], "--runs", "[1, 100000]"),
    (["bench", "inference", "--input-size", "100000"], "--input-size", "[16, 1024]"),
    (["bench", "sim", "--runs", "0"], "--runs", "[1, 100]"),
    (["bench", "hardware", "-n", "0"], "-n", "[1, 10000000]"),
    (["dataset", "info", ".", "--bins", "-3"], "--bins", "[1, 1000]"),
    (["display", "--once", "--refresh-s", "0"], "--refresh-s", "[0.05, 3600]"),
    (["emulator", "show", "--steering", "nan"], "--steering", "finite number in [-1, 1]"),
    (["export", "m.pth", "--upstream", "o.pth", "--check-frames", "100000"], "--check-frames", "[0, 1000]"),
    (["optimize", "m.pth", "--tolerance", "0"], "--tolerance", "(0, 2]"),
    (["service", "status", "--jupyter-port", "70000"], "--jupyter-port", "[1, 65535]"),
    (["demo", "--laps", "0"], "--laps", "[1, 100]"),
]


@pytest.mark.parametrize("args, option, expected", PROBES, ids=[" ".join(p[0][:2]) + " " + p[1] for p in PROBES])
def test_a_number_out_of_range_is_one_line_and_exit_2(tmp_path, args, option, expected):
    proc = jetracer(args, cli_env(tmp_path), timeout_s=30, cwd=str(tmp_path))
    line = one_line_error(proc, 2, "argument %s" % option, expected, "--help")
    assert line.startswith("jetracer %s" % args[0])
    assert not os.path.exists(str(tmp_path / "x")), "nothing was written"


def test_an_unknown_option_is_one_line_too(tmp_path):
    one_line_error(jetracer(["drive", "--durration", "3"], cli_env(tmp_path), timeout_s=30), 2,
                   "unrecognized arguments: --durration 3")


def test_save_png_into_a_folder_writes_oled_png(tmp_path):
    out = tmp_path / "shots"
    out.mkdir()
    proc = jetracer(["display", "--once", "--height", "64", "--save-png", str(out)], cli_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "wrote %s" % (out / "oled.png") in proc.stdout
    assert np.array(Image.open(str(out / "oled.png")), dtype=bool).shape == (64, 128)


def test_save_png_where_it_cannot_be_written_says_what_it_expects(tmp_path):
    env = cli_env(tmp_path)
    one_line_error(jetracer(["display", "--once", "--save-png", str(tmp_path / "no" / "x.png")], env), 2,
                   "the folder %s does not exist" % (tmp_path / "no"))
    one_line_error(jetracer(["display", "--once", "--save-png", str(tmp_path / "x.txt")], env), 2,
                   "expected a .png file name (or a folder")
