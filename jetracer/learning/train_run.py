"""The training loop: a :class:`TrainRun` sets up the data, model and schedule, runs epochs until it is
told to stop, and writes the checkpoint (see :func:`jetracer.learning.train.train`, which starts it).

Everything a killed run needs to continue where it stopped goes into the resume state after epochs
(:meth:`TrainRun.save_state`); a resumed run restores it in :meth:`TrainRun.setup` in the order it was
drawn, so it ends with the weights of an uninterrupted run.
"""
import contextlib
import copy
import logging
import math
import multiprocessing
import os
import random
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..atomic import keep_previous
from ..dataset import scan_dataset, shown_path
from ..pilot.checkpoint import plain_data, save_checkpoint
from ..pilot.model import build_model
from ..pilot.preprocess import COLOR_ORDER, IMAGENET_MEAN, IMAGENET_STD, Preprocessor, input_hw, normalization_meta
from .augment import EvalTransform, TrainTransform
from .evaluate import flat_output_note
from .finetune import adapt_head, fit_head, init_normalization, load_init
from .frame_cache import MAX_CACHE_BYTES, MEMORY_SHARE, cache_budget, fill_caches
from .loss_plot import plot_losses
from .metrics import EvalSet, describe_errors, multitask_loss, select_outputs, selection_loss
from .randconv import RandConv
from .road_dataset import RoadDataset
from .sampling import dataset_shares, epoch_sampler, make_loader
from .split import split_folders
from .train_options import FINETUNE, MIN_STEPS, SCRATCH, TINY_IMAGES, TrainError, TrainOptions, finetune_note
from .train_output import epoch_path, loss_plot_path, partial_path, previous_path
from .train_state import STATE_EVERY_S, STATE_FORMAT, rng_state, run_options, save_state, scheduler_state, set_rng_state

# the loop logs as jetracer.learning.train, the module people configure (and `jetracer bench` quietens)
logger = logging.getLogger("jetracer.learning.train")
BN_MOMENTUM = 0.1  # running-statistics momentum while training (see track_batch_norm)


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


def track_batch_norm(model: torch.nn.Module, momentum: float = BN_MOMENTUM) -> None:
    """Give every batch-norm layer of ``model`` the running-statistics momentum ``momentum``.

    Why: torchvision builds MobileNetV3 (large and small) with momentum 0.01, tuned for ImageNet's
    hundreds of thousands of steps. Our runs take hundreds to a few thousand, so the running statistics
    lag the weights, and the eval-mode model (the one saved and driven) put out a constant. Measured on
    the demo's frames, mobilenet_v3_large at 96x96 from scratch, 4 epochs, on the expert's drive of
    ``twisty``: at 0.01 every prediction the same (spread 0.000 against the labels' 0.114); at 0.1, the
    momentum resnet18 already has, a spread of 0.107 and r(x) 0.83. The momentum is not saved: it matters
    only while training."""
    for layer in model.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
            layer.momentum = momentum


@contextlib.contextmanager
def _null_context():
    yield  # contextlib.nullcontext is Python 3.7+


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


