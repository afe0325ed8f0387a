"""The rendered systemd units: right paths, failsafe stop commands, and accepted by systemd-analyze verify."""
import os
import pwd
import shutil
import subprocess
import sys

from jetracer.services import units


def test_install_writes_units_that_systemd_analyze_accepts(tmp_path):
    user = pwd.getpwuid(os.getuid()).pw_name
    out = subprocess.check_output([sys.executable, "-m", "jetracer", "service", "install", "--unit-dir", str(tmp_path),
                                   "--no-enable", "--user", user], universal_newlines=True)
    names = sorted(os.listdir(str(tmp_path)))
    assert names == ["jetracer-display.service", "jetracer-drive.service", "jetracer-jupyter.service"], out
    drive = (tmp_path / "jetracer-drive.service").read_text()
    exe = units.jetracer_executable()
    assert "ExecStart=%s drive\n" % exe in drive
    assert "ExecStopPost=%s drive --neutral" % exe in drive
    assert "User=%s" % user in drive and "Restart=on-failure" in drive
    assert "After=" in drive and "Wants=jetracer-display.service" in drive
    assert "WorkingDirectory=%s" % pwd.getpwnam(user).pw_dir in drive
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install -y systemd (.ci/run does)"
    result = subprocess.run([analyze, "verify"] + [str(tmp_path / n) for n in names],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    problems = [line for line in result.stdout.splitlines()
                if tmp_path.name in line or "jetracer-" in line]
    assert result.returncode == 0 and not problems, result.stdout


def test_uninstall_removes_them_and_status_says_so(tmp_path):
    units.install(unit_dir=str(tmp_path), enable=False)
    removed = units.uninstall(unit_dir=str(tmp_path), disable=False)
    assert len(removed) == 3 and os.listdir(str(tmp_path)) == []
    assert set(units.status(str(tmp_path)).values()) == {"not installed"}


def test_dry_run_writes_nothing(tmp_path):
    out = subprocess.check_output([sys.executable, "-m", "jetracer", "service", "install", "--dry-run",
                                   "--unit-dir", str(tmp_path / "units")], universal_newlines=True)
    assert "[Service]" in out and not (tmp_path / "units").exists()


def test_unknown_user_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "jetracer", "service", "install", "--no-enable", "--unit-dir",
                           str(tmp_path), "--user", "no-such-user-xyz"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    assert proc.returncode == 1 and "no user 'no-such-user-xyz'" in proc.stderr
