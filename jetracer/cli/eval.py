"""``jetracer eval --model M DATASET... [--json] [--plot PNG]``: how well a model predicts labelled frames.

Any model file ``load_pilot`` loads, on any dataset in the upstream layout (see jetracer.learning.evaluate).
"""
import argparse
import json
import logging
from typing import Any

from .options import (add_device_option, add_json_option, add_threads_option, checked_device, number, output_file,
                      set_torch_threads)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="metrics of a model on labelled frames (r, |error|, sign of x)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="+", help="labelled dataset folder(s): <dataset>/<category>/<u>_<v>_<id>.jpg")
    parser.add_argument("--model", required=True, help="model file: checkpoint, upstream state dict, .onnx, *_trt.pth")
    add_device_option(parser)
    add_json_option(parser, "the result (with per-frame predictions)")
    parser.add_argument("--plot", type=output_file(what="PNG file", make_folder=True), default=None, metavar="PNG",
                        help="write predicted against labelled x as a PNG")
    add_threads_option(parser, "torch")
    parser.add_argument("--sign-threshold", type=number(0.0, 1.0), default=0.2,
                        help="sign agreement counts frames with |label x| above this (default 0.2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jetracer.learning.evaluate import evaluate_model, plot_predictions

    device = checked_device(args)
    logging.getLogger("jetracer.dataset").setLevel(logging.ERROR)  # skipped files are counted instead
    set_torch_threads(args)
    result = evaluate_model(args.model, args.dataset, device=None if device == "auto" else device,
                            sign_threshold=args.sign_threshold)
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
