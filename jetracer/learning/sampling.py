"""What each epoch draws: the folders' shares (so a small real folder is not drowned by a large simulator
one), a sampler that draws them, and the DataLoaders of training, validation and test."""
import math
from typing import Any, List, Optional, Sequence

import numpy as np
import torch

from .road_dataset import RoadDataset
from .train_options import TrainError, WEIGHTS_BY_SIZE


def dataset_shares(weights: Any, dirs: Sequence[str], train_counts: Sequence[int]) -> Optional[List[float]]:
    """The share of every epoch each folder gets (summing to 1), or None for plain shuffling (shares in
    proportion to the frames). ``weights``: None (equal shares when several folders have training
    frames), ``"size"``, or one non-negative number per folder. ValueError otherwise."""
    if weights is None:
        if sum(1 for n in train_counts if n) <= 1:
            return None
        weights = [1.0] * len(dirs)
    elif isinstance(weights, str):
        if weights in WEIGHTS_BY_SIZE:
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


def epoch_sampler(groups: Sequence[int], shares: Sequence[float], num_samples: int,
                  seed: int = 0) -> torch.utils.data.WeightedRandomSampler:
    """A sampler drawing ``num_samples`` training indices per epoch, with replacement, so that folder ``g``
    (``groups[i]`` is the folder of sample i) makes up ``shares[g]`` of them on average."""
    counts = np.bincount(np.asarray(groups, dtype=np.int64), minlength=len(shares))
    weights = torch.tensor([shares[g] / counts[g] for g in groups], dtype=torch.double)
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return torch.utils.data.WeightedRandomSampler(weights, num_samples=max(1, int(num_samples)), replacement=True,
                                                  generator=generator)


def _worker_init(_: int) -> None:
    import cv2
    cv2.setNumThreads(1)  # one OpenCV thread per DataLoader worker: the workers are the parallelism


def make_loader(dataset: RoadDataset, batch_size: int, workers: int, device: torch.device, shuffle: bool,
                sampler: Any = None, seed: int = 0, drop_last: bool = False) -> torch.utils.data.DataLoader:
    """A DataLoader with its own seeded generator (its draws are part of the resume state)."""
    # no persistent_workers: workers left alive until interpreter exit took ~2 minutes to reap (torch 2.11)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler, num_workers=workers,
        pin_memory=device.type == "cuda", drop_last=drop_last, generator=generator,
        worker_init_fn=_worker_init if workers > 0 else None)
