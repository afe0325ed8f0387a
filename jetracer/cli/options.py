"""The CLI's one vocabulary: option types and the options every verb shares, each defined once.

* Numbers are range-checked when the command line is parsed: ``type=number(1, 240)`` refuses ``nan``,
  ``inf`` and anything outside the range with a message naming the range, so no verb hangs on
  ``--fps 1e9`` or allocates without bound on ``--size 100000 100000``.
* Shared options: ``--device`` (:func:`add_device_option`: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, checked
  against the machine by :func:`checked_device`), ``--json`` (:func:`add_json_option`), ``--profile``
  (:func:`add_profile_option`), ``--threads`` (:func:`add_threads_option`, its help says what it sets),
  ``--config`` (:func:`add_config_option`); output files and folders (:func:`output_file`,
  :func:`output_folder`) are refused where they cannot be written before any work starts.
* Choices come from the code that acts on them (:class:`Vocabulary`: the schema's drive modes and display
  heights, the model registry's architectures, optimize's backends and precisions, pretrain's presets),
  read when first needed, so ``jetracer --help`` imports none of it.

argparse turns a refusal into the one-line usage error of :class:`jetracer.cli.main.Parser` (exit 2).
"""
import argparse
import math
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

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


def from_schema(section: str, key: str) -> Callable[[str], Any]:
    """An argparse ``type`` with the range of the config schema's ``section.key`` (:func:`number`), read when
    first used, so the command line and the config file accept the same values."""
    parsers = []  # type: List[Callable[[str], Any]]

    def parse(text: str) -> Any:
        if not parsers:
            from ..config_schema import field_at
            field = field_at((section, key))
            parsers.append(number(field.lo, field.hi, integer=field.kind is int))
        return parsers[0](text)

    parse.__name__ = "number"
    return parse


SEED = integer(0, MAX_SEED)
PORT = integer(1, 65535)
THREADS = integer(1, 256)
IMAGE_SIDE = from_schema("camera", "width")     # the camera's width/height range, as the config and profile take it
FPS = from_schema("sim", "fps")


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




def config_with_profile(args: argparse.Namespace) -> Any:
    """:func:`load_config_from` with ``--profile`` (when given) in place of the configured car profile."""
    return load_config_from(args).with_overrides(source="--profile", profile=args.profile)


def check_tracks(names: List[Any]) -> None:
    """Refuse an unknown track name before anything is written (a later track must not fail half-way)."""
    from ..sim.tracks_builtin import load_track

    for name in names:
        if isinstance(name, str):
            load_track(name)


# -- choices read from the code that acts on them ----------------------------------------------------

class Vocabulary(object):
    """argparse ``choices`` loaded from the library when first needed (a value to check, a help page), so
    building the parser imports nothing; pass a ``metavar`` with it, or argparse lists the choices at once."""

    def __init__(self, load: Callable[[], Iterable[Any]]) -> None:
        self._load = load
        self._values = None  # type: Optional[Tuple[Any, ...]]

    @property
    def values(self) -> Tuple[Any, ...]:
        if self._values is None:
            self._values = tuple(self._load())
        return self._values

    def __contains__(self, value: Any) -> bool:
        return value in self.values

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int) -> Any:
        return self.values[index]


def _schema_choices(section: str, key: str) -> Tuple[Any, ...]:
    from ..config_schema import field_at
    return tuple(field_at((section, key)).choices)


def _archs() -> List[str]:
    from ..pilot.model import ARCHS
    return sorted(ARCHS)


def _backends() -> Sequence[str]:
    from ..learning.optimize import BACKENDS
    return BACKENDS


def _precisions() -> List[str]:
    from ..learning.optimize import SUPPORTED
    order = ["fp32", "fp16", "int8"]
    found = set(p for precisions in SUPPORTED.values() for p in precisions)
    return [p for p in order if p in found] + sorted(found - set(order))


def _pretrain_presets() -> List[str]:
    from ..apps.pretrain import PRESETS
    return sorted(PRESETS)


DRIVE_MODES = Vocabulary(lambda: _schema_choices("drive", "mode"))
DISPLAY_HEIGHTS = Vocabulary(lambda: _schema_choices("display", "height"))
ARCHS = Vocabulary(_archs)
OPTIMIZE_BACKENDS = Vocabulary(_backends)
OPTIMIZE_PRECISIONS = Vocabulary(_precisions)
PRETRAIN_PRESETS = Vocabulary(_pretrain_presets)


# -- options every verb shares -----------------------------------------------------------------------

