"""``jetracer doctor`` while ``jetracer drive`` runs: it reports the drive through its control socket, and leaves the
drive's chips and camera alone (the motor claim names the drive; the CSI camera is not opened a second time).

The drive runs as the service does (disarmed, manual mode) on a CSI camera through the jetcam stand-in and an evdev
gamepad stand-in (tests/fakes), on a shared emulated bus file the test watches.
"""
import json
import subprocess
import sys

from production import Gamepad, Wire, drive_env, read_state, start_drive, stop_drive, wait_for, write_frames
from jetracer.profiles import load_profile

PROFILE = load_profile("latrax")


def test_doctor_beside_a_running_drive_names_it_and_touches_nothing(tmp_path):
    frames = write_frames(tmp_path / "frames", [0.0, 0.2, -0.2, 0.0])
    Gamepad(tmp_path / "input")
    env = drive_env(tmp_path, {"profile": "latrax", "camera": {"source": "csi"},
                               "drive": {"mode": "manual", "self_check_frames": 0}},
                    FAKE_JETCAM_SOURCE=frames)
    proc = start_drive(env)
    wire = Wire(tmp_path / "bus.bin", PROFILE)
    try:
        assert wait_for(lambda: read_state(tmp_path).get("mode") == "manual", 60), proc.stderr
        before = wire.pulses()
        doctor = subprocess.run([sys.executable, "-m", "jetracer", "doctor", "--json"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
        checks = dict((c["name"], c) for c in json.loads(doctor.stdout)["checks"])
        assert checks["drive"]["status"] == "ok" and "a drive process answers: disarmed" in checks["drive"]["finding"]
        assert checks["i2c"]["status"] == "skipped" and "owned by pid %d" % proc.pid in checks["i2c"]["finding"]
        assert "jetracer drive" in checks["i2c"]["finding"] and "stop the drive" in checks["i2c"]["fix"]
        assert checks["camera"]["status"] == "skipped" and "holds the csi camera" in checks["camera"]["finding"]
        assert checks["gamepad"]["status"] == "ok" and "Fake Wireless Gamepad F710" in checks["gamepad"]["finding"]
        assert wire.pulses() == before and proc.poll() is None, "the drive kept its pulses and runs on"
    finally:
        code, report, err = stop_drive(proc)
    assert code == 0, err
