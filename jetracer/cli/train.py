"""``jetracer train DATASET... --out CKPT [--init MODEL] [--force | --resume]``: train or fine-tune a road-following model (see jetracer.learning.train).

Also runs under ``torchrun --nproc_per_node=N -m jetracer train ...`` for DistributedDataParallel.
An existing CKPT is refused before anything runs unless ``--force`` (it is then kept as CKPT.prev when
the new one replaces it at the end); CKPT.partial holds the resume state (after the first epoch, then at most every 30 s) and
``--resume`` continues an interrupted run from it. With ``--init`` and fewer than 200 frames the guard
(``jetracer.learning.few_shot``) holds back the last 20 % of the frames by time and keeps fine-tuning only
where it beats MODEL on them, else OUT is a copy of MODEL (``--no-guard``: plain fine-tuning).
"""
import argparse
import os
from typing import Any, Callable, Dict

from .options import ARCHS, Vocabulary, add_device_option, add_threads_option, checked_device, number


def _field(key: str) -> Any:
    from jetracer.learning.train_options import TRAIN
    return TRAIN[key]


def ranged_option(key: str, open_lo: bool = False) -> Callable[[str], Any]:
    """An argparse ``type`` for training option ``key``: its type and range are the training schema's
    (``jetracer.learning.train_options.TRAIN``), read when a value is parsed, so the command line refuses
    what the library would; ``open_lo``: the low end itself is refused (a learning rate of 0)."""
    def parse(text: str) -> Any:
        field = _field(key)
        return number(field.lo, field.hi, integer=field.kind is int, open_lo=open_lo)(text)

    parse.__name__ = key
    return parse


def _input_size(text: str) -> Any:
    from jetracer.learning.train_options import MAX_INPUT_SIDE, MIN_INPUT_SIDE
    parts = text.lower().replace(",", "x").split("x")
    try:
        size = [int(p) for p in parts]
    except ValueError:
        size = []
    if len(size) not in (1, 2) or min(size) < MIN_INPUT_SIDE or max(size) > MAX_INPUT_SIDE:
        raise argparse.ArgumentTypeError("input size is N or HxW with sides in [%d, %d] (e.g. 224 or 120x160), got %r"
                                         % (MIN_INPUT_SIDE, MAX_INPUT_SIDE, text))
    return size[0] if len(size) == 1 else tuple(size)


def _weights(text: str) -> Any:
    from jetracer.learning.train_options import WEIGHTS_BY_SIZE
    if text.strip().lower() in WEIGHTS_BY_SIZE:
        return "size"
    try:
        weights = [float(w) for w in text.split(",")]
    except ValueError:
        weights = []
    if not weights or _field("dataset_weights").check("", weights):
        raise argparse.ArgumentTypeError("dataset weights are non-negative numbers, one per folder (e.g. 1,1 or "
                                         "0.3,0.7), or 'size'; got %r" % text)
    return weights


