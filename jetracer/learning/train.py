"""Train a road-following model: ``train(dataset_dirs, out, **options) -> TrainResult``.

The shape of torchvision's ``references/classification/train.py``: parse args, ``train_one_epoch``,
``evaluate``, separate train/eval transforms (``augment.TrainTransform`` / ``EvalTransform``), a
checkpoint (``checkpoint.save_checkpoint``). Specifics:

* split by recording session (``split.split_by_session``), so near-duplicate frames never straddle
  train and validation/test;
* AdamW with a OneCycle (default) or cosine schedule stepped per batch; early stopping on the
  validation loss (``patience`` epochs); AMP on CUDA;
* metrics: MSE loss on the normalised label and the mean/median absolute error in pixels of the
  model input image (``|du| = |dx| * W/2``, ``|dv| = |dy| * H/2``) for validation and test;
* the best-validation weights are what the checkpoint holds; a loss-curve PNG
  (``<out without extension>_loss.png``) is written next to it;
* multi-GPU / multi-process: under ``torchrun --nproc_per_node=N -m jetracer.learning.train ...``
  (or ``torchrun ... $(which jetracer) train ...``) it uses DistributedDataParallel (nccl on CUDA,
  gloo on CPU) with a DistributedSampler; ``batch_size`` is per process; only rank 0 evaluates and
  writes files, and broadcasts the early-stopping decision.
"""
import argparse
import contextlib
import copy
import logging
import os
import random
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .augment import EvalTransform, TrainTransform
from .checkpoint import save_checkpoint
from .dataset import RoadDataset, scan_dataset
from .model import build_model
from .preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessor, input_hw, normalization_meta
from .split import split_by_session

logger = logging.getLogger(__name__)

DEFAULTS = {
    "arch": "resnet18", "epochs": 30, "batch_size": 32, "input_size": 224, "lr": 1e-3, "weight_decay": 1e-4,
    "device": "auto", "workers": None, "seed": 0, "patience": 5, "pretrained": True, "augment": True,
    "val_fraction": 0.1, "test_fraction": 0.1, "schedule": "onecycle", "amp": True, "categories": None,
    "save_optimizer": False, "progress": True, "threads": None,
}


class TrainResult(object):
    """What ``train`` returns (on every rank; files are written by rank 0 only).

    ``checkpoint`` and ``loss_plot`` paths, ``history`` (one dict per epoch, epoch 0 = before
    training), ``metrics`` {"val": best epoch's, "test": ...}, ``split`` (checkpoint meta),
    ``best_epoch``, ``epochs_run``, ``stopped_early``, ``images_per_s`` (training throughput over all
    processes), ``problems`` (skipped files), ``distributed`` (world size, shard facts).
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
            raise ValueError("--device %s asked but torch sees no CUDA GPU; use --device cpu" % name)
        return torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)
    return torch.device(name)


def select_outputs(outputs: torch.Tensor, category_idx: torch.Tensor) -> torch.Tensor:
    """(N, 2K) outputs -> (N, 2): the (x, y) pair of each sample's own category."""
    idx = (category_idx.long() * 2).unsqueeze(1) + torch.arange(2, device=outputs.device)
    return outputs.gather(1, idx)


def train_one_epoch(model: Any, loader: Any, optimizer: Any, scheduler: Any, preprocess: Preprocessor,
                    device: torch.device, scaler: Any = None, epoch: int = 1, progress: bool = True) -> Dict[str, float]:
    """One pass over ``loader``; returns {"loss": mean batch loss, "images": n, "seconds": t}."""
    from tqdm import tqdm
    model.train()
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


