"""Back to upstream: any jetracer resnet18 checkpoint as the plain state dict upstream's notebooks load.

Upstream builds ``torchvision.models.resnet18()``, sets ``model.fc = Linear(512, 2 * categories)``,
``load_state_dict(torch.load(path))``, and feeds the camera's BGR frame through ``to_tensor`` and
ImageNet normalisation without swapping channels. A jetracer model was trained on RGB (or, for an
imported upstream model, BGR) input normalised with its own mean/std. Both are per-channel affine
maps of the same pixels, and the first layer is a convolution, so the difference is folded into it:

* upstream's input channel ``k`` holds colour ``BGR[k]`` as ``(p/255 - m_u[k]) / s_u[k]``; the
  model's channel ``j`` holding the same colour was ``(p/255 - m[j]) / s[j]``, which is
  ``a * x_up[k] + b`` with ``a = s_u[k] / s[j]`` and ``b = (m_u[k] - m[j]) / s[j]``;
* so ``conv1.weight[:, k] = W[:, j] * a`` and the constant ``sum(W[:, j]) * b`` per output channel
  goes into ``bn1.running_mean`` (BatchNorm subtracts it; conv1 has no bias).

This is exact wherever conv1's 7x7 window lies inside the image. At the 3-pixel zero padding of the
border it is not: zero there now stands for upstream's normalised zero (the mean colour in BGR order)
instead of the model's, which differs by ``b`` on the red and blue channels (0.35 in normalised
units for an RGB model with ImageNet statistics). The effect on (x, y) is small and measured by
:func:`border_difference` (and reported by ``jetracer export``).

The export is road-only: upstream's road_following notebooks build ``fc`` 512 -> 2k and have no obstacle
output, so a model's obstacle rows (the blocked logit, the distance) are left out and the notes say so; on
upstream's code the car follows the road and does not stop. Drive the jetracer checkpoint itself to stop.
"""
import collections
import os
from typing import Any, Dict, Sequence

from ..errors import Failure, UserError
from ..pilot.preprocess import IMAGENET_MEAN, IMAGENET_STD

UPSTREAM_ORDER = "BGR"
UPSTREAM_MEAN = IMAGENET_MEAN
UPSTREAM_STD = IMAGENET_STD


class ExportError(Failure, ValueError):
    """The checkpoint cannot be written in upstream's layout; the message says why."""


class ExportTargetError(UserError, ExportError):
    """The file to write is a folder or the checkpoint itself: choose another."""


def fold_to_upstream(state_dict: Dict[str, Any], normalization: Dict[str, Any]) -> "collections.OrderedDict":
    """A copy of a resnet state dict whose conv1/bn1 take upstream's input (BGR, ImageNet statistics).

    ``normalization``: the model's own ``mean``, ``std`` and ``color_order``. Other tensors are copied.
    """
    import torch
    order = normalization.get("color_order", "RGB")
    mean = [float(m) for m in normalization.get("mean", IMAGENET_MEAN)]
    std = [float(s) for s in normalization.get("std", IMAGENET_STD)]
    weight = state_dict["conv1.weight"].detach().double()
    new_weight = torch.empty_like(weight)
    shift = torch.zeros(weight.shape[0], dtype=torch.float64)
    ours = list(order)
    for k, colour in enumerate(UPSTREAM_ORDER):
        j = ours.index(colour)
        a = UPSTREAM_STD[k] / std[j]
        b = (UPSTREAM_MEAN[k] - mean[j]) / std[j]
        new_weight[:, k] = weight[:, j] * a
        shift += weight[:, j].sum(dim=(1, 2)) * b
    out = collections.OrderedDict((k, v.detach().clone().cpu()) for k, v in state_dict.items())
    out["conv1.weight"] = new_weight.to(state_dict["conv1.weight"].dtype)
    out["bn1.running_mean"] = (state_dict["bn1.running_mean"].double() - shift).to(state_dict["bn1.running_mean"].dtype)
    return out


def _check_exportable(meta: Dict[str, Any], state_dict: Dict[str, Any], path: str) -> None:
    fc = state_dict.get("fc.weight")
    problems = []
    if meta.get("arch") != "resnet18":
        problems.append("its arch is %s (upstream's notebooks build resnet18)" % meta.get("arch"))
    if fc is None or tuple(fc.shape)[1:] != (512,):
        problems.append("it has no fc 512 -> 2k head")
    if "conv1.bias" in state_dict or "bn1.running_mean" not in state_dict:
        problems.append("its first layer is not resnet's conv1 (no bias) + bn1")
    if problems:
        raise ExportError("%s cannot be written for upstream: %s; retrain with `jetracer train --arch resnet18`"
                          % (path, "; ".join(problems)))


