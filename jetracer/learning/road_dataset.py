"""The torch dataset of road-following frames: what training feeds its ``DataLoader``.

The format it reads (names, JPEG checks, scanning) is :mod:`jetracer.dataset`, which imports no torch.
"""
from typing import Any, Callable, Sequence, Tuple

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
    """

    def __init__(self, entries: Sequence[Entry], categories: Sequence[str],
                 transform: Callable[..., Tuple[np.ndarray, float, float]], obstacle: bool = False) -> None:
        self.entries, self.categories, self.transform = list(entries), list(categories), transform
        self.obstacle = bool(obstacle)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> Tuple[Any, ...]:
        import torch
        e = self.entries[i]
        frame = load_frame(e.path, e.orientation)
        if frame is None:
            raise IOError("could not decode %s; run `jetracer dataset info` to list bad files" % shown_path(e.path))
        road = e.u is not None
        u0, v0 = (float(e.u), float(e.v)) if road else ((frame.shape[1] - 1) / 2.0, (frame.shape[0] - 1) / 2.0)
        frame, u, v = self.transform(frame, u0, v0)
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
