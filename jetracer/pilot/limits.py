"""What a road-following model may claim about itself: input sides and output counts a car can run.

The pilot loaders (:class:`jetracer.pilot.base.Pilot`, :mod:`jetracer.pilot.onnx_limits`) refuse a file
claiming more before a backend allocates for it; the drive's self-check
(:mod:`jetracer.driving.failsafe`) checks the same before the car moves.
"""
from typing import Any

from ..errors import Failure


class SelfCheckError(Failure):
    """The model is not fit to drive (impossible metadata, NaN output, an exception, too slow, the same
    output for every frame, or an output that ignores the road)."""


MAX_INPUT_SIDE = 1024   # pixels a side: a road-following model is 224x224; 1024 is already 20x the work
MAX_OUTPUTS = 64        # (x, y) pairs per category


def check_pilot_metadata(pilot: Any) -> None:
    """Refuse a model whose file claims an input size or output count it cannot have, before it runs.

    A model claiming ``input_size: [20000, 20000]`` would make every frame a 4.8 GB tensor. Pilots
    without these attributes (the simulator's label, test doubles) are not checked.
    """
    size = getattr(pilot, "input_size", None)
    where = getattr(pilot, "path", "") or "the model"
    if size is not None:
        try:
            sides = [int(v) for v in (size if isinstance(size, (tuple, list)) else (size, size))]
        except (TypeError, ValueError):
            sides = []
        if len(sides) != 2 or not all(8 <= v <= MAX_INPUT_SIDE for v in sides):
            raise SelfCheckError("%s claims an input size of %r; a road-following model takes 8 to %d pixels a side "
                                 "(224x224 as trained by jetracer train). Refusing to drive: retrain or re-export it"
                                 % (where, size, MAX_INPUT_SIDE))
    outputs = getattr(pilot, "num_outputs", None)
    if outputs is not None:
        categories = len(getattr(pilot, "categories", None) or []) or 1
        if not isinstance(outputs, int) or not 2 <= outputs <= MAX_OUTPUTS or outputs < 2 * categories:
            raise SelfCheckError("%s claims %r outputs for %d categor%s; a road-following model has 2 (x, y) per "
                                 "category. Refusing to drive: retrain or re-export it"
                                 % (where, outputs, categories, "y" if categories == 1 else "ies"))
