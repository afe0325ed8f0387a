"""``jetracer bench <what>``: every benchmark, behind the CLI's one error path.

* ``inference``: preprocessing + inference latency of every backend next to upstream's path;
* ``hardware``: one car command through the real Adafruit stack on the emulated bus;
* ``loop``: the drive loop's own overhead per frame, beyond capture and inference;
* ``safety``: wall-clock time from each failure to the throttle at neutral, on the wire;
* ``heartbeat``: the browser heartbeat's echo age through a real Jupyter kernel;
* ``sim``: simulator frames/s and steps/s on one core (also ``jetracer sim bench``);
* ``transfer``: from the simulator to real frames (also ``jetracer transfer-bench``);
* ``backbones``: GFLOPs, CPU latency, a Nano estimate and real r(x) per backbone and input size;
* ``obstacle-stop``: collisions, stop margins and false stops in the simulator, and the time from the first
  frame showing an obstacle to the throttle at brake or neutral, on the wire;
* ``obstacle-transfer``: the obstacle output on real blocked/free frames, zero-shot and fine-tuned on K + K;
* ``training``: training runs with the frames kept decoded against decoding them every epoch.

The benchmarks live in :mod:`jetracer.apps.bench`, one module each; this module holds their options.
"""
import argparse
import contextlib
import json
import logging
import os
import sys
from typing import Any, Dict, Iterator, List, Tuple

from .errors import UsageError
from .options import (ARCHS, FPS, IMAGE_SIDE, add_config_option, add_device_option, add_json_option,
                      add_profile_option, add_threads_option, check_tracks, checked_device, config_with_profile, integer,
                      number, set_torch_threads)

BENCHES = ("inference", "hardware", "loop", "safety", "heartbeat", "sim", "transfer", "backbones", "obstacle-stop",
           "obstacle-transfer", "training")


@contextlib.contextmanager
def _report_logs(args: argparse.Namespace, **levels: int) -> Iterator[None]:
    """A bench's own lines and its report, not every training's INFO lines: the root logger at WARNING (``-v``
    leaves it), ``jetracer.<name>`` at ``levels[name]`` (e.g. ``learning=logging.ERROR``); restored after."""
    loggers = [(logging.getLogger("jetracer." + name), level) for name, level in levels.items()]
    if not getattr(args, "verbose", False):
        loggers.append((logging.getLogger(), logging.WARNING))
    old = [(log, log.level) for log, _ in loggers]
    for log, level in loggers:
        log.setLevel(level)
    try:
        yield
    finally:
        for log, level in old:
            log.setLevel(level)


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
        "transfer", help="from the simulator to real frames: zero-shot, K-shot (time and random splits), laps",
        description="From the simulator to a real track, measured: a starter model zero-shot, fine-tuned on K real "
                    "frames (plain and guarded) against K frames alone, split by time and at random, and its laps "
                    "in the simulator's randomised worlds."))
    add_backbones_options(verbs.add_parser(
        "backbones", help="GFLOPs, CPU latency, a Nano estimate and real r(x) per backbone and input size",
        description="The backbone table that chooses the car's default model: GFLOPs, CPU latency here (ratios to "
                    "resnet18@224 measured in the same run), a Nano estimate from a stated model, and real-frame "
                    "r(x) from --results."))
    add_obstacle_stop_options(verbs.add_parser(
        "obstacle-stop", help="collisions, stop margins, false stops; first blocked frame to neutral on the wire",
        description="The obstacle stop measured: on held-out simulator tracks, collisions, every stop's margin and "
                    "false stops (the label pilot, or --model); and the wall-clock time from the first frame showing "
                    "an obstacle to the throttle at brake or neutral on the emulated PCA9685."))
    add_obstacle_transfer_options(verbs.add_parser(
        "obstacle-transfer", help="the obstacle output on real blocked/free frames: zero-shot, fine-tuned on K + K",
        description="The obstacle output on a real blocked/free set: the starter zero-shot, fine-tuned on K blocked + "
                    "K free frames (by time and at random) and tested on the rest, and the road r(x) before and after."))
    add_training_options(verbs.add_parser(
        "training", help="training runs with the frames kept decoded against decoding them every epoch",
        description="Whole training runs on DATASET with the frames decoded once and kept in memory, against "
                    "decoding every frame every epoch, alternated in the same run; medians and the speedup."))
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
    p.add_argument("--obstacle-head", action="store_true",
                   help="also time each backend with the obstacle head (blocked logit + distance) against the same "
                        "weights without it, calls alternated: the head's added cost in ms and %%")
    p.set_defaults(func=run_inference)


