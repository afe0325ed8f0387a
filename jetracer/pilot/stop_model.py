"""A separate stop model: upstream JetBot's collision-avoidance classifier, ``stop_model(frame_bgr) -> blocked_p``.

JetBot's collision_avoidance notebooks save ``best_model.pth``, a plain state dict of torchvision's
``alexnet`` (``classifier[6] = Linear(4096, 2)``) or ``resnet18`` (``fc = Linear(512, 2)``), trained with
``ImageFolder`` on ``dataset/blocked`` and ``dataset/free``: classes sorted, so output 0 is "blocked", and the
probability is ``softmax(outputs)[0]``. It was trained on PIL images, RGB, 224x224, ImageNet normalisation,
so the frame is fed RGB (upstream's alexnet live demo swaps BGR->RGB the same way; its resnet18 live demo
feeds the camera's BGR frame unswapped, a mismatch with its training that this loader does not copy).

A jetracer road model with an obstacle head needs no stop model: it says blocked in the same forward pass.
The file goes through the allow-listed, bounded reader of :mod:`.safe_load` like every model file.
"""
import math
from typing import Any, Dict, Optional

import numpy as np

from .base import PilotLoadError, Stopwatch, default_device, read_model_head, torch_load

STOP_ARCHS = ("alexnet", "resnet18")
BLOCKED_INDEX = 0  # ImageFolder sorts the classes: blocked, free
EXPECTED = ("an upstream JetBot collision model (best_model.pth): a state dict of torchvision's alexnet with "
            "classifier.6 4096 -> 2 or resnet18 with fc 512 -> 2")


def stop_arch(state_dict: Dict[str, Any]) -> Optional[str]:
    """"alexnet" or "resnet18" for a 2-class collision state dict of that architecture, else None."""
    def rows(key: str) -> Optional[int]:
        w = state_dict.get(key)
        return int(w.shape[0]) if getattr(w, "ndim", 0) == 2 else None
    if rows("classifier.6.weight") == 2 and "features.0.weight" in state_dict:
        return "alexnet"
    if rows("fc.weight") == 2 and "conv1.weight" in state_dict and int(state_dict["fc.weight"].shape[1]) == 512:
        return "resnet18"
    return None


def _strip_module(state_dict: Dict[str, Any]) -> Dict[str, Any]:
    if state_dict and all(isinstance(k, str) and k.startswith("module.") for k in state_dict):
        return {k[len("module."):]: v for k, v in state_dict.items()}
    return dict(state_dict)


def build_stop_network(arch: str) -> Any:
    """torchvision's ``arch`` with upstream's 2-class head, random weights (the file's replace them)."""
    import torch
    import torchvision
    kwargs = {"weights": None} if hasattr(torchvision.models, "ResNet18_Weights") else {"pretrained": False}
    model = getattr(torchvision.models, arch)(**kwargs)
    if arch == "alexnet":
        model.classifier[6] = torch.nn.Linear(model.classifier[6].in_features, 2)
    else:
        model.fc = torch.nn.Linear(512, 2)
    return model


class StopModel(object):
    """``stop_model(frame_bgr) -> blocked_p`` in [0, 1] for a BGR uint8 HxWx3 frame; ``arch``, ``path``,
    ``input_size``, ``color_order`` ("RGB") and ``last_timing_ms`` as a ``Pilot`` has them."""

    input_size = (224, 224)
    color_order = "RGB"

    def __init__(self, model: Any, arch: str, path: str = "", device: str = "cpu") -> None:
        import torch
        from .preprocess import Preprocessor
        self.arch = arch
        self.path = path
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.preprocessor = Preprocessor(self.input_size, device=self.device, color_order=self.color_order)
        self.last_timing_ms = {"preprocess": 0.0, "inference": 0.0}  # type: Dict[str, float]

    def __call__(self, frame_bgr: np.ndarray) -> float:
        import torch
        watch = Stopwatch()
        x = self.preprocessor(frame_bgr)
        pre = watch.lap()
        with torch.no_grad():
            logits = self.model(x).float().cpu().numpy()[0]
        self.last_timing_ms = {"preprocess": pre, "inference": watch.lap()}
        top = float(np.max(logits))
        if not math.isfinite(top):
            return float("nan")
        exp = np.exp(logits.astype(np.float64) - top)
        return float(exp[BLOCKED_INDEX] / exp.sum())

    def __repr__(self) -> str:
        return "<StopModel arch=%s path=%s>" % (self.arch, self.path)


def load_stop_model(path: str, device: Optional[str] = None) -> StopModel:
    """Load upstream JetBot's ``best_model.pth`` (alexnet or resnet18, 2 classes) on ``device`` (CUDA when
    available). FileNotFoundError when there is no file; PilotLoadError naming the file and what was
    expected for anything else (a road model, a corrupt or refused file, weights of another shape)."""
    path = str(path)
    read_model_head(path)
    obj = torch_load(path)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict) and "format" not in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) and hasattr(v, "shape") for k, v in obj.items()):
        raise PilotLoadError("%s is not a collision model; expected %s. A jetracer road model with an obstacle "
                             "output needs no stop model (drive.obstacle.stop_model: null)" % (path, EXPECTED))
    state_dict = _strip_module(obj)
    arch = stop_arch(state_dict)
    if arch is None:
        fc = state_dict.get("fc.weight")
        hint = (" (it looks like a road-following model: fc %d -> %d; give it as --model)"
                % (fc.shape[1], fc.shape[0])) if getattr(fc, "ndim", 0) == 2 and fc.shape[0] != 2 else ""
        raise PilotLoadError("%s is not a collision model%s; expected %s" % (path, hint, EXPECTED))
    model = build_stop_network(arch)
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as e:
        first = [ln.strip() for ln in str(e).splitlines() if ln.strip()][:2]
        raise PilotLoadError("%s: the weights do not fit upstream's %s collision model (%s); expected %s"
                             % (path, arch, " ".join(first)[:300], EXPECTED))
    return StopModel(model, arch, path=path, device=default_device(device))
