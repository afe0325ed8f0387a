"""The runtime directory and the control socket cannot be taken over by another local user.

Issue 17, item 5: root without ``XDG_RUNTIME_DIR`` used ``/tmp/jetracer-0`` and accepted it when another
user had made it first; a control socket swapped in there made ``jetracer disarm`` report success while
the car kept driving, and a symlink planted there made root overwrite a root-owned file. The tests run
as root (as root runs ``sudo jetracer disarm``, and as the CI runs them) and play the other user with
uid 65534 (``nobody``): a directory chowned to it, or a small process that drops to it after importing
what it needs.
"""
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile

import pytest

from cli.cli_run import cli_env, jetracer, one_line_error
from jetracer import runtime
from jetracer.driving.supervisor import bind_control_socket
from jetracer.driving.supervisor_link import control
from jetracer.runtime import RuntimeDirError, check_private_dir, runtime_dir, runtime_dir_owner
from jetracer.state import publish_state, read_state

OTHER = 65534
SERVER = r"""
import json, os, socket, sys
folder, name, uid, bind_first = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "bind-first"
os.chdir(folder)  # relative names from here on: the other user needs no way through the test's folders
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if bind_first:  # the socket file is root's, the process answering on it is not
    listener.bind(name)
os.setgid(uid)
os.setuid(uid)
if not bind_first:
    listener.bind(name)
listener.listen(1)
print("ready", flush=True)
conn, _ = listener.accept()
conn.settimeout(5)
try:
    data = conn.recv(256)
    conn.sendall(b'{"ok": true, "message": "disarmed"}\n')
except OSError:
    pass
print(json.dumps({"got": data.decode()}), flush=True)
"""