def run_inference(args: argparse.Namespace) -> int:
    from ..apps.bench.inference import format_report, run_bench
    report = run_bench(device=checked_device(args, resolve=True), runs=args.runs, warmup=args.warmup,
                       input_size=args.input_size, arch=args.arch, checkpoint=args.checkpoint, threads=args.threads,
                       only=args.only, obstacle_head=args.obstacle_head)
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


# -- the obstacle stop --------------------------------------------------------------------------------

def add_obstacle_stop_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="a model file to judge (its obstacle output, or --stop-model's); default the "
                                   "simulator's label (the rule)")
    p.add_argument("--stop-model", help="an upstream JetBot collision model, for a --model without an obstacle output")
    p.add_argument("--obstacles", type=integer(1, 64), default=8, help="obstacles per track (default 8: 80 placements "
                   "over the 10 held-out tracks; the oval holds about 16)")
    p.add_argument("--laps", type=integer(1, 100), default=2, help="laps per track with obstacles (default 2)")
    p.add_argument("--clear-laps", type=integer(0, 1000), default=10,
                   help="laps of each of a third of the tracks with no obstacle, for false stops (default 10; 0: none)")
    p.add_argument("--wire-runs", type=integer(0, 100), default=5,
                   help="real-time drives timed at the wire (default 5; 0: none)")
    add_json_option(p, "the result")
    p.set_defaults(func=run_obstacle_stop)


def run_obstacle_stop(args: argparse.Namespace) -> int:
    from ..apps.bench.obstacle_stop import bench, format_report

    say = None if args.json else (lambda line: print(line, file=sys.stderr))
    result = bench(model=args.model, stop_model=args.stop_model, wire_runs=args.wire_runs, obstacles=args.obstacles,
                   laps=args.laps, clear_laps=args.clear_laps, say=say)
    print(json.dumps(result) if args.json else format_report(result))
    return 0


# -- simulator to real frames ------------------------------------------------------------------------

def _csv_of(kind: Any, what: str) -> Any:
    """An argparse ``type``: comma-separated values of ``kind`` (``what`` names them in the error)."""
    def parse(text: str) -> List[Any]:
        try:
            values = [kind(part.strip()) for part in text.split(",") if part.strip()]
        except (ValueError, argparse.ArgumentTypeError):
            values = []
        if not values:
            raise argparse.ArgumentTypeError("expected comma-separated %s, got %r" % (what, text))
        return values
    parse.__name__ = what
    return parse


