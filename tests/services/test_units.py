"""The rendered systemd units: right paths (quoted), failsafe start/stop commands, never root, hardened
(systemd-analyze security), JupyterLab behind a token on the chosen address, accepted by systemd-analyze verify."""
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.request

import pytest

from jetracer.services import units

USER = "nobody"  # exists everywhere; the services refuse root


def analyze():
    path = shutil.which("systemd-analyze")
    assert path, "systemd-analyze is missing: apt-get install -y systemd (.ci/run does)"
    return path


def verify(paths):
    result = subprocess.run([analyze(), "verify"] + [str(p) for p in paths], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True)
    problems = [line for line in result.stdout.splitlines()
                if ("jetracer-" in line or "/tmp" in line) and "Special user nobody" not in line]
    return result.returncode, problems, result.stdout


def install(tmp_path, *extra):
    return subprocess.run([sys.executable, "-m", "jetracer", "service", "install", "--unit-dir", str(tmp_path),
                           "--no-enable", "--user", USER] + list(extra), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)


def test_install_writes_units_that_systemd_analyze_accepts(tmp_path):
    out = install(tmp_path)
    assert out.returncode == 0, out.stderr
    names = sorted(os.listdir(str(tmp_path)))
    assert names == ["jetracer-display.service", "jetracer-drive.service", "jetracer-jupyter.service"], out.stdout
    drive = (tmp_path / "jetracer-drive.service").read_text()
    exe = units.jetracer_executable()
    assert 'ExecStart="%s" drive\n' % exe in drive
    assert 'ExecStartPre="%s" drive --neutral\n' % exe in drive, "channels at neutral before anything else starts"
    assert 'ExecStopPost="%s" drive --neutral\n' % exe in drive
    assert "--arm" not in drive, "the service never starts armed"
    for line in ("Type=notify", "NotifyAccess=all", "WatchdogSec=3", "RuntimeDirectory=jetracer",
                 "RuntimeDirectoryMode=0700", "User=nobody", "Restart=on-failure", "DevicePolicy=closed",
                 "DeviceAllow=char-i2c rw", "DeviceAllow=char-video4linux rw", "DeviceAllow=char-input rw",
                 "BindPaths=-/tmp/argus_socket", "PrivateNetwork=yes"):
        assert line + "\n" in drive, line
    assert "Wants=jetracer-display.service" in drive
    display = (tmp_path / "jetracer-display.service").read_text()
    assert "Environment=JETRACER_RUNTIME_DIR=/run/jetracer" in display
    code, problems, text = verify([tmp_path / n for n in names])
    assert code == 0 and not problems, text
    assert "DISARMED" in out.stdout


