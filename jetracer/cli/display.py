"""``jetracer display``: show IP address, load, memory and drive state on the car's OLED."""
import argparse
from typing import Any

from .errors import CommandFailed
from .options import DISPLAY_HEIGHTS, add_config_option, integer, load_config_from, number, output_file

PNG_NAME = "oled.png"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("display", help="run the OLED status display (JETRACER_I2C=emulated without a car)",
                                   description=__doc__.splitlines()[0].replace("``", ""))
    add_config_option(parser)
    parser.add_argument("--once", action="store_true", help="draw one frame and exit")
    parser.add_argument("--height", type=int, choices=DISPLAY_HEIGHTS, default=None, metavar="PIXELS",
                        help="panel height in pixels, %(choices)s (default: config display.height or 32)")
    parser.add_argument("--iterations", type=integer(1, 10 ** 9), default=None, help="refresh this many times, then exit")
    parser.add_argument("--refresh-s", type=number(0.05, 3600.0), default=1.0, help="seconds between refreshes (default 1)")
    parser.add_argument("--save-png", metavar="PATH", default=None,
                        type=output_file((".png",), what="PNG file", default_name=PNG_NAME),
                        help="also write each frame shown to this PNG file (a folder: PATH/%s)" % PNG_NAME)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..display.service import run_display

    save_png = args.save_png  # the file named, or oled.png in the folder named (checked while parsing)
    config = load_config_from(args)
    iterations = 1 if args.once else args.iterations
    try:
        counts = run_display(config, refresh_s=args.refresh_s, iterations=iterations, save_png=save_png,
                             height=args.height)
    except KeyboardInterrupt:
        return 0
    if iterations is not None and counts["frames"] == 0:
        raise CommandFailed("the OLED showed no frame (%d faults; see the log above): check the cable, the I2C "
                            "address (display.i2c_address) and the bus (i2c_bus), or use JETRACER_I2C=emulated"
                            % counts["faults"])
    if save_png:
        print("wrote %s" % save_png)
    return 0
