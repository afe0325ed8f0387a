"""``jetracer eval --model M DATASET... [--json] [--plot PNG]``: how well a model predicts labelled frames.

Any model file ``load_pilot`` loads, on any dataset in the upstream layout (see jetracer.learning.evaluate).
"""
import argparse
import json
import logging
import os
from typing import Any

from .errors import UsageError
from .options import THREADS, number


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="metrics of a model on labelled frames (r, |error|, sign of x)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="+", help="labelled dataset folder(s): <dataset>/<category>/<u>_<v>_<id>.jpg")
    parser.add_argument("--model", required=True, help="model file: checkpoint, upstream state dict, .onnx, *_trt.pth")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (with per-frame predictions)")
    parser.add_argument("--plot", default=None, metavar="PNG", help="write predicted against labelled x as a PNG")
    parser.add_argument("--threads", type=THREADS, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--sign-threshold", type=number(0.0, 1.0), default=0.2,
                        help="sign agreement counts frames with |label x| above this (default 0.2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jetracer.learning.evaluate import evaluate_model, plot_predictions

    if args.plot and os.path.isdir(args.plot):
        raise UsageError("--plot %s is a folder; name a .png file" % args.plot)
    logging.getLogger("jetracer.dataset").setLevel(logging.ERROR)  # skipped files are counted instead
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    result = evaluate_model(args.model, args.dataset, device=args.device, sign_threshold=args.sign_threshold)
    if args.plot:
        result["plot"] = plot_predictions(result, args.plot)
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
    else:
        from jetracer.learning.evaluate import format_result
        print(format_result(result))
        if args.plot:
            print("plot: %s" % result["plot"])
    return 0
