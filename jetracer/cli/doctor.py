"""``jetracer doctor``: check this car (or this machine) and say, line by line, what is wrong and how to fix it."""
import argparse
from typing import Any

from .options import add_config_option, add_json_option


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("doctor", help="check the car and this machine; say what is wrong and the fix",
                              description="Check the Jetson, the software versions, the I2C chips against the car "
                                          "profile, the OLED, the camera, the model file, disk, memory, the services "
                                          "and a gamepad. Each line: ok, warning, fail or skipped, what was found and "
                                          "the fix. Nothing is written to the car. Exit code 1 when a check fails.")
    add_config_option(p)
    add_json_option(p, 'the checks ({"checks": [{name, status, finding, fix}, ...]})')
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..apps.doctor import doctor

    path = getattr(args, "config", None)
    return doctor(path, source="--config" if path else None, as_json=args.json)