def add_transfer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--real", default=None, help="folder of real sets (default $JETRACER_REALFRAMES or "
                   "/work/shared/realframes); every subfolder with a labels.csv is measured, a known set missing is said")
    p.add_argument("--starter", default=None, help="starter model; default: train one with `jetracer pretrain`")
    p.add_argument("--preset", default=None, help="pretrain preset when no --starter (default: gpu on CUDA, else cpu)")
    add_device_option(p)
    add_threads_option(p, "torch")
    p.add_argument("--sets", type=_csv_of(str, "set names"), default=None,
                   help="comma-separated real sets (default: every one present)")
    p.add_argument("--ks", type=_csv_of(integer(1, 100000), "K values"), default=None,
                   help="comma-separated K values (default 10,25,100; a K needs 20 more frames to test on)")
    p.add_argument("--zero-shot", action="store_true",
                   help="the starter's zero-shot figures (and its laps, unless --no-sim), no fine-tuning: minutes "
                   "where the K-shot arms take an hour or more on a CPU; to compare starters, e.g. for `jetracer "
                   "bench backbones --results`")
    p.add_argument("--splits", type=_csv_of(str, "splits"), default=None,
                   help="time (the first K frames train, the rest test), random (--seeds draws of K frames), or "
                   "both (default time,random)")
    p.add_argument("--seeds", type=integer(1, 1000), default=2, help="random draws per K (default 2; medians reported)")
    p.add_argument("--arms", type=_csv_of(str, "arms"), default=None,
                   help="comma-separated, of finetune (the product's recipe), guard (the few-shot guard), alone (K "
                   "frames from scratch), mix, mix_size, finetune_mix (default finetune,guard,alone; the mix arms need "
                   "--mix-data: mix gives the simulator and the K frames equal shares of every epoch, mix_size shares "
                   "them by frame count, finetune_mix mixes and starts from the starter)")
    p.add_argument("--mix-data", default=None, metavar="DIR", help="simulator dataset folder for the mix arms")
    p.add_argument("--no-sim", action="store_true", help="skip the starter's laps in the simulator")
    p.add_argument("--laps", type=integer(1, 100), default=2, help="simulator laps per track (default 2)")
    p.add_argument("--epochs", type=integer(1, 100000), default=None, help="epochs per training (default: the product's)")
    p.add_argument("--finetune-lr", type=number(0.0, 10.0, open_lo=True), default=None,
                   help="peak lr of the arms that start from the starter (default: the product's fine-tuning recipe)")
    p.add_argument("--batch-norm", choices=["frozen", "trained"], default="trained",
                   help="batch norm of the arms that start from the starter, as `jetracer train --batch-norm`")
    p.add_argument("--keep", default=None, help="keep the temporary datasets and models in this folder")
    add_json_option(p)
    p.set_defaults(func=run_transfer)


def run_transfer(args: argparse.Namespace) -> int:
    from ..apps.bench import transfer

    say = (lambda s: print(s, file=sys.stderr)) if args.json else print
    real = args.real or os.environ.get("JETRACER_REALFRAMES", transfer.DEFAULT_REAL)
    if not os.path.isdir(real):
        raise UsageError("real frames not found at %s: pass --real DIR (a folder holding %s), or set "
                         "$JETRACER_REALFRAMES" % (real, ", ".join(transfer.KNOWN_SETS)))
    device = checked_device(args)
    set_torch_threads(args)  # evaluation too, not only training
    options = dict(sets=args.sets, seeds=args.seeds, threads=args.threads, epochs=args.epochs,
                   mix_data=args.mix_data, keep=args.keep, sim=not args.no_sim, sim_laps=args.laps,
                   finetune=dict({"freeze_bn": args.batch_norm == "frozen"},
                                 **({"lr": args.finetune_lr} if args.finetune_lr else {})))  # type: Dict[str, Any]
    if args.zero_shot:  # the training options would be silently ignored
        given = [k for k in ("ks", "arms", "splits", "epochs", "finetune_lr", "mix_data") if getattr(args, k)]
        if given:
            raise UsageError("--zero-shot trains nothing, so --%s has nothing to do: drop one of them"
                             % given[0].replace("_", "-"))
    for key in ("ks", "arms", "splits"):
        if getattr(args, key):
            options[key] = getattr(args, key)
    if args.zero_shot:
        options.update(ks=[], arms=[])
    # torchvision prints download attempts to stdout; stdout is the report
    with _report_logs(args, learning=logging.ERROR), contextlib.redirect_stdout(sys.stderr):
        report = transfer.bench(real, args.starter, preset=args.preset, device=device, say=say, **options)
    print(json.dumps(report, indent=1) if args.json else transfer.format_report(report))
    return 0


# -- obstacle transfer -------------------------------------------------------------------------------

def add_obstacle_transfer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--starter", required=True, help="model with an obstacle output (jetracer pretrain)")
    p.add_argument("--real", default=None, help="folder of real sets (default $JETRACER_REALFRAMES or "
                   "/work/shared/realframes): the road sets' r(x) are read there")
    p.add_argument("--set", default=None, metavar="DIR", help="the blocked/free set (default REAL/obstacles/"
                   "penumbrage_jetbot)")
    p.add_argument("-k", type=integer(1, 100000), default=25, help="frames of each class to fine-tune on (default 25)")
    p.add_argument("--seeds", type=integer(0, 1000), default=2, help="random draws of K (default 2; medians reported)")
    p.add_argument("--epochs", type=integer(1, 100000), default=None, help="epochs per fine-tune (default: the product's)")
    add_device_option(p)
    add_threads_option(p, "torch")
    p.add_argument("--keep", default=None, help="keep the temporary datasets and models in this folder")
    add_json_option(p)
    p.set_defaults(func=run_obstacle_transfer)