def export_upstream(checkpoint: str, out: str) -> Dict[str, Any]:
    """Write ``checkpoint`` (any jetracer resnet18 checkpoint or upstream state dict) to ``out`` as a plain
    state dict in upstream's convention; returns what was written (path, categories, input size, the
    colour order and normalisation folded in, and notes for the user).

    Raises ExportError (not resnet18 with an fc 512 -> 2k head) or CheckpointError (unreadable file).
    """
    import torch
    from ..atomic import atomic_write, same_file
    from ..pilot.checkpoint import load_checkpoint
    if os.path.isdir(str(out)):
        raise ExportTargetError("--upstream %s is a folder; name the .pth file to write" % out)
    if same_file(str(out), str(checkpoint)):
        raise ExportTargetError("--upstream %s would write over the checkpoint %s it is made from; choose another file"
                          % (out, checkpoint))
    model, meta = load_checkpoint(str(checkpoint))
    state_dict = model.state_dict()
    _check_exportable(meta, state_dict, str(checkpoint))
    norm = meta["normalization"]
    folded = fold_to_upstream(state_dict, norm)
    road = 2 * len(meta["categories"])
    obstacle = list(meta.get("obstacle_outputs") or [])
    if obstacle:  # upstream's fc has the road rows only
        folded["fc.weight"] = folded["fc.weight"][:road].clone()
        folded["fc.bias"] = folded["fc.bias"][:road].clone()
    if os.path.dirname(os.path.abspath(out)):
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with atomic_write(str(out)) as f:
        torch.save(folded, f)
    size = list(meta["input_size"])
    notes = []
    if size != [224, 224]:
        notes.append("trained at %dx%d: upstream's notebooks feed 224x224 frames, so give the camera "
                     "width=%d, height=%d" % (size[0], size[1], size[1], size[0]))
    if obstacle:
        notes.append("road outputs only: upstream's notebooks have no obstacle output, so the model's %s (%s) are "
                     "left out and the car will not stop for obstacles on upstream's code" % (
                         "outputs" if len(obstacle) > 1 else "output", ", ".join(obstacle)))
    if len(meta["categories"]) > 1:
        notes.append("%d categories: upstream reads (x, y) of category i from outputs 2i, 2i+1 (%s)"
                     % (len(meta["categories"]), ", ".join(meta["categories"])))
    return {"path": str(out), "categories": list(meta["categories"]), "input_size": size,
            "from_color_order": norm.get("color_order", "RGB"), "from_mean": list(norm["mean"]),
            "from_std": list(norm["std"]), "notes": notes}


def border_difference(checkpoint: str, frames: Sequence[Any]) -> Dict[str, float]:
    """Max |dx|, |dy| between the checkpoint run by jetracer and its upstream export run as upstream does
    (``to_tensor`` on the BGR frame, ImageNet normalisation) on ``frames``: what the padded border costs."""
    import numpy as np
    import torch
    from ..pilot.checkpoint import load_checkpoint
    from ..pilot.torch_backend import TorchPilot
    model, meta = load_checkpoint(str(checkpoint))
    pilot = TorchPilot(model, meta, device="cpu")
    road = 2 * len(meta["categories"])
    folded = fold_to_upstream(model.state_dict(), meta["normalization"])
    folded["fc.weight"], folded["fc.bias"] = folded["fc.weight"][:road], folded["fc.bias"][:road]
    exported = _upstream_model(folded, road)
    diffs = []
    for frame in frames:
        with torch.no_grad():
            up = exported(upstream_preprocess(frame, meta["input_size"]))[0].numpy()
        diffs.append(np.abs(up - pilot.outputs(frame)[:road]))
    d = np.stack(diffs)
    return {"max_abs_dx": float(d[:, 0::2].max()), "max_abs_dy": float(d[:, 1::2].max()), "frames": len(frames)}


def _upstream_model(state_dict: Dict[str, Any], num_outputs: int) -> Any:
    """What upstream's notebooks build: torchvision resnet18, fc 512 -> num_outputs, eval mode."""
    import torch
    from ..pilot.model import build_model
    model = build_model("resnet18", int(num_outputs), pretrained=False)
    model.fc = torch.nn.Linear(512, int(num_outputs))
    model.load_state_dict(state_dict)
    return model.eval()


def upstream_preprocess(frame_bgr: Any, input_size: Any = 224) -> Any:
    """Upstream's ``utils.preprocess`` in fp32 on the CPU: the BGR frame to ``to_tensor`` unswapped, then
    ImageNet mean/std (resized with INTER_AREA first when the frame has another size)."""
    import torch
    from ..pilot.preprocess import resize_bgr
    frame = resize_bgr(frame_bgr, input_size)
    x = torch.from_numpy(frame.copy()).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(UPSTREAM_MEAN).view(3, 1, 1)
    std = torch.tensor(UPSTREAM_STD).view(3, 1, 1)
    return ((x - mean) / std)[None]
