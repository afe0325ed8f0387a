"""``jetracer <verb>``: one module per verb in this package, each a thin layer over a library function.

Each verb module defines ``add_parser(subparsers)`` and ``run(args) -> int``; heavy imports happen
inside ``run`` so ``jetracer --help`` stays fast on a Jetson Nano.

Errors take one path (:func:`run_verb`): a verb raises, and a user error (a typed error of the
library or :mod:`jetracer.cli.errors`) becomes one line on stderr, ``jetracer <verb>: <problem and
fix>``, with exit code 2 for bad usage and 1 for a failure; a bad option is the same one line from
the parser. Anything else is a bug: one line saying so, and the traceback with ``jetracer -v``.
"""
import argparse
import importlib
import logging
import os
import sys
import traceback
from typing import Any, Callable, List, Optional

from .errors import USAGE, exit_code, one_line

VERBS = ["demo", "sim", "dataset", "pretrain", "train", "eval", "optimize", "export", "bench", "drive", "arm", "disarm", "display", "calibrate", "doctor",
         "service", "emulator"]

logger = logging.getLogger(__name__)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit 2), like every other CLI error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write("%s: %s (see %s --help)\n" % (self.prog, " ".join(message.split()), self.prog))
        sys.exit(USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="jetracer", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages; show a bug's traceback")
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


def command_name(args: argparse.Namespace) -> str:
    """``jetracer sim drive`` for the verb and sub-verb that ``args`` holds."""
    words = [getattr(args, key, None) for key in ("verb", "sim_verb", "dataset_verb", "bench_verb")]
    return " ".join(["jetracer"] + [w for w in words if w])


def run_verb(func: Callable[[argparse.Namespace], Any], args: argparse.Namespace, verbose: bool = False) -> int:
    """Run a verb and turn what it raises into one line and an exit code (see the module docstring)."""
    name = command_name(args)
    try:
        return int(func(args) or 0)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - this is the CLI's one error path
        code = exit_code(e)
        if code is None:
            if verbose:
                traceback.print_exc()
            print("%s: internal error (%s: %s); this is a bug: %s" % (
                name, type(e).__name__, one_line(e),
                "please report it with the traceback above" if verbose else
                "run it again with `jetracer -v` to see the traceback, and report it"), file=sys.stderr)
            return 1
        if verbose:
            logger.debug("%s failed", name, exc_info=True)
        print("%s: %s" % (name, one_line(e)), file=sys.stderr)
        return code


def main(argv: Optional[List[str]] = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):  # a bare `jetracer`: usage, like any other mistake, on stderr
        parser.print_help(sys.stderr)
        sys.exit(USAGE)
    before = _abandoned_self_checks()
    code = run_verb(args.func, args, verbose=args.verbose)
    end_now_if_a_model_still_runs(code, before)
    sys.exit(code)


def _abandoned_self_checks() -> int:
    failsafe = sys.modules.get("jetracer.driving.failsafe")
    return failsafe.abandoned_self_checks() if failsafe is not None else 0


def end_now_if_a_model_still_runs(code: int, before: int = 0) -> None:
    """Exit at once when a model this command refused still computes on a self-check worker (the car is
    already stopped): a normal interpreter shutdown would abort inside the model's runtime. Workers left
    by earlier calls in the same interpreter (a test run, a notebook) are not this command's."""
    if _abandoned_self_checks() > before:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
