"""Load any road-following model file as a ``Pilot``: ``pilot(frame_bgr) -> (x, y)``.

Accepted files, recognised by content (and the ``.onnx`` / ``_trt.pth`` names):

* a jetracer checkpoint (``.pth``, ``"format": "jetracer.checkpoint"``): torch eager fp32;
* upstream's plain resnet18 state dict (``.pth``, ``fc`` 512 -> 2, 224x224, ImageNet normalisation
  applied to the BGR frame as upstream did, see ``checkpoint``);
* an optimized torch file (``"format": "jetracer.optimized"``, from ``jetracer optimize --backend torch``);
* an ONNX model with fused preprocessing (``.onnx``, from ``--backend onnxruntime``), run by ONNX Runtime;
* a torch2trt ``TRTModule`` state dict (``*_trt.pth``, from ``--backend tensorrt``), checked against the
  TensorRT version recorded in its ``*_trt.json`` sidecar; without a sidecar it is taken for upstream's
  (fp16 input, BGR, see ``tensorrt_backend``).

No file runs code when loaded: ``.pth`` files go through the allow-listed unpickler of ``safe_load``.

``x`` is ``output[0]`` and ``y`` is ``output[1]`` (upstream's live demo read ``y`` from ``output[0]``),
both normalised: ``x = (u - w/2)/(w/2)``, ``y = (v - h/2)/(h/2)``, ``x > 0`` right of the image centre.
"""
import logging
import os
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

logger = logging.getLogger(__name__)

ACCEPTED_KINDS = (
    "a jetracer checkpoint .pth (jetracer train)",
    "an upstream resnet18 state dict .pth (fc 512->2)",
    "an optimized torch .pth (jetracer optimize --backend torch)",
    "an .onnx model (jetracer optimize --backend onnxruntime)",
    "a *_trt.pth TRTModule state dict (jetracer optimize --backend tensorrt)",
)


class PilotLoadError(ValueError):
    """A model file that cannot be used: wrong kind, corrupt, or built for another runtime."""


class MissingBackendError(RuntimeError, ImportError):
    """The file is fine but needs a runtime (onnxruntime, torch2trt) that is not installed.

    An ImportError too, so every caller that reports a missing package reports this one; its message is
    one line naming the install command (or the alternative).
    """


class Pilot(object):
    """A loaded model: ``pilot(frame_bgr) -> (x, y)`` for a BGR uint8 HxWx3 frame.

    Attributes: ``backend`` ("torch", "onnxruntime", "tensorrt"), ``precision`` ("fp32", "fp16",
    "int8"), ``input_size`` (H, W), ``color_order`` (the model's input channel order: "RGB" for
    jetracer's models, "BGR" for upstream's; every backend feeds it that order), ``categories``
    (list of names), ``num_outputs``, ``meta`` (what the file says about itself) and ``last_timing_ms`` = {"preprocess": ms, "inference": ms} of the last call.
    With several categories the outputs are (x, y) pairs per category; ``category`` picks the pair.
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
        norm = meta.get("normalization") or {}
        from .preprocess import COLOR_ORDER, IMAGENET_MEAN, IMAGENET_STD, check_color_order
        self.mean = tuple(norm.get("mean", IMAGENET_MEAN))
        self.std = tuple(norm.get("std", IMAGENET_STD))
        self.color_order = check_color_order(norm.get("color_order", COLOR_ORDER))
        self.last_timing_ms = {"preprocess": 0.0, "inference": 0.0}  # type: Dict[str, float]

    def outputs(self, frame_bgr: np.ndarray) -> np.ndarray:
        """All model outputs for one frame as a float32 vector; sets ``last_timing_ms``."""
        raise NotImplementedError

    def __call__(self, frame_bgr: np.ndarray, category: int = 0) -> Tuple[float, float]:
        out = self.outputs(frame_bgr)
        return float(out[2 * category]), float(out[2 * category + 1])

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
    """A PyTorch file read on the CPU through the allow-listed unpickler (``safe_load``), so no file runs
    code when loaded, on any PyTorch; a refused, truncated or foreign file is a ``PilotLoadError`` naming it."""
    from .safe_load import UnsafeFileError, torch_load as safe_torch_load
    try:
        return safe_torch_load(path)
    except UnsafeFileError as e:
        raise PilotLoadError("refused to load %s: %s" % (path, e))
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors...
        first = (str(e).strip().splitlines() or [""])[0][:300]
        raise PilotLoadError(
            "could not read %s (%d bytes): %s: %s. The file is truncated, corrupt or not a model file; "
            "expected %s." % (path, os.path.getsize(path), type(e).__name__, first, "; ".join(ACCEPTED_KINDS)))


def _describe(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = sorted(str(k) for k in obj)
        return "a dict with keys %s%s" % (keys[:8], " ..." if len(keys) > 8 else "")
    return "a %s" % type(obj).__name__


def is_upstream_state_dict(obj: Any) -> bool:
    """True for a plain torchvision resnet state dict (what upstream's train_model notebook saves), also
    with DistributedDataParallel's ``module.`` prefixes."""
    if not isinstance(obj, dict) or "format" in obj:
        return False
    keys = set(k[len("module."):] if isinstance(k, str) and k.startswith("module.") else k for k in obj)
    return "fc.weight" in keys and "conv1.weight" in keys


def load_pilot(path: str, device: Optional[str] = None, **options: Any) -> Pilot:
    """Load a model file (see the module docstring for the kinds) as a ``Pilot`` on ``device``.

    ``device`` None picks CUDA when available. ``options`` go to the backend (``intra_op_threads``
    for ONNX Runtime, ``cuda_graph``/``compile`` for optimized torch files).
    Raises ``FileNotFoundError``; ``PilotLoadError`` for a corrupt, unknown or version-mismatched file
    (naming what was expected and found); ``MissingBackendError`` when the file needs a runtime that
    is not installed (naming how to install it).
    """
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("no model file at %s" % path)
    device = default_device(device)
    if path.endswith(".onnx"):
        from .onnx_backend import OnnxPilot
        return OnnxPilot.load(path, device=device, **options)
    if path.endswith("_trt.pth"):
        from .tensorrt_backend import TensorRTPilot
        return TensorRTPilot.load(path, device=device)
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x08"):  # protobuf field 1 (ir_version): an ONNX model; torch files start PK or \x80
        raise PilotLoadError("%s looks like an ONNX model but is not named .onnx; rename it to *.onnx" % path)
    obj = torch_load(path)
    if isinstance(obj, dict) and "engine" in obj:
        raise PilotLoadError("%s is a TensorRT engine (TRTModule state dict); name it *_trt.pth so its "
                             "*_trt.json sidecar is found" % path)
    from .torch_backend import OPTIMIZED_FORMAT, TorchPilot
    if isinstance(obj, dict) and obj.get("format") == OPTIMIZED_FORMAT:
        return TorchPilot.from_dict(obj, path=path, device=device, **options)
    if isinstance(obj, dict) and (obj.get("format") == "jetracer.checkpoint" or is_upstream_state_dict(obj)):
        from .checkpoint import CheckpointError, load_checkpoint
        try:
            model, meta = load_checkpoint(path)
        except CheckpointError as e:
            raise PilotLoadError(str(e))
        return TorchPilot(model, meta, device=device, path=path)
    raise PilotLoadError("%s is not a model file jetracer knows. Expected %s; found %s."
                         % (path, "; ".join(ACCEPTED_KINDS), _describe(obj)))


def accepted_kinds() -> List[str]:
    """Human-readable list of the file kinds ``load_pilot`` accepts."""
    return list(ACCEPTED_KINDS)
