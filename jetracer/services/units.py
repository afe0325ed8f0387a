"""Render, install and remove the systemd units shipped in ``jetracer/services/units/*.in``.

The templates are the one source of truth. Placeholders are filled with values quoted for systemd
(:func:`exec_arg`, :func:`path_value`): a path with spaces, ``%`` or ``$`` stays one argument and is
never expanded. Installing writes the units to ``unit_dir`` (``/etc/systemd/system`` by default) and,
unless ``enable=False``, runs ``systemctl daemon-reload`` and ``systemctl enable --now``. The services
never run as root. JupyterLab listens on the address chosen (``127.0.0.1`` by default: reach it
through an SSH tunnel) and needs the token kept in ``~/.config/jetracer/jupyter.env`` (made at install,
readable by the user only).
"""
import os
import pwd
import re
import secrets
import subprocess
import sys
from typing import Dict, List, Optional

from ..atomic import atomic_write
from ..errors import Failure

UNIT_DIR = "/etc/systemd/system"
TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "units")
TOKEN_FILE = os.path.join(".config", "jetracer", "jupyter.env")
DATA_DIR = "data"
_USER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\]")


class ServiceError(Failure):
    """A unit could not be rendered, installed or removed; the message says what to do."""


def unit_names() -> List[str]:
    return sorted(name[:-3] for name in os.listdir(TEMPLATE_DIR) if name.endswith(".service.in"))


def jetracer_executable() -> str:
    """The ``jetracer`` console script of this interpreter's environment (absolute path)."""
    candidate = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "jetracer")
    if not os.path.exists(candidate):
        raise ServiceError("no jetracer executable next to %s; install the package (pip install -e .) in this "
                           "environment before installing the services" % sys.executable)
    return candidate


def _check_path(path: str) -> str:
    if not os.path.isabs(path) or path != path.strip() or _UNSAFE.search(path):
        raise ServiceError("the path %r cannot go into a unit file (it must be absolute, without quotes, backslashes, "
                           "control characters or surrounding spaces); move it" % path)
    return path


def exec_arg(path: str) -> str:
    """``path`` as the command of ``ExecStart=``: double-quoted, ``%`` escaped (no ``$`` expansion in the command)."""
    return '"%s"' % _check_path(path).replace("%", "%%")


def exec_word(text: str) -> str:
    """``text`` as one argument of ``ExecStart=``: double-quoted, ``%`` and ``$`` escaped."""
    if _UNSAFE.search(text):
        raise ServiceError("%r cannot go into a unit file (quotes, backslashes or control characters)" % text)
    return '"%s"' % text.replace("%", "%%").replace("$", "$$")


def path_value(path: str, prefix: str = "") -> str:
    """``path`` as the value of a path setting (``WorkingDirectory=``, ``EnvironmentFile=``): ``%`` escaped."""
    return prefix + _check_path(path).replace("%", "%%")


def path_word(path: str, prefix: str = "") -> str:
    """``path`` as one word of a path list (``ReadWritePaths=``): quoted, ``%`` escaped."""
    return '"%s%s"' % (prefix, _check_path(path).replace("%", "%%"))


def _user(user: Optional[str]) -> pwd.struct_passwd:
    name = user or os.environ.get("SUDO_USER") or pwd.getpwuid(os.getuid()).pw_name
    if not _USER_NAME.match(name):
        raise ServiceError("%r is not a user name systemd accepts" % name)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ServiceError("no user %r on this system; pass --user NAME of the account that owns the car's files" % name)
    if entry.pw_uid == 0:
        raise ServiceError("refusing to run the services as root (a JupyterLab terminal would be a root shell and the "
                           "drive service would not need it); pass --user NAME of the account that owns the car's "
                           "files, e.g. --user jetson")
    return entry


