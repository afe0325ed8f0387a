"""``jetracer display``: show IP address, load, memory and drive state on the car's OLED."""
import argparse
import os
from typing import Any, Optional

from .errors import CommandFailed, UsageError
from .options import add_config_option, integer, load_config_from, number

PNG_NAME = "oled.png"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("display", help="run the OLED status display (JETRACER_I2C=emulated without a car)",
                                   description=__doc__.splitlines()[0].replace("``", ""))
    add_config_option(parser)
    parser.add_argument("--once", action="store_true", help="draw one frame and exit")
    parser.add_argument("--height", type=int, choices=(32, 64), default=None, help="panel height in pixels (default: config display.height or 32)")
    parser.add_argument("--iterations", type=integer(1, 10 ** 9), default=None, help="refresh this many times, then exit")
    parser.add_argument("--refresh-s", type=number(0.05, 3600.0), default=1.0, help="seconds between refreshes (default 1)")
    parser.add_argument("--save-png", metavar="PATH", default=None,
                        help="also write each frame shown to this PNG file (a folder: PATH/%s)" % PNG_NAME)
    parser.set_defaults(func=run)


def png_path(path: Optional[str]) -> Optional[str]:
    """Where ``--save-png`` writes: the file named, or ``oled.png`` in the folder named; its folder must exist."""
    if not path:
        return None
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        path = os.path.join(path, PNG_NAME)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError("--save-png %s: the folder %s does not exist; create it or name a PNG file in an existing "
                         "folder" % (path, folder))
    if not path.lower().endswith(".png"):
        raise UsageError("--save-png %s: expected a .png file name (or a folder, to write %s in it)" % (path, PNG_NAME))
    if not os.access(folder, os.W_OK):
        raise UsageError("--save-png %s: the folder %s is not writable" % (path, folder))
    return path


def run(args: argparse.Namespace) -> int:
    from ..display.service import run_display

    save_png = png_path(args.save_png)
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
