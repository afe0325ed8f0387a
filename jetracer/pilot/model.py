"""The road-following network: a torchvision backbone with a regression head of 2 outputs per category.

The default, ``resnet18`` with ``fc = Linear(512, 2 * len(categories))``, is upstream's
road_following layout, so upstream state dicts load. Output ``2*i`` is ``x`` and ``2*i + 1`` is ``y``
of category ``i``. Works with torchvision 0.11 (``pretrained=``) and newer (``weights=``).

The obstacle head sits on the same backbone as more rows of the same last layer, after the road rows: the
blocked logit, then optionally the distance in metres (``output_count``; the checkpoint's
``obstacle_outputs`` names them). It reads the same pooled features as the steering, so the car pays for one
forward pass and a few hundred multiply-adds more (upstream JetBot's collision model is this head alone on
its own resnet18 or alexnet). ``grow_head`` adds it to a road-only model, keeping the road rows.

ImageNet weights are used when they are in torch's cache or can be downloaded; otherwise (offline)
one ``PretrainedWeightsUnavailable`` warning is issued and the backbone starts from random weights.
"""
import contextlib
import logging
import warnings
from typing import Any, Dict, Sequence

logger = logging.getLogger(__name__)

# arch -> name of its torchvision weights enum (torchvision >= 0.13)
ARCHS = {
    "resnet18": "ResNet18_Weights",
    "resnet34": "ResNet34_Weights",
    "resnet50": "ResNet50_Weights",
    "mobilenet_v2": "MobileNet_V2_Weights",
    "mobilenet_v3_small": "MobileNet_V3_Small_Weights",
    "mobilenet_v3_large": "MobileNet_V3_Large_Weights",
    "efficientnet_b0": "EfficientNet_B0_Weights",
    "squeezenet1_1": "SqueezeNet1_1_Weights",
}


class PretrainedWeightsUnavailable(UserWarning):
    """ImageNet weights could not be loaded (offline, no cache): the model starts from random weights."""


def _no_weights_kwargs(torchvision: Any) -> Dict[str, Any]:
    return {"weights": None} if hasattr(torchvision.models, "ResNet18_Weights") else {"pretrained": False}


@contextlib.contextmanager
def _quiet_download():
    """torchvision prints download progress and deprecation warnings; we report once ourselves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _imagenet_state_dict(arch: str) -> Any:
    """The ImageNet state dict of ``arch`` from torch's cache or the network; raises on failure."""
    import torchvision
    enum = getattr(torchvision.models, ARCHS.get(arch, ""), None)
    with _quiet_download():
        if enum is not None:
            return enum.DEFAULT.get_state_dict(progress=False)
        # torchvision 0.11: building with pretrained=True downloads through the hub cache
        return getattr(torchvision.models, arch)(pretrained=True).state_dict()


def _replace_head(model: Any, num_outputs: int) -> None:
    """Swap the classifier's last Linear for ``Linear(in_features, num_outputs)`` (resnet ``fc``,
    mobilenet/efficientnet ``classifier[-1]``, squeezenet's final 1x1 conv)."""
    import torch.nn as nn
    if isinstance(getattr(model, "fc", None), nn.Linear):
        model.fc = nn.Linear(model.fc.in_features, num_outputs)
        return
    head = getattr(model, "classifier", None)
    if isinstance(head, nn.Linear):
        model.classifier = nn.Linear(head.in_features, num_outputs)
        return
    if isinstance(head, nn.Sequential):
        for i in range(len(head) - 1, -1, -1):
            if isinstance(head[i], nn.Linear):
                head[i] = nn.Linear(head[i].in_features, num_outputs)
                return
            if isinstance(head[i], nn.Conv2d):  # squeezenet: 1x1 conv classifier
                head[i] = nn.Conv2d(head[i].in_channels, num_outputs, kernel_size=1)
                return
    raise ValueError("do not know where the head of %s is; supported: %s" % (type(model).__name__, ", ".join(ARCHS)))


def output_count(categories: Sequence[str], obstacle_outputs: Sequence[str] = ()) -> int:
    """Rows of the last layer: an (x, y) pair per category, then the obstacle outputs."""
    return 2 * max(1, len(categories)) + len(obstacle_outputs)


def head_layer(model: Any) -> Any:
    """The last layer whose rows are the outputs (resnet ``fc``, ``classifier[-1]``, squeezenet's 1x1 conv)."""
    import torch.nn as nn
    if isinstance(getattr(model, "fc", None), nn.Linear):
        return model.fc
    head = getattr(model, "classifier", None)
    if isinstance(head, nn.Linear):
        return head
    if isinstance(head, nn.Sequential):
        for layer in reversed(list(head)):
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                return layer
    raise ValueError("do not know where the head of %s is; supported: %s" % (type(model).__name__, ", ".join(ARCHS)))


def grow_head(model: Any, num_outputs: int) -> Any:
    """``model`` with its last layer grown (or cut) to ``num_outputs`` rows: the rows it has are kept, new rows
    start at zero weight and bias (a logit of 0: p = 0.5 until trained), so the road outputs do not move."""
    import torch
    layer = head_layer(model)
    old = layer.weight.shape[0]
    if old == num_outputs:
        return model
    with torch.no_grad():
        weight = torch.zeros((num_outputs,) + tuple(layer.weight.shape[1:]), dtype=layer.weight.dtype)
        bias = torch.zeros(num_outputs, dtype=layer.weight.dtype)
        keep = min(old, num_outputs)
        weight[:keep] = layer.weight[:keep]
        if layer.bias is not None:
            bias[:keep] = layer.bias[:keep]
    _replace_head(model, num_outputs)
    new = head_layer(model)
    with torch.no_grad():
        new.weight.copy_(weight.to(new.weight.device))
        if new.bias is not None:
            new.bias.copy_(bias.to(new.bias.device))
    return model


def build_model(arch: str = "resnet18", num_outputs: int = 2, pretrained: bool = True) -> Any:
    """A torchvision ``arch`` with a ``num_outputs`` regression head (2 per category).

    ``pretrained=True`` loads ImageNet backbone weights when available; when they cannot be had,
    warns once (``PretrainedWeightsUnavailable``) and keeps random weights. Unknown ``arch`` ->
    ValueError listing the supported ones.
    """
    import torchvision
    if arch not in ARCHS:
        raise ValueError("unknown arch %r; choose one of: %s" % (arch, ", ".join(sorted(ARCHS))))
    ctor = getattr(torchvision.models, arch, None)
    if ctor is None:
        raise ValueError("torchvision %s has no %s; choose one of: %s" % (
            torchvision.__version__, arch, ", ".join(a for a in sorted(ARCHS) if hasattr(torchvision.models, a))))
    with _quiet_download():
        model = ctor(**_no_weights_kwargs(torchvision))
    if pretrained:
        try:
            model.load_state_dict(_imagenet_state_dict(arch))
        except Exception as e:  # offline (URLError), corrupt cache, proxy...: train from scratch
            warnings.warn(
                "ImageNet weights for %s are not available (%s: %s); starting from random weights. "
                "To use them, run once with network access or place the torchvision weights file in "
                "torch's cache (~/.cache/torch/hub/checkpoints)." % (arch, type(e).__name__, e),
                PretrainedWeightsUnavailable, stacklevel=2)
    _replace_head(model, int(num_outputs))
    return model
