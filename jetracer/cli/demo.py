"""``jetracer demo``: collect in the simulator, train, optimize, drive laps, stop for a box on the road, print
the metrics."""
import argparse
import json
import logging
from typing import Any

from .options import IMAGE_SIDE, SEED, add_device_option, checked_device, integer


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="the whole workflow in the simulator: collect, train, optimize, drive",
                              description=__doc__)
    p.add_argument("--out", default="runs/demo", help="folder for the dataset, model, plot and video (default runs/demo)")
    p.add_argument("--track", default="twisty", help="built-in track to drive (oval, twisty, narrow; default twisty)")
    p.add_argument("--laps", type=integer(1, 100), default=3,
                   help="laps of the built-in track, on the clean look and in a randomised world (default 3)")
    add_device_option(p)
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 600 frames, 3 epochs, about a minute on 2 cores (not a good driver)")
    p.add_argument("--seed", type=SEED, default=0,
                   help="seed of the collection, the training and the randomised world (default 0)")
    p.add_argument("--frames", type=integer(10, 1000000), help="override the preset's number of training frames")
    p.add_argument("--epochs", type=integer(1, 1000), help="override the preset's epochs")
    p.add_argument("--input-size", type=IMAGE_SIDE, help="override the preset's model input size (16-1024)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..apps.demo import run_demo
    from ..sim.tracks_builtin import load_track

    load_track(args.track)  # an unknown track is refused now, not after collecting and training
    checked_device(args)  # so is a GPU this machine does not have
    if not getattr(args, "verbose", False):  # the demo says each step and epoch once; the trainer's log would repeat it
        logging.getLogger("jetracer.learning").setLevel(logging.WARNING)

    overrides = dict((k, v) for k, v in (("frames", args.frames), ("epochs", args.epochs),
                                          ("input_size", args.input_size)) if v is not None)
    report = run_demo(out_dir=args.out, track=args.track, laps=args.laps, device=args.device, quick=args.quick,
                      seed=args.seed, overrides=overrides)
    print(json.dumps(report["metrics"]))
    print("model:      %s (%s)" % (report["model"], report["backend"]))
    print("trajectory: %s" % report["trajectory_png"])
    print("video:      %s" % report["video"])
    print("loss plot:  %s" % report["loss_plot"])
    print("obstacle:   %s" % report["obstacle"]["summary"])
    print("            %s" % report["obstacle"]["video"])
    print("report:     %s" % (args.out.rstrip("/") + "/report.json"))
    for note in report["notes"]:
        print("note: " + note)
    return 0 if report["metrics"]["laps_completed"] >= args.laps else 1
