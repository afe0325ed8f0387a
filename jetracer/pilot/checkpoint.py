"""Road-following checkpoints: one self-describing file that the pilot, the optimizer and notebooks load.

Format (``torch.save`` of a dict, written atomically)::

    {"format": "jetracer.checkpoint", "version": 1, "arch": "resnet18", "input_size": [H, W],
     "categories": ["apex"], "num_outputs": 2 * len(categories) + len(obstacle_outputs),
     "obstacle_outputs": [] | ["blocked_logit"] | ["blocked_logit", "distance_m"],
     "normalization": {"mean": [...], "std": [...], "color_order": "RGB"},
     "state_dict": ..., "train_args": {...}, "split": {"train": [...], "val": [...], "test": [...]},
     "metrics": {"val": {...}, "test": {...}}, "epoch": int, "optimizer": optional,
     "created": ISO time, "torch_version": str}

``load_checkpoint`` also accepts upstream's plain resnet18 state dict (``fc`` 512 -> 2k; input
224x224, ImageNet normalisation, colour order BGR: upstream trained on ``cv2.imread`` frames and fed
the camera's BGR frame to ``to_tensor`` unswapped, so ImageNet's R statistics apply to the blue
channel) and a DDP state dict (``module.`` prefixes). jetracer checkpoints record their own order
(``normalization.color_order``, RGB; files written before it was recorded are RGB). ``obstacle_outputs``
names the obstacle head's outputs, which follow the road outputs (absent or empty: a road-only model, as every
file written before the head existed and every upstream road model).

Every file is read through the allow-listed, bounded unpickler of :mod:`jetracer.pilot.safe_load`: a file
that is not a regular file, is too large or declares more than it holds is refused before anything is allocated.
"""
import datetime
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..atomic import atomic_write
from ..errors import Failure
from .preprocess import input_hw, normalization_meta

FORMAT = "jetracer.checkpoint"
UPSTREAM_COLOR_ORDER = "BGR"  # what upstream's road-following models were trained on and fed
VERSION = 1
EXPECTED = ("a jetracer checkpoint (a dict with format='jetracer.checkpoint', written by `jetracer train`) "
            "or an upstream road_following resnet18 state dict (fc 512 -> 2 per category)")


class CheckpointError(Failure, ValueError):
    """The file is not a usable checkpoint; the message says what was expected."""


def plain_data(value: Any) -> Any:
    """JSON-like copy (dict/list/str/float/int/bool/None): what the allow-listed loader (and ``weights_only``) reads."""
    if isinstance(value, dict):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return str(value)


def _atomic_torch_save(obj: Any, path: str) -> None:
    import torch
    with atomic_write(path) as f:
        torch.save(obj, f)


