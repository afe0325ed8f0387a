"""Train a road-following model: ``train(dataset_dirs, out, **options) -> TrainResult``.

The shape of torchvision's ``references/classification/train.py``: parse args, ``train_one_epoch``,
``evaluate``, separate train/eval transforms (``augment.TrainTransform`` / ``EvalTransform``), a
checkpoint (``checkpoint.save_checkpoint``). Specifics:

* split by recording session, each dataset folder on its own (``split.split_folders``), so
  near-duplicate frames never straddle train and validation/test; a folder of fewer than
  ``TINY_IMAGES`` frames is used whole for training unless fractions are given;
* fine-tuning (``init=MODEL``): start from a checkpoint's weights, architecture, input size,
  normalisation and colour order, with a lower peak learning rate and a short warm-up (``FINETUNE``);
* several folders (e.g. simulator and real): each gets a share of every epoch (equal by default,
  ``dataset_weights``), drawn with replacement, so a small folder is not drowned by a large one;
  validation and test losses weigh the folders by the same shares;
* tiny datasets: without ``epochs``, training runs at least ``MIN_STEPS`` optimizer steps;
* AdamW with a OneCycle (default) or cosine schedule stepped per batch; early stopping on the
  validation loss (``patience`` epochs); AMP on CUDA;
* metrics: MSE loss on the normalised label and the mean/median absolute error in pixels of the
  model input image (``|du| = |dx| * W/2``, ``|dv| = |dy| * H/2``) for validation and test;
* the best-validation weights are what the checkpoint holds; a loss-curve PNG
  (``<out without extension>_loss.png``) is written next to it;
* no work is lost: the checkpoint ``out`` is written once, atomically, when training finishes; an
  existing ``out`` is refused up front unless ``overwrite`` (the CLI's ``--force``) and is then kept as
  ``<out>.prev`` (``PREVIOUS_SUFFIX``) when the new one replaces it. After the first epoch, and then
  at most every ``STATE_EVERY_S`` seconds, the resume state (weights, optimizer, scheduler, best
  epoch so far, history, RNG states) goes atomically to
  ``<out>.partial`` (``PARTIAL_SUFFIX``); ``resume=True`` (``--resume``) continues a killed run from it,
  after checking the run's options are the same, and it is removed once ``out`` is written;
* multi-GPU / multi-process: under ``torchrun --nproc_per_node=N -m jetracer train ...``
  (or ``torchrun ... $(which jetracer) train ...``) it uses DistributedDataParallel (nccl on CUDA,
  gloo on CPU) with a DistributedSampler; ``batch_size`` is per process; only rank 0 evaluates and
  writes files, and broadcasts the early-stopping decision.
"""
import contextlib
import copy
import logging
import math
import os
import random
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..atomic import atomic_write, keep_previous, remove_leftovers
from ..dataset import scan_dataset, shown_path
from ..errors import UserError
from ..pilot.checkpoint import plain_data, save_checkpoint
from ..pilot.model import build_model
from ..pilot.preprocess import COLOR_ORDER, IMAGENET_MEAN, IMAGENET_STD, Preprocessor, input_hw, normalization_meta
from .augment import EvalTransform, TrainTransform
from .road_dataset import RoadDataset
from .split import split_folders

logger = logging.getLogger(__name__)

DEFAULTS = {
    "arch": None, "epochs": None, "batch_size": 32, "input_size": None, "lr": None, "warmup": None,
    "weight_decay": 1e-4, "device": "auto", "workers": None, "seed": 0, "patience": None, "pretrained": True,
    "augment": True, "val_fraction": None, "test_fraction": None, "schedule": "onecycle", "amp": True,
    "categories": None, "save_optimizer": False, "progress": True, "threads": None, "init": None,
    "dataset_weights": None, "min_steps": None, "info": None, "freeze_bn": False,
}
# the recipe's choices for options left at None: from scratch (or ImageNet), and fine-tuning (init=MODEL)
SCRATCH = {"arch": "resnet18", "input_size": 224, "lr": 1e-3, "warmup": 0.3, "epochs": 30}
FINETUNE = {"lr": 3e-4, "warmup": 0.1, "epochs": 30}
MIN_STEPS = 300      # epochs are raised (when not given) until training makes this many optimizer steps
TINY_IMAGES = 50     # a folder smaller than this is used whole for training unless fractions are given
PARTIAL_SUFFIX = ".partial"  # <out>.partial: the resume state, rewritten after epochs (see STATE_EVERY_S)
STATE_EVERY_S = 30.0  # the resume state is rewritten after the first epoch, a stop, and then at most this often:
#                       a 25-frame fine-tune makes 300 one-step epochs, and each state is ~135 MB written with fsync
PREVIOUS_SUFFIX = ".prev"    # <out>.prev: the checkpoint a finished run replaced
STATE_FORMAT = "jetracer.train_state"
# options a resumed run may change: where and how fast it runs, not what it trains
RESUME_FREE = ("device", "workers", "threads", "progress", "info")


class TrainError(UserError):
    """Training cannot run as asked (an option, the output file, the data, a resume state): the message
    names the problem and the fix."""


class TrainResult(object):
    """What ``train`` returns (on every rank; files are written by rank 0 only).

    ``checkpoint`` and ``loss_plot`` paths, ``history`` (one dict per epoch, epoch 0 = before
    training), ``metrics`` {"val": best epoch's, "test": ...}, ``split`` (checkpoint meta),
    ``best_epoch``, ``epochs_run``, ``stopped_early``, ``images_per_s`` (training throughput over all
    processes), ``problems`` (skipped files), ``distributed`` (world size, shard facts), ``previous``
    (``<out>.prev`` when an existing ``out`` was replaced, else None), ``resumed_from`` (the epoch a
    resumed run continued after, else None).
    """

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        return "TrainResult(checkpoint=%r, best_epoch=%r, val=%r, test=%r)" % (
            self.checkpoint, self.best_epoch, self.metrics.get("val"), self.metrics.get("test"))


