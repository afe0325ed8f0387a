"""``jetracer emulator show`` prints the pulses a command gives with the configured profile, and the live chips
of a running drive (found through its runtime directory, trusted only through a checked control socket)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from jetracer.cli.main import main
from jetracer.driving.supervisor_link import SOCKET_NAME
from jetracer.hardware.emulated import reset_shared_bus
from jetracer.hardware.emulated.shared_file import SharedFileBus
from jetracer.runtime import EMULATED_BUS_NAME


def test_emulator_show_prints_the_channel_pulses(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JETRACER_CONFIG", os.devnull)
    monkeypatch.delenv("JETRACER_PROFILE", raising=False)
    reset_shared_bus()
    with pytest.raises(SystemExit) as done:
        main(["emulator", "show", "--steering", "0.5", "--throttle", "0.3"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "PCA9685 0x40 at 50.03 Hz" in out
    # upstream's pulses: 1500 - 0.325 * 750 and 1500 + 0.24 * 750, quantised to 12-bit ticks
    assert "channel  0: duty   6.27%  pulse  1254.2 us" in out
    assert "channel  1: duty   8.40%  pulse  1678.7 us" in out
    assert "throttle output limited to |0.80| of full travel: pulses 898-2098 us on channel 1" in out


def test_emulator_show_with_a_bad_profile_is_one_line_on_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JETRACER_CONFIG", os.devnull)
    with pytest.raises(SystemExit) as done:
        main(["emulator", "show", "--profile", "latrx"])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown car profile 'latrx'" in err and "waveshare_pro" in err


def user_env(tmp_path):
    """Emulated chips and a private runtime directory ``tmp_path``, without a bus file named (a drive makes one)."""
    os.chmod(str(tmp_path), 0o700)
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=os.devnull, JETRACER_RUNTIME_DIR=str(tmp_path),
               JETRACER_STATE=str(tmp_path / "state.json"), OMP_NUM_THREADS="1")
    for key in ("JETRACER_PROFILE", "JETRACER_EMULATED_BUS", "INVOCATION_ID", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        env.pop(key, None)
    return env


def show(env):
    return subprocess.run([sys.executable, "-m", "jetracer", "emulator", "show"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120)


def test_emulator_show_reads_a_running_drives_chips_and_not_the_file_it_left(tmp_path):
    env = user_env(tmp_path)
    bus = tmp_path / EMULATED_BUS_NAME
    drive = subprocess.Popen([sys.executable, "-m", "jetracer", "drive", "--sim", "--model", "expert"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "state.json").exists() or '"armed": false' not in (tmp_path / "state.json").read_text():
            assert drive.poll() is None and time.monotonic() < deadline, "the drive did not start"
            time.sleep(0.05)
        live = show(env)
        assert live.returncode == 0, live.stderr
        assert "shared emulated bus %s (live)" % bus in live.stdout
        assert "channel  1: duty   7.50%  pulse  1498.2 us" in live.stdout  # the disarmed drive's ESC at neutral
    finally:
        drive.send_signal(signal.SIGTERM)
        drive.communicate(timeout=60)
    assert bus.exists()
    after = show(env)
    assert after.returncode == 0, after.stderr
    assert "(live)" not in after.stdout and "PCA9685 0x40" in after.stdout  # its own car on a private bus


def test_emulator_show_does_not_trust_a_socket_planted_beside_a_stale_bus_file(tmp_path):
    """A symlink in the runtime directory to a socket that answers (someone else's listener) is refused in one
    line; it does not make a drive's leftover bus file look live."""
    env = user_env(tmp_path)
    SharedFileBus(str(tmp_path / EMULATED_BUS_NAME)).close()
    elsewhere = tempfile.mkdtemp()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(os.path.join(elsewhere, "listener.sock"))
        listener.listen(4)
        os.symlink(os.path.join(elsewhere, "listener.sock"), str(tmp_path / SOCKET_NAME))
        proc = show(env)
    finally:
        listener.close()
        shutil.rmtree(elsewhere)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "symlink" in lines[0] and str(tmp_path / SOCKET_NAME) in lines[0], lines[0]
    assert "(live)" not in proc.stdout