def train_one_epoch(model: torch.nn.Module, loader: Any, optimizer: torch.optim.Optimizer, scheduler: Any,
                    preprocess: Preprocessor, device: torch.device, scaler: Any = None, epoch: int = 1,
                    progress: bool = True, freeze_bn: bool = False,
                    road_outputs: Optional[int] = None, obstacle_weight: float = 1.0,
                    restyle: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> Dict[str, float]:
    """One pass over ``loader``; returns {"loss": mean batch loss, "images": n, "seconds": t}.

    ``freeze_bn`` keeps every batch-norm layer's running statistics (and uses them), as fine-tuning on a
    few dozen frames needs: their batch statistics would replace what the starter learned over thousands.
    A loader of ``(frames, category, xy, targets)`` (a model with an obstacle head: ``road_outputs`` road
    outputs, then the obstacle ones) trains each frame on the labels it has (:func:`.metrics.multitask_loss`,
    its obstacle terms scaled by ``obstacle_weight``). ``restyle`` maps each normalised input batch before the
    model sees it (:class:`.randconv.RandConv`); labels are left as they are."""
    from tqdm import tqdm
    model.train()
    if freeze_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
    total, count, images = 0.0, 0, 0
    start = time.perf_counter()
    bar = tqdm(loader, desc="epoch %d" % epoch, leave=False, disable=not progress, unit="batch")
    for batch in bar:
        frames, category_idx, xy = batch[:3]
        inputs = preprocess.batch(frames)
        if restyle is not None:
            inputs = restyle(inputs)
        xy = xy.to(device, non_blocking=True)
        category_idx = category_idx.to(device, non_blocking=True)
        with _autocast(device, scaler is not None):
            if len(batch) > 3:
                loss = multitask_loss(model(inputs), category_idx, xy, batch[3].to(device, non_blocking=True),
                                      int(road_outputs), obstacle_weight)[0]
            else:
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


def _weights_of(model: Any) -> Dict[str, Any]:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


class TrainRun(object):
    """One training run of ``dataset_dirs`` into ``out``: :meth:`setup`, :meth:`run_epoch` for each epoch
    until one says stop, :meth:`finish`; :meth:`run` does all three.

    ``opt`` are the validated options; ``dist_env`` the rank and world size under torchrun (None for one
    process); ``state`` the resume state of the run it continues; ``callback(record)`` runs on rank 0
    after each epoch (True stops); the resume state is rewritten at most every ``state_every_s``.
    """

    def __init__(self, dataset_dirs: List[str], out: str, opt: TrainOptions, device: torch.device,
                 dist_env: Optional[Dict[str, int]] = None, state: Optional[Dict[str, Any]] = None,
                 callback: Optional[Callable[[Dict[str, Any]], Any]] = None,
                 state_every_s: float = STATE_EVERY_S) -> None:
        self.dirs, self.out, self.opt, self.device, self.dist_env = dataset_dirs, out, opt, device, dist_env
        self.state, self.callback, self.state_every_s = state, callback, state_every_s
        self.rank, self.world = (dist_env["rank"], dist_env["world"]) if dist_env else (0, 1)
        self.main_rank = self.rank == 0
        self.notes = []  # type: List[str]
        self.previous = None  # type: Optional[str]
        self.last_state_s = None  # type: Optional[float]

    def run(self) -> TrainResult:
        """Train and write the checkpoint; returns what was done."""
        self.setup()
        for epoch in range(self.epoch + 1, self.epochs + 1 if not self.stop else 0):
            if self.run_epoch(epoch):
                break
        return self.finish()

    # -- setup -----------------------------------------------------------------------------------

    def setup(self) -> None:
        """Seed, choose the start and recipe, read and split the data, build the loaders, model, optimizer
        and schedule, and put back a resumed run's progress (in the order a fresh run draws its randomness)."""
        seed = self.opt.seed
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        self._choose_start()
        self._read_data()
        self._make_loaders()
        self._make_model()
        self._make_schedule()
        self.progress = self.opt.progress and self.main_rank
        if self.main_rank:
            for note in self.notes:
                logger.warning("%s", note)
        self._describe_distribution()
        self._restore_progress()

    def _choose_start(self) -> None:
        """Architecture, input size, normalisation and recipe: the model to fine-tune's, or from scratch."""
        opt = self.opt
        self.init_model, self.init_meta = None, None  # type: Any, Optional[Dict[str, Any]]
        if opt.init:
            self.init_model, self.init_meta = load_init(opt.init, opt.arch, opt.input_size)
            self.arch, self.input_size = self.init_meta["arch"], tuple(input_hw(self.init_meta["input_size"]))
            self.mean, self.std, self.color_order = init_normalization(self.init_meta)
            self.recipe = FINETUNE
            self.notes.append(finetune_note(opt, self.arch, self.input_size, self.color_order))
        else:
            self.arch = opt.arch or SCRATCH["arch"]
            self.input_size = tuple(input_hw(opt.input_size or SCRATCH["input_size"]))
            self.mean, self.std, self.color_order = IMAGENET_MEAN, IMAGENET_STD, COLOR_ORDER
            self.recipe = SCRATCH
        self.lr = float(opt.lr or self.recipe["lr"])
        self.warmup = float(opt.warmup if opt.warmup is not None else self.recipe["warmup"])

    def _read_data(self) -> None:
        """Scan the folders, split each by session, and choose the folders' shares of every epoch."""
        groups_idx = []  # type: List[Tuple[str, List[Any]]]
        self.problems = []  # type: List[Any]
        found = set()  # type: set
        for d in self.dirs:
            index = scan_dataset(d, self.opt.categories, obstacles=True)
            groups_idx.append((d, index.entries))
            self.problems.extend(index.problems)
            found.update(index.categories)
        self.entries = [e for _, es in groups_idx for e in es]
        if not self.entries:
            raise TrainError("no labelled images in %s (%d problem file(s)); expected <dataset>/<category>/<u>_<v>_<id>.jpg"
                             " or obstacle frames in <dataset>/blocked/ and <dataset>/free/"
                             % (", ".join(self.dirs), len(self.problems)))
        categories = list(self.opt.categories) if self.opt.categories is not None else sorted(found)
        # scan_dataset lists categories that have a folder; keep those with frames, in that order
        self.categories = [c for c in categories if any(e.category == c for e in self.entries)] or categories
        self._choose_outputs()
        self.group_of = [g for g, (_, es) in enumerate(groups_idx) for _ in es]
        try:
            self.split = split_folders(groups_idx, self.opt.val_fraction, self.opt.test_fraction, self.opt.seed,
                                       TINY_IMAGES)
        except ValueError as e:
            raise TrainError(str(e))
        if self.state is not None and self.state.get("split") != plain_data(self.split.as_meta()):
            raise TrainError("--resume: the dataset changed since the run in %s started (%d images then, %d now); "
                             "resume on the same frames, or start afresh with --force"
                             % (shown_path(partial_path(self.out)), self.state.get("images", -1), len(self.entries)))
        if self.split.note:
            self.notes.append("split: " + self.split.note)
        if not self.split.train:
            raise TrainError("no images left for training in %s; lower --val-fraction/--test-fraction"
                             % ", ".join(self.dirs))
        self.train_counts = [sum(1 for i in self.split.train if self.group_of[i] == g) for g in range(len(self.dirs))]
        self.shares = dataset_shares(self.opt.dataset_weights, self.dirs, self.train_counts)
        if self.shares is not None:
            self.notes.append("each epoch draws %s from %s" % (
                ", ".join("%d%%" % round(100 * s) for s in self.shares), ", ".join(self.dirs)))

    def _choose_outputs(self) -> None:
        """The obstacle outputs: the blocked logit where frames say blocked or free (both must be there), the
        distance too where frames give one; a model to start from keeps its own. None: the run is road-only,
        exactly as before the obstacle head existed."""
        labelled = [e for e in self.entries if e.has_obstacle]
        names = []  # type: List[str]
        if labelled:
            blocked = sum(1 for e in labelled if e.blocked)
            if blocked in (0, len(labelled)) and all(e.has_road for e in labelled):
                # the simulator's index labels, too few frames to meet an obstacle: the road model still trains
                self.notes.append("no obstacle output: the %d obstacle label(s) are all %s (collect more frames, "
                                  "or more --obstacles)" % (len(labelled), "blocked" if blocked else "free"))
                labelled = []
            elif blocked in (0, len(labelled)):
                raise TrainError("the obstacle output needs blocked and free frames, but the %d obstacle label(s) in "
                                 "%s are all %s; add <dataset>/%s/ frames" % (
                                     len(labelled), ", ".join(self.dirs), "blocked" if blocked else "free",
                                     "free" if blocked else "blocked"))
        if labelled:
            names = ["blocked_logit"] + (["distance_m"] if any(e.distance_m is not None for e in labelled) else [])
        elif self.opt.obstacle_weight != 1.0:
            self.notes.append("obstacle_weight %g has no effect: no frame has a blocked/free label"
                              % self.opt.obstacle_weight)
        own = list((self.init_meta or {}).get("obstacle_outputs") or [])
        self.obstacle_outputs = own if len(own) >= len(names) else names
        if not any(e.has_road for e in self.entries):
            if self.init_meta is None:
                raise TrainError("%s hold(s) obstacle frames only; the model steers too: add a road folder, or start "
                                 "from a road model with --init" % ", ".join(self.dirs))
            self.categories = list(self.init_meta.get("categories") or ["apex"])
        self.road_outputs = 2 * len(self.categories) if self.obstacle_outputs else None

    def _subset(self, ids: Sequence[int], transform: Any) -> RoadDataset:
        return RoadDataset([self.entries[i] for i in ids], self.categories, transform,
                           obstacle=bool(self.obstacle_outputs))

    def _make_loaders(self) -> None:
        """The training loader (shares drawn with replacement, or sharded across processes) and the
        validation and test sides, one loader per folder."""
        opt, device, world = self.opt, self.device, self.world
        workers = opt.workers
        if workers is None:
            workers = min(8, max(1, (os.cpu_count() or 1) // world)) if device.type == "cuda" else 0
            # workers start again every epoch: for an epoch of a few batches (fine-tuning on 25 clicks) that
            # costs more than decoding the images in this process (measured: 107 s for 25 frames on a GPU)
            workers = min(workers, len(self.split.train) // (opt.batch_size * world * 4))
        self.workers = workers
        train_tf = TrainTransform(self.input_size) if opt.augment else EvalTransform(self.input_size)
        self.restyle = RandConv(opt.randconv) if opt.augment and opt.randconv > 0 else None
        eval_tf = EvalTransform(self.input_size)
        self.train_ds = self._subset(self.split.train, train_tf)
        self.sampler = None  # type: Any
        if self.shares is not None:
            self.sampler = epoch_sampler([self.group_of[i] for i in self.split.train], self.shares,
                                         len(self.train_ds) // world, opt.seed * 1009 + self.rank)
        elif self.dist_env:
            self.sampler = torch.utils.data.distributed.DistributedSampler(
                self.train_ds, num_replicas=world, rank=self.rank, shuffle=True, seed=opt.seed,
                drop_last=len(self.train_ds) >= world)
        per_rank = len(self.train_ds) // world if (self.dist_env or self.shares is not None) else len(self.train_ds)
        self.train_loader = make_loader(self.train_ds, opt.batch_size, workers, device, True, self.sampler, opt.seed,
                                        drop_last=per_rank > opt.batch_size)

        datasets = [self.train_ds]

        def eval_set(ids: List[int]) -> EvalSet:
            loaders = []
            for g, d in enumerate(self.dirs):
                mine = [i for i in ids if self.group_of[i] == g]
                if mine:
                    datasets.append(self._subset(mine, eval_tf))
                    loaders.append((g, d, make_loader(datasets[-1], opt.batch_size, workers, device, False)))
            return EvalSet(loaders, self.shares, self.input_size, self.road_outputs)

        self.val_set, self.test_set = eval_set(self.split.val), eval_set(self.split.test)
        self.has_val = bool(self.split.val)
        self._fill_caches(datasets)

    def _fill_caches(self, datasets: List[RoadDataset]) -> None:
        """Decode the frames once, before the loaders start (:mod:`.frame_cache`); a note when not all fit."""
        if not self.opt.frame_cache:
            return
        if self.workers > 0 and multiprocessing.get_start_method() != "fork":
            # loader workers started otherwise get the dataset pickled, every epoch: the cache would cost more
            self.notes.append("frames decoded every epoch: loader workers start by %s here, not fork, and would each "
                              "get a copy of the kept frames" % multiprocessing.get_start_method())
            return
        filled = fill_caches(datasets, cache_budget(self.world), self.opt.threads or os.cpu_count())
        if filled.frames < filled.total:
            self.notes.append("%d of %d frames kept decoded in memory (%d MB: %d%% of the memory available, at most "
                              "%d MB); the others are decoded every epoch" % (
                                  filled.frames, filled.total, filled.bytes >> 20, round(100 * MEMORY_SHARE),
                                  MAX_CACHE_BYTES >> 20))

    def _make_model(self) -> None:
        """The model (the one to fine-tune, its head fitted to the categories, or a new one), wrapped for
        DistributedDataParallel under torchrun, its preprocessing and its optimizer."""
        if self.init_model is not None:
            if self.obstacle_outputs or self.init_meta.get("obstacle_outputs"):
                model, head_note = fit_head(self.init_model, self.init_meta, self.categories, self.obstacle_outputs)
            else:
                model, head_note = adapt_head(self.init_model, self.init_meta, self.categories)
            if head_note:
                self.notes.append(head_note)
            self.model = model.to(self.device)
        else:
            self.model = build_model(self.arch, 2 * len(self.categories) + len(self.obstacle_outputs),
                                     pretrained=self.opt.pretrained).to(self.device)
        track_batch_norm(self.model)
        if self.state is not None:
            self.model.load_state_dict(self.state["model"])
        self.net = self.model
        if self.dist_env:
            from torch.nn.parallel import DistributedDataParallel
            self.net = DistributedDataParallel(self.model, device_ids=[self.device.index]
                                               if self.device.type == "cuda" else None)
        self.preprocess = Preprocessor(self.input_size, self.mean, self.std, self.device, color_order=self.color_order)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=self.lr, weight_decay=float(self.opt.weight_decay))

    def _make_schedule(self) -> None:
        """Epochs (raised for a tiny dataset until training makes ``min_steps`` steps), patience, the
        learning-rate schedule and AMP's scaler; a resumed run's optimizer, schedule and scaler states."""
        opt = self.opt
        steps_per_epoch = max(1, len(self.train_loader))
        self.min_steps = opt.min_steps if opt.min_steps is not None else MIN_STEPS
        if opt.epochs is not None:
            self.epochs = opt.epochs
        else:
            self.epochs = max(int(self.recipe["epochs"]), int(math.ceil(self.min_steps / float(steps_per_epoch))))
            if self.epochs > self.recipe["epochs"]:
                self.notes.append("%d training images (%d step(s) per epoch): %d epochs, so that training makes at "
                                  "least %d steps" % (len(self.train_ds), steps_per_epoch, self.epochs, self.min_steps))
        self.patience = opt.patience if opt.patience is not None else max(5, self.epochs // 6)
        steps = max(1, self.epochs * steps_per_epoch)
        self.first_candidate = 1
        if opt.schedule == "onecycle":
            warmup = self.warmup
            pct = warmup if abs(warmup * steps - 1.0) > 1e-6 else warmup + 0.5 / steps  # torch divides by pct*steps - 1
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=self.lr, total_steps=steps,
                                                                 pct_start=min(pct, 0.99))
            # an epoch before the learning rate peaks is no candidate: on a tiny validation side the barely
            # trained model of epoch 2 scored best and early stopping ended the run during the warm-up
            self.first_candidate = min(self.epochs, max(1, int(math.ceil(min(pct, 0.99) * steps / steps_per_epoch))))
        else:
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=steps)
        self.scaler = _grad_scaler(self.device, opt.amp)
        if self.state is not None:
            self.optimizer.load_state_dict(self.state["optimizer"])
            self.scheduler.load_state_dict(self.state["scheduler"])
            if self.scaler is not None and self.state.get("scaler"):
                self.scaler.load_state_dict(self.state["scaler"])
            self.notes.append("resumed from %s after epoch %d of %d" % (
                shown_path(partial_path(self.out)), self.state["epoch"], self.epochs))

    def _describe_distribution(self) -> None:
        """The checkpoint's ``distributed`` record: world size, backend, and whether the shards are disjoint."""
        self.distributed_meta = {"world_size": self.world}  # type: Dict[str, Any]
        if not self.dist_env:
            return
        import torch.distributed as dist
        self.distributed_meta["backend"] = dist.get_backend()
        if isinstance(self.sampler, torch.utils.data.distributed.DistributedSampler):
            self.sampler.set_epoch(1)
            shards = [None] * self.world  # type: List[Any]
            dist.all_gather_object(shards, sorted(int(i) for i in self.sampler))
            flat = [i for s in shards for i in s]
            self.distributed_meta.update({"samples_per_rank": [len(s) for s in shards],
                                          "shards_disjoint": len(flat) == len(set(flat))})
        else:
            self.distributed_meta["sampler"] = "weighted, drawn with replacement on each rank"

    def _restore_progress(self) -> None:
        """What the checkpoint records of the run, and the progress so far: a resumed run's (history, best
        epoch, RNG states), else the model's validation error before training (epoch 0)."""
        opt = self.opt
        self.train_args = dict(opt._asdict(), dataset_dirs=self.dirs, input_size=list(self.input_size),
                               workers=self.workers, world_size=self.world, device=str(self.device), arch=self.arch,
                               lr=self.lr, warmup=self.warmup, epochs=self.epochs, patience=self.patience,
                               min_steps=self.min_steps, dataset_shares=self.shares, freeze_bn=opt.freeze_bn,
                               obstacle_outputs=self.obstacle_outputs)
        self.train_args.pop("progress", None)
        self.train_args.pop("info", None)
        self.train_args.pop("epoch_dir", None)
        self.init_record = None  # type: Optional[Dict[str, Any]]
        if self.init_meta is not None:
            self.init_record = {"path": os.path.abspath(opt.init), "format": self.init_meta.get("format"),
                                "created": self.init_meta.get("created"), "dataset": self.init_meta.get("dataset"),
                                "info": self.init_meta.get("info")}
        self.history = []  # type: List[Dict[str, Any]]
        self.best_loss, self.best_epoch, self.best_state, self.bad_epochs = float("inf"), 0, None, 0
        self.train_images, self.train_seconds, self.epoch, self.stop = 0, 0.0, 0, 0
        self.generators = [g for g in (self.train_loader.generator, getattr(self.sampler, "generator", None))
                           if g is not None]
        state = self.state
        if state is not None:
            self.history, self.epoch, self.stop = list(state["history"]), int(state["epoch"]), int(state["stop"])
            self.best_loss, self.best_epoch = float(state["best_loss"]), int(state["best_epoch"])
            self.bad_epochs = int(state["bad_epochs"])
            self.best_state = state["best_state"] if state["best_state"] is not None else (
                state["model"] if self.best_epoch == self.epoch and self.has_val else None)
            self.train_images, self.train_seconds = int(state["train_images"]), float(state["train_seconds"])
            set_rng_state(state["rng"], self.generators)
        elif self.main_rank:
            self.history.append({"epoch": 0, "train_loss": None, "val": self.evaluate(),
                                 "lr": self.optimizer.param_groups[0]["lr"], "seconds": 0.0, "epochs": self.epochs})
        self.log_every = 1 if self.epochs <= 60 else int(math.ceil(self.epochs / 30.0))
        self.options = run_options(opt, self.dirs)

    # -- epochs ----------------------------------------------------------------------------------

    def run_epoch(self, epoch: int) -> bool:
        """Train one epoch, score it (rank 0), agree on stopping across processes, and rewrite the resume
        state when it is due; True when training stops here."""
        self.epoch = epoch
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
        stats = train_one_epoch(self.net, self.train_loader, self.optimizer, self.scheduler, self.preprocess,
                                self.device, self.scaler, epoch, self.progress, freeze_bn=self.opt.freeze_bn,
                                road_outputs=self.road_outputs, obstacle_weight=self.opt.obstacle_weight,
                                restyle=self.restyle)
        self.train_images += stats["images"] * self.world
        self.train_seconds += stats["seconds"]
        stop = self._record(epoch, stats) if self.main_rank else False
        if self.dist_env:
            import torch.distributed as dist
            flag = torch.tensor([int(stop)], device=self.device)
            dist.broadcast(flag, 0)
            stop = bool(flag.item())
        self.stop = int(stop)
        if self.main_rank and (stop or self.last_state_s is None
                               or time.monotonic() - self.last_state_s >= self.state_every_s):
            self.save_state(epoch, self.stop)
            self.last_state_s = time.monotonic()
        return stop

    def evaluate(self) -> Dict[str, Any]:
        """The model's validation summary now (loss, pixel errors, per folder)."""
        return self.val_set(self.model, self.preprocess, self.device)

    def _record(self, epoch: int, stats: Dict[str, Any]) -> bool:
        """Score the epoch on validation, keep the best weights, log, and ask the callback and the
        patience whether to stop."""
        val = self.evaluate()
        record = {"epoch": epoch, "train_loss": stats["loss"], "val": val, "lr": self.optimizer.param_groups[0]["lr"],
                  "seconds": stats["seconds"], "images_per_s": stats["images"] * self.world / max(stats["seconds"], 1e-9),
                  "epochs": self.epochs}
        loss = selection_loss(val, self.opt.obstacle_weight)  # the road loss, plus the blocked BCE where there is one
        candidate = epoch >= self.first_candidate
        improved = self.has_val and candidate and loss < self.best_loss
        record["best"] = improved
        self.history.append(record)
        if self.opt.epoch_dir is not None and self.main_rank:
            os.makedirs(os.fspath(self.opt.epoch_dir), exist_ok=True)
            self.save({"val": val}, epoch, path=epoch_path(os.fspath(self.opt.epoch_dir), epoch))
        if improved:
            self.best_loss, self.best_epoch, self.bad_epochs = loss, epoch, 0
            self.best_state = copy.deepcopy(_weights_of(self.model))
        elif candidate:
            self.bad_epochs += 1
        if epoch % self.log_every == 0 or epoch == self.epochs or improved and self.log_every == 1:
            logger.info("epoch %d/%d: train loss %.5f, %s%s", epoch, self.epochs, stats["loss"],
                        describe_errors("val", val), " (best)" if improved else "")
        if self.callback is not None and self.callback(record) is True:
            return True
        if self.has_val and self.patience > 0 and self.bad_epochs >= self.patience:
            logger.info("early stop: validation loss has not improved for %d epochs", self.bad_epochs)
            return True
        return False

    # -- files -----------------------------------------------------------------------------------

    def save_state(self, epoch_done: int, stopped: int) -> None:
        """Write the resume state after ``epoch_done`` (``stopped``: 1 when training stops there)."""
        save_state(partial_path(self.out), {
            "format": STATE_FORMAT, "version": 1, "options": self.options, "split": plain_data(self.split.as_meta()),
            "images": len(self.entries), "epoch": epoch_done, "stop": stopped, "model": _weights_of(self.model),
            "optimizer": self.optimizer.state_dict(), "scheduler": scheduler_state(self.scheduler),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None, "history": self.history,
            "best_loss": self.best_loss, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
            # the best weights are stored apart only when they are not the current ones
            "best_state": self.best_state if self.best_state is not None and self.best_epoch != epoch_done else None,
            "train_images": self.train_images, "train_seconds": self.train_seconds,
            "rng": rng_state(self.generators)})

    def save(self, metrics: Dict[str, Any], epoch_saved: int, path: Optional[str] = None) -> None:
        """Write the checkpoint ``out`` once, atomically; an existing one is kept as ``<out>.prev``. With
        ``path``, the current weights as that file instead (an epoch's checkpoint, for ``epoch_dir``)."""
        extra = {"notes": self.notes}  # type: Dict[str, Any]
        if self.init_record is not None:
            extra["init"] = self.init_record
        if self.opt.info is not None:
            extra["info"] = self.opt.info
        if path is None and keep_previous(self.out, previous_path(self.out)):
            self.previous = previous_path(self.out)
        save_checkpoint(path or self.out, self.model, self.arch, self.input_size, self.categories,
                        train_args=self.train_args,
                        split=self.split.as_meta(), metrics=metrics, epoch=epoch_saved,
                        optimizer=self.optimizer if self.opt.save_optimizer else None,
                        normalization=normalization_meta(self.mean, self.std, self.color_order),
                        dataset={"dirs": self.dirs, "images": len(self.entries), "problems": len(self.problems),
                                 "train_images_per_dir": self.train_counts, "shares": self.shares},
                        obstacle_outputs=self.obstacle_outputs,
                        distributed=self.distributed_meta, **extra)

    def finish(self) -> TrainResult:
        """Rank 0 puts back the best weights, scores them on test, writes the checkpoint and the loss curve
        and removes the resume state; every rank returns the result."""
        epoch = self.epoch
        stopped_early = bool(self.stop) and epoch < self.epochs
        metrics = {}  # type: Dict[str, Any]
        if self.main_rank:
            if self.best_state is not None:
                self.model.load_state_dict(self.best_state)
            else:
                self.best_epoch = epoch  # no validation: the final weights are kept
            best_val = next((h["val"] for h in self.history if h["epoch"] == self.best_epoch), self.history[-1]["val"])
            metrics = {"val": best_val, "test": self.test_set(self.model, self.preprocess, self.device)}
            flat = flat_output_note(best_val.get("x_spread"), "validation frame")
            if flat:
                self.notes.append(flat)
                logger.warning(flat)
            self.save(metrics, self.best_epoch)
            if os.path.exists(partial_path(self.out)):
                os.unlink(partial_path(self.out))
            plot_losses(self.history, loss_plot_path(self.out))
            logger.info("%s; checkpoint %s", describe_errors("test", metrics["test"]), self.out)
        if self.dist_env:
            import torch.distributed as dist
            dist.barrier()
        return TrainResult(checkpoint=self.out, loss_plot=loss_plot_path(self.out), history=self.history,
                           metrics=metrics, split=self.split.as_meta(), best_epoch=self.best_epoch, epochs_run=epoch,
                           epochs=self.epochs, stopped_early=stopped_early,
                           images_per_s=self.train_images / max(self.train_seconds, 1e-9), problems=self.problems,
                           distributed=self.distributed_meta, rank=self.rank, notes=self.notes, init=self.opt.init,
                           dataset_shares=self.shares, arch=self.arch, input_size=self.input_size,
                           previous=self.previous,
                           resumed_from=int(self.state["epoch"]) if self.state else None)