@contextlib.contextmanager
def _null_context():
    yield


def _autocast(device: torch.device, enabled: bool) -> Any:
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return _null_context()


def _grad_scaler(device: torch.device, enabled: bool) -> Any:
    if not (enabled and device.type == "cuda"):
        return None
    amp = getattr(torch, "amp", None)
    if amp is not None and hasattr(amp, "GradScaler"):
        return amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU -> ValueError saying so."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainError("--device %s asked but torch sees no CUDA GPU; use --device cpu" % name)
        return torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)
    return torch.device(name)


def select_outputs(outputs: torch.Tensor, category_idx: torch.Tensor) -> torch.Tensor:
    """(N, 2K) outputs -> (N, 2): the (x, y) pair of each sample's own category."""
    idx = (category_idx.long() * 2).unsqueeze(1) + torch.arange(2, device=outputs.device)
    return outputs.gather(1, idx)


def train_one_epoch(model: Any, loader: Any, optimizer: Any, scheduler: Any, preprocess: Preprocessor,
                    device: torch.device, scaler: Any = None, epoch: int = 1, progress: bool = True,
                    freeze_bn: bool = False) -> Dict[str, float]:
    """One pass over ``loader``; returns {"loss": mean batch loss, "images": n, "seconds": t}.

    ``freeze_bn`` keeps every batch-norm layer's running statistics (and uses them), as fine-tuning on a
    few dozen frames needs: their batch statistics would replace what the starter learned over thousands."""
    from tqdm import tqdm
    model.train()
    if freeze_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
    total, count, images = 0.0, 0, 0
    start = time.perf_counter()
    bar = tqdm(loader, desc="epoch %d" % epoch, leave=False, disable=not progress, unit="batch")
    for frames, category_idx, xy in bar:
        inputs = preprocess.batch(frames)
        xy = xy.to(device, non_blocking=True)
        category_idx = category_idx.to(device, non_blocking=True)
        with _autocast(device, scaler is not None):
            loss = F.mse_loss(select_outputs(model(inputs), category_idx).float(), xy)
        optimizer.zero_grad()
        stepped = True
        if scaler is not None:
            scaler.scale(loss).backward()
            scale = scaler.get_scale()
            scaler.step(optimizer)
            scaler.update()
            stepped = scaler.get_scale() >= scale  # a lowered scale means inf/NaN gradients: step skipped
        else:
            loss.backward()
            optimizer.step()
        if stepped:
            scheduler.step()
        value = loss.item()  # a float, never the graph: summing tensors would keep every batch alive
        total, count, images = total + value, count + 1, images + frames.shape[0]
        bar.set_postfix(loss="%.4f" % value)
    return {"loss": total / max(count, 1), "images": images, "seconds": time.perf_counter() - start}


