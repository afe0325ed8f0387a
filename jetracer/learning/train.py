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
  validation loss (``patience`` epochs); with OneCycle an epoch before the learning rate peaks is neither
  kept nor counted against the patience (a tiny validation side can score the barely trained model best);
  AMP on CUDA;
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

The jobs live in their own modules, and their names stay importable from here: the options
(:mod:`.train_options`), where it writes (:mod:`.train_output`), the resume state (:mod:`.train_state`),
the start of a fine-tune (:mod:`.finetune`), what each epoch draws (:mod:`.sampling`), the metrics
(:mod:`.metrics`), the loss curve (:mod:`.loss_plot`) and the loop (:mod:`.train_run`).
"""
import contextlib
import os
from typing import Any, Callable, Dict, Iterator, Optional

import torch

from ..atomic import remove_leftovers
from .finetune import adapt_head, init_normalization, load_init  # noqa: F401 (the public names of training)
from .loss_plot import plot_losses  # noqa: F401
from .metrics import error_summary, select_outputs  # noqa: F401
from .sampling import dataset_shares, epoch_sampler  # noqa: F401
from .train_options import FINETUNE, MIN_STEPS, SCRATCH, TINY_IMAGES, TRAIN, TrainError, check_options  # noqa: F401
from .train_output import PARTIAL_SUFFIX, PREVIOUS_SUFFIX, check_output, loss_plot_path, partial_path, previous_path
from .train_run import TrainResult, TrainRun, train_one_epoch  # noqa: F401
from .train_state import RESUME_FREE, STATE_EVERY_S, STATE_FORMAT, load_resume_state, run_options  # noqa: F401

__all__ = ["FINETUNE", "MIN_STEPS", "PARTIAL_SUFFIX", "PREVIOUS_SUFFIX", "SCRATCH", "STATE_EVERY_S", "TINY_IMAGES",
           "TRAIN", "TrainError", "TrainResult", "adapt_head", "check_output", "dataset_shares", "epoch_sampler",
           "error_summary", "load_init", "loss_plot_path", "partial_path", "pick_device", "plot_losses",
           "previous_path", "select_outputs", "train", "train_one_epoch"]


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU -> ValueError saying so."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainError("--device %s asked but torch sees no CUDA GPU; use --device cpu" % name)
        return torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)
    return torch.device(name)


def _distributed() -> Dict[str, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return {"world": world, "rank": int(os.environ.get("RANK", "0")), "local_rank": int(os.environ.get("LOCAL_RANK", "0")),
            "local_world": int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))}


@contextlib.contextmanager
def _process_group(device: torch.device, dist_env: Dict[str, int], threads: Optional[int]) -> Iterator[None]:
    """Under torchrun (world > 1): this process's GPU or share of the CPU threads, and the process group
    (nccl on CUDA, gloo on CPU), destroyed on the way out."""
    if dist_env["world"] <= 1:
        yield
        return
    import torch.distributed as dist
    if device.type == "cuda":
        torch.cuda.set_device(device)
    elif not threads:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, dist_env["local_world"])))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@contextlib.contextmanager
def _one_opencv_thread() -> Iterator[None]:
    import cv2
    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # OpenCV's thread pool fights torch's OpenMP threads (measured 8x slower on 2 cores)
    try:
        yield
    finally:
        cv2.setNumThreads(cv_threads)


def train(dataset_dirs: Any, out: str, callback: Optional[Callable[[Dict[str, Any]], Any]] = None,
          overwrite: bool = True, resume: bool = False, **options: Any) -> TrainResult:
    """Train on ``dataset_dirs`` (one or more upstream-layout folders) and write the checkpoint ``out``.

    ``options`` (see ``TRAIN``, their types, ranges and defaults; None means "the recipe's choice"): arch,
    epochs, batch_size, input_size N or (H, W), lr, warmup (share of the steps the learning rate ramps up
    over), weight_decay, device auto|cpu|cuda, workers, seed, patience, pretrained, augment, val_fraction,
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
    * ``obstacle_weight``: scales the obstacle terms of the loss (``metrics.BLOCKED_WEIGHT``,
      ``DISTANCE_WEIGHT``) for a run with blocked/free frames; lower keeps them from driving the shared
      backbone at the road's cost (the starter's presets use 0.1: ``apps.pretrain``).
    * ``randconv``: the share of training images restyled by a random convolution (``randconv.RandConv``:
      colour and texture change, shapes and so labels stay), applied to each batch on the training device;
      0 (the default) leaves the batches as they are. Only with ``augment``.
    * ``frame_cache``: decode each frame once and keep it in memory after the resize (``frame_cache``; the
      frames trained on are the same bit for bit); False decodes every frame every epoch.
    * ``info``: JSON-like metadata stored in the checkpoint under ``info``.
    * ``epoch_dir``: a folder where every epoch's weights are also written as a checkpoint
      (``epoch_NN.pth``, its validation figures under ``metrics.val``), so an application can choose the
      epoch by what the validation loss cannot see (``jetracer demo`` drives them: ``apps/epoch_choice``).

    With the fractions left at None, a folder of fewer than ``TINY_IMAGES`` images is used whole for
    training (no validation or test frames, the final weights are kept) and ``TrainResult.notes`` says so.
    ``callback(record)`` runs on rank 0 after each epoch with that epoch's history record; returning
    True stops training.

    ``out`` is written once, atomically, when training finishes; an existing ``out`` is then kept as
    ``<out>.prev``, and with ``overwrite=False`` it is refused before anything runs. ``<out>.partial``
    holds the resume state (after the first epoch, then at most every ``STATE_EVERY_S``); ``resume=True`` continues from it (the same options and
    data, see ``RESUME_FREE`` for what may change) and ends with the same checkpoint an uninterrupted
    run writes. Raises TrainError (a ValueError) for unknown options or values out of range, an output
    that cannot be written or would be lost, a resume state that does not match, a model to start from
    that does not fit, or a dataset too small to split; FileNotFoundError for a missing dataset folder
    or ``init`` file.
    """
    opt = check_options(options)
    if isinstance(dataset_dirs, (str, os.PathLike)):
        dataset_dirs = [dataset_dirs]
    dataset_dirs = [os.fspath(d) for d in dataset_dirs]
    out = os.fspath(out)
    dist_env = _distributed()
    check_output(out, overwrite=overwrite, resume=resume)
    if dist_env["rank"] == 0:
        remove_leftovers(out, partial_path(out), previous_path(out), loss_plot_path(out))
    state = load_resume_state(out, run_options(opt, dataset_dirs)) if resume else None
    device = pick_device(opt.device, dist_env["local_rank"])
    if opt.threads:
        torch.set_num_threads(opt.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick the fastest kernels
    with _process_group(device, dist_env, opt.threads), _one_opencv_thread():
        run = TrainRun(dataset_dirs, out, opt, device, dist_env if dist_env["world"] > 1 else None, state,
                       callback=callback, state_every_s=STATE_EVERY_S)
        return run.run()
