"""``jetracer bench <what>``: every benchmark, behind the CLI's one error path.

* ``inference``: preprocessing + inference latency of every backend next to upstream's path;
* ``hardware``: one car command through the real Adafruit stack on the emulated bus;
* ``loop``: the drive loop's own overhead per frame, beyond capture and inference;
* ``safety``: wall-clock time from each failure to the throttle at neutral, on the wire;
* ``heartbeat``: the browser heartbeat's echo age through a real Jupyter kernel;
* ``sim``: simulator frames/s and steps/s on one core (also ``jetracer sim bench``);
* ``transfer``: from the simulator to real frames (also ``jetracer transfer-bench``).

The benchmarks live in :mod:`jetracer.apps.bench`, one module each; this module holds their options.
"""
import argparse
import contextlib
import json
import logging
import os
import sys
from typing import Any, Dict, List, Tuple

from .errors import UsageError
from .options import (ARCHS, FPS, IMAGE_SIDE, THREADS, add_config_option, add_device_option, add_json_option,
                      add_profile_option, add_threads_option, check_tracks, checked_device, config_with_profile, integer,
                      number)

BENCHES = ("inference", "hardware", "loop", "safety", "heartbeat", "sim", "transfer")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("bench", help="benchmarks: %s" % ", ".join(BENCHES),
                              description=__doc__.splitlines()[0])
    verbs = p.add_subparsers(dest="bench_verb", metavar="BENCH")
    add_inference_options(verbs.add_parser(
        "inference", help="latency (p50/p99) of each inference backend vs upstream's preprocessing + eager fp32",
        description="Time batch-1 preprocessing + inference for every backend and precision available on the "
                    "device, next to upstream's PIL to_tensor + eager fp32 path measured in the same run."))
    add_hardware_options(verbs.add_parser(
        "hardware", help="microseconds and I2C writes per car command on the emulated bus",
        description="How long one car command takes through the real Adafruit stack on the emulated bus, next to "
                    "one channel change written Adafruit's way and ours."))
    add_loop_options(verbs.add_parser(
        "loop", help="the drive loop's overhead per frame (JSON)",
        description="The drive loop's own overhead per frame, beyond capture and inference, on the emulated car."))
    add_safety_options(verbs.add_parser(
        "safety", help="time from each failure to the throttle at neutral, on the wire",
        description="Wall-clock time from a failure to the throttle at neutral, per failure, next to the 100 ms "
                    "promise (a drive process on the emulated car, watched from this one)."))
    add_heartbeat_options(verbs.add_parser(
        "heartbeat", help="the browser heartbeat's echo age through an ipykernel",
        description="How old the browser heartbeat's echo is when the drive loop checks it, through a real "
                    "Jupyter kernel (needs the notebook extras)."))
    add_sim_options(verbs.add_parser("sim", help="render_fps and step_fps on one core (as `jetracer sim bench`)"))
    add_transfer_options(verbs.add_parser(
        "transfer", help="from the simulator to real frames: zero-shot and fine-tuned r(x)",
        description="From the simulator to a real track, measured: a starter model zero-shot and fine-tuned on K "
                    "real frames, against K frames alone."))
    p.set_defaults(func=run_bare)
    add_transfer_options(subparsers.add_parser(
        "transfer-bench", help="the same as `jetracer bench transfer`",
        description="From the simulator to a real track, measured (the same as `jetracer bench transfer`)."))
    return p


def run_bare(args: argparse.Namespace) -> int:
    raise UsageError("name a benchmark: jetracer bench %s" % "|".join(BENCHES))


# -- inference ---------------------------------------------------------------------------------------

def add_inference_options(p: argparse.ArgumentParser) -> None:
    add_device_option(p, default="cpu")
    add_json_option(p)
    p.add_argument("--runs", type=integer(1, 100000), default=100, help="timed calls per backend (1-100000)")
    p.add_argument("--warmup", type=integer(0, 10000), default=20, help="untimed calls before timing")
    p.add_argument("--input-size", type=IMAGE_SIDE, default=224, help="model input (square, 16-1024), when no checkpoint")
    p.add_argument("--arch", choices=ARCHS, default="resnet18", metavar="ARCH",
                   help="model (random weights) when no checkpoint: %(choices)s (default resnet18)")
    p.add_argument("--checkpoint", help="time this checkpoint instead of a random model")
    add_threads_option(p, "onnxruntime")
    p.add_argument("--only", nargs="+", metavar="KEY", help="measure only these, e.g. onnxruntime-int8 (an unknown key "
                   "lists those measured on the device)")
    p.set_defaults(func=run_inference)


