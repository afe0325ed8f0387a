"""A bad configuration reaches the user as one line on stderr naming the file or variable, the key and the fix.

Through the real CLI: ``drive``, ``emulator show`` and ``display`` read the config before anything
else (they once did so outside any error handling), ``sim track`` reads it for the simulator.
"""
import os

import pytest

from cli_run import cli_env, jetracer, one_line_error

CONFIG_VERBS = [("drive", ["drive", "--sim", "--model", "expert", "--duration", "1"]),
                ("emulator", ["emulator", "show"]), ("display", ["display", "--once"]),
                ("sim track", ["sim", "track", "--out", "t.png"])]


@pytest.mark.parametrize("name, args", CONFIG_VERBS, ids=[name for name, _ in CONFIG_VERBS])
def test_an_unknown_key_is_one_line_in_every_verb_that_reads_the_config(tmp_path, name, args):
    env = cli_env(tmp_path, "display: {heigth: 64}\n")
    line = one_line_error(jetracer(args, env, cwd=str(tmp_path)), 2, str(tmp_path / "config.yaml"),
                          "display.heigth: unknown key", "did you mean height?")
    assert line.startswith("jetracer %s: config file " % name), line


@pytest.mark.parametrize("text, needles", [
    ("profile: 123\n", ["profile: expected a string, found 123"]),
    ("i2c_bus: abc\n", ["i2c_bus: expected an integer", "'abc'"]),
    ("camera: {sorce: sim}\n", ["camera.sorce: unknown key", "did you mean source?"]),
    ("sim: {seeds: 3}\n", ["sim.seeds: unknown key", "did you mean seed?"]),
    ("drive: {throtle: 0.3}\n", ["drive.throtle: unknown key", "did you mean throttle?"]),
    ("drive: {gamepad: {estop: 2}}\n", ["drive.gamepad.estop: unknown key"]),
    ("- profile\n", ["must hold a mapping of keys"]),
    ("profile: [latrax\n", ["is not valid YAML", "line 2"]),
])
def test_config_values_and_shapes(tmp_path, text, needles):
    env = cli_env(tmp_path, text)
    one_line_error(jetracer(["drive", "--sim", "--model", "expert", "--duration", "1"], env), 2,
                   str(tmp_path / "config.yaml"), *needles)


def test_binary_directory_and_fifo_configs(tmp_path):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(os.urandom(64) + b"\xff\xfe")
    folder = tmp_path / "folder"
    folder.mkdir()
    fifo = str(tmp_path / "fifo.yaml")
    os.mkfifo(fifo)
    for path, needle in ((str(binary), "is not a text file"), (str(folder), "is a directory"),
                         (fifo, "is not a regular file")):
        env = cli_env(tmp_path, None, JETRACER_CONFIG=path)
        one_line_error(jetracer(["emulator", "show"], env, timeout_s=30), 2, path, needle)


def test_a_named_config_that_is_missing_is_an_error_not_the_defaults(tmp_path):
    missing = str(tmp_path / "typo.yaml")
    env = cli_env(tmp_path, None, JETRACER_CONFIG=missing)
    one_line_error(jetracer(["drive", "--neutral"], env), 2, missing, "named by JETRACER_CONFIG", "does not exist",
                   "unset JETRACER_CONFIG")
    env = cli_env(tmp_path, None)
    one_line_error(jetracer(["drive", "--config", missing, "--neutral"], env), 2, missing, "named by --config")
    # nothing named and no file at the default path: the defaults, and the car goes to neutral
    done = jetracer(["drive", "--neutral", "--json"], env)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("name, value, needle", [
    ("JETRACER_I2C", "fake", "i2c: expected one of hardware, emulated, found 'fake'"),
    ("JETRACER_PROFILE", "latrx", "unknown car profile 'latrx'"),
    ("JETRACER_CAMERA", "webcam", "camera.source: expected one of csi, usb, sim, replay"),
])
def test_an_environment_override_error_names_the_variable(tmp_path, name, value, needle):
    env = cli_env(tmp_path, "profile: latrax\n", **{name: value})
    line = one_line_error(jetracer(["display", "--once"], env), 2, needle, "fix or unset %s" % name)
    assert line.startswith("jetracer display: environment variable %s='%s': " % (name, value)), line


def test_jetracer_sim_reads_the_simulator_section(tmp_path):
    env = cli_env(tmp_path, "sim: {track: twisty}\n")
    proc = jetracer(["sim", "track", "--out", str(tmp_path / "t.png")], env)
    assert proc.returncode == 0, proc.stderr
    assert '"track": "twisty"' in proc.stdout and (tmp_path / "t.png").stat().st_size > 0


def test_an_invalid_profile_option_is_named(tmp_path):
    env = cli_env(tmp_path)
    one_line_error(jetracer(["emulator", "show", "--profile", "latrx"], env), 2, "--profile: profile: unknown car "
                   "profile 'latrx'", "waveshare_pro")
    one_line_error(jetracer(["sim", "track", "--profile", "nope.yaml", "--out", str(tmp_path / "t.png")], env), 2,
                   "profile file nope.yaml does not exist")
