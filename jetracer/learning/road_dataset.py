"""The torch dataset of road-following frames: what training feeds its ``DataLoader``.

The format it reads (names, JPEG checks, scanning) is :mod:`jetracer.dataset`, which imports no torch.
"""
from typing import Any, Callable, Sequence, Tuple

import numpy as np

from ..dataset import Entry, load_frame, shown_path
from ..pixels import to_normalised


class RoadDataset(object):
    """Map-style dataset for ``torch.utils.data.DataLoader``: item -> ``(frame, category_index, xy)``.

    ``frame`` is a uint8 HxWx3 BGR tensor at the model input size (normalisation happens on the
    training device via ``Preprocessor.batch``); ``xy`` a float32 tensor ``(x, y)`` of the label
    after ``transform``. ``transform(frame_bgr, u, v) -> (frame_bgr, u, v)`` works in pixels and
    must return a frame of the input size (``augment.EvalTransform`` / ``augment.TrainTransform``).
    The image is decoded by :func:`load_frame` (BGR, upright); one that fails to decode raises IOError naming it.
    """

    def __init__(self, entries: Sequence[Entry], categories: Sequence[str],
                 transform: Callable[..., Tuple[np.ndarray, float, float]]) -> None:
        self.entries, self.categories, self.transform = list(entries), list(categories), transform

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> Tuple[Any, int, Any]:
        import torch
        e = self.entries[i]
        frame = load_frame(e.path, e.orientation)
        if frame is None:
            raise IOError("could not decode %s; run `jetracer dataset info` to list bad files" % shown_path(e.path))
        frame, u, v = self.transform(frame, float(e.u), float(e.v))
        h, w = frame.shape[:2]
        xy = torch.tensor(to_normalised(u, v, w, h), dtype=torch.float32)
        return torch.from_numpy(np.ascontiguousarray(frame)), self.categories.index(e.category), xy