def run_inference(args: argparse.Namespace) -> int:
    from ..apps.bench.inference import format_report, run_bench
    report = run_bench(device=checked_device(args, resolve=True), runs=args.runs, warmup=args.warmup,
                       input_size=args.input_size, arch=args.arch, checkpoint=args.checkpoint, threads=args.threads,
                       only=args.only)
    print(json.dumps(report, indent=1, sort_keys=True) if args.json else format_report(report))
    if report["failed"]:
        print("jetracer bench inference: %d backend(s) failed: %s"
              % (len(report["failed"]), ", ".join(sorted(report["failed"]))), file=sys.stderr)
        return 1
    return 0


# -- hardware, drive loop ----------------------------------------------------------------------------

def add_hardware_options(p: argparse.ArgumentParser) -> None:
    add_profile_option(p, default="latrax")
    p.add_argument("-n", type=integer(1, 10000000), default=2000, help="commands per run (default 2000)")
    p.add_argument("--shared-file", help="run on the file-backed shared bus at this path")
    p.set_defaults(func=run_hardware)


def run_hardware(args: argparse.Namespace) -> int:
    from ..apps.bench.hardware import bench_commands, format_report
    from ..profiles import load_profile

    load_profile(args.profile)  # a ProfileError names the profile, not the environment the bench sets up
    print(format_report(bench_commands(args.profile, args.n, shared_file=args.shared_file), args.profile,
                        args.shared_file))
    return 0


def add_loop_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--iterations", type=integer(1, 10000000), default=3000, help="loop iterations (default 3000)")
    p.set_defaults(func=run_loop)


def run_loop(args: argparse.Namespace) -> int:
    from ..apps.bench.drive_loop import bench_loop_overhead
    print(json.dumps(bench_loop_overhead(args.iterations)))
    return 0


# -- safety, heartbeat -------------------------------------------------------------------------------

def _faults(text: str) -> List[str]:
    from ..apps.bench.safety import FAULTS
    faults = [f for f in text.split(",") if f]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown or not faults:
        raise argparse.ArgumentTypeError("unknown fault(s) %s; faults: %s" % (", ".join(unknown) or repr(text),
                                                                            ", ".join(FAULTS)))
    return faults


def add_safety_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=integer(1, 1000), default=5, help="runs per failure (default 5)")
    p.add_argument("--faults", type=_faults, default=None,
                   help="comma-separated failures to time (default: all; an unknown name lists them)")
    add_profile_option(p, default="latrax")
    add_json_option(p)
    p.set_defaults(func=run_safety)


def run_safety(args: argparse.Namespace) -> int:
    from ..apps.bench.safety import FAULTS, bench, format_report
    from ..profiles import load_profile

    load_profile(args.profile)  # a ProfileError is the user's: one line, before any process starts
    result = bench(args.faults or list(FAULTS), args.runs, args.profile)
    print(json.dumps(result, sort_keys=True) if args.json else format_report(result))
    return 0


def add_heartbeat_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=number(0.0, 3600.0, open_lo=True), default=20.0,
                   help="pulses for this long per load (default 20)")
    p.add_argument("--fps", type=FPS, default=30.0, help="the loop's rate: one pulse per iteration (default 30)")
    add_json_option(p, "the rows")
    p.set_defaults(func=run_heartbeat)


def run_heartbeat(args: argparse.Namespace) -> int:
    from ..apps.bench.heartbeat import bench, format_report
    rows = bench(args.seconds, args.fps)
    print(json.dumps(rows, sort_keys=True) if args.json else format_report(rows, args.fps))
    return 0


# -- simulator ---------------------------------------------------------------------------------------

def _sizes(text: str) -> List[Tuple[int, int]]:
    """``224,64`` -> [(224, 224), (64, 64)]: square image sides, each in :data:`IMAGE_SIDE`'s range."""
    try:
        sides = [IMAGE_SIDE(part.strip()) for part in text.split(",") if part.strip()]
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError("expected comma-separated image sides, e.g. 224,64: %s" % e)
    if not sides:
        raise argparse.ArgumentTypeError("expected comma-separated image sides, e.g. 224,64; got %r" % text)
    return [(n, n) for n in sides]


