"""``jetracer eval --model M DATASET... [--json] [--plot PNG]``: how well a model predicts labelled frames.

Any model file ``load_pilot`` loads, on any dataset in the upstream layout (see jetracer.learning.evaluate):
road frames on the road outputs; obstacle frames (``<dataset>/blocked``, ``<dataset>/free``) on the model's
obstacle output, or on upstream JetBot's collision model with ``--stop-model`` (``--json``: key ``blocked``).
"""
import argparse
import json
import logging
from typing import Any

from .errors import UsageError
from .options import (add_device_option, add_json_option, add_threads_option, checked_device, number, output_file,
                      set_torch_threads)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="metrics of a model on labelled frames (r, |error|, sign of x)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="+", help="labelled dataset folder(s): <dataset>/<category>/<u>_<v>_<id>.jpg, "
                                                   "and obstacle frames in <dataset>/blocked/ and <dataset>/free/")
    parser.add_argument("--model", default=None,
                        help="model file: checkpoint, upstream state dict, .onnx, *_trt.pth (needed unless --stop-model)")
    parser.add_argument("--stop-model", default=None, metavar="PTH",
                        help="judge obstacle frames on upstream JetBot's collision model (best_model.pth: alexnet or "
                             "resnet18, 2 classes) instead of the model's obstacle output")
    parser.add_argument("--threshold", type=number(0.0, 1.0), default=None,
                        help="operating threshold of the blocked probability for accuracy, precision and recall "
                             "(default: the drive's default, drive.obstacle.threshold)")
    add_device_option(parser)
    add_json_option(parser, "the result (with per-frame predictions)")
    parser.add_argument("--plot", type=output_file(what="PNG file", make_folder=True), default=None, metavar="PNG",
                        help="write predicted against labelled x as a PNG")
    add_threads_option(parser, "torch")
    parser.add_argument("--sign-threshold", type=number(0.0, 1.0), default=0.2,
                        help="sign agreement counts frames with |label x| above this (default 0.2)")
    parser.set_defaults(func=run)


def _default_threshold() -> float:
    from jetracer.config_schema import default_settings
    return default_settings("drive").obstacle.threshold


def run(args: argparse.Namespace) -> int:
    from jetracer.learning.evaluate import evaluate_model, plot_predictions

    if args.model is None and args.stop_model is None:
        raise UsageError("give the model to evaluate: --model PATH (or --stop-model PTH for upstream's collision model)")
    device = checked_device(args)
    logging.getLogger("jetracer.dataset").setLevel(logging.ERROR)  # skipped files are counted instead
    set_torch_threads(args)
    result = evaluate_model(args.model, args.dataset, device=None if device == "auto" else device,
                            sign_threshold=args.sign_threshold, stop_model=args.stop_model,
                            threshold=_default_threshold() if args.threshold is None else args.threshold)
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