@torch.no_grad()
def evaluate(model: Any, loader: Any, preprocess: Preprocessor, device: torch.device) -> Dict[str, float]:
    """Loss and pixel errors (in the model input image) over ``loader``.

    Returns {"loss", "mean_abs_du_px", "median_abs_du_px", "mean_abs_dv_px", "median_abs_dv_px", "images"}.
    """
    model.eval()
    h, w = preprocess.input_size
    errors = []
    for frames, category_idx, xy in loader:
        inputs = preprocess.batch(frames)
        pred = select_outputs(model(inputs).float(), category_idx.to(device))
        errors.append((pred - xy.to(device)).cpu())
    if not errors:
        return {"loss": float("nan"), "images": 0}
    err = torch.cat(errors).double()
    du, dv = err[:, 0].abs() * (w / 2.0), err[:, 1].abs() * (h / 2.0)
    return {"loss": float((err ** 2).mean()), "mean_abs_du_px": float(du.mean()), "median_abs_du_px": float(du.median()),
            "mean_abs_dv_px": float(dv.mean()), "median_abs_dv_px": float(dv.median()), "images": int(err.shape[0])}


def plot_losses(history: Sequence[Dict[str, Any]], path: str) -> str:
    """Train/validation loss per epoch (log scale) and validation |du| in pixels, as a PNG at ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    tr = [(h["epoch"], h["train_loss"]) for h in history if h.get("train_loss") is not None]
    va = [(h["epoch"], h["val"]["loss"]) for h in history]
    if tr:
        ax.plot(*zip(*tr), "o-", label="train")
    ax.plot(*zip(*va), "s-", label="validation")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE loss (normalised x, y)")
    ax.legend()
    ax2.plot([h["epoch"] for h in history], [h["val"].get("mean_abs_du_px", float("nan")) for h in history], "s-",
             label="mean |du|")
    ax2.plot([h["epoch"] for h in history], [h["val"].get("mean_abs_dv_px", float("nan")) for h in history], "^-",
             label="mean |dv|")
    ax2.set_xlabel("epoch")
    for a in (ax, ax2):
        a.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax2.set_ylabel("validation error (input pixels)")
    ax2.legend()
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)
    return path


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


def train(dataset_dirs: Any, out: str, callback: Optional[Callable[[Dict[str, Any]], Any]] = None,
          **options: Any) -> TrainResult:
    """Train on ``dataset_dirs`` (one or more upstream-layout folders) and write the checkpoint ``out``.

    ``options``: see ``DEFAULTS`` (arch, epochs, batch_size, input_size N or (H, W), lr, weight_decay,
    device auto|cpu|cuda, workers, seed, patience, pretrained, augment, val_fraction, test_fraction,
    schedule onecycle|cosine, amp, categories, save_optimizer, progress, threads: torch CPU threads,
    default torch's; on a busy machine 1 can be several times faster than 2). ``callback(record)`` runs on
    rank 0 after each epoch with that epoch's history record; returning True stops training.
    Raises ValueError for unknown options or a dataset too small to split.
    """
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise ValueError("unknown training option(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    opt = dict(DEFAULTS)
    opt.update({k: v for k, v in options.items() if v is not None or k == "workers"})
    if isinstance(dataset_dirs, (str, os.PathLike)):
        dataset_dirs = [dataset_dirs]
    dataset_dirs = [os.fspath(d) for d in dataset_dirs]
    out = os.fspath(out)
    input_size = input_hw(opt["input_size"])
    dist_env = _distributed()
    is_dist = dist_env["world"] > 1
    rank = dist_env["rank"]
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
        return _train(dataset_dirs, out, callback, opt, input_size, device, dist_env if is_dist else None)
    finally:
        cv2.setNumThreads(cv_threads)
        if is_dist:
            import torch.distributed as dist
            if dist.is_initialized():
                dist.destroy_process_group()


def _train(dataset_dirs: List[str], out: str, callback: Any, opt: Dict[str, Any], input_size: Any,
           device: torch.device, dist_env: Optional[Dict[str, int]]) -> TrainResult:
    rank, world = (dist_env["rank"], dist_env["world"]) if dist_env else (0, 1)
    main_rank = rank == 0
    seed = int(opt["seed"])
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

    index = scan_dataset(dataset_dirs, opt["categories"])
    if not index.entries:
        raise ValueError("no labelled images in %s (%d problem file(s)); expected <dataset>/<category>/<u>_<v>_<id>.jpg"
                         % (", ".join(dataset_dirs), len(index.problems)))
    split = split_by_session(index.entries, opt["val_fraction"], opt["test_fraction"], seed)
    if split.note and main_rank:
        logger.warning("split: %s", split.note)
    categories = index.categories
    workers = opt["workers"]
    if workers is None:
        workers = min(8, max(1, (os.cpu_count() or 1) // world)) if device.type == "cuda" else 0
    train_tf = TrainTransform(input_size) if opt["augment"] else EvalTransform(input_size)
    eval_tf = EvalTransform(input_size)
    subset = lambda ids, tf: RoadDataset([index.entries[i] for i in ids], categories, tf)  # noqa: E731
    train_ds, val_ds, test_ds = subset(split.train, train_tf), subset(split.val, eval_tf), subset(split.test, eval_tf)
    batch_size = int(opt["batch_size"])
    sampler = None
    if dist_env:
        sampler = torch.utils.data.distributed.DistributedSampler(
            train_ds, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=len(train_ds) >= world)
    per_rank = len(train_ds) // world if dist_env else len(train_ds)
    train_loader = _loader(train_ds, batch_size, workers, device, True, sampler, seed, drop_last=per_rank > batch_size)
    val_loader = _loader(val_ds, batch_size, workers, device, False)
    test_loader = _loader(test_ds, batch_size, workers, device, False)

    model = build_model(opt["arch"], 2 * len(categories), pretrained=bool(opt["pretrained"])).to(device)
    net = model
    if dist_env:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    preprocess = Preprocessor(input_size, IMAGENET_MEAN, IMAGENET_STD, device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=float(opt["lr"]), weight_decay=float(opt["weight_decay"]))
    epochs = int(opt["epochs"])
    steps = max(1, epochs * len(train_loader))
    if opt["schedule"] == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=float(opt["lr"]), total_steps=steps)
    elif opt["schedule"] == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    else:
        raise ValueError("schedule must be onecycle or cosine, got %r" % opt["schedule"])
    scaler = _grad_scaler(device, bool(opt["amp"]))
    progress = bool(opt["progress"]) and main_rank

    distributed_meta = {"world_size": world}
    if dist_env:
        import torch.distributed as dist
        sampler.set_epoch(1)
        shards = [None] * world  # type: List[Any]
        dist.all_gather_object(shards, sorted(int(i) for i in sampler))
        flat = [i for s in shards for i in s]
        distributed_meta.update({"backend": dist.get_backend(), "samples_per_rank": [len(s) for s in shards],
                                 "shards_disjoint": len(flat) == len(set(flat))})

    train_args = dict(opt, dataset_dirs=dataset_dirs, input_size=list(input_size), workers=workers,
                      world_size=world, device=str(device))
    train_args.pop("progress", None)
    history = []  # type: List[Dict[str, Any]]
    if main_rank:
        history.append({"epoch": 0, "train_loss": None, "val": evaluate(model, val_loader, preprocess, device),
                        "lr": optimizer.param_groups[0]["lr"], "seconds": 0.0})
    best_loss, best_epoch, best_state, bad_epochs = float("inf"), 0, None, 0
    train_images, train_seconds, stopped_early, epoch = 0, 0.0, False, 0
    plot = loss_plot_path(out)

    def save(metrics: Dict[str, Any], epoch_saved: int) -> None:
        save_checkpoint(out, model, opt["arch"], input_size, categories, train_args=train_args,
                        split=split.as_meta(), metrics=metrics, epoch=epoch_saved,
                        optimizer=optimizer if opt["save_optimizer"] else None,
                        normalization=normalization_meta(IMAGENET_MEAN, IMAGENET_STD),
                        dataset={"dirs": dataset_dirs, "images": len(index.entries), "problems": len(index.problems)},
                        distributed=distributed_meta)

    for epoch in range(1, epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)
        stats = train_one_epoch(net, train_loader, optimizer, scheduler, preprocess, device, scaler, epoch, progress)
        train_images += stats["images"] * world
        train_seconds += stats["seconds"]
        stop = 0
        if main_rank:
            val = evaluate(model, val_loader, preprocess, device)
            record = {"epoch": epoch, "train_loss": stats["loss"], "val": val, "lr": optimizer.param_groups[0]["lr"],
                      "seconds": stats["seconds"], "images_per_s": stats["images"] * world / max(stats["seconds"], 1e-9)}
            improved = val["loss"] < best_loss
            record["best"] = improved
            history.append(record)
            if improved:
                best_loss, best_epoch, bad_epochs = val["loss"], epoch, 0
                best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
                save({"val": val}, epoch)
            else:
                bad_epochs += 1
            logger.info("epoch %d/%d: train loss %.5f, val loss %.5f, val |du| %.2f px |dv| %.2f px%s",
                        epoch, epochs, stats["loss"], val["loss"], val.get("mean_abs_du_px", float("nan")),
                        val.get("mean_abs_dv_px", float("nan")), " (best)" if improved else "")
            if callback is not None and callback(record) is True:
                stop = 1
            elif int(opt["patience"]) > 0 and bad_epochs >= int(opt["patience"]):
                logger.info("early stop: validation loss has not improved for %d epochs", bad_epochs)
                stop = 1
        if dist_env:
            import torch.distributed as dist
            flag = torch.tensor([stop], device=device)
            dist.broadcast(flag, 0)
            stop = int(flag.item())
        if stop:
            stopped_early = epoch < epochs
            break

    metrics = {}  # type: Dict[str, Any]
    if main_rank:
        if best_state is not None:
            model.load_state_dict(best_state)
        best_val = next((h["val"] for h in history if h["epoch"] == best_epoch), history[-1]["val"])
        metrics = {"val": best_val, "test": evaluate(model, test_loader, preprocess, device)}
        save(metrics, best_epoch)
        plot_losses(history, plot)
        logger.info("test: loss %.5f, |du| mean %.2f px median %.2f px; checkpoint %s", metrics["test"]["loss"],
                    metrics["test"].get("mean_abs_du_px", float("nan")),
                    metrics["test"].get("median_abs_du_px", float("nan")), out)
    if dist_env:
        import torch.distributed as dist
        dist.barrier()
    return TrainResult(checkpoint=out, loss_plot=plot, history=history, metrics=metrics, split=split.as_meta(),
                       best_epoch=best_epoch, epochs_run=epoch, stopped_early=stopped_early,
                       images_per_s=train_images / max(train_seconds, 1e-9), problems=index.problems,
                       distributed=distributed_meta, rank=rank)


def options_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    """argparse namespace of ``jetracer train`` -> ``train`` options."""
    return {"arch": args.arch, "epochs": args.epochs, "batch_size": args.batch_size, "input_size": args.input_size,
            "lr": args.lr, "weight_decay": args.weight_decay, "device": args.device, "workers": args.workers,
            "seed": args.seed, "patience": args.patience, "pretrained": not args.no_pretrained,
            "augment": not args.no_augment, "val_fraction": args.val_fraction, "test_fraction": args.test_fraction,
            "schedule": args.schedule, "amp": not args.no_amp, "categories": args.categories,
            "save_optimizer": args.save_optimizer, "progress": not args.no_progress, "threads": args.threads}


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m jetracer.learning.train`` (e.g. under torchrun): the same arguments as ``jetracer train``."""
    from jetracer.cli.train import add_arguments, run
    parser = argparse.ArgumentParser(prog="python -m jetracer.learning.train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
