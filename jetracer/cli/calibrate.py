"""``jetracer calibrate``: the guided calibration (directions, ESC arming, neutral and reverse, end points, limit).

``--pulses-only`` is the centre and end-point walk-through alone (:func:`jetracer.services.calibrate.calibrate`).
"""
import argparse
import sys
from typing import Any

from .options import add_config_option, load_config_from


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("calibrate", help="guided set-up of steering, ESC or motors and the throttle limit, "
                                                "saved to your config",
                              description="With the wheels off the ground: steering centre and end points, then "
                                          "'did the wheels turn LEFT?' (a no flips steering_gain); ESC arming and "
                                          "neutral (until the wheels stop creeping); the throttle limit "
                                          "(max_throttle); "
                                          "'did the wheels spin FORWARD?' after a small pulse (a no flips "
                                          "throttle_gain); how the ESC reverses (throttle.reverse: direct, double-tap "
                                          "or none); the ESC's end points; for a DC-motor kit, each motor's direction "
                                          "instead of the ESC steps; then a test pattern on the car built from what "
                                          "was saved. Pulses are nudged with + / - (10 us), ++ / -- (50 us), c "
                                          "(centre) or typed, Enter confirms; the ESC stays within max_throttle unless "
                                          "you type a larger pulse and confirm it. Each step is saved to the user "
                                          "config (profile_overrides, comments kept) when you confirm it, so q keeps "
                                          "what was confirmed. Refused while another process (the drive service, a "
                                          "notebook's car) owns the motors.")
    add_config_option(p)
    p.add_argument("--steering-only", action="store_true", help="skip the ESC / motor steps")
    p.add_argument("--pulses-only", action="store_true",
                   help="only the centre and end-point pulses (steering, then ESC neutral, forward and reverse ends), "
                        "saved together at the end")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..services.calibrate import CalibrationAborted, calibrate
    from ..services.guided_calibration import guided_calibrate
    from .errors import CommandFailed

    def ask(prompt: str) -> str:
        line = sys.stdin.readline()
        if not line:
            raise CalibrationAborted("input ended; nothing saved")
        sys.stdout.write(prompt + line)
        return line

    def ask_terminal(prompt: str) -> str:
        try:
            return input(prompt)
        except EOFError:  # Ctrl-D
            raise CalibrationAborted("input ended; nothing saved")

    config = load_config_from(args, must_exist=False)  # the file calibration writes may not exist yet
    answer = ask if not sys.stdin.isatty() else ask_terminal
    if args.pulses_only:
        calibrate(config, ask=answer, throttle=not args.steering_only)
        return 0
    result = guided_calibrate(config, ask=answer, throttle=not args.steering_only)
    if not result["confirmed"]:
        raise CommandFailed("the test pattern was not confirmed; every confirmed step is saved in %s: run jetracer "
                            "calibrate again to redo a step (Enter keeps a saved value)" % result["path"])
    return 0