SCHEDULES = Vocabulary(lambda: _field("schedule").choices)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The training arguments of ``jetracer train``: types, ranges and choices from the training schema;
    an option left out is None, so the schema's default (or the recipe's choice) applies."""
    parser.add_argument("dataset", nargs="+", help="dataset folder(s) in the upstream layout <dataset>/<category>/<u>_<v>_<id>.jpg")
    parser.add_argument("--out", required=True, help="checkpoint file to write when training finishes (a loss-curve "
                        "PNG goes next to it; OUT.partial holds the resume state meanwhile)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--force", action="store_true", help="replace an existing OUT when training finishes; the old "
                       "one is kept as OUT.prev")
    again.add_argument("--resume", action="store_true", help="continue the interrupted run that was writing OUT, from "
                       "OUT.partial, with the same options")
    parser.add_argument("--init", default=None, metavar="MODEL",
                        help="start from this model (a jetracer checkpoint, e.g. from `jetracer pretrain`, or an upstream "
                        "resnet18 state dict): its architecture, input size and normalisation are kept, with the "
                        "fine-tuning recipe (peak lr 3e-4, short warm-up)")
    guard = parser.add_mutually_exclusive_group()
    guard.add_argument("--guard", dest="guard", action="store_true", default=None,
                       help="with --init: hold back the last 20%% of the frames by time, and keep fine-tuning only if "
                       "it beats MODEL on them (else OUT is a copy of MODEL); the default below 200 frames")
    guard.add_argument("--no-guard", dest="guard", action="store_false", help="fine-tune without the guard")
    parser.add_argument("--dataset-weights", type=_weights, default=None, metavar="W1,W2,...",
                        help="share of every epoch per dataset folder, in order (default: equal shares, so a small "
                        "real folder is not drowned by a large simulator one); 'size' shares by frame count")
    parser.add_argument("--arch", choices=ARCHS, default=None, metavar="ARCH",
                        help="torchvision backbone: %(choices)s (default resnet18, or --init's)")
    parser.add_argument("--epochs", type=ranged_option("epochs"), default=None, help="epochs (default 30, more for a tiny "
                        "dataset so that training makes at least 300 steps)")
    parser.add_argument("--batch-size", type=ranged_option("batch_size"), default=None,
                        help="images per step and per process (default 32)")
    parser.add_argument("--input-size", type=_input_size, default=None,
                        help="model input N or HxW pixels (default 224, or --init's)")
    parser.add_argument("--lr", type=ranged_option("lr", open_lo=True), default=None,
                        help="peak learning rate of AdamW (default 1e-3; 3e-4 with --init)")
    parser.add_argument("--warmup", type=ranged_option("warmup"), default=None, help="share of the steps the learning rate "
                        "ramps up over (default 0.3; 0.1 with --init)")
    parser.add_argument("--batch-norm", choices=["frozen", "trained"], default="trained",
                        help="frozen keeps the batch-norm statistics of the model it starts from (for a few dozen frames; "
                        "measured no better than trained on real frames so far; default trained)")
    parser.add_argument("--weight-decay", type=ranged_option("weight_decay"), default=None,
                        help="AdamW weight decay (default 1e-4)")
    parser.add_argument("--obstacle-weight", type=ranged_option("obstacle_weight"), default=None,
                        help="scales the blocked/free loss next to the road's (default 1; lower keeps obstacle frames "
                        "from costing the road, as pretrain's 0.1 does)")
    parser.add_argument("--schedule", choices=SCHEDULES, default=None, metavar="SCHEDULE",
                        help="learning-rate schedule: %(choices)s (default onecycle)")
    add_device_option(parser)
    parser.add_argument("--workers", type=ranged_option("workers"), default=None,
                        help="DataLoader workers (default: 0 on CPU, up to 8 on CUDA)")
    add_threads_option(parser, "torch")
    parser.add_argument("--seed", type=ranged_option("seed"), default=None,
                        help="seed for the split, initialisation and augmentation (default 0)")
    parser.add_argument("--patience", type=ranged_option("patience"), default=None, help="stop after this many epochs "
                        "without a better validation loss, counted from the epoch the learning rate peaks (0: never; "
                        "default 5, or a sixth of the epochs when more than 30)")
    parser.add_argument("--val-fraction", type=ranged_option("val_fraction"), default=None, help="share of sessions for "
                        "validation (default 0.1; 0: no validation, the final weights are kept)")
    parser.add_argument("--test-fraction", type=ranged_option("test_fraction"), default=None, help="share of sessions for "
                        "test (default 0.1; 0: none). With neither fraction given, a folder of fewer than 50 images is "
                        "all used for training")
    parser.add_argument("--categories", nargs="+", default=None, help="use only these categories, in this output order")
    parser.add_argument("--no-pretrained", action="store_true", help="do not try ImageNet weights")
    parser.add_argument("--no-augment", action="store_true", help="no flips, affine or colour jitter")
    parser.add_argument("--randconv", type=ranged_option("randconv"), default=None, metavar="P",
                        help="share of training images restyled by a random convolution (RandConv: colour and texture "
                        "change, shapes stay; default 0)")
    parser.add_argument("--no-amp", action="store_true", help="full precision on CUDA")
    parser.add_argument("--save-optimizer", action="store_true", help="also store the optimizer state in the checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("train", help="train a road-following model on recorded datasets",
                                   description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.set_defaults(func=run)


def _px(metrics: Any, key: str) -> float:
    return (metrics or {}).get(key, float("nan"))


def options_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    """argparse namespace of ``jetracer train`` -> ``jetracer.learning.train.train`` options."""
    return {"arch": args.arch, "epochs": args.epochs, "batch_size": args.batch_size, "input_size": args.input_size,
            "lr": args.lr, "weight_decay": args.weight_decay, "device": args.device, "workers": args.workers,
            "seed": args.seed, "patience": args.patience, "pretrained": not args.no_pretrained,
            "augment": not args.no_augment, "val_fraction": args.val_fraction, "test_fraction": args.test_fraction,
            "schedule": args.schedule, "amp": not args.no_amp, "categories": args.categories,
            "save_optimizer": args.save_optimizer, "progress": not args.no_progress, "threads": args.threads,
            "init": args.init, "dataset_weights": args.dataset_weights, "warmup": args.warmup,
            "freeze_bn": args.batch_norm == "frozen", "obstacle_weight": args.obstacle_weight,
            "randconv": args.randconv}


def _guarded(args: argparse.Namespace) -> bool:
    """``--guard``, ``--no-guard``, or by default: with ``--init``, not resuming, one process, few frames."""
    from jetracer.learning.few_shot import guard_by_default
    from jetracer.learning.train import TrainError
    if args.guard is None:
        return bool(args.init) and not args.resume and int(os.environ.get("WORLD_SIZE", "1")) == 1 \
            and guard_by_default(args.dataset)
    if args.guard and not args.init:
        raise TrainError("--guard compares fine-tuning with the model it starts from: add --init MODEL")
    if args.guard and args.resume:
        raise TrainError("--guard runs two trainings and cannot --resume one; run it again without --resume, or "
                         "resume the plain run with --no-guard")
    return bool(args.guard)


def run(args: argparse.Namespace) -> int:
    from jetracer.dataset import shown_path
    from jetracer.learning.train import train
    checked_device(args)  # a GPU this machine does not have: one line before any work
    if _guarded(args):
        from jetracer.learning.few_shot import guarded_finetune
        options = options_from_args(args)
        guard = guarded_finetune(args.dataset, args.out, init=options.pop("init"), overwrite=args.force, **options)
        print(guard.summary)
        if guard.train_result is None:
            if guard.previous:
                print("the checkpoint it replaced is kept as %s" % shown_path(guard.previous))
            return 0
        result = guard.train_result
    else:
        result = train(args.dataset, args.out, overwrite=args.force, resume=args.resume, **options_from_args(args))
    if result.rank == 0:
        print("checkpoint %s (%s, %dx%d input%s; %s epoch %d of %d%s), loss curve %s" % (
            result.checkpoint, result.arch, result.input_size[0], result.input_size[1],
            ", started from %s" % result.init if result.init else "",
            "best" if result.metrics["val"].get("images") else "final", result.best_epoch, result.epochs_run,
            ", stopped early" if result.stopped_early else "", result.loss_plot))
        if result.previous:
            print("the checkpoint it replaced is kept as %s" % shown_path(result.previous))
        for note in result.notes:
            print("note: %s" % shown_path(note))
        test = result.metrics["test"]
        if test.get("images"):
            print("test: %d images, loss %.5f, |du| mean %.2f px median %.2f px, |dv| mean %.2f px; %.1f training "
                  "images/s" % (test["images"], test["loss"], _px(test, "mean_abs_du_px"), _px(test, "median_abs_du_px"),
                                _px(test, "mean_abs_dv_px"), result.images_per_s))
        else:
            print("test: no test frames (measure the model with `jetracer eval --model %s FRAMES`); %.1f training "
                  "images/s" % (result.checkpoint, result.images_per_s))
        if result.problems:
            print("%d file(s) skipped; see `jetracer dataset info`" % len(result.problems))
    return 0
