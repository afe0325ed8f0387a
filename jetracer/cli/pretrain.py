"""``jetracer pretrain --out FILE [--preset cpu|gpu|quick]``: train the starter model in the simulator.

Collects randomised simulator frames, trains on the best device, drives unseen simulator tracks with
the result and prints what it trained and how well it does (see jetracer.apps.pretrain). Then
fine-tune it on your own track: ``jetracer train YOUR_FRAMES --init FILE --out my_model.pth``.
"""
import argparse
import contextlib
import json
import sys
from typing import Any

from .options import (ARCHS, IMAGE_SIDE, PRETRAIN_PRESETS, SEED, add_device_option, add_json_option, add_threads_option,
                      checked_device, integer)
from .train import ranged_option


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("pretrain", help="train the starter model on randomised simulator frames",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="starter checkpoint to write")
    parser.add_argument("--force", action="store_true", help="replace an existing OUT when training finishes (the old "
                        "one is kept as OUT.prev)")
    parser.add_argument("--preset", choices=PRETRAIN_PRESETS, default=None, metavar="PRESET",
                        help="%(choices)s; gpu: resnet18 at 224x224 on 40,000 frames; cpu: 12-21 minutes on 2 cores; "
                        "quick: a smoke run (default: gpu when CUDA is present, else cpu)")
    add_device_option(parser)
    parser.add_argument("--data", default=None, help="folder for the collected frames (default OUT_data; removed at "
                        "the end unless --keep-data)")
    parser.add_argument("--keep-data", action="store_true", help="keep the collected frames")
    parser.add_argument("--processes", type=integer(1, 256), default=None,
                        help="collection processes (default: one per core beyond the first two)")
    add_threads_option(parser, "torch")
    parser.add_argument("--seed", type=SEED, default=0, help="seed of collection, split and training (default 0)")
    parser.add_argument("--frames", type=integer(1, 10000000), default=None, help="override the preset's number of frames")
    parser.add_argument("--epochs", type=integer(1, 100000), default=None, help="override the preset's epochs")
    parser.add_argument("--input-size", type=IMAGE_SIDE, default=None, help="override the preset's input size (N for NxN)")
    parser.add_argument("--arch", choices=ARCHS, default=None, metavar="ARCH",
                        help="override the preset's backbone (%(choices)s)")
    parser.add_argument("--obstacles", type=integer(0, 64), default=None, metavar="N",
                        help="override the preset's obstacles per episode of the blocked/free frames collected beside the road (8; 0: a road-only "
                             "starter without an obstacle output)")
    parser.add_argument("--obstacle-weight", type=ranged_option("obstacle_weight"), default=None, metavar="W",
                        help="override the preset's weight of the obstacle terms of the loss next to the road's (0.1 "
                             "in every preset; train's default is 1)")
    parser.add_argument("--randconv", type=ranged_option("randconv"), default=None, metavar="P",
                        help="override the preset's share of training images restyled by a random convolution "
                             "(RandConv; gpu 0.5, cpu and quick 0)")
    parser.add_argument("--eval", nargs="+", default=None, metavar="DATASET",
                        help="labelled real frames to report `jetracer eval` figures on at the end (road frames, "
                             "and blocked/free folders for the obstacle output)")
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jetracer.apps.pretrain import format_report, pretrain
    from jetracer.learning.train import check_output
    check_output(args.out, overwrite=args.force)  # before minutes of collection
    checked_device(args)
    overrides = {k: v for k, v in (("frames", args.frames), ("epochs", args.epochs),
                                   ("input_size", args.input_size), ("obstacles", args.obstacles),
                                   ("arch", args.arch), ("obstacle_weight", args.obstacle_weight),
                                   ("randconv", args.randconv)) if v is not None}
    say = (lambda s: None) if args.json else print
    # with --json stdout is the report alone: torchvision prints its weight-download attempts there
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.suppress():
        report = pretrain(args.out, preset=args.preset, device=args.device, data_dir=args.data, seed=args.seed,
                          processes=args.processes, threads=args.threads, eval_datasets=args.eval,
                          keep_data=args.keep_data, say=say, overrides=overrides)
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0
