"""``jetracer calibrate``: steering centre/end points and ESC neutral/forward/reverse, saved to the user config."""
import argparse
import sys
from typing import Any

from .options import add_config_option, load_config_from


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("calibrate", help="walk through steering and ESC calibration and save it",
                              description="Nudge the steering servo and the ESC pulse with + / - and confirm with Enter. "
                                          "Each step starts at the centre (neutral): Enter there keeps the saved value "
                                          "without sending it; the ESC stays within the car's throttle limit "
                                          "(max_throttle) unless you type a larger pulse and confirm it. Refused while "
                                          "another process (the drive service, a notebook's car) owns the motors. The "
                                          "result goes to the user config (profile_overrides, comments kept), which the "
                                          "car loads.")
    add_config_option(p)
    p.add_argument("--steering-only", action="store_true", help="skip the ESC steps")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..services.calibrate import CalibrationAborted, calibrate

    def ask(prompt: str) -> str:
        line = sys.stdin.readline()
        if not line:
            raise CalibrationAborted("input ended; nothing saved")
        sys.stdout.write(prompt + line)
        return line

    config = load_config_from(args, must_exist=False)  # the file calibration writes may not exist yet
    calibrate(config, ask=ask if not sys.stdin.isatty() else input, throttle=not args.steering_only)
    return 0
