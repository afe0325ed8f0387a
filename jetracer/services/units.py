"""Render, install and remove the systemd units shipped in ``jetracer/services/units/*.in``.

The templates are the one source of truth. Placeholders: ``{user}``, ``{home}``, ``{jetracer}`` (the
installed ``jetracer`` executable next to this Python), ``{python}``. Installing writes the units to
``unit_dir`` (``/etc/systemd/system`` by default) and, unless ``enable=False``, runs ``systemctl
daemon-reload`` and ``systemctl enable --now``.
"""
import os
import pwd
import subprocess
import sys
from typing import Dict, List, Optional

from ..atomic import atomic_write

UNIT_DIR = "/etc/systemd/system"
TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "units")


class ServiceError(RuntimeError):
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


def render_units(user: Optional[str] = None, jetracer: Optional[str] = None) -> Dict[str, str]:
    """Unit file name -> text, for ``user`` (default: the invoking user, ``$SUDO_USER`` under sudo)."""
    user = user or os.environ.get("SUDO_USER") or pwd.getpwuid(os.getuid()).pw_name
    try:
        home = pwd.getpwnam(user).pw_dir
    except KeyError:
        raise ServiceError("no user %r on this system; pass --user NAME of the account that owns the car's files" % user)
    values = {"user": user, "home": home, "jetracer": jetracer or jetracer_executable(),
              "python": os.path.abspath(sys.executable)}
    units = {}
    for name in unit_names():
        with open(os.path.join(TEMPLATE_DIR, name + ".in")) as f:
            units[name] = f.read().format(**values)
    return units


def _systemctl(*args: str) -> None:
    try:
        subprocess.check_call(("systemctl",) + args)
    except (OSError, subprocess.CalledProcessError) as e:
        raise ServiceError("systemctl %s failed (%s); run as root (sudo) on a system booted with systemd, "
                           "or pass --no-enable" % (" ".join(args), e))


def install(user: Optional[str] = None, unit_dir: str = UNIT_DIR, enable: bool = True, dry_run: bool = False,
            jetracer: Optional[str] = None) -> Dict[str, str]:
    """Write the rendered units to ``unit_dir`` (and enable + start them); returns path -> text."""
    written = {}
    for name, text in render_units(user, jetracer).items():
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