def device_name(text: str) -> str:
    """An argparse ``type``: a device of :data:`jetracer.compute.DEVICE_FORMS` (whether this machine has it is
    :func:`checked_device`'s question, asked when the verb runs)."""
    from ..compute import DeviceError, parse_device
    try:
        return parse_device(text)
    except DeviceError as e:
        raise argparse.ArgumentTypeError(str(e))


device_name.__name__ = "device"


def add_device_option(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    """``--device auto|cpu|cuda|cuda:N``: what the model runs on, one meaning in every verb."""
    parser.add_argument("--device", type=device_name, default=default, metavar="DEVICE",
                        help="auto, cpu, cuda or cuda:N (default %s; auto: CUDA when this machine has a GPU, "
                             "else the CPU)" % default)


def checked_device(args: argparse.Namespace, resolve: bool = False) -> Optional[str]:
    """``args.device`` once this machine has it, else the one-line DeviceError (exit 2). ``auto`` stays ``auto``,
    or with ``resolve`` becomes ``cuda`` or ``cpu`` (for a library function that takes no ``auto``)."""
    from ..compute import check_device, resolve_device
    return resolve_device(args.device) if resolve else check_device(args.device)


def add_json_option(parser: argparse.ArgumentParser, what: str = "the report") -> None:
    """``--json``: print ``what`` as JSON on stdout instead of the text a person reads."""
    parser.add_argument("--json", action="store_true", help="print %s as JSON instead of text" % what)


def add_profile_option(parser: argparse.ArgumentParser, default: Optional[str] = None) -> None:
    """``--profile NAME|FILE``: the car profile, in place of the configured one (or of ``default``)."""
    parser.add_argument("--profile", default=default, metavar="NAME|FILE",
                        help="car profile: a built-in name or a YAML file (default: %s)"
                             % (default or "the configured one"))


THREADS_SET = {  # what --threads sets, and what is used without it
    "torch": ("torch's CPU threads (torch.set_num_threads)", "torch's choice"),
    "onnxruntime": ("ONNX Runtime's intra-op threads; torch keeps its own", "the physical cores"),
}


def add_threads_option(parser: argparse.ArgumentParser, sets: str, default: Optional[int] = None) -> None:
    """``--threads N``: how many CPU threads the verb computes with; the help says what it sets (``sets``: a key
    of :data:`THREADS_SET`) and the default."""
    what, otherwise = THREADS_SET[sets]
    parser.add_argument("--threads", type=THREADS, default=default, metavar="N",
                        help="CPU threads, 1-256: sets %s (default: %s)" % (what, otherwise if default is None
                                                                           else default))


def set_torch_threads(args: argparse.Namespace) -> None:
    """Apply ``--threads`` to torch for the whole command (evaluation too, not only training)."""
    if getattr(args, "threads", None):
        import torch
        torch.set_num_threads(args.threads)


def output_file(suffixes: Sequence[str] = (), what: str = "file", default_name: Optional[str] = None,
                make_folder: bool = False) -> Callable[[str], str]:
    """An argparse ``type`` for a file the verb writes: refused while parsing when it is a folder (or, with
    ``default_name``, that file in the folder), lacks one of ``suffixes``, or sits where nothing can be written
    (see :func:`jetracer.atomic.check_output_file`; ``make_folder``: the verb's writer makes missing folders)."""

    def parse(text: str) -> str:
        from ..atomic import OutputFileError, check_output_file
        try:
            return check_output_file(text, suffixes=suffixes, what=what, default_name=default_name,
                                     make_folder=make_folder)
        except OutputFileError as e:
            raise argparse.ArgumentTypeError(str(e))

    parse.__name__ = "output file"
    return parse


def output_folder(what: str) -> Callable[[str], str]:
    """An argparse ``type`` for a folder the verb writes ``what`` into: refused when a file holds the name."""

    def parse(text: str) -> str:
        import os
        if os.path.exists(text) and not os.path.isdir(text):
            raise argparse.ArgumentTypeError("%s is a file; name a folder for %s" % (text, what))
        return text

    parse.__name__ = "output folder"
    return parse


__all__ = ["ARCHS", "DISPLAY_HEIGHTS", "DRIVE_MODES", "IMAGE_SIDE", "MAX_SEED", "OPTIMIZE_BACKENDS",
           "OPTIMIZE_PRECISIONS", "PORT", "PRETRAIN_PRESETS", "SEED", "THREADS", "Vocabulary", "add_config_option",
           "add_device_option", "add_json_option", "add_profile_option", "add_threads_option", "checked_device",
           "device_name", "from_schema", "integer", "load_config_from", "number", "output_file", "output_folder",
           "set_torch_threads", "track_seeds"]