def test_services_never_run_as_root(tmp_path):
    env = dict(os.environ)
    env.pop("SUDO_USER", None)
    for extra in ([], ["--user", "root"]):
        proc = subprocess.run([sys.executable, "-m", "jetracer", "service", "install", "--unit-dir", str(tmp_path),
                               "--no-enable"] + extra, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
        if os.geteuid() == 0 or extra:
            assert proc.returncode == 1 and "refusing to run the services as root" in proc.stderr, proc.stderr
    assert os.listdir(str(tmp_path)) == []


def test_paths_with_spaces_percent_and_dollar_stay_one_unexpanded_argument(tmp_path):
    folder = tmp_path / "my jet%racer $HOME"
    folder.mkdir()
    exe = folder / "jetracer"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    rendered = units.render_units(USER, jetracer=str(exe))
    drive = rendered["jetracer-drive.service"]
    assert 'ExecStart="%s" drive' % str(exe).replace("%", "%%") in drive
    home = tmp_path / "home of $USER with 100%"
    home.mkdir()
    assert units.exec_word("--notebook-dir=" + str(home)) == '"--notebook-dir=%s"' % str(home).replace(
        "$", "$$").replace("%", "%%")
    out = tmp_path / "units"
    out.mkdir()
    for name, text in rendered.items():
        (out / name).write_text(text)
    code, problems, text = verify(sorted(out.iterdir()))
    assert code == 0 and not problems, text  # verify resolves the quoted, unescaped command and finds it
    with pytest.raises(units.ServiceError, match="cannot go into a unit file"):
        units.render_units(USER, jetracer=str(tmp_path / 'say "hi"' / "jetracer"))
    with pytest.raises(units.ServiceError, match="cannot go into a unit file"):
        units.render_units(USER, jetracer=str(tmp_path) + "/x\nExecStartPost=/bin/evil")


def _offline_supported():
    help_text = subprocess.run([analyze(), "security", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True).stdout
    return "--offline" in help_text


@pytest.mark.parametrize("unit,limit", [("jetracer-drive.service", 5.0), ("jetracer-display.service", 5.0),
                                        ("jetracer-jupyter.service", 7.0)])
def test_units_are_hardened(tmp_path, unit, limit):
    if not _offline_supported():
        pytest.skip("this systemd-analyze has no `security --offline` (systemd < 250); the score cannot be computed")
    (tmp_path / unit).write_text(units.render_units(USER)[unit])
    result = subprocess.run([analyze(), "security", "--offline=true", "--no-pager", str(tmp_path / unit)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    match = re.search(r"Overall exposure level for %s: ([0-9.]+)" % re.escape(unit), result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) <= limit, result.stdout


def test_jupyter_listens_where_asked_behind_a_token_file(tmp_path):
    default = units.render_units(USER)["jetracer-jupyter.service"]
    assert "--ip=127.0.0.1 " in default and "--ip=0.0.0.0" not in default
    assert "EnvironmentFile=%s/.config/jetracer/jupyter.env\n" % os.path.expanduser("~" + USER) in default
    chosen = units.render_units(USER, jupyter_ip="192.168.1.20", jupyter_port=9999)["jetracer-jupyter.service"]
    assert "--ip=192.168.1.20 --port=9999" in chosen
    with pytest.raises(units.ServiceError, match="jupyter-ip"):
        units.render_units(USER, jupyter_ip="0.0.0.0 --ServerApp.token=")
    path = units.ensure_token_file(USER, home=str(tmp_path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    token = re.search(r"^JUPYTER_TOKEN=([0-9a-f]{48})$", open(path).read(), re.M).group(1)
    assert units.ensure_token_file(USER, home=str(tmp_path)) == path and token in open(path).read(), "kept, not replaced"


def test_jupyterlab_refuses_without_the_token_and_does_not_log_it(tmp_path):
    pytest.importorskip("jupyterlab")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "t0ken-%d" % os.getpid()
    env = dict(os.environ, JUPYTER_TOKEN=token, JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"), JUPYTER_DATA_DIR=str(tmp_path / "data"))
    log = open(str(tmp_path / "log"), "w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", "--port=%d" % port,
                             "--notebook-dir=%s" % tmp_path, "--allow-root"], env=env, stdout=log, stderr=log)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    base = "http://127.0.0.1:%d/api/status" % port
    try:
        deadline = time.time() + 90
        status = None
        while time.time() < deadline and status is None:
            try:
                status = opener.open(base + "?token=" + token, timeout=2).status
            except OSError:
                time.sleep(0.5)
        assert status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(base, timeout=5)
        assert refused.value.code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert token not in open(str(tmp_path / "log")).read(), "the token must not be printed to the journal"


def test_uninstall_removes_them_and_status_says_so(tmp_path):
    units.install(USER, unit_dir=str(tmp_path), enable=False)
    removed = units.uninstall(unit_dir=str(tmp_path), disable=False)
    assert len(removed) == 3 and os.listdir(str(tmp_path)) == []
    assert set(units.status(str(tmp_path)).values()) == {"not installed"}


def test_dry_run_writes_nothing(tmp_path):
    out = subprocess.check_output([sys.executable, "-m", "jetracer", "service", "install", "--dry-run", "--user", USER,
                                   "--unit-dir", str(tmp_path / "units")], universal_newlines=True)
    assert "[Service]" in out and not (tmp_path / "units").exists()


def test_unknown_user_is_a_clear_error(tmp_path):
    proc = install(tmp_path, "--user", "no-such-user-xyz")
    assert proc.returncode == 1 and "no user 'no-such-user-xyz'" in proc.stderr
