"""``jetracer bench``: preprocessing + inference latency of every backend next to upstream's path."""
import argparse
import json
import sys
from typing import Any

from .errors import UsageError
from .options import IMAGE_SIDE, THREADS, integer


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "bench", help="latency (p50/p99) of each inference backend vs upstream's preprocessing + eager fp32",
        description="Time batch-1 preprocessing + inference for every backend and precision available on the "
                    "device, next to upstream's PIL to_tensor + eager fp32 path measured in the same run.")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--runs", type=integer(1, 100000), default=100, help="timed calls per backend (1-100000)")
    p.add_argument("--warmup", type=integer(0, 10000), default=20, help="untimed calls before timing")
    p.add_argument("--input-size", type=IMAGE_SIDE, default=224, help="model input (square, 16-1024), when no checkpoint")
    p.add_argument("--arch", default="resnet18", help="model (random weights) when no checkpoint")
    p.add_argument("--checkpoint", help="time this checkpoint instead of a random model")
    p.add_argument("--threads", type=THREADS, help="ONNX Runtime intra-op threads (default: physical cores)")
    p.add_argument("--only", nargs="+", metavar="KEY", help="measure only these, e.g. onnxruntime-int8")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from jetracer.learning.bench import format_report, run_bench
    try:
        report = run_bench(device=args.device, runs=args.runs, warmup=args.warmup, input_size=args.input_size,
                           arch=args.arch, checkpoint=args.checkpoint, threads=args.threads, only=args.only)
    except ValueError as e:  # run_bench's refusals of what was asked (no GPU, an unknown --only key)
        raise UsageError(str(e))
    print(json.dumps(report, indent=1, sort_keys=True) if args.json else format_report(report))
    if report["failed"]:
        print("jetracer bench: %d backend(s) failed: %s" % (len(report["failed"]), ", ".join(sorted(report["failed"]))),
              file=sys.stderr)
        return 1
    return 0
