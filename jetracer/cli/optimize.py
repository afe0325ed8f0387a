"""``jetracer optimize CKPT``: a faster model file (TensorRT, ONNX Runtime or torch), checked against fp32."""
import argparse
import json
from typing import Any

from .errors import UsageError
from .options import THREADS, number


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "optimize", help="optimize a checkpoint for inference (tensorrt, onnxruntime, torch) with a parity check",
        description="Export CKPT for fast inference and refuse the result if its max |dx| against the fp32 "
                    "checkpoint on held-out frames exceeds --tolerance. Without --backend/--precision the best "
                    "available here is used.")
    p.add_argument("checkpoint", metavar="CKPT", help="jetracer checkpoint or upstream resnet18 state dict (.pth)")
    p.add_argument("--backend", choices=["tensorrt", "onnxruntime", "torch"], help="default: best available here")
    p.add_argument("--precision", choices=["fp32", "fp16", "int8"], help="default: best for the backend")
    p.add_argument("--out", help="output file (default: next to CKPT, e.g. model_int8.onnx, model_fp16_trt.pth)")
    p.add_argument("--calib-dataset", nargs="+", metavar="DIR",
                   help="dataset folders: the checkpoint's test sessions check parity, its training sessions "
                        "calibrate int8 (default: the dataset recorded in the checkpoint)")
    p.add_argument("--tolerance", type=number(0.0, 2.0, open_lo=True), default=0.02,
                   help="largest max |dx| accepted (normalised units, (0, 2])")
    p.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    p.add_argument("--threads", type=THREADS, help="ONNX Runtime intra-op threads (default: physical cores)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from jetracer.learning.optimize import SUPPORTED, best_backend, optimize
    from jetracer.learning.parity import format_parity
    backend, precision = args.backend, args.precision
    if backend is None:
        backend, best_precision = best_backend(args.device)
        precision = precision or best_precision
    elif precision is None:
        precision = "fp16" if "fp16" in SUPPORTED[backend] and (args.device or "") != "cpu" else "fp32"
    try:
        result = optimize(args.checkpoint, backend, precision, out=args.out, calib_dataset=args.calib_dataset,
                          tolerance=args.tolerance, device=args.device, intra_op_threads=args.threads)
    except ValueError as e:  # optimize's plain ValueErrors refuse what was asked (backend/precision/device, no dataset)
        if type(e) is not ValueError:
            raise  # ParityError, CheckpointError...: typed, reported by the CLI's error path
        raise UsageError(str(e))
    if args.json:
        print(json.dumps(result.as_dict(), indent=1, sort_keys=True))
    else:
        print("%s %s: %s" % (backend, precision, format_parity(result.parity)))
        print("frames: %s" % result.note)
        print("wrote %s" % ", ".join(result.files))
    return 0
