"""``jetracer service install|uninstall|status``: the systemd units for drive, display and JupyterLab."""
import argparse
import os
from typing import Any

from .options import PORT


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("service", help="install, remove or show the autostart services (systemd)",
                              description="Render the drive, display and JupyterLab systemd units with this "
                                          "environment's jetracer executable and the user's home, write and enable them. "
                                          "The services never run as root; the drive service starts disarmed.")
    p.add_argument("action", choices=("install", "uninstall", "status"))
    p.add_argument("--user", help="account the services run as (default: $SUDO_USER or the current user; never root)")
    p.add_argument("--unit-dir", default=None, help="where unit files go (default /etc/systemd/system)")
    p.add_argument("--jupyter-ip", default="127.0.0.1",
                   help="address JupyterLab listens on (default 127.0.0.1: reach it with ssh -L 8888:localhost:8888 "
                        "USER@CAR); 0.0.0.0 exposes a shell as USER to the network, behind the token")
    p.add_argument("--jupyter-port", type=PORT, default=8888, help="JupyterLab's port (default 8888)")
    p.add_argument("--dry-run", action="store_true", help="print the units, write nothing")
    p.add_argument("--no-enable", action="store_true", help="write the files only (no systemctl, no token file)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..services import units

    unit_dir = args.unit_dir or units.UNIT_DIR
    if args.action == "install":
        written = units.install(args.user, unit_dir, enable=not args.no_enable, dry_run=args.dry_run,
                                jupyter_ip=args.jupyter_ip, jupyter_port=args.jupyter_port)
        for path, text in sorted(written.items()):
            if args.dry_run:
                print("# %s\n%s" % (path, text))
            else:
                print("wrote %s" % path)
        if not args.dry_run:
            token = os.path.join("~" + (args.user or os.environ.get("SUDO_USER") or ""), units.TOKEN_FILE)
            print("JupyterLab listens on %s:%d; its login token is JUPYTER_TOKEN in %s (only you can read it)%s"
                  % (args.jupyter_ip, args.jupyter_port, token,
                     "" if not args.no_enable else "; make that file before starting jetracer-jupyter"))
            print("The drive service starts DISARMED: arm it with `jetracer arm` or START on the gamepad")
    elif args.action == "uninstall":
        for path in units.uninstall(unit_dir, disable=not args.no_enable, dry_run=args.dry_run):
            print("removed %s" % path)
    else:
        for name, state in sorted(units.status(unit_dir).items()):
            print("%-28s %s" % (name, state))
    return 0
