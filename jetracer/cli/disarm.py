"""``jetracer disarm``: put the running drive service's throttle at neutral and keep it there until armed."""
import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("disarm", help="disarm the running drive service (throttle to neutral, latched)",
                              description="The supervisor writes the throttle's neutral at once through its own I2C "
                                          "handle, then the drive loop latches its e-stop until `jetracer arm`.")
    p.add_argument("--socket", help="control socket path (default: found in the runtime directory)")
    p.set_defaults(func=run, command="disarm")
    return p


def run(args: argparse.Namespace) -> int:
    from .arm import run as run_control

    return run_control(args)
