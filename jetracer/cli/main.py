"""``jetracer <verb>``: one module per verb in this package, each a thin layer over a library function.

Each verb module defines ``add_parser(subparsers)`` and ``run(args) -> int``; heavy imports happen
inside ``run`` so ``jetracer --help`` stays fast on a Jetson Nano.
"""
import argparse
import importlib
import logging
import sys
from typing import List, Optional

VERBS = ["demo", "sim", "dataset", "pretrain", "train", "eval", "optimize", "bench", "drive", "display", "calibrate", "service", "emulator"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jetracer", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb in VERBS:
        try:
            module = importlib.import_module("jetracer.cli." + verb)
        except ImportError as e:
            if getattr(e, "name", None) != "jetracer.cli." + verb:
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        sys.exit(2)
    sys.exit(args.func(args) or 0)
