"""The options of ``train``: one schema (:data:`TRAIN`, on :mod:`jetracer.schema`'s engine) that holds
each option's type, range and default, validated once by :func:`check_options` into a
:class:`TrainOptions`, and the two recipes that fill the options left at None.

None means "the recipe's choice": :data:`SCRATCH` when training from scratch (or ImageNet weights),
:data:`FINETUNE` when starting from a model (``init``). ``jetracer train``'s options take their ranges and
choices from :data:`TRAIN`, so the command line and the library refuse the same values.
"""
import difflib
import math
import os
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence

from ..compute import DEVICE_FORMS, DeviceError, parse_device
from ..errors import UserError
from ..pilot.limits import MAX_INPUT_SIDE
from ..pilot.model import ARCHS
from ..schema import Field, validate

MIN_INPUT_SIDE = 16  # pixels a side: a torchvision backbone halves the input five times
MAX_SEED = 2 ** 32 - 1
SCHEDULES = ("onecycle", "cosine")
WEIGHTS_BY_SIZE = ("size", "proportional")  # dataset_weights: shares in proportion to the folders' frames

# the recipe's choices for options left at None: from scratch (or ImageNet), and fine-tuning (init=MODEL)
SCRATCH = {"arch": "resnet18", "input_size": 224, "lr": 1e-3, "warmup": 0.3, "epochs": 30}
FINETUNE = {"lr": 3e-4, "warmup": 0.1, "epochs": 30}
MIN_STEPS = 300      # epochs are raised (when not given) until training makes this many optimizer steps
TINY_IMAGES = 50     # a folder smaller than this is used whole for training unless fractions are given


class TrainError(UserError):
    """Training cannot run as asked (an option, the output file, the data, a resume state): the message
    names the problem and the fix."""


def _input_size_problems(where: str, value: Any) -> List[str]:
    sides = [value] if isinstance(value, int) else list(value)
    if len(sides) in (1, 2) and all(isinstance(s, int) and not isinstance(s, bool)
                                    and MIN_INPUT_SIDE <= s <= MAX_INPUT_SIDE for s in sides):
        return []
    return ["%s: expected N or HxW with sides in [%d, %d] (e.g. 224 or 120x160), found %r"
            % (where, MIN_INPUT_SIDE, MAX_INPUT_SIDE, value)]


def _weights_problems(where: str, value: Any) -> List[str]:
    if isinstance(value, str):
        return [] if value in WEIGHTS_BY_SIZE else [
            "%s: expected numbers, one per folder (e.g. 1,1), or 'size', found %r" % (where, value)]
    if value and all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 and math.isfinite(w)
                     for w in value):
        return []
    return ["%s: expected non-negative numbers, one per folder (e.g. 1,1 or 0.3,0.7), or 'size', found %r"
            % (where, list(value))]


def _names_problems(where: str, value: Any) -> List[str]:
    if value and all(isinstance(c, str) and c for c in value):
        return []
    return ["%s: expected one or more category names, found %r" % (where, list(value))]


def _device_problems(where: str, value: Any) -> List[str]:
    try:
        parse_device(value)
    except DeviceError:
        return ["%s: expected %s, found %r" % (where, DEVICE_FORMS, value)]
    return []


def _positive(where: str, value: Any) -> List[str]:
    return [] if value > 0 else ["%s: expected a value in (0, 10], found %r" % (where, value)]


