"""The drive state file cannot be redirected, spoofed or used to hang the display (another local user's attacks)."""
import json
import os
import stat
import threading
import time

import numpy as np
import pytest

from jetracer import runtime
from jetracer.config import load_config
from jetracer.display.render import render_lines
from jetracer.display.service import run_display
from jetracer.hardware.emulated import reset_shared_bus
from jetracer.runtime import RuntimeDirError, check_private_dir, runtime_dir
from jetracer.state import publish_state, read_state


@pytest.fixture
def rundir(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("JETRACER_RUNTIME_DIR", str(folder))
    monkeypatch.delenv("JETRACER_STATE", raising=False)
    return folder


def test_published_state_reads_back_fresh(rundir):
    publish_state({"mode": "auto", "armed": True, "fps": 30.0})
    state = read_state()
    assert state["mode"] == "auto" and state["armed"] and 0 <= state["age_s"] < 1
    assert stat.S_IMODE(os.stat(str(rundir / "drive_state.json")).st_mode) == 0o600


def test_a_symlink_planted_at_the_state_file_is_replaced_not_followed(rundir, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.symlink(str(victim), str(rundir / "drive_state.json"))
    publish_state({"mode": "auto"})
    assert victim.read_text() == "precious\n"
    assert not os.path.islink(str(rundir / "drive_state.json")) and read_state()["mode"] == "auto"


def test_a_symlink_is_not_read_either(rundir, tmp_path):
    other = tmp_path / "elsewhere.json"
    publish_state({"mode": "auto"}, path=str(rundir / "real.json"))
    os.rename(str(rundir / "real.json"), str(other))
    os.symlink(str(other), str(rundir / "drive_state.json"))
    assert read_state() is None


def test_a_state_dated_in_the_future_or_stale_or_from_another_boot_is_refused(rundir):
    path = rundir / "drive_state.json"
    publish_state({"mode": "auto"})
    data = json.loads(path.read_text())
    for stamp, boot in ((time.monotonic() + 3600.0, data["boot_id"]), (time.monotonic() - 60.0, data["boot_id"]),
                        (time.monotonic(), "another-boot")):
        path.write_text(json.dumps(dict(data, monotonic=stamp, boot_id=boot, time=time.time() + 1e6)))
        assert read_state() is None, (stamp, boot)
    path.write_text(json.dumps(data))
    assert read_state(max_age_s=60) is not None


def test_a_fifo_does_not_hang_the_display(rundir, tmp_path):
    os.mkfifo(str(rundir / "drive_state.json"))
    done = []
    reader = threading.Thread(target=lambda: done.append(read_state()), daemon=True)
    reader.start()
    reader.join(timeout=2.0)
    assert done == [None], "read_state must return at once on a FIFO"
    bus = reset_shared_bus()
    config = load_config(path=os.devnull, env={"JETRACER_I2C": "emulated"})
    started = time.monotonic()
    assert run_display(config, refresh_s=0.01, iterations=1)["frames"] == 1
    assert time.monotonic() - started < 5
    expected = np.array(render_lines(["", "", "", "drive: not running"]), dtype=bool)
    assert (bus.chip(0x3C).image()[24:] == expected[24:]).all()


def test_a_state_file_of_another_owner_is_refused(rundir):
    publish_state({"mode": "auto"})
    os.chown(str(rundir / "drive_state.json"), 12345, 12345)
    assert read_state() is None
    assert read_state(owner_uid=12345) is not None


def test_runtime_directory_checks(tmp_path, monkeypatch):
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(str(open_dir), 0o777)
    with pytest.raises(RuntimeDirError, match="writable by group or others"):
        check_private_dir(str(open_dir))
    link = tmp_path / "link"
    os.symlink(str(tmp_path), str(link))
    with pytest.raises(RuntimeDirError, match="symlink"):
        check_private_dir(str(link))
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(str(theirs), 12345, 12345)
    with pytest.raises(RuntimeDirError, match="owned by uid 12345"):  # root too writes only into its own
        check_private_dir(str(theirs))
    monkeypatch.setenv("JETRACER_RUNTIME_DIR", str(link))
    with pytest.raises(RuntimeDirError):
        publish_state({"mode": "auto"})
    # the fallback (root: /run/jetracer-root, a user: /tmp/jetracer-UID) is refused when a link stands there
    for key in ("JETRACER_RUNTIME_DIR", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(runtime, "ROOT_RUNTIME_DIR", str(tmp_path / "jetracer-root"))
    planted = tmp_path / ("jetracer-root" if os.geteuid() == 0 else "jetracer-%d" % os.geteuid())
    os.symlink(str(theirs), str(planted))
    with pytest.raises(RuntimeDirError, match="symlink"):
        runtime_dir()
    os.unlink(str(planted))
    made = runtime_dir()
    assert made == str(planted) and stat.S_IMODE(os.stat(made).st_mode) == 0o700


def test_systemd_runtime_directory_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv("JETRACER_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("JETRACER_STATE", raising=False)
    folder = tmp_path / "jetracer"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(folder))
    publish_state({"mode": "manual"})
    assert (folder / "drive_state.json").exists() and read_state()["mode"] == "manual"