def plot_losses(history: Sequence[Dict[str, Any]], path: str) -> str:
    """Train/validation loss per epoch (log scale) and validation |du| in pixels, as a PNG at ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    tr = [(h["epoch"], h["train_loss"]) for h in history if h.get("train_loss") is not None]
    va = [(h["epoch"], h["val"]["loss"]) for h in history if _finite((h.get("val") or {}).get("loss"))]
    if tr:
        ax.plot(*zip(*tr), "o-" if len(tr) <= 60 else "-", label="train")
    if va:
        ax.plot(*zip(*va), "s-" if len(va) <= 60 else "-", label="validation")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE loss (normalised x, y)")
    ax.legend()
    du = [(h["epoch"], h["val"]["mean_abs_du_px"]) for h in history if _finite((h.get("val") or {}).get("mean_abs_du_px"))]
    dv = [(h["epoch"], h["val"]["mean_abs_dv_px"]) for h in history if _finite((h.get("val") or {}).get("mean_abs_dv_px"))]
    if du:
        ax2.plot(*zip(*du), "s-" if len(du) <= 60 else "-", label="mean |du|")
        ax2.plot(*zip(*dv), "^-" if len(dv) <= 60 else "-", label="mean |dv|")
        ax2.legend()
    else:
        ax2.text(0.5, 0.5, "no validation frames", ha="center", va="center", transform=ax2.transAxes)
    ax2.set_xlabel("epoch")
    for a in (ax, ax2):
        a.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax2.set_ylabel("validation error (input pixels)")
    fig.tight_layout()
    with atomic_write(path, fsync=False) as f:
        fig.savefig(f, dpi=80, format="png")
    plt.close(fig)
    return path


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def loss_plot_path(out: str) -> str:
    """``model.pth`` -> ``model_loss.png`` (next to the checkpoint)."""
    return os.path.splitext(out)[0] + "_loss.png"


def _distributed() -> Dict[str, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return {"world": world, "rank": int(os.environ.get("RANK", "0")), "local_rank": int(os.environ.get("LOCAL_RANK", "0")),
            "local_world": int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))}


def _worker_init(_: int) -> None:
    import cv2
    cv2.setNumThreads(1)  # one OpenCV thread per DataLoader worker: the workers are the parallelism


def _loader(dataset: RoadDataset, batch_size: int, workers: int, device: torch.device, shuffle: bool,
            sampler: Any = None, seed: int = 0, drop_last: bool = False) -> Any:
    # no persistent_workers: workers left alive until interpreter exit took ~2 minutes to reap (torch 2.11)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler, num_workers=workers,
        pin_memory=device.type == "cuda", drop_last=drop_last, generator=generator,
        worker_init_fn=_worker_init if workers > 0 else None)


def resolve_options(options: Dict[str, Any]) -> Dict[str, Any]:
    """``DEFAULTS`` updated with ``options`` (None keeps the default); ValueError for an unknown option."""
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TrainError("unknown training option(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    opt = dict(DEFAULTS)
    opt.update({k: v for k, v in options.items() if v is not None or k == "workers"})
    return opt


def partial_path(out: str) -> str:
    """``model.pth`` -> ``model.pth.partial``: the resume state of a run writing ``out``."""
    return out + PARTIAL_SUFFIX


def previous_path(out: str) -> str:
    """``model.pth`` -> ``model.pth.prev``: where a finished run keeps the checkpoint it replaced."""
    return out + PREVIOUS_SUFFIX


def check_output(out: str, overwrite: bool = True, resume: bool = False) -> None:
    """Refuse, before any data is read, an ``out`` that training could not write or would lose work at.

    TrainError for a folder, a folder that cannot be written, an existing ``out`` without ``overwrite``
    or ``resume``, a resume state of an interrupted run when not resuming (unless ``overwrite``), and
    ``resume`` without a resume state. Creates the folder of ``out`` when missing.
    """
    shown = shown_path(out)
    if os.path.isdir(out):
        raise TrainError("--out %s is a folder; name the checkpoint file, e.g. --out %s"
                         % (shown, shown_path(os.path.join(out, "model.pth"))))
    folder = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".jetracer-write-test.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise TrainError("--out %s: cannot write in %s (%s); pick a folder you can write to"
                         % (shown, shown_path(folder), e.strerror or e))
    partial = partial_path(out)
    if resume:
        if not os.path.isfile(partial):
            raise TrainError("--resume: there is no resume state %s (a run with --out %s writes it after its first epoch); "
                             "train without --resume" % (shown_path(partial), shown))
        return
    if os.path.exists(out) and not overwrite:
        raise TrainError("--out %s exists; pass --force to replace it when training finishes (it is kept as %s)%s"
                         % (shown, shown_path(previous_path(out)),
                            ", or --resume to continue the interrupted run in %s" % shown_path(partial)
                            if os.path.isfile(partial) else ", or name another file"))
    if os.path.isfile(partial) and not overwrite:
        raise TrainError("%s holds an interrupted run for --out %s; pass --resume to continue it or --force to "
                         "start afresh" % (shown_path(partial), shown))


def _option_flag(key: str) -> str:
    flags = {"dataset_dirs": "the dataset folders", "pretrained": "--no-pretrained", "augment": "--no-augment",
             "amp": "--no-amp", "min_steps": "min_steps", "freeze_bn": "--batch-norm frozen"}
    return flags.get(key, "--" + key.replace("_", "-"))


def run_options(opt: Dict[str, Any], dataset_dirs: Sequence[str]) -> Dict[str, Any]:
    """What a resumed run must share with the run it continues (JSON-like): the options that decide
    what is trained, and the dataset folders."""
    keep = dict((k, v) for k, v in opt.items() if k not in RESUME_FREE)
    keep["dataset_dirs"] = [os.path.abspath(d) for d in dataset_dirs]
    return plain_data(keep)


def load_resume_state(out: str, options: Dict[str, Any]) -> Dict[str, Any]:
    """The resume state of the run writing ``out``; TrainError when it is not one, or when it was started
    with other ``options`` (``run_options``), naming each option that differs."""
    from ..pilot.safe_load import torch_load
    path = partial_path(out)
    try:
        state = torch_load(path, map_location="cpu")
    except Exception as e:  # a truncated or foreign file
        raise TrainError("--resume: cannot read the resume state %s (%s); train afresh with --force"
                         % (shown_path(path), str(e).splitlines()[0] if str(e) else type(e).__name__))
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise TrainError("--resume: %s is not a jetracer resume state; train afresh with --force" % shown_path(path))
    then = state.get("options") or {}
    differ = ["%s (%s then, %s now)" % (_option_flag(k), _shown_value(then.get(k)), _shown_value(options.get(k)))
              for k in sorted(set(then) | set(options)) if then.get(k) != options.get(k)]
    if differ:
        raise TrainError("--resume: the run in %s was started with other options: %s; resume with the same options, "
                         "or start afresh with --force" % (shown_path(path), "; ".join(differ)))
    return state


def _shown_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_shown_value(v) for v in value)
    return "default" if value is None else str(value)


def _rng_state(generators: Sequence[Any]) -> Dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": random.getstate(), "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
            "torch": torch.get_rng_state(), "generators": [g.get_state() for g in generators]}


def _set_rng_state(saved: Dict[str, Any], generators: Sequence[Any]) -> None:
    version, internal, gauss = saved["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = saved["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(saved["torch"])
    for g, s in zip(generators, saved["generators"]):
        g.set_state(s)


def _scheduler_state(scheduler: Any) -> Dict[str, Any]:
    # older torch keeps the annealing function (a bound method) in the state: rebuilt by the constructor
    return dict((k, v) for k, v in scheduler.state_dict().items() if not callable(v))


def _save_state(path: str, state: Dict[str, Any]) -> None:
    with atomic_write(path) as f:
        torch.save(state, f)


def train(dataset_dirs: Any, out: str, callback: Optional[Callable[[Dict[str, Any]], Any]] = None,
          overwrite: bool = True, resume: bool = False, **options: Any) -> TrainResult:
    """Train on ``dataset_dirs`` (one or more upstream-layout folders) and write the checkpoint ``out``.

    ``options`` (see ``DEFAULTS``; None means "the recipe's choice"): arch, epochs, batch_size,
    input_size N or (H, W), lr, warmup (share of the steps the learning rate ramps up over),
    weight_decay, device auto|cpu|cuda, workers, seed, patience, pretrained, augment, val_fraction,
    test_fraction, schedule onecycle|cosine, amp, categories, save_optimizer, progress, threads (torch
    CPU threads, default torch's; on a busy machine 1 can be several times faster than 2), and:

    * ``init``: a model file to start from (a jetracer checkpoint or an upstream resnet18 state dict).
      Its architecture, input size, normalisation and colour order are used; an ``arch`` or
      ``input_size`` that differs from the file's is refused (ValueError). The fine-tuning recipe
      applies: peak learning rate 3e-4 (``FINETUNE``), a warm-up over the first 10 % of the steps.
    * ``dataset_weights``: the share of every epoch each folder gets: a list of numbers (one per folder),
      ``"size"`` (in proportion to the folder's frames: plain shuffling), or None: equal shares when there
      are several folders, so a small real folder is not drowned by a large simulator one.
    * ``min_steps``: when ``epochs`` is not given, it is raised until training makes at least this many
      optimizer steps (``MIN_STEPS``): 30 epochs of 25 images would otherwise be 30 steps.
    * ``freeze_bn``: keep the batch-norm statistics of the model it starts from (``--batch-norm frozen``).
    * ``info``: JSON-like metadata stored in the checkpoint under ``info``.

    With the fractions left at None, a folder of fewer than ``TINY_IMAGES`` images is used whole for
    training (no validation or test frames, the final weights are kept) and ``TrainResult.notes`` says so.
    ``callback(record)`` runs on rank 0 after each epoch with that epoch's history record; returning
    True stops training.

    ``out`` is written once, atomically, when training finishes; an existing ``out`` is then kept as
    ``<out>.prev``, and with ``overwrite=False`` it is refused before anything runs. ``<out>.partial``
    holds the resume state (after the first epoch, then at most every ``STATE_EVERY_S``); ``resume=True`` continues from it (the same options and
    data, see ``RESUME_FREE`` for what may change) and ends with the same checkpoint an uninterrupted
    run writes. Raises TrainError (a ValueError) for unknown options, an output that cannot be written
    or would be lost, a resume state that does not match, a model to start from that does not fit, or
    a dataset too small to split; FileNotFoundError for a missing dataset folder or ``init`` file.
    """
    opt = resolve_options(options)
    if isinstance(dataset_dirs, (str, os.PathLike)):
        dataset_dirs = [dataset_dirs]
    dataset_dirs = [os.fspath(d) for d in dataset_dirs]
    out = os.fspath(out)
    dist_env = _distributed()
    check_output(out, overwrite=overwrite, resume=resume)
    if dist_env["rank"] == 0:
        remove_leftovers(out, partial_path(out), previous_path(out), loss_plot_path(out))
    state = load_resume_state(out, run_options(opt, dataset_dirs)) if resume else None
    is_dist = dist_env["world"] > 1
    device = pick_device(opt["device"], dist_env["local_rank"])
    if opt["threads"]:
        torch.set_num_threads(int(opt["threads"]))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick the fastest kernels
    if is_dist:
        import torch.distributed as dist
        if device.type == "cuda":
            torch.cuda.set_device(device)
        elif not opt["threads"]:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, dist_env["local_world"])))
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    import cv2
    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # OpenCV's thread pool fights torch's OpenMP threads (measured 8x slower on 2 cores)
    try:
        return _train(dataset_dirs, out, callback, opt, device, dist_env if is_dist else None, state)
    finally:
        cv2.setNumThreads(cv_threads)
        if is_dist:
            import torch.distributed as dist
            if dist.is_initialized():
                dist.destroy_process_group()


def load_init(path: str, arch: Optional[str] = None, input_size: Any = None) -> Tuple[Any, Dict[str, Any]]:
    """``(model, meta)`` of the model file to fine-tune from (``load_checkpoint``'s kinds).

    ValueError (naming the file, what it is and what to do) when it is not a checkpoint, or when
    ``arch`` / ``input_size`` are given and differ from the file's: fine-tuning keeps the model's own.
    """
    from ..pilot.checkpoint import load_checkpoint
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("model to start from (--init) %s does not exist" % path)
    model, meta = load_checkpoint(path)
    size = tuple(input_hw(meta["input_size"]))
    if arch is not None and arch != meta["arch"]:
        raise TrainError("%s is a %s model but --arch %s was asked: leave --arch out to fine-tune its %s, or train "
                         "without --init" % (path, meta["arch"], arch, meta["arch"]))
    if input_size is not None and tuple(input_hw(input_size)) != size:
        raise TrainError("%s takes %dx%d input but --input-size %dx%d was asked: leave --input-size out to fine-tune "
                         "at %dx%d, or train without --init" % ((path,) + size + tuple(input_hw(input_size)) + size))
    return model, meta


def init_normalization(meta: Dict[str, Any]) -> Tuple[Tuple[float, ...], Tuple[float, ...], str]:
    """(mean, std, colour order) the model to start from was trained with (ImageNet/RGB when not recorded)."""
    norm = meta.get("normalization") or {}
    return (tuple(norm.get("mean") or IMAGENET_MEAN), tuple(norm.get("std") or IMAGENET_STD),
            str(norm.get("color_order") or COLOR_ORDER))


def _head_keys(arch: str) -> List[str]:
    """State-dict keys of the regression head: those whose shape follows the number of outputs."""
    a, b = build_model(arch, 2, pretrained=False).state_dict(), build_model(arch, 4, pretrained=False).state_dict()
    return [k for k in a if a[k].shape != b[k].shape]


def adapt_head(model: Any, meta: Dict[str, Any], categories: Sequence[str]) -> Tuple[Any, str]:
    """``model`` with one (x, y) output pair per category of ``categories``, and a note ("" if unchanged).

    The same categories (or one category each) keep the model as it is. Otherwise each category takes
    the head rows of the model's category of the same name, and a new category those of its first one.
    """
    init_cats = list(meta.get("categories") or [])
    categories = list(categories)
    if init_cats == categories:
        return model, ""
    if len(init_cats) == 1 and len(categories) == 1:
        return model, "the model's category %r predicts the dataset's %r" % (init_cats[0], categories[0])
    rows = [init_cats.index(c) if c in init_cats else 0 for c in categories]
    new = build_model(meta["arch"], 2 * len(categories), pretrained=False)
    state, old = new.state_dict(), model.state_dict()
    heads = set(_head_keys(meta["arch"]))
    for k, v in old.items():
        if k in heads:
            state[k] = v.index_select(0, torch.tensor([2 * r + j for r in rows for j in (0, 1)])).clone()
        else:
            state[k] = v.clone()
    new.load_state_dict(state)
    fresh = [c for c in categories if c not in init_cats]
    return new.eval(), ("categories %s start from the model's %r outputs" % (fresh, init_cats[0]) if fresh else
                        "outputs reordered to the categories %s" % categories)


def dataset_shares(weights: Any, dirs: Sequence[str], train_counts: Sequence[int]) -> Optional[List[float]]:
    """The share of every epoch each folder gets (summing to 1), or None for plain shuffling (shares in
    proportion to the frames). ``weights``: None (equal shares when several folders have training
    frames), ``"size"``, or one non-negative number per folder. ValueError otherwise."""
    if weights is None:
        if sum(1 for n in train_counts if n) <= 1:
            return None
        weights = [1.0] * len(dirs)
    elif isinstance(weights, str):
        if weights in ("size", "proportional"):
            return None
        raise TrainError("dataset weights are numbers, one per folder (e.g. 1,1) or 'size', got %r" % weights)
    weights = [float(w) for w in weights]
    if len(weights) != len(dirs):
        raise TrainError("%d dataset weight(s) for %d dataset folder(s); give one per folder, in order"
                         % (len(weights), len(dirs)))
    if any(not (w >= 0 and math.isfinite(w)) for w in weights):
        raise TrainError("dataset weights must be finite and >= 0, got %s" % weights)
    weights = [w if n else 0.0 for w, n in zip(weights, train_counts)]
    total = sum(weights)
    if total <= 0:
        raise TrainError("dataset weights give no folder with training frames a share; got %s" % weights)
    return [w / total for w in weights]


def epoch_sampler(groups: Sequence[int], shares: Sequence[float], num_samples: int, seed: int = 0) -> Any:
    """A sampler drawing ``num_samples`` training indices per epoch, with replacement, so that folder ``g``
    (``groups[i]`` is the folder of sample i) makes up ``shares[g]`` of them on average."""
    counts = np.bincount(np.asarray(groups, dtype=np.int64), minlength=len(shares))
    weights = torch.tensor([shares[g] / counts[g] for g in groups], dtype=torch.double)
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return torch.utils.data.WeightedRandomSampler(weights, num_samples=max(1, int(num_samples)), replacement=True,
                                                  generator=generator)


def _errors(model: Any, loader: Any, preprocess: Preprocessor, device: torch.device) -> torch.Tensor:
    model.eval()
    errors = []
    with torch.no_grad():
        for frames, category_idx, xy in loader:
            pred = select_outputs(model(preprocess.batch(frames)).float(), category_idx.to(device))
            errors.append((pred - xy.to(device)).cpu())
    return torch.cat(errors).double() if errors else torch.zeros((0, 2), dtype=torch.double)


def _weighted_median(values: torch.Tensor, weights: torch.Tensor) -> float:
    order = torch.argsort(values)
    cum = torch.cumsum(weights[order], 0)
    return float(values[order][int(torch.searchsorted(cum, cum[-1] / 2.0).clamp(max=len(values) - 1))])


def error_summary(err: torch.Tensor, input_size: Any, weights: Optional[torch.Tensor] = None) -> Dict[str, float]:
    """Loss and pixel errors of (N, 2) errors of normalised (x, y) in an input of ``input_size``;
    ``weights`` (N,) weigh the frames (the folder shares), uniform by default."""
    n = int(err.shape[0])
    if n == 0:
        return {"loss": float("nan"), "images": 0}
    h, w = input_hw(input_size)
    du, dv = err[:, 0].abs() * (w / 2.0), err[:, 1].abs() * (h / 2.0)
    if weights is None:
        return {"loss": float((err ** 2).mean()), "mean_abs_du_px": float(du.mean()),
                "median_abs_du_px": float(du.median()), "mean_abs_dv_px": float(dv.mean()),
                "median_abs_dv_px": float(dv.median()), "images": n}
    wn = weights.double() / weights.sum()
    return {"loss": float(((err ** 2).mean(1) * wn).sum()), "mean_abs_du_px": float((du * wn).sum()),
            "median_abs_du_px": _weighted_median(du, wn), "mean_abs_dv_px": float((dv * wn).sum()),
            "median_abs_dv_px": _weighted_median(dv, wn), "images": n}


def _describe_errors(side: str, summary: Dict[str, Any]) -> str:
    """A log phrase for a validation or test summary; says so when that side has no frames (not "nan")."""
    if not summary.get("images"):
        return "no %s frames" % ("validation" if side == "val" else side)
    return "%s loss %.5f, |du| mean %.2f px median %.2f px, |dv| mean %.2f px" % (
        side, summary["loss"], summary["mean_abs_du_px"], summary["median_abs_du_px"], summary["mean_abs_dv_px"])


class _EvalSet(object):
    """A validation or test side: one loader per folder and the folders' shares, scored as one weighted set."""

    def __init__(self, loaders: List[Tuple[str, Any]], shares: Optional[List[float]], input_size: Any) -> None:
        self.loaders, self.shares, self.input_size = loaders, shares, input_size

    def __call__(self, model: Any, preprocess: Preprocessor, device: torch.device) -> Dict[str, Any]:
        parts = [(name, g, _errors(model, loader, preprocess, device)) for g, name, loader in self.loaders]
        parts = [p for p in parts if p[2].shape[0]]
        if not parts:
            return {"loss": float("nan"), "images": 0}
        err = torch.cat([p[2] for p in parts])
        weights = None
        if self.shares is not None and len(parts) > 1:
            held = sum(self.shares[g] for _, g, _ in parts)
            weights = torch.cat([torch.full((e.shape[0],), self.shares[g] / held / e.shape[0], dtype=torch.double)
                                 for _, g, e in parts])
        summary = error_summary(err, self.input_size, weights)
        if len(parts) > 1:
            summary["per_dataset"] = {name: error_summary(e, self.input_size) for name, _, e in parts}
        return summary


def _train(dataset_dirs: List[str], out: str, callback: Any, opt: Dict[str, Any], device: torch.device,
           dist_env: Optional[Dict[str, int]], state: Optional[Dict[str, Any]] = None) -> TrainResult:
    rank, world = (dist_env["rank"], dist_env["world"]) if dist_env else (0, 1)
    main_rank = rank == 0
    seed = int(opt["seed"])
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    notes = []  # type: List[str]

    init_model, init_meta = None, None  # type: Any, Optional[Dict[str, Any]]
    if opt["init"]:
        init_model, init_meta = load_init(opt["init"], opt["arch"], opt["input_size"])
        arch, input_size = init_meta["arch"], tuple(input_hw(init_meta["input_size"]))
        mean, std, color_order = init_normalization(init_meta)
        recipe = FINETUNE
        notes.append("starting from %s (%s, %dx%d input, %s channel order); fine-tuning recipe: peak lr %g, "
                     "warm-up over %d%% of the steps" % (
                         opt["init"], arch, input_size[0], input_size[1], color_order,
                         opt["lr"] or recipe["lr"], round(100 * (opt["warmup"] if opt["warmup"] is not None
                                                                 else recipe["warmup"]))))
    else:
        arch = opt["arch"] or SCRATCH["arch"]
        input_size = tuple(input_hw(opt["input_size"] or SCRATCH["input_size"]))
        mean, std, color_order = IMAGENET_MEAN, IMAGENET_STD, COLOR_ORDER
        recipe = SCRATCH
    lr = float(opt["lr"] or recipe["lr"])
    warmup = float(opt["warmup"] if opt["warmup"] is not None else recipe["warmup"])
    if not 0 <= warmup < 1:
        raise TrainError("warmup is a share of the training steps in [0, 1), got %r" % warmup)

    groups_idx = []  # type: List[Tuple[str, List[Any]]]
    problems = []  # type: List[Any]
    found = set()  # type: set
    for d in dataset_dirs:
        index = scan_dataset(d, opt["categories"])
        groups_idx.append((d, index.entries))
        problems.extend(index.problems)
        found.update(index.categories)
    entries = [e for _, es in groups_idx for e in es]
    if not entries:
        raise TrainError("no labelled images in %s (%d problem file(s)); expected <dataset>/<category>/<u>_<v>_<id>.jpg"
                         % (", ".join(dataset_dirs), len(problems)))
    categories = list(opt["categories"]) if opt["categories"] is not None else sorted(found)
    # scan_dataset lists categories that have a folder; keep those with frames, in that order
    categories = [c for c in categories if any(e.category == c for e in entries)] or categories
    group_of = [g for g, (_, es) in enumerate(groups_idx) for _ in es]
    try:
        split = split_folders(groups_idx, opt["val_fraction"], opt["test_fraction"], seed, TINY_IMAGES)
    except ValueError as e:
        raise TrainError(str(e))
    if state is not None and state.get("split") != plain_data(split.as_meta()):
        raise TrainError("--resume: the dataset changed since the run in %s started (%d images then, %d now); "
                         "resume on the same frames, or start afresh with --force"
                         % (shown_path(partial_path(out)), state.get("images", -1), len(entries)))
    if split.note:
        notes.append("split: " + split.note)
    if not split.train:
        raise TrainError("no images left for training in %s; lower --val-fraction/--test-fraction" % ", ".join(dataset_dirs))
    train_counts = [sum(1 for i in split.train if group_of[i] == g) for g in range(len(dataset_dirs))]
    shares = dataset_shares(opt["dataset_weights"], dataset_dirs, train_counts)
    if shares is not None:
        notes.append("each epoch draws %s from %s" % (
            ", ".join("%d%%" % round(100 * s) for s in shares), ", ".join(dataset_dirs)))

    workers = opt["workers"]
    if workers is None:
        workers = min(8, max(1, (os.cpu_count() or 1) // world)) if device.type == "cuda" else 0
        # workers start again every epoch: for an epoch of a few batches (fine-tuning on 25 clicks) that
        # costs more than decoding the images in this process (measured: 107 s for 25 frames on a GPU)
        workers = min(workers, len(split.train) // (int(opt["batch_size"]) * world * 4))
    train_tf = TrainTransform(input_size) if opt["augment"] else EvalTransform(input_size)
    eval_tf = EvalTransform(input_size)
    subset = lambda ids, tf: RoadDataset([entries[i] for i in ids], categories, tf)  # noqa: E731
    train_ds = subset(split.train, train_tf)
    batch_size = int(opt["batch_size"])
    sampler = None  # type: Any
    if shares is not None:
        sampler = epoch_sampler([group_of[i] for i in split.train], shares, len(train_ds) // world, seed * 1009 + rank)
    elif dist_env:
        sampler = torch.utils.data.distributed.DistributedSampler(
            train_ds, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=len(train_ds) >= world)
    per_rank = len(train_ds) // world if (dist_env or shares is not None) else len(train_ds)
    train_loader = _loader(train_ds, batch_size, workers, device, True, sampler, seed, drop_last=per_rank > batch_size)

    def eval_set(ids: List[int]) -> _EvalSet:
        loaders = []
        for g, d in enumerate(dataset_dirs):
            mine = [i for i in ids if group_of[i] == g]
            if mine:
                loaders.append((g, d, _loader(subset(mine, eval_tf), batch_size, workers, device, False)))
        return _EvalSet(loaders, shares, input_size)

    val_set, test_set = eval_set(split.val), eval_set(split.test)
    has_val = bool(split.val)

    if init_model is not None:
        model, head_note = adapt_head(init_model, init_meta, categories)
        if head_note:
            notes.append(head_note)
        model = model.to(device)
    else:
        model = build_model(arch, 2 * len(categories), pretrained=bool(opt["pretrained"])).to(device)
    if state is not None:
        model.load_state_dict(state["model"])
    net = model
    if dist_env:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    preprocess = Preprocessor(input_size, mean, std, device, color_order=color_order)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=float(opt["weight_decay"]))
    steps_per_epoch = max(1, len(train_loader))
    min_steps = int(opt["min_steps"] if opt["min_steps"] is not None else MIN_STEPS)
    if opt["epochs"] is not None:
        epochs = int(opt["epochs"])
    else:
        epochs = max(int(recipe["epochs"]), int(math.ceil(min_steps / float(steps_per_epoch))))
        if epochs > recipe["epochs"]:
            notes.append("%d training images (%d step(s) per epoch): %d epochs, so that training makes at least %d "
                         "steps" % (len(train_ds), steps_per_epoch, epochs, min_steps))
    if epochs < 1:
        raise TrainError("epochs must be >= 1, got %d" % epochs)
    patience = int(opt["patience"]) if opt["patience"] is not None else max(5, epochs // 6)
    steps = max(1, epochs * steps_per_epoch)
    if opt["schedule"] == "onecycle":
        pct = warmup if abs(warmup * steps - 1.0) > 1e-6 else warmup + 0.5 / steps  # torch divides by pct*steps - 1
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=min(pct, 0.99))
    elif opt["schedule"] == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    else:
        raise TrainError("schedule must be onecycle or cosine, got %r" % opt["schedule"])
    scaler = _grad_scaler(device, bool(opt["amp"]))
    freeze_bn = bool(opt["freeze_bn"])
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        notes.append("resumed from %s after epoch %d of %d" % (shown_path(partial_path(out)), state["epoch"], epochs))
    progress = bool(opt["progress"]) and main_rank
    if main_rank:
        for note in notes:
            logger.warning("%s", note)

    distributed_meta = {"world_size": world}  # type: Dict[str, Any]
    if dist_env:
        import torch.distributed as dist
        distributed_meta["backend"] = dist.get_backend()
        if isinstance(sampler, torch.utils.data.distributed.DistributedSampler):
            sampler.set_epoch(1)
            shards = [None] * world  # type: List[Any]
            dist.all_gather_object(shards, sorted(int(i) for i in sampler))
            flat = [i for s in shards for i in s]
            distributed_meta.update({"samples_per_rank": [len(s) for s in shards],
                                     "shards_disjoint": len(flat) == len(set(flat))})
        else:
            distributed_meta["sampler"] = "weighted, drawn with replacement on each rank"

    train_args = dict(opt, dataset_dirs=dataset_dirs, input_size=list(input_size), workers=workers,
                      world_size=world, device=str(device), arch=arch, lr=lr, warmup=warmup, epochs=epochs,
                      patience=patience, min_steps=min_steps, dataset_shares=shares, freeze_bn=freeze_bn)
    train_args.pop("progress", None)
    train_args.pop("info", None)
    init_record = None  # type: Optional[Dict[str, Any]]
    if init_meta is not None:
        init_record = {"path": os.path.abspath(opt["init"]), "format": init_meta.get("format"),
                       "created": init_meta.get("created"), "dataset": init_meta.get("dataset"),
                       "info": init_meta.get("info")}
    history = []  # type: List[Dict[str, Any]]
    best_loss, best_epoch, best_state, bad_epochs = float("inf"), 0, None, 0
    train_images, train_seconds, stopped_early, epoch, stop = 0, 0.0, False, 0, 0
    generators = [g for g in (train_loader.generator, getattr(sampler, "generator", None)) if g is not None]
    if state is not None:
        history, epoch, stop = list(state["history"]), int(state["epoch"]), int(state["stop"])
        best_loss, best_epoch, bad_epochs = float(state["best_loss"]), int(state["best_epoch"]), int(state["bad_epochs"])
        best_state = state["best_state"] if state["best_state"] is not None else (
            state["model"] if best_epoch == epoch and has_val else None)
        train_images, train_seconds = int(state["train_images"]), float(state["train_seconds"])
        _set_rng_state(state["rng"], generators)
    elif main_rank:
        history.append({"epoch": 0, "train_loss": None, "val": val_set(model, preprocess, device),
                        "lr": optimizer.param_groups[0]["lr"], "seconds": 0.0, "epochs": epochs})
    plot = loss_plot_path(out)
    partial = partial_path(out)
    log_every = 1 if epochs <= 60 else int(math.ceil(epochs / 30.0))
    options = run_options(opt, dataset_dirs)

    def save_state(epoch_done: int, stopped: int) -> None:
        current = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        _save_state(partial, {
            "format": STATE_FORMAT, "version": 1, "options": options, "split": plain_data(split.as_meta()),
            "images": len(entries), "epoch": epoch_done, "stop": stopped, "model": current,
            "optimizer": optimizer.state_dict(), "scheduler": _scheduler_state(scheduler),
            "scaler": scaler.state_dict() if scaler is not None else None, "history": history,
            "best_loss": best_loss, "best_epoch": best_epoch, "bad_epochs": bad_epochs,
            # the best weights are stored apart only when they are not the current ones
            "best_state": best_state if best_state is not None and best_epoch != epoch_done else None,
            "train_images": train_images, "train_seconds": train_seconds, "rng": _rng_state(generators)})

    kept = []  # type: List[str]

    def save(metrics: Dict[str, Any], epoch_saved: int) -> None:
        extra = {"notes": notes}  # type: Dict[str, Any]
        if init_record is not None:
            extra["init"] = init_record
        if opt["info"] is not None:
            extra["info"] = opt["info"]
        if keep_previous(out, previous_path(out)):
            kept.append(previous_path(out))
        save_checkpoint(out, model, arch, input_size, categories, train_args=train_args,
                        split=split.as_meta(), metrics=metrics, epoch=epoch_saved,
                        optimizer=optimizer if opt["save_optimizer"] else None,
                        normalization=normalization_meta(mean, std, color_order),
                        dataset={"dirs": dataset_dirs, "images": len(entries), "problems": len(problems),
                                 "train_images_per_dir": train_counts, "shares": shares},
                        distributed=distributed_meta, **extra)

    last_state_s = None  # type: Optional[float]
    for epoch in range(epoch + 1, epochs + 1 if not stop else 0):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        stats = train_one_epoch(net, train_loader, optimizer, scheduler, preprocess, device, scaler, epoch, progress,
                                freeze_bn=freeze_bn)
        train_images += stats["images"] * world
        train_seconds += stats["seconds"]
        stop = 0
        if main_rank:
            val = val_set(model, preprocess, device)
            record = {"epoch": epoch, "train_loss": stats["loss"], "val": val, "lr": optimizer.param_groups[0]["lr"],
                      "seconds": stats["seconds"], "images_per_s": stats["images"] * world / max(stats["seconds"], 1e-9),
                      "epochs": epochs}
            improved = has_val and val["loss"] < best_loss
            record["best"] = improved
            history.append(record)
            if improved:
                best_loss, best_epoch, bad_epochs = val["loss"], epoch, 0
                best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            else:
                bad_epochs += 1
            if epoch % log_every == 0 or epoch == epochs or improved and log_every == 1:
                logger.info("epoch %d/%d: train loss %.5f, %s%s", epoch, epochs, stats["loss"],
                            _describe_errors("val", val), " (best)" if improved else "")
            if callback is not None and callback(record) is True:
                stop = 1
            elif has_val and patience > 0 and bad_epochs >= patience:
                logger.info("early stop: validation loss has not improved for %d epochs", bad_epochs)
                stop = 1
        if dist_env:
            import torch.distributed as dist
            flag = torch.tensor([stop], device=device)
            dist.broadcast(flag, 0)
            stop = int(flag.item())
        if main_rank and (stop or last_state_s is None or time.monotonic() - last_state_s >= STATE_EVERY_S):
            save_state(epoch, stop)
            last_state_s = time.monotonic()
        if stop:
            break
    stopped_early = bool(stop) and epoch < epochs

    metrics = {}  # type: Dict[str, Any]
    if main_rank:
        if best_state is not None:
            model.load_state_dict(best_state)
        else:
            best_epoch = epoch  # no validation: the final weights are kept
        best_val = next((h["val"] for h in history if h["epoch"] == best_epoch), history[-1]["val"])
        metrics = {"val": best_val, "test": test_set(model, preprocess, device)}
        save(metrics, best_epoch)
        if os.path.exists(partial):
            os.unlink(partial)
        plot_losses(history, plot)
        logger.info("%s; checkpoint %s", _describe_errors("test", metrics["test"]), out)
    if dist_env:
        import torch.distributed as dist
        dist.barrier()
    return TrainResult(checkpoint=out, loss_plot=plot, history=history, metrics=metrics, split=split.as_meta(),
                       best_epoch=best_epoch, epochs_run=epoch, epochs=epochs, stopped_early=stopped_early,
                       images_per_s=train_images / max(train_seconds, 1e-9), problems=problems,
                       distributed=distributed_meta, rank=rank, notes=notes, init=opt["init"],
                       dataset_shares=shares, arch=arch, input_size=input_size,
                       previous=kept[0] if kept else None, resumed_from=int(state["epoch"]) if state else None)