def save_checkpoint(path: str, model: Any, arch: str, input_size: Any, categories: Sequence[str],
                    train_args: Optional[Dict[str, Any]] = None, split: Optional[Dict[str, Any]] = None,
                    metrics: Optional[Dict[str, Any]] = None, epoch: int = 0, optimizer: Any = None,
                    normalization: Optional[Dict[str, Any]] = None, obstacle_outputs: Sequence[str] = (),
                    **extra: Any) -> str:
    """Write a checkpoint atomically (temp file + ``os.replace``); returns ``path``.

    ``model`` may be wrapped in DistributedDataParallel; tensors are stored on the CPU. ``obstacle_outputs``:
    the obstacle head's outputs after the road ones (see the module docstring). ``extra`` keys are stored as
    JSON-like metadata.
    """
    import torch
    from .base import obstacle_outputs as check_obstacle_outputs
    model = getattr(model, "module", model)
    obstacle = check_obstacle_outputs({"obstacle_outputs": list(obstacle_outputs)})
    ckpt = {
        "format": FORMAT, "version": VERSION, "arch": arch, "input_size": list(input_hw(input_size)),
        "categories": list(categories), "num_outputs": 2 * len(categories) + len(obstacle),
        "obstacle_outputs": obstacle,
        "normalization": plain_data(normalization or normalization_meta()),
        "train_args": plain_data(train_args or {}), "split": plain_data(split or {}), "metrics": plain_data(metrics or {}),
        "epoch": int(epoch), "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "torch_version": str(torch.__version__),
    }
    ckpt.update(plain_data(extra))
    ckpt["state_dict"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if optimizer is not None:
        ckpt["optimizer"] = optimizer.state_dict()
    _atomic_torch_save(ckpt, path)
    return path


def _torch_load(path: str, map_location: Any) -> Any:
    from .safe_load import torch_load
    return torch_load(path, map_location=map_location)


def _strip_module(state_dict: Dict[str, Any]) -> Dict[str, Any]:
    if state_dict and all(k.startswith("module.") for k in state_dict):
        return {k[len("module."):]: v for k, v in state_dict.items()}
    return dict(state_dict)


def _upstream_meta(state_dict: Dict[str, Any], path: str) -> Dict[str, Any]:
    fc = state_dict.get("fc.weight")
    if fc is None or getattr(fc, "ndim", 0) != 2 or fc.shape[1] != 512 or fc.shape[0] % 2 or "conv1.weight" not in state_dict:
        raise CheckpointError("%s is a state dict but not of upstream's resnet18 road follower "
                              "(no fc.weight of shape [2k, 512]); expected %s" % (path, EXPECTED))
    k = int(fc.shape[0]) // 2
    return {"format": "upstream.state_dict", "version": 0, "arch": "resnet18", "input_size": [224, 224],
            "categories": ["apex"] if k == 1 else ["category%d" % i for i in range(k)], "num_outputs": 2 * k,
            "normalization": normalization_meta(color_order=UPSTREAM_COLOR_ORDER), "train_args": {}, "split": {},
            "metrics": {}, "epoch": 0}


def load_checkpoint(path: str, map_location: Any = "cpu") -> Tuple[Any, Dict[str, Any]]:
    """``(model in eval mode, meta)``; ``meta`` is the checkpoint dict without state_dict/optimizer.

    Raises CheckpointError naming the file and what was expected when it is missing, corrupt, of
    another format, or its weights do not fit the declared architecture; naming the limit when it is not a
    regular file, is too large or declares more than it holds.
    """
    from ..bounded_file import FileLimitError
    from .model import build_model
    if not os.path.exists(path):
        raise CheckpointError("checkpoint %s does not exist; expected %s" % (path, EXPECTED))
    from .safe_load import UnsafeFileError
    try:
        obj = _torch_load(path, map_location)
    except UnsafeFileError as e:
        raise CheckpointError("refused to load %s: %s" % (path, e))
    except FileLimitError as e:  # not a regular file, too large, or declares more than it holds: nothing allocated
        raise CheckpointError(str(e))
    except Exception as e:  # corrupt zip, pickle, truncated file...
        raise CheckpointError("cannot read %s as a PyTorch file (%s: %s); expected %s"
                              % (path, type(e).__name__, str(e).splitlines()[0] if str(e) else "", EXPECTED))
    if not isinstance(obj, dict):
        raise CheckpointError("%s holds a %s; expected %s" % (path, type(obj).__name__, EXPECTED))
    if "engine" in obj and "input_names" in obj:
        raise CheckpointError("%s is a TensorRT engine (a torch2trt TRTModule state dict), not a checkpoint; give "
                              "the checkpoint it was built from (.pth), or drive with it: jetracer drive --model %s"
                              % (path, path))
    if obj.get("format") == FORMAT:
        if int(obj.get("version", 0)) > VERSION:
            raise CheckpointError("%s is checkpoint version %s but this jetracer reads up to %d; upgrade jetracer"
                                  % (path, obj.get("version"), VERSION))
        missing = [k for k in ("arch", "input_size", "categories", "state_dict") if k not in obj]
        if missing:
            raise CheckpointError("%s lacks %s; expected %s" % (path, ", ".join(missing), EXPECTED))
        state_dict = _strip_module(obj["state_dict"])
        meta = {k: v for k, v in obj.items() if k not in ("state_dict", "optimizer")}
    elif obj and all(isinstance(k, str) for k in obj) and all(hasattr(v, "shape") for v in obj.values()):
        state_dict = _strip_module(obj)
        meta = _upstream_meta(state_dict, path)
    else:
        raise CheckpointError("%s is a dict with keys %s; expected %s" % (path, sorted(obj)[:6], EXPECTED))
    from .base import obstacle_outputs
    try:
        meta["obstacle_outputs"] = obstacle_outputs(meta)
    except ValueError as e:
        raise CheckpointError("%s: %s; expected %s" % (path, e, EXPECTED))
    meta.setdefault("num_outputs", 2 * len(meta["categories"]) + len(meta["obstacle_outputs"]))
    meta["normalization"] = dict(normalization_meta(), **(meta.get("normalization") or {}))
    try:
        model = build_model(meta["arch"], int(meta["num_outputs"]), pretrained=False)
    except ValueError as e:
        raise CheckpointError("%s: %s" % (path, e))
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as e:
        first = [ln.strip() for ln in str(e).splitlines() if ln.strip()][:3]
        raise CheckpointError("%s: the weights do not fit %s with %d outputs (%s); expected %s"
                              % (path, meta["arch"], meta["num_outputs"], " ".join(first)[:400], EXPECTED))
    if isinstance(map_location, str) or type(map_location).__name__ == "device":
        model.to(map_location)
    model.eval()
    return model, meta


def checkpoint_summary(meta: Dict[str, Any]) -> List[str]:
    """A few human lines about a checkpoint's meta (arch, input, categories, test metrics)."""
    lines = ["%s %s input %sx%s categories %s%s" % (meta.get("format"), meta.get("arch"), meta["input_size"][0],
                                                    meta["input_size"][1], ",".join(meta.get("categories", [])),
                                                    " obstacle outputs %s" % ",".join(meta["obstacle_outputs"])
                                                    if meta.get("obstacle_outputs") else "")]
    test = meta.get("metrics", {}).get("test")
    if test:
        lines.append("test: " + ", ".join("%s=%.4g" % (k, v) for k, v in sorted(test.items())
                                          if isinstance(v, (int, float))))
    return lines
