"""What every pilot backend shares: the ``Pilot`` interface, its errors, a stopwatch, the safe torch reader.

The backends (``torch_backend``, ``onnx_backend``, ``tensorrt_backend``) build on this module; the
loader :mod:`jetracer.pilot.load` picks one of them for a file. This module imports none of them.
"""
import math
import os
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from ..errors import Failure
from .limits import check_pilot_metadata

ACCEPTED_KINDS = (
    "a jetracer checkpoint .pth (jetracer train)",
    "an upstream resnet18 state dict .pth (fc 512->2)",
    "an optimized torch .pth (jetracer optimize --backend torch)",
    "an .onnx model (jetracer optimize --backend onnxruntime)",
    "a *_trt.pth TRTModule state dict (jetracer optimize --backend tensorrt)",
)


OBSTACLE_OUTPUTS = ("blocked_logit", "distance_m")  # what a model's obstacle head may carry, in this order


class Prediction(NamedTuple):
    """One frame's reading: the road target ``(x, y)`` (normalised, see :mod:`jetracer.pilot.load`), the
    probability in [0, 1] that the way ahead is blocked and the predicted distance to what blocks it (m),
    each None when the model has no such output."""

    x: float
    y: float
    blocked_p: Optional[float]
    distance_m: Optional[float]


def sigmoid(logit: float) -> float:
    """The probability of a logit, without overflow for any finite or infinite value (NaN stays NaN)."""
    logit = float(logit)
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    z = math.exp(logit)
    return z / (1.0 + z)


def obstacle_outputs(meta: Dict[str, Any]) -> List[str]:
    """The obstacle outputs a model file declares (``meta["obstacle_outputs"]``, after the road outputs):
    [], ["blocked_logit"] or ["blocked_logit", "distance_m"]; ValueError for anything else."""
    names = list(meta.get("obstacle_outputs") or [])
    if names != list(OBSTACLE_OUTPUTS[:len(names)]):
        raise ValueError("obstacle_outputs must be %s or a prefix of it, not %r" % (list(OBSTACLE_OUTPUTS), names))
    return names


def predict_frame(pilot: Any, frame_bgr: np.ndarray) -> Prediction:
    """``pilot.predict(frame)`` where the pilot has it, else its ``(x, y)`` with no obstacle reading: one call
    for every pilot a drive can hold (a model, the simulator's label, a test's function)."""
    predict = getattr(pilot, "predict", None)
    if predict is not None:
        return predict(frame_bgr)
    x, y = pilot(frame_bgr)
    return Prediction(x, y, None, None)


class PilotLoadError(Failure, ValueError):
    """A model file that cannot be used: wrong kind, corrupt, or built for another runtime."""


class MissingBackendError(Failure, ImportError):
    """The file is fine but needs a runtime (onnxruntime, torch2trt) that is not installed.

    An ImportError too, so every caller that reports a missing package reports this one; its message is
    one line naming the install command (or the alternative).
    """


