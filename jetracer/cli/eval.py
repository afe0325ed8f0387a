"""``jetracer eval --model M DATASET... [--json] [--plot PNG]``: how well a model predicts labelled frames.

Any model file ``load_pilot`` loads, on any dataset in the upstream layout (see jetracer.learning.evaluate).
"""
import argparse
import json
import logging
from typing import Any

logger = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="metrics of a model on labelled frames (r, |error|, sign of x)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="+", help="labelled dataset folder(s): <dataset>/<category>/<u>_<v>_<id>.jpg")
    parser.add_argument("--model", required=True, help="model file: checkpoint, upstream state dict, .onnx, *_trt.pth")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (with per-frame predictions)")
    parser.add_argument("--plot", default=None, metavar="PNG", help="write predicted against labelled x as a PNG")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--sign-threshold", type=float, default=0.2,
                        help="sign agreement counts frames with |label x| above this (default 0.2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jetracer.learning.evaluate import EvalError, evaluate_model, format_result, plot_predictions
    from jetracer.learning.pilot import MissingBackendError, PilotLoadError

    logging.getLogger("jetracer.learning.dataset").setLevel(logging.ERROR)  # skipped files are counted instead
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    try:
        result = evaluate_model(args.model, args.dataset, device=args.device, sign_threshold=args.sign_threshold)
        if args.plot:
            result["plot"] = plot_predictions(result, args.plot)
    except (FileNotFoundError, PilotLoadError, MissingBackendError, EvalError, ValueError) as e:
        logger.error("%s", e)
        return 2
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
    else:
        print(format_result(result))
        if args.plot:
            print("plot: %s" % result["plot"])
    return 0
