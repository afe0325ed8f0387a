"""``jetracer display``: show IP address, load, memory and drive state on the car's OLED."""
import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("display", help="run the OLED status display (JETRACER_I2C=emulated without a car)",
                                   description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("--once", action="store_true", help="draw one frame and exit")
    parser.add_argument("--height", type=int, choices=(32, 64), default=None, help="panel height in pixels (default: config display.height or 32)")
    parser.add_argument("--iterations", type=int, default=None, help="refresh this many times, then exit")
    parser.add_argument("--refresh-s", type=float, default=1.0, help="seconds between refreshes (default 1)")
    parser.add_argument("--save-png", metavar="PATH", default=None, help="also write each frame shown to this PNG")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..display.service import run_display

    iterations = 1 if args.once else args.iterations
    try:
        counts = run_display(load_config(), refresh_s=args.refresh_s, iterations=iterations,
                             save_png=args.save_png, height=args.height)
    except KeyboardInterrupt:
        return 0
    if iterations is not None and counts["frames"] == 0:
        print("the OLED showed no frame (%d faults; see the log above)" % counts["faults"])
        return 1
    return 0