@pytest.fixture
def other_server(tmp_path):
    """``start(folder, bind_first=False)``: a process of uid 65534 answering "disarmed" on ``folder/drive.sock``;
    ``.received()`` is what it was sent (None: nobody connected)."""
    procs = []

    def start(folder, bind_first=False):
        proc = subprocess.Popen([sys.executable, "-c", SERVER, str(folder), "drive.sock", str(OTHER),
                                 "bind-first" if bind_first else "bind-after"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        procs.append(proc)

        def received():
            try:
                out, _ = proc.communicate(timeout=1.0)
            except subprocess.TimeoutExpired:
                return None
            return json.loads(out)["got"]
        proc.received = received
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def owned_by_other(folder, mode=0o700):
    folder.mkdir(mode=mode)
    os.chmod(str(folder), mode)
    os.chown(str(folder), OTHER, OTHER)
    return folder


def test_a_directory_of_another_user_or_writable_by_others_is_refused(tmp_path, monkeypatch):
    theirs = owned_by_other(tmp_path / "theirs")
    with pytest.raises(RuntimeDirError, match="owned by uid %d, not by you" % OTHER):
        check_private_dir(str(theirs))
    monkeypatch.setenv("JETRACER_RUNTIME_DIR", str(theirs))
    monkeypatch.delenv("JETRACER_STATE", raising=False)
    with pytest.raises(RuntimeDirError, match="owned by uid %d" % OTHER):
        publish_state({"mode": "auto"})
    assert os.listdir(str(theirs)) == [], "nothing is written into another user's directory"
    for mode in (0o770, 0o707, 0o720, 0o702):
        shared = tmp_path / ("shared%o" % mode)
        shared.mkdir()
        os.chmod(str(shared), mode)
        with pytest.raises(RuntimeDirError, match="writable by group or others"):
            check_private_dir(str(shared))
    # a private directory of ours inside a folder anyone may write to (not sticky) can be swapped under us
    open_parent = tmp_path / "open"
    open_parent.mkdir()
    (open_parent / "run").mkdir(mode=0o700)
    os.chmod(str(open_parent), 0o777)
    with pytest.raises(RuntimeDirError, match="above it is writable by group or others"):
        check_private_dir(str(open_parent / "run"))


def test_jetracer_refuses_to_write_into_another_users_runtime_directory(tmp_path):
    theirs = owned_by_other(tmp_path / "theirs")
    env = cli_env(tmp_path, JETRACER_RUNTIME_DIR=str(theirs))
    del env["JETRACER_STATE"]
    proc = jetracer(["drive", "--neutral"], env)
    one_line_error(proc, 1, "refusing runtime directory %s" % theirs, "owned by uid %d" % OTHER, "JETRACER_RUNTIME_DIR")
    assert os.listdir(str(theirs)) == []


def test_root_without_xdg_runtime_dir_gets_a_root_owned_directory_in_run(monkeypatch):
    for key in ("JETRACER_RUNTIME_DIR", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(key, raising=False)
    existed = os.path.lexists(runtime.ROOT_RUNTIME_DIR)
    try:
        made = runtime_dir()
        assert made == runtime.ROOT_RUNTIME_DIR and not made.startswith(tempfile.gettempdir())
        st, parent = os.lstat(made), os.stat(os.path.dirname(made))
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o700
        assert parent.st_uid == 0 and not parent.st_mode & 0o022, "only root can make a name there"
    finally:
        if not existed and os.path.isdir(runtime.ROOT_RUNTIME_DIR) and not os.listdir(runtime.ROOT_RUNTIME_DIR):
            os.rmdir(runtime.ROOT_RUNTIME_DIR)


def test_roots_directory_is_refused_where_another_user_could_make_it(tmp_path, monkeypatch):
    for key in ("JETRACER_RUNTIME_DIR", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(key, raising=False)
    world = tmp_path / "world"
    world.mkdir()
    os.chmod(str(world), 0o777)  # a /run that anyone may write to
    monkeypatch.setattr(runtime, "ROOT_RUNTIME_DIR", str(world / "jetracer-root"))
    with pytest.raises(RuntimeDirError, match="writable by group or others"):
        runtime_dir()
    private = tmp_path / "private"
    private.mkdir(mode=0o755)
    planted = owned_by_other(private / "jetracer-root")  # made first by another user (by root's mistake)
    monkeypatch.setattr(runtime, "ROOT_RUNTIME_DIR", str(planted))
    with pytest.raises(RuntimeDirError, match="owned by uid %d" % OTHER):
        runtime_dir()


AS_OTHER = r"""
import json, os, sys
import jetracer.runtime as runtime
os.setgid(%d)
os.setuid(%d)
out = {}
for name in sys.argv[1:]:
    try:
        made = runtime.runtime_dir() if name == "default" else runtime.check_private_dir(name, create=True)
        out[name] = ["ok", made]
    except runtime.RuntimeDirError as e:
        out[name] = ["refused", str(e)]
print(json.dumps(out))
""" % (OTHER, OTHER)


def test_a_user_whose_tmp_directory_another_user_made_first_is_refused_with_the_fix():
    """Not a hijack: the name is refused (never used), and the message says how to get past it."""
    base = tempfile.mkdtemp(prefix="jetracer-test-")  # outside pytest's root-only folders: uid 65534 must reach it
    try:
        os.chmod(base, 0o1777)  # a /tmp
        squatted = os.path.join(base, "jetracer-%d" % OTHER)
        os.mkdir(squatted, 0o700)
        os.chown(squatted, 12345, 12345)
        roots = os.path.join(base, "roots")
        os.mkdir(roots, 0o755)
        env = dict(os.environ, TMPDIR=base)
        for key in ("JETRACER_RUNTIME_DIR", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"):
            env.pop(key, None)
        run = subprocess.run([sys.executable, "-c", AS_OTHER, "default", roots], env=env, cwd="/",
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        out = json.loads(run.stdout)
        state, message = out["default"]
        assert state == "refused" and "owned by uid 12345, not by you (uid %d)" % OTHER in message, message
        assert "sudo rm -r %s" % squatted in message and "XDG_RUNTIME_DIR" in message
        assert out[roots][0] == "refused" and "owned by uid 0" in out[roots][1], "root's directory is not a user's"
        shutil.rmtree(squatted)
        run = subprocess.run([sys.executable, "-c", AS_OTHER, "default"], env=env, cwd="/",
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        assert json.loads(run.stdout)["default"] == ["ok", squatted]
        st = os.lstat(squatted)
        assert st.st_uid == OTHER and stat.S_IMODE(st.st_mode) == 0o700
    finally:
        shutil.rmtree(base)


def test_disarm_refuses_a_socket_answered_by_another_user(tmp_path, other_server):
    """The issue's swap: a process of another user answers on the drive's socket. The answer "disarmed"
    is never read: ``jetracer disarm`` fails with one line, and the impostor is not even sent the command."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    impostor = other_server(run, bind_first=True)  # the socket file is root's, the process answering is not
    proc = jetracer(["disarm"], cli_env(tmp_path, JETRACER_RUNTIME_DIR=str(run)))
    one_line_error(proc, 1, "it runs as uid %d" % OTHER, "%s" % (run / "drive.sock"), "the car may still be driving")
    assert impostor.received() == ""


def test_a_socket_of_another_user_in_roots_directory_is_refused(tmp_path, other_server):
    theirs = owned_by_other(tmp_path / "theirs")
    other_server(theirs)
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    os.rename(str(theirs / "drive.sock"), str(run / "drive.sock"))
    with pytest.raises(RuntimeDirError, match="the socket belongs to uid %d but its directory to uid 0" % OTHER):
        control("disarm", path=str(run / "drive.sock"))


def test_root_talks_to_the_service_users_socket_in_the_service_users_directory(tmp_path, monkeypatch, other_server):
    """The legitimate case: systemd made /run/jetracer for the service's user; ``sudo jetracer disarm`` reads it."""
    run = tmp_path / "run"  # a /run: root's, writable by nobody else, so only root could have named the folder
    run.mkdir(mode=0o755)
    service_dir = owned_by_other(run / "jetracer")
    service = other_server(service_dir)
    monkeypatch.setenv("JETRACER_RUNTIME_DIR", str(service_dir))
    assert runtime_dir_owner(str(service_dir)) == OTHER
    assert control("disarm") == {"ok": True, "message": "disarmed"}
    assert service.received() == "disarm\n"


def test_root_refuses_another_users_directory_where_anyone_could_have_made_it(tmp_path, monkeypatch, other_server):
    world = tmp_path / "tmp"
    world.mkdir()
    os.chmod(str(world), 0o1777)  # a /tmp: the name jetracer-0 in it may be anyone's
    squatted = owned_by_other(world / "jetracer-0")
    impostor = other_server(squatted)
    monkeypatch.setenv("JETRACER_RUNTIME_DIR", str(squatted))
    with pytest.raises(RuntimeDirError, match="above it is writable by group or others"):
        control("disarm")
    with pytest.raises(RuntimeDirError, match="above it is writable by group or others"):
        control("disarm", path=str(squatted / "drive.sock"))
    assert impostor.received() is None, "nobody connected to it"
    assert read_state(path=str(squatted / "drive_state.json")) is None


def test_a_symlink_at_the_socket_path_is_never_followed(tmp_path):
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(elsewhere / "other.sock"))
    listener.listen(1)
    listener.setblocking(False)
    os.symlink(str(elsewhere / "other.sock"), str(run / "drive.sock"))
    try:
        with pytest.raises(RuntimeDirError, match="symlink"):
            control("disarm", path=str(run / "drive.sock"))
        with pytest.raises(RuntimeError, match="not this user's socket"):
            bind_control_socket(str(run / "drive.sock"))
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing connected through the link
        assert os.path.islink(str(run / "drive.sock"))
    finally:
        listener.close()


def test_a_symlink_planted_at_the_state_or_bus_file_never_overwrites_a_root_file(tmp_path):
    """The issue's overwrite: ``jetracer drive --neutral`` (the unit's ExecStartPre/ExecStopPost) as root with
    links planted at its emulated bus file and state file. The root-owned targets keep every byte."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    victims = []
    for name in ("emulated_bus.bin", "drive_state.json"):
        victim = tmp_path / ("victim-" + name)
        victim.write_bytes(b"root's precious file\n")
        os.chmod(str(victim), 0o644)
        os.symlink(str(victim), str(run / name))
        victims.append(victim)
    env = cli_env(tmp_path, JETRACER_RUNTIME_DIR=str(run))
    del env["JETRACER_STATE"]
    proc = jetracer(["drive", "--neutral"], env)
    one_line_error(proc, 1, "refusing the emulated bus file %s" % (run / "emulated_bus.bin"), "symlink")
    publish_state({"mode": "stopped"}, path=str(run / "drive_state.json"))
    for victim in victims:
        assert victim.read_bytes() == b"root's precious file\n"
    assert not os.path.islink(str(run / "drive_state.json")), "the state file's link was replaced, not followed"
    assert read_state(path=str(run / "drive_state.json"))["mode"] == "stopped"