def add_sim_options(p: argparse.ArgumentParser) -> None:
    """The options of ``jetracer bench sim``, which ``jetracer sim bench`` shares."""
    add_config_option(p)
    add_profile_option(p)
    p.add_argument("--track", default="twisty")
    p.add_argument("--steps", type=integer(1, 100000), default=1000, help="steps per run (default 1000)")
    p.add_argument("--runs", type=integer(1, 100), default=5, help="runs; the median is reported (default 5)")
    p.add_argument("--sizes", type=_sizes, default=None, metavar="N[,N...]",
                   help="square image sides to time, e.g. 224,64 (64: the CPU demo preset's model input; default 224)")
    add_json_option(p, "the result")
    p.set_defaults(func=run_sim)


def run_sim(args: argparse.Namespace) -> int:
    from ..apps.bench.sim import bench, format_report

    profile = config_with_profile(args).load_profile()
    check_tracks([args.track])
    result = bench(profile, args.track, steps=args.steps, runs=args.runs, sizes=args.sizes)
    print(json.dumps(result) if args.json else format_report(result))
    return 0


# -- simulator to real frames ------------------------------------------------------------------------

def add_transfer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--real", default=None, help="folder of real sets (default $JETRACER_REALFRAMES or "
                   "/work/shared/realframes)")
    p.add_argument("--starter", default=None, help="starter model; default: train one with `jetracer pretrain`")
    p.add_argument("--preset", default=None, help="pretrain preset when no --starter (default: gpu on CUDA, else cpu)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--threads", type=THREADS, default=None, help="torch CPU threads")
    p.add_argument("--sets", default=None, help="comma-separated real sets (default: every known one present)")
    p.add_argument("--ks", default=None, help="comma-separated K values (default 25,100,400)")
    p.add_argument("--seeds", type=integer(1, 1000), default=3, help="K-frame draws per K (default 3; medians reported)")
    p.add_argument("--arms", default=None, help="comma-separated, of finetune, alone, mix, mix_size, "
                   "finetune_mix (default finetune,alone; the mix arms need --sim: mix gives the simulator and the K "
                   "frames equal shares of every epoch, mix_size shares them by frame count, finetune_mix mixes and "
                   "starts from the starter)")
    p.add_argument("--sim", default=None, help="simulator dataset folder for the mix arms")
    p.add_argument("--epochs", type=integer(1, 100000), default=None, help="epochs per training (default: the product's)")
    p.add_argument("--finetune-lr", type=float, default=None, help="peak lr of the arms that start from the "
                   "starter (default: the product's fine-tuning recipe)")
    p.add_argument("--batch-norm", choices=["frozen", "trained"], default="trained",
                   help="batch norm of the arms that start from the starter, as `jetracer train --batch-norm`")
    p.add_argument("--eval-share", type=float, default=0.3, help="last share of each set held out (default 0.3)")
    p.add_argument("--keep", default=None, help="keep the temporary datasets and models in this folder")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.set_defaults(func=run_transfer)


def run_transfer(args: argparse.Namespace) -> int:
    from ..apps.bench import transfer

    say = (lambda s: print(s, file=sys.stderr)) if args.json else print
    real = args.real or os.environ.get("JETRACER_REALFRAMES", transfer.DEFAULT_REAL)
    if not os.path.isdir(real):
        raise UsageError("real frames not found at %s: pass --real DIR (a folder holding %s), or set "
                         "$JETRACER_REALFRAMES" % (real, " and/or ".join(sorted(transfer.READERS))))
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)  # evaluation too, not only training
    if not getattr(args, "verbose", False):
        logging.getLogger().setLevel(logging.WARNING)  # the report and `say` lines, not every library's info
    logging.getLogger("jetracer.learning.train").setLevel(logging.ERROR)
    try:
        options = dict(sets=args.sets.split(",") if args.sets else None, seeds=args.seeds, eval_share=args.eval_share,
                       threads=args.threads, epochs=args.epochs, sim=args.sim, keep=args.keep,
                       finetune=dict({"freeze_bn": args.batch_norm == "frozen"},
                                     **({"lr": args.finetune_lr} if args.finetune_lr else {})))  # type: Dict[str, Any]
        if args.ks:
            options["ks"] = [int(k) for k in args.ks.split(",")]
        if args.arms:
            options["arms"] = args.arms.split(",")
        with contextlib.redirect_stdout(sys.stderr):  # torchvision prints download attempts; stdout is the report
            report = transfer.bench(real, args.starter, preset=args.preset, device=args.device, say=say, **options)
    except (FileNotFoundError, ValueError) as e:  # a set, starter or K that cannot be used: the user's to fix
        raise UsageError(str(e))
    print(json.dumps(report, indent=1) if args.json else transfer.format_report(report))
    return 0