def run_obstacle_transfer(args: argparse.Namespace) -> int:
    from ..apps.bench import obstacle_transfer
    from ..apps.bench.transfer import DEFAULT_REAL

    say = (lambda s: print(s, file=sys.stderr)) if args.json else print
    real = args.real or os.environ.get("JETRACER_REALFRAMES", DEFAULT_REAL)
    device = checked_device(args, resolve=True)
    set_torch_threads(args)
    # torchvision prints download attempts to stdout; stdout is the report
    with _report_logs(args, learning=logging.ERROR, dataset=logging.ERROR), contextlib.redirect_stdout(sys.stderr):
        report = obstacle_transfer.bench(real, args.starter, k=args.k, seeds=args.seeds, device=device,
                                         threads=args.threads, epochs=args.epochs, obstacle_set=args.set,
                                         keep=args.keep, say=say)
    print(json.dumps(report, indent=1) if args.json else obstacle_transfer.format_report(report))
    return 0


# -- backbones ---------------------------------------------------------------------------------------

def _arch_at(text: str) -> Tuple[str, int]:
    arch, _, size = text.partition("@")
    return arch.strip(), IMAGE_SIDE(size or "224")


def add_backbones_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", type=_csv_of(_arch_at, "ARCH@SIZE values"), default=None, metavar="ARCH@SIZE,...",
                   help="these rows only, e.g. resnet18@128,mobilenet_v3_large@224 (resnet18@224, the reference, is "
                   "always measured; default: resnet18@224/160/128/96, mobilenet_v3_large@224/160, mobilenet_v2@224, "
                   "efficientnet_b0@224 and every other architecture at 224)")
    p.add_argument("--runs", type=integer(1, 100000), default=20, help="timed CPU calls per row (default 20; the median)")
    p.add_argument("--warmup", type=integer(0, 10000), default=5, help="untimed calls first (default 5)")
    add_threads_option(p, "torch", default=1)  # the timing's threads
    p.add_argument("--results", nargs="+", default=None, metavar="JSON",
                   help="real-frame r(x) to fill the table: `jetracer bench transfer --json` reports, or the issue-20 "
                   "research's results*.json")
    p.add_argument("--depthwise-penalty", type=number(1.0, 1000.0), default=None,
                   help="how many dense FLOPs one depthwise FLOP costs in the Nano estimate (default 10)")
    add_json_option(p, "the table")
    p.set_defaults(func=run_backbones)


def run_backbones(args: argparse.Namespace) -> int:
    from ..apps.bench import backbones

    report = backbones.run_bench(only=args.only, runs=args.runs, warmup=args.warmup, threads=args.threads,
                                 results=args.results,
                                 depthwise_penalty=args.depthwise_penalty or backbones.DEPTHWISE_PENALTY)
    print(json.dumps(report, indent=1) if args.json else backbones.format_report(report))
    return 0


# -- training -----------------------------------------------------------------------------------------

def add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("datasets", nargs="+", metavar="DATASET", help="dataset folder(s) to train on")
    p.add_argument("--runs", type=integer(1, 100), default=3, help="runs per arm; medians reported (default 3)")
    p.add_argument("--epochs", type=integer(1, 1000), default=2, help="epochs per run (default 2)")
    p.add_argument("--input-size", type=IMAGE_SIDE, default=64, help="model input, square (default 64: the CPU demo's)")
    p.add_argument("--batch-size", type=integer(1, 4096), default=32)
    add_device_option(p, default="cpu")
    add_threads_option(p, "torch")
    add_json_option(p, "the result")
    p.set_defaults(func=run_training)


def run_training(args: argparse.Namespace) -> int:
    from ..apps.bench.training import bench_training, format_report

    device = checked_device(args, resolve=True)
    with _report_logs(args, learning=logging.WARNING):  # the timings, not every run's epoch lines
        report = bench_training(args.datasets, runs=args.runs, epochs=args.epochs, input_size=args.input_size,
                                batch_size=args.batch_size, threads=args.threads, device=device)
    print(json.dumps(report) if args.json else format_report(report))
    return 0
