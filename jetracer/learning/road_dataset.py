"""The torch dataset of road-following frames: what training feeds its ``DataLoader``.

The format it reads (names, JPEG checks, scanning) is :mod:`jetracer.dataset`, which imports no torch.
"""
from typing import Any, Callable, Dict, Sequence, Tuple

import numpy as np

from ..dataset import Entry, load_frame, shown_path
from ..pixels import to_normalised

# the columns of an item's obstacle targets (``obstacle=True``): 1.0 where the label is there, else 0.0
ROAD_MASK, BLOCKED_MASK, BLOCKED, DISTANCE_MASK, DISTANCE_M = range(5)


class RoadDataset(object):
    """Map-style dataset for ``torch.utils.data.DataLoader``: item -> ``(frame, category_index, xy)``, and with
    ``obstacle=True`` -> ``(frame, category_index, xy, targets)``.

    ``frame`` is a uint8 HxWx3 BGR tensor at the model input size (normalisation happens on the
    training device via ``Preprocessor.batch``); ``xy`` a float32 tensor ``(x, y)`` of the label
    after ``transform``. ``transform(frame_bgr, u, v) -> (frame_bgr, u, v)`` works in pixels and
    must return a frame of the input size (``augment.EvalTransform`` / ``augment.TrainTransform``).
    ``targets`` (float32, 5) says which labels the frame has and holds the obstacle ones: ``[road label?,
    blocked label?, blocked, distance label?, distance_m]`` (columns :data:`ROAD_MASK` ... :data:`DISTANCE_M`);
    a frame without a road label (a blocked/free frame) gets category 0 and xy (0, 0), masked out.
    The image is decoded by :func:`load_frame` (BGR, upright); one that fails to decode raises IOError naming it.
    A transform with ``prepare`` (what is the same every epoch) and ``augment`` (the random part) lets frames
    be kept after ``prepare`` (``cache``, filled by :mod:`.frame_cache`), so they are decoded once.
    """

    def __init__(self, entries: Sequence[Entry], categories: Sequence[str],
                 transform: Callable[..., Tuple[np.ndarray, float, float]], obstacle: bool = False) -> None:
        self.entries, self.categories, self.transform = list(entries), list(categories), transform
        self.obstacle = bool(obstacle)
        self.cache = {}  # type: Dict[int, Tuple[np.ndarray, float, float]]

    @property
    def cacheable(self) -> bool:
        """Whether frames can be kept after the transform's ``prepare``."""
        return hasattr(self.transform, "prepare") and hasattr(self.transform, "augment")

    def prepared(self, i: int) -> Tuple[np.ndarray, float, float]:
        """Frame ``i`` decoded and through the transform's ``prepare``, with its label ``(u, v)`` (the centre
        for a frame without a road label)."""
        frame, u0, v0 = self._decoded(i)
        return self.transform.prepare(frame, u0, v0)

    def _decoded(self, i: int) -> Tuple[np.ndarray, float, float]:
        e = self.entries[i]
        frame = load_frame(e.path, e.orientation)
        if frame is None:
            raise IOError("could not decode %s; run `jetracer dataset info` to list bad files" % shown_path(e.path))
        if e.u is not None:
            return frame, float(e.u), float(e.v)
        return frame, (frame.shape[1] - 1) / 2.0, (frame.shape[0] - 1) / 2.0

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> Tuple[Any, ...]:
        import torch
        e = self.entries[i]
        road = e.u is not None
        kept = self.cache.get(i)
        if kept is not None:
            frame, u, v = self.transform.augment(*kept)
            if frame is kept[0]:  # nothing drawn changed it: never hand out the kept array itself
                frame = frame.copy()
        else:
            frame, u, v = self.transform(*self._decoded(i))
        h, w = frame.shape[:2]
        xy = torch.tensor(to_normalised(u, v, w, h) if road else (0.0, 0.0), dtype=torch.float32)
        image = torch.from_numpy(np.ascontiguousarray(frame))
        category = self.categories.index(e.category) if road else 0
        if not self.obstacle:
            return image, category, xy
        blocked, distance = getattr(e, "blocked", None), getattr(e, "distance_m", None)
        targets = torch.tensor([float(road), float(blocked is not None), float(bool(blocked)),
                                float(distance is not None), float(distance or 0.0)], dtype=torch.float32)
        return image, category, xy, targets
