"""``jetracer optimize CKPT``: a faster model file (TensorRT, ONNX Runtime or torch), checked against fp32."""
import argparse
import json
from typing import Any

from .options import (OPTIMIZE_BACKENDS, OPTIMIZE_PRECISIONS, add_device_option, add_json_option, add_threads_option,
                      number, output_file)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "optimize", help="optimize a checkpoint for inference (tensorrt, onnxruntime, torch) with a parity check",
        description="Export CKPT for fast inference and refuse the result if its max |dx| against the fp32 "
                    "checkpoint on held-out frames exceeds --tolerance. Without --backend/--precision the best "
                    "available here is used.")
    p.add_argument("checkpoint", metavar="CKPT", help="jetracer checkpoint or upstream resnet18 state dict (.pth)")
    p.add_argument("--backend", choices=OPTIMIZE_BACKENDS, metavar="BACKEND",
                   help="%(choices)s (default: the best available here)")
    p.add_argument("--precision", choices=OPTIMIZE_PRECISIONS, metavar="PRECISION",
                   help="%(choices)s (default: the best for the backend)")
    p.add_argument("--out", type=output_file(what="model file", make_folder=True),
                   help="output file (default: next to CKPT, e.g. model_int8.onnx, model_fp16_trt.pth)")
    p.add_argument("--calib-dataset", nargs="+", metavar="DIR",
                   help="dataset folders: the checkpoint's test sessions check parity, its training sessions "
                        "calibrate int8 (default: the dataset recorded in the checkpoint)")
    p.add_argument("--tolerance", type=number(0.0, 2.0, open_lo=True), default=0.02,
                   help="largest max |dx| accepted (normalised units, (0, 2])")
    add_device_option(p)
    add_threads_option(p, "onnxruntime")
    add_json_option(p, "the result")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from jetracer.learning.optimize import SUPPORTED, best_backend, optimize
    from jetracer.learning.parity import format_parity
    backend, precision = args.backend, args.precision
    device = None if args.device == "auto" else args.device  # optimize's default: CUDA when there is a GPU
    if backend is None:
        backend, best_precision = best_backend(device)
        precision = precision or best_precision
    elif precision is None:
        precision = "fp16" if "fp16" in SUPPORTED[backend] and (device or "") != "cpu" else "fp32"
    result = optimize(args.checkpoint, backend, precision, out=args.out, calib_dataset=args.calib_dataset,
                      tolerance=args.tolerance, device=device, intra_op_threads=args.threads)
    if args.json:
        print(json.dumps(result.as_dict(), indent=1, sort_keys=True))
    else:
        print("%s %s: %s" % (backend, precision, format_parity(result.parity)))
        print("frames: %s" % result.note)
        print("wrote %s" % ", ".join(result.files))
    return 0
