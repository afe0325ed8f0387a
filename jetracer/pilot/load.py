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

No file runs code when loaded: ``.pth`` files go through the allow-listed unpickler of ``safe_load``. No file
makes the loader allocate more than it holds or block: every file is checked first (a regular file, at most
``safe_load.MAX_MODEL_BYTES``; for ``.pth`` files each declared tensor against the file, for ``.onnx`` files
the declared shapes, see ``onnx_limits``), and refused in one line naming the file and the limit.

``x`` is ``output[0]`` and ``y`` is ``output[1]`` (upstream's live demo read ``y`` from ``output[0]``),
both normalised: ``x = (u - w/2)/(w/2)``, ``y = (v - h/2)/(h/2)``, ``x > 0`` right of the image centre.
"""
import logging
import os
from typing import Any, List, Optional

from .base import (ACCEPTED_KINDS, MissingBackendError, Pilot, PilotLoadError, Stopwatch, default_device,
                   read_model_head, torch_load)

logger = logging.getLogger(__name__)

__all__ = ["ACCEPTED_KINDS", "MissingBackendError", "Pilot", "PilotLoadError", "Stopwatch", "accepted_kinds",
           "default_device", "is_upstream_state_dict", "load_pilot", "read_model_head", "torch_load"]


def _onnx_default_device() -> str:
    """"cuda" when ONNX Runtime has its CUDA provider, else "cpu": without importing torch, which costs
    seconds at a car service's start for a model that never uses it."""
    try:
        import onnxruntime
    except ImportError:
        return "cpu"
    return "cuda" if "CUDAExecutionProvider" in onnxruntime.get_available_providers() else "cpu"


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
    Raises ``FileNotFoundError``; ``PilotLoadError`` for a corrupt, unknown, version-mismatched or oversized
    file, or one that is not a regular file (naming what was expected and found, or the limit);
    ``MissingBackendError`` when the file needs a runtime that is not installed (naming how to install it).
    """
    path = str(path)
    head = read_model_head(path)
    if path.endswith(".onnx"):
        from .onnx_backend import OnnxPilot
        return OnnxPilot.load(path, device=device or _onnx_default_device(), **options)
    device = default_device(device)
    if path.endswith("_trt.pth"):
        from .tensorrt_backend import TensorRTPilot
        return TensorRTPilot.load(path, device=device)
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
    from .stop_model import stop_arch
    if isinstance(obj, dict) and all(isinstance(k, str) for k in obj) and stop_arch(obj) == "alexnet":
        raise PilotLoadError("%s is upstream JetBot's alexnet collision model (blocked/free), not a road model: load it "
                             "as the stop model (drive.obstacle.stop_model, jetracer eval --stop-model)" % path)
    raise PilotLoadError("%s is not a model file jetracer knows. Expected %s; found %s."
                         % (path, "; ".join(ACCEPTED_KINDS), _describe(obj)))


def accepted_kinds() -> List[str]:
    """Human-readable list of the file kinds ``load_pilot`` accepts."""
    return list(ACCEPTED_KINDS)
