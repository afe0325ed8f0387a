"""``jetracer dataset info DIR... [--json]``: what a road-following dataset holds and which files are bad."""
import argparse
import json
import logging
from typing import Any, Dict

from .errors import UsageError
from .options import add_json_option, integer


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("dataset", help="inspect road-following datasets",
                                   description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="dataset_verb", metavar="COMMAND")
    info = verbs.add_parser("info", help="counts per category and session, label histogram, problem files")
    info.add_argument("dirs", nargs="+", help="dataset folder(s) in the upstream layout <dataset>/<category>/<u>_<v>_<id>.jpg")
    add_json_option(info, "the summary")
    info.add_argument("--bins", type=integer(1, 1000), default=10, help="histogram bins over [-1, 1], 1-1000 (default 10)")
    info.set_defaults(func=run)
    parser.set_defaults(func=run_bare)


def run_bare(args: argparse.Namespace) -> int:
    raise UsageError("name a command: jetracer dataset info")


def _bar(counts: Any, edges: Any) -> str:
    top = max(max(counts), 1)
    return "\n".join("  [%+.1f, %+.1f) %5d %s" % (edges[i], edges[i + 1], c, "#" * int(round(30.0 * c / top)))
                     for i, c in enumerate(counts))


def format_summary(summary: Dict[str, Any]) -> str:
    lines = ["%d labelled images" % summary["images"], "categories:"]
    lines += ["  %-20s %d" % (c, n) for c, n in sorted(summary["categories"].items())]
    lines.append("sessions (%d):" % len(summary["sessions"]))
    lines += ["  %-40s %d" % (s, n) for s, n in sorted(summary["sessions"].items())]
    edges = summary["histogram"]["edges"]
    lines += ["x (steering, -1 left .. +1 right):", _bar(summary["histogram"]["x"], edges),
              "y (-1 top .. +1 bottom):", _bar(summary["histogram"]["y"], edges)]
    if "obstacles" in summary:
        o = summary["obstacles"]
        lines.append("obstacle labels: %d blocked, %d free (%d with a distance)" % (o["blocked"], o["free"],
                                                                                    o["with_distance"]))
    lines.append("skipped (%d; files left untouched):" % len(summary["problems"]))
    lines += ["  %s: %s" % (p["path"], p["reason"]) for p in summary["problems"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from jetracer.dataset import scan_dataset, summarize
    logging.getLogger("jetracer.dataset").setLevel(logging.ERROR)  # problems are printed below
    summary = summarize(scan_dataset(args.dirs, obstacles=True), bins=args.bins)
    print(json.dumps(summary, indent=2, sort_keys=True) if args.json else format_summary(summary))
    return 0