# None is "not set" everywhere: the default below, or the recipe's choice where the default is None.
TRAIN = {
    "arch": Field(str, choices=sorted(ARCHS), nullable=True, doc="torchvision backbone; default resnet18, or init's"),
    "epochs": Field(int, 1, 100000, nullable=True, doc="default 30, more for a tiny dataset"),
    "batch_size": Field(int, 1, 4096, default=32, doc="images per step and per process"),
    "input_size": Field((int, list, tuple), nullable=True, check=_input_size_problems,
                        doc="N or (H, W); default 224, or init's"),
    "lr": Field(float, 0.0, 10.0, nullable=True, check=_positive, doc="peak learning rate of AdamW"),
    "warmup": Field(float, 0.0, 0.99, nullable=True, doc="share of the steps the learning rate ramps up over"),
    "weight_decay": Field(float, 0.0, 10.0, default=1e-4, doc="AdamW weight decay"),
    "device": Field(str, default="auto", check=_device_problems),
    "workers": Field(int, 0, 64, nullable=True, doc="DataLoader workers; default 0 on CPU, up to 8 on CUDA"),
    "seed": Field(int, 0, MAX_SEED, default=0, doc="seed of the split, initialisation and augmentation"),
    "patience": Field(int, 0, 100000, nullable=True,
                      doc="epochs without a better validation loss, counted from the learning rate's peak; 0: never stop"),
    "pretrained": Field(bool, default=True, doc="try ImageNet weights"),
    "augment": Field(bool, default=True, doc="flips, affine and colour jitter"),
    "randconv": Field(float, 0.0, 1.0, default=0.0,
                      doc="share of training images restyled by a random convolution (RandConv); needs augment"),
    "val_fraction": Field(float, 0.0, 0.9, nullable=True, doc="share of sessions for validation"),
    "test_fraction": Field(float, 0.0, 0.9, nullable=True, doc="share of sessions for test"),
    "schedule": Field(str, choices=SCHEDULES, default="onecycle", doc="learning-rate schedule"),
    "amp": Field(bool, default=True, doc="mixed precision on CUDA"),
    "categories": Field((list, tuple), nullable=True, check=_names_problems, doc="these categories, in this order"),
    "save_optimizer": Field(bool, default=False, doc="also store the optimizer state in the checkpoint"),
    "progress": Field(bool, default=True, doc="a progress bar"),
    "threads": Field(int, 1, 256, nullable=True, doc="torch CPU threads; default torch's"),
    "init": Field((str, os.PathLike), nullable=True, doc="a model file to fine-tune"),
    "dataset_weights": Field((str, list, tuple), nullable=True, check=_weights_problems,
                             doc="share of every epoch per dataset folder"),
    "min_steps": Field(int, 0, 10 ** 9, nullable=True, doc="optimizer steps at least when epochs is not given"),
    "info": Field(dict, nullable=True, doc="JSON-like metadata stored in the checkpoint"),
    "freeze_bn": Field(bool, default=False, doc="keep the batch-norm statistics of the model it starts from"),
    "epoch_dir": Field((str, os.PathLike), nullable=True,
                       doc="also write every epoch's checkpoint there (epoch_NN.pth), to choose one by driving"),
    "obstacle_weight": Field(float, 0.0, 10.0, default=1.0,
                             doc="scales the loss's obstacle terms (blocked 0.5, distance 0.1) next to the road's"),
    "frame_cache": Field(bool, default=True, doc="decode each frame once and keep it, resized, in memory (at most a "
                                                 "quarter of the memory available, 1 GB)"),
}


class TrainOptions(NamedTuple):
    """The options of one training run, validated by :func:`check_options` (fields: :data:`TRAIN`'s keys)."""
    arch: Optional[str]
    epochs: Optional[int]
    batch_size: int
    input_size: Any
    lr: Optional[float]
    warmup: Optional[float]
    weight_decay: float
    device: str
    workers: Optional[int]
    seed: int
    patience: Optional[int]
    pretrained: bool
    augment: bool
    randconv: float
    val_fraction: Optional[float]
    test_fraction: Optional[float]
    schedule: str
    amp: bool
    categories: Optional[Sequence[str]]
    save_optimizer: bool
    progress: bool
    threads: Optional[int]
    init: Any
    dataset_weights: Any
    min_steps: Optional[int]
    info: Optional[Dict[str, Any]]
    freeze_bn: bool
    epoch_dir: Any
    obstacle_weight: float
    frame_cache: bool


_FLAGS = {"dataset_dirs": "the dataset folders", "pretrained": "--no-pretrained", "augment": "--no-augment",
          "amp": "--no-amp", "min_steps": "min_steps", "frame_cache": "frame_cache", "freeze_bn": "--batch-norm frozen"}


def option_flag(key: str) -> str:
    """How a person set option ``key``: its ``jetracer train`` flag (``batch_size`` -> ``--batch-size``)."""
    return _FLAGS.get(key, "--" + key.replace("_", "-"))


def check_options(options: Mapping[str, Any]) -> TrainOptions:
    """``options`` over :data:`TRAIN`'s defaults (None keeps the default), validated: TrainError naming
    every unknown option (with the likely one meant) and every value out of its type, range or choices.

    The messages name the library's keys: ``jetracer train`` refuses the same values while parsing."""
    unknown = sorted(set(options) - set(TRAIN))
    if unknown:
        close = [m for k in unknown for m in difflib.get_close_matches(k, sorted(TRAIN), n=1)]
        raise TrainError("unknown training option(s) %s; known: %s%s" % (
            ", ".join(unknown), ", ".join(sorted(TRAIN)), "; did you mean %s?" % ", ".join(close) if close else ""))
    given = dict((k, v) for k, v in options.items() if v is not None)
    problems = [p for k in sorted(given) for p in validate(given[k], TRAIN[k], k)]
    if problems:
        raise TrainError("training option%s: %s" % ("s" if len(problems) > 1 else "", "; ".join(problems)))
    opt = TrainOptions(**dict((k, given.get(k, field.default)) for k, field in TRAIN.items()))
    if opt.randconv > 0 and not opt.augment:
        raise TrainError("randconv %g restyles augmented training images, but augment is off (--no-augment): "
                         "drop one of the two" % opt.randconv)
    return opt


def finetune_note(opt: TrainOptions, arch: str, input_hw: Sequence[int], color_order: str) -> str:
    """What a run that starts from ``opt.init`` says about it, with the recipe it fine-tunes with."""
    return ("starting from %s (%s, %dx%d input, %s channel order); fine-tuning recipe: peak lr %g, warm-up over "
            "%d%% of the steps" % (opt.init, arch, input_hw[0], input_hw[1], color_order, opt.lr or FINETUNE["lr"],
                                   round(100 * (opt.warmup if opt.warmup is not None else FINETUNE["warmup"]))))