def render_units(user: Optional[str] = None, jetracer: Optional[str] = None, jupyter_ip: str = "127.0.0.1",
                 jupyter_port: int = 8888) -> Dict[str, str]:
    """Unit file name -> text, for ``user`` (default: the invoking user, ``$SUDO_USER`` under sudo; never root)."""
    import grp
    import ipaddress

    entry = _user(user)
    home = entry.pw_dir
    try:
        ipaddress.ip_address(jupyter_ip)
    except ValueError:
        raise ServiceError("--jupyter-ip must be an IP address of this machine (127.0.0.1: only through an SSH tunnel), "
                           "got %r" % jupyter_ip)
    if not 1 <= int(jupyter_port) <= 65535:
        raise ServiceError("--jupyter-port must be in 1..65535, got %r" % jupyter_port)
    values = {
        "user": entry.pw_name,
        "group": grp.getgrgid(entry.pw_gid).gr_name,
        "home": path_value(home),
        "notebook_dir_arg": exec_word("--notebook-dir=" + _check_path(home)),
        "home_rw": path_word(home),
        "data_dir": path_word(os.path.join(home, DATA_DIR), prefix="-"),
        "token_file": path_value(os.path.join(home, TOKEN_FILE)),
        "jetracer": exec_arg(jetracer or jetracer_executable()),
        "python": exec_arg(os.path.abspath(sys.executable)),
        "jupyter_ip": jupyter_ip,
        "jupyter_port": int(jupyter_port),
    }
    units = {}
    for name in unit_names():
        with open(os.path.join(TEMPLATE_DIR, name + ".in")) as f:
            units[name] = f.read().format(**values)
    return units


def ensure_token_file(user: Optional[str] = None, home: Optional[str] = None) -> str:
    """Make ``~USER/.config/jetracer/jupyter.env`` with a random ``JUPYTER_TOKEN`` if missing (mode 0600); its path.

    ``home`` replaces the user's home directory (tests).
    """
    entry = _user(user)
    path = os.path.join(home or entry.pw_dir, TOKEN_FILE)
    if os.path.exists(path):
        return path
    folder = os.path.dirname(path)
    made = []
    parent = folder
    while not os.path.isdir(parent):
        made.append(parent)
        parent = os.path.dirname(parent)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# JupyterLab's login token (jetracer-jupyter.service); change it, keep it secret.\n"
                "JUPYTER_TOKEN=%s\n" % secrets.token_hex(24))
    if os.geteuid() == 0:
        for item in made + [path]:
            os.chown(item, entry.pw_uid, entry.pw_gid)
    return path


def _systemctl(*args: str) -> None:
    try:
        subprocess.check_call(("systemctl",) + args)
    except (OSError, subprocess.CalledProcessError) as e:
        raise ServiceError("systemctl %s failed (%s); run as root (sudo) on a system booted with systemd, "
                           "or pass --no-enable" % (" ".join(args), e))


def install(user: Optional[str] = None, unit_dir: str = UNIT_DIR, enable: bool = True, dry_run: bool = False,
            jetracer: Optional[str] = None, jupyter_ip: str = "127.0.0.1", jupyter_port: int = 8888) -> Dict[str, str]:
    """Write the rendered units to ``unit_dir`` (and enable + start them); returns path -> text.

    Enabling also makes the JupyterLab token file when missing (the unit does not start without it).
    """
    written = {}
    units = render_units(user, jetracer, jupyter_ip, jupyter_port)
    if enable and not dry_run:
        ensure_token_file(user)
    for name, text in units.items():
        path = os.path.join(unit_dir, name)
        written[path] = text
        if dry_run:
            continue
        try:
            with atomic_write(path, "w") as f:
                f.write(text)
        except OSError as e:
            raise ServiceError("cannot write %s (%s); run with sudo or choose --unit-dir" % (path, e))
    if enable and not dry_run:
        _systemctl("daemon-reload")
        _systemctl("enable", "--now", *unit_names())
    return written


def uninstall(unit_dir: str = UNIT_DIR, disable: bool = True, dry_run: bool = False) -> List[str]:
    """Stop, disable and remove the units; returns the removed paths."""
    if disable and not dry_run:
        _systemctl("disable", "--now", *unit_names())
    removed = []
    for name in unit_names():
        path = os.path.join(unit_dir, name)
        if os.path.exists(path):
            removed.append(path)
            if not dry_run:
                os.remove(path)
    if disable and not dry_run:
        _systemctl("daemon-reload")
    return removed


def status(unit_dir: str = UNIT_DIR) -> Dict[str, str]:
    """Unit -> "not installed" / "installed" / systemctl's active state."""
    out = {}
    for name in unit_names():
        if not os.path.exists(os.path.join(unit_dir, name)):
            out[name] = "not installed"
            continue
        try:
            state = subprocess.check_output(["systemctl", "is-active", name], universal_newlines=True,
                                            stderr=subprocess.DEVNULL).strip()
        except subprocess.CalledProcessError as e:
            state = (e.output or "inactive").strip()
        except OSError:
            state = "installed"
        out[name] = state
    return out
