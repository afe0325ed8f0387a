"""``jetracer service install|uninstall|status``: the systemd units for drive, display and JupyterLab."""
import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("service", help="install, remove or show the autostart services (systemd)",
                              description="Render the drive, display and JupyterLab systemd units with this "
                                          "environment's jetracer executable and the user's home, write and enable them.")
    p.add_argument("action", choices=("install", "uninstall", "status"))
    p.add_argument("--user", help="account the services run as (default: $SUDO_USER or the current user)")
    p.add_argument("--unit-dir", default=None, help="where unit files go (default /etc/systemd/system)")
    p.add_argument("--dry-run", action="store_true", help="print the units, write nothing")
    p.add_argument("--no-enable", action="store_true", help="write the files only (no systemctl)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..services import units

    unit_dir = args.unit_dir or units.UNIT_DIR
    try:
        if args.action == "install":
            written = units.install(args.user, unit_dir, enable=not args.no_enable, dry_run=args.dry_run)
            for path, text in sorted(written.items()):
                if args.dry_run:
                    print("# %s\n%s" % (path, text))
                else:
                    print("wrote %s" % path)
        elif args.action == "uninstall":
            for path in units.uninstall(unit_dir, disable=not args.no_enable, dry_run=args.dry_run):
                print("removed %s" % path)
        else:
            for name, state in sorted(units.status(unit_dir).items()):
                print("%-28s %s" % (name, state))
    except units.ServiceError as e:
        print("jetracer service: %s" % e, file=sys.stderr)
        return 1
    return 0