class Pilot(object):
    """A loaded model: ``pilot(frame_bgr) -> (x, y)`` and ``pilot.predict(frame_bgr) -> Prediction`` for a BGR
    uint8 HxWx3 frame, from one forward pass (backends implement ``outputs`` only).

    Attributes: ``backend`` ("torch", "onnxruntime", "tensorrt"), ``precision`` ("fp32", "fp16",
    "int8"), ``input_size`` (H, W), ``color_order`` (the model's input channel order: "RGB" for
    jetracer's models, "BGR" for upstream's; every backend feeds it that order), ``categories``
    (list of names), ``num_outputs``, ``meta`` (what the file says about itself) and ``last_timing_ms`` = {"preprocess": ms, "inference": ms} of the last call.
    A file claiming an impossible input size or output count (a 20000x20000 input: 1.2 GB a frame) raises
    ``SelfCheckError`` here, before any backend allocates for it.
    With several categories the outputs are (x, y) pairs per category; ``category`` picks the pair.
    A model with an obstacle head (``has_obstacle_output``) has its outputs after the pairs, as the file's
    ``obstacle_outputs`` names them: the blocked logit (``predict`` gives its sigmoid) and optionally the
    distance in metres; road-only models and upstream's have none (``blocked_p`` and ``distance_m`` None).
    """

    backend = ""
    precision = "fp32"

    def __init__(self, meta: Dict[str, Any], path: str = "") -> None:
        from .preprocess import input_hw
        self.meta = meta
        self.path = path
        self.input_size = input_hw(meta.get("input_size", 224))
        self.categories = list(meta.get("categories") or [])
        self.num_outputs = int(meta.get("num_outputs", 2))
        try:
            self.obstacle_outputs = obstacle_outputs(meta)
        except ValueError as e:
            raise PilotLoadError("%s: %s; re-export it with jetracer optimize or retrain it" % (path or "the model", e))
        self.road_outputs = self.num_outputs - len(self.obstacle_outputs)
        if self.obstacle_outputs and self.road_outputs != 2 * max(1, len(self.categories)):
            raise PilotLoadError("%s declares %d outputs: %d (x, y) pairs and %s do not add up to that; re-export it "
                                 "with jetracer optimize or retrain it" % (path or "the model", self.num_outputs,
                                                                           max(1, len(self.categories)),
                                                                           ", ".join(self.obstacle_outputs)))
        norm = meta.get("normalization") or {}
        from .preprocess import COLOR_ORDER, IMAGENET_MEAN, IMAGENET_STD, check_color_order
        self.mean = tuple(norm.get("mean", IMAGENET_MEAN))
        self.std = tuple(norm.get("std", IMAGENET_STD))
        self.color_order = check_color_order(norm.get("color_order", COLOR_ORDER))
        self.last_timing_ms = {"preprocess": 0.0, "inference": 0.0}  # type: Dict[str, float]
        check_pilot_metadata(self)  # before a backend allocates a frame of the claimed size (warm-up, CUDA graph)

    def outputs(self, frame_bgr: np.ndarray) -> np.ndarray:
        """All model outputs for one frame as a float32 vector; sets ``last_timing_ms``."""
        raise NotImplementedError

    @property
    def has_obstacle_output(self) -> bool:
        """True when the model itself says whether the way is blocked (one forward pass for both)."""
        return bool(self.obstacle_outputs)

    def predict(self, frame_bgr: np.ndarray, category: int = 0) -> Prediction:
        """The road target of ``category`` and, where the model has them, the obstacle readings."""
        return self.reading(self.outputs(frame_bgr), category)

    def reading(self, out: np.ndarray, category: int = 0) -> Prediction:
        """The :class:`Prediction` in the output vector ``out`` of :meth:`outputs` (for one pass read twice)."""
        blocked_p = distance_m = None  # type: Optional[float]
        if self.obstacle_outputs:
            blocked_p = sigmoid(out[self.road_outputs])
            if len(self.obstacle_outputs) > 1:
                distance_m = float(out[self.road_outputs + 1])
                if distance_m < 0.0:  # a regression may undershoot; NaN stays NaN for the self-check
                    distance_m = 0.0
        return Prediction(float(out[2 * category]), float(out[2 * category + 1]), blocked_p, distance_m)

    def __call__(self, frame_bgr: np.ndarray, category: int = 0) -> Tuple[float, float]:
        p = self.predict(frame_bgr, category)
        return p.x, p.y

    def __repr__(self) -> str:
        return "<%s backend=%s precision=%s input_size=%s path=%s>" % (
            type(self).__name__, self.backend, self.precision, self.input_size, self.path)


class Stopwatch(object):
    """Milliseconds between ``lap()`` calls (time.perf_counter)."""

    def __init__(self) -> None:
        self._t = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        ms, self._t = (now - self._t) * 1000.0, now
        return ms


def default_device(device: Optional[str] = None) -> str:
    """``device`` if given, else "cuda" when torch sees a GPU, else "cpu"."""
    if device:
        return str(device)
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def torch_load(path: str) -> Any:
    """A PyTorch file read on the CPU through the allow-listed, bounded unpickler (``safe_load``), so no file
    runs code or makes the loader allocate more than it holds, on any PyTorch; a refused, truncated or
    foreign file is a ``PilotLoadError`` naming it (a refusal for size names the limit)."""
    from ..bounded_file import FileLimitError
    from .safe_load import UnsafeFileError, torch_load as safe_torch_load
    try:
        return safe_torch_load(path)
    except UnsafeFileError as e:
        raise PilotLoadError("refused to load %s: %s" % (path, e))
    except FileLimitError as e:
        raise PilotLoadError(str(e))
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors...
        first = (str(e).strip().splitlines() or [""])[0][:300]
        raise PilotLoadError(
            "could not read %s (%d bytes): %s: %s. The file is truncated, corrupt or not a model file; "
            "expected %s." % (path, os.path.getsize(path), type(e).__name__, first, "; ".join(ACCEPTED_KINDS)))


def read_model_head(path: str, n: int = 8) -> bytes:
    """The first ``n`` bytes of the model file ``path``: FileNotFoundError when there is none, PilotLoadError
    (one line naming the limit) when it is not a regular file or is larger than any model file."""
    from ..bounded_file import FileLimitError, open_regular
    from .safe_load import MAX_MODEL_BYTES, WHAT
    if not os.path.exists(path):
        raise FileNotFoundError("no model file at %s" % path)
    try:
        with open_regular(path, WHAT, MAX_MODEL_BYTES) as f:
            return f.read(n)
    except FileLimitError as e:
        raise PilotLoadError(str(e))
