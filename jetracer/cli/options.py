"""Option types for the verbs: every number is range-checked when the command line is parsed.

``type=number(1, 240)`` refuses ``nan``, ``inf`` and anything outside the range with a message naming
the range, so no verb hangs on ``--fps 1e9`` or allocates without bound on ``--size 100000 100000``;
argparse turns the message into the one-line usage error of :class:`jetracer.cli.main.Parser`.
"""
import argparse
import math
from typing import Any, Callable, List, Optional

MAX_SEED = 2 ** 32 - 1
MAX_TRACK_SEEDS = 10000


def _format(value: float) -> str:
    return ("%d" % value) if float(value).is_integer() and abs(value) < 1e15 else ("%g" % value)


def number(lo: float, hi: float, integer: bool = False, open_lo: bool = False) -> Callable[[str], Any]:
    """An argparse ``type``: a finite number (an integer with ``integer``) in [lo, hi] ((lo, hi] with ``open_lo``)."""
    what = "an integer" if integer else "a number"
    bounds = "%s%s, %s]" % ("(" if open_lo else "[", _format(lo), _format(hi))

    def parse(text: str) -> Any:
        try:
            value = int(text, 10) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected %s in %s, got %r" % (what, bounds, text))
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError("expected a finite number in %s, got %r" % (bounds, text))
        if value < lo or value > hi or (open_lo and value == lo):
            raise argparse.ArgumentTypeError("expected %s in %s, got %s" % (what, bounds, text))
        return value

    parse.__name__ = "integer" if integer else "number"
    return parse


def integer(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer in [lo, hi]."""
    return number(lo, hi, integer=True)


SEED = integer(0, MAX_SEED)
PORT = integer(1, 65535)
THREADS = integer(1, 256)
IMAGE_SIDE = integer(16, 1024)     # the car profile's camera width/height range
FPS = number(1.0, 240.0)


def track_seeds(text: str) -> List[int]:
    """``0-49`` or ``1,5,7``: at most :data:`MAX_TRACK_SEEDS` procedural track seeds."""
    seeds = []  # type: List[int]
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise argparse.ArgumentTypeError("expected seeds like 0-49 or 1,5,7, got %r" % text)
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first or last > MAX_SEED:
            raise argparse.ArgumentTypeError("expected ranges low-high with 0 <= low <= high <= %d, got %r"
                                             % (MAX_SEED, part))
        if len(seeds) + last - first + 1 > MAX_TRACK_SEEDS:
            raise argparse.ArgumentTypeError("at most %d track seeds, got %r" % (MAX_TRACK_SEEDS, text))
        seeds.extend(range(first, last + 1))
    if not seeds:
        raise argparse.ArgumentTypeError("expected seeds like 0-49 or 1,5,7, got %r" % text)
    return seeds


def load_config_from(args: argparse.Namespace, **kwargs: Any) -> Any:
    """The configuration a verb runs with: ``--config FILE`` if given, else ``$JETRACER_CONFIG`` or the default."""
    from ..config import load_config

    path = getattr(args, "config", None)  # type: Optional[str]
    return load_config(path, source="--config" if path else None, **kwargs)


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="user config file (default: $JETRACER_CONFIG or ~/.config/jetracer/config.yaml)")


__all__ = ["IMAGE_SIDE", "MAX_SEED", "PORT", "SEED", "THREADS", "add_config_option", "integer",
           "load_config_from", "number", "track_seeds"]


def config_with_profile(args: argparse.Namespace) -> Any:
    """:func:`load_config_from` with ``--profile`` (when given) in place of the configured car profile."""
    return load_config_from(args).with_overrides(source="--profile", profile=args.profile)


def check_tracks(names: List[Any]) -> None:
    """Refuse an unknown track name before anything is written (a later track must not fail half-way)."""
    from ..sim.tracks_builtin import load_track

    for name in names:
        if isinstance(name, str):
            load_track(name)
