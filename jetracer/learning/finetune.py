"""The start of a fine-tune (``train(init=MODEL)``): the model to start from, its normalisation, and its
head fitted to the dataset's categories.

Fine-tuning keeps the model's own architecture, input size, normalisation and colour order: an ``arch``
or ``input_size`` that differs from the file's is refused, naming what to do.
"""
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from ..pilot.model import build_model, grow_head, head_layer
from ..pilot.preprocess import COLOR_ORDER, IMAGENET_MEAN, IMAGENET_STD, input_hw
from .train_options import TrainError


def load_init(path: str, arch: Optional[str] = None,
              input_size: Any = None) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """``(model, meta)`` of the model file to fine-tune from (``load_checkpoint``'s kinds).

    ValueError (naming the file, what it is and what to do) when it is not a checkpoint, or when
    ``arch`` / ``input_size`` are given and differ from the file's: fine-tuning keeps the model's own.
    """
    from ..pilot.checkpoint import load_checkpoint
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("model to start from (--init) %s does not exist" % path)
    model, meta = load_checkpoint(path)
    size = tuple(input_hw(meta["input_size"]))
    if arch is not None and arch != meta["arch"]:
        raise TrainError("%s is a %s model but --arch %s was asked: leave --arch out to fine-tune its %s, or train "
                         "without --init" % (path, meta["arch"], arch, meta["arch"]))
    if input_size is not None and tuple(input_hw(input_size)) != size:
        raise TrainError("%s takes %dx%d input but --input-size %dx%d was asked: leave --input-size out to fine-tune "
                         "at %dx%d, or train without --init" % ((path,) + size + tuple(input_hw(input_size)) + size))
    return model, meta


def init_normalization(meta: Dict[str, Any]) -> Tuple[Tuple[float, ...], Tuple[float, ...], str]:
    """(mean, std, colour order) the model to start from was trained with (ImageNet/RGB when not recorded)."""
    norm = meta.get("normalization") or {}
    return (tuple(norm.get("mean") or IMAGENET_MEAN), tuple(norm.get("std") or IMAGENET_STD),
            str(norm.get("color_order") or COLOR_ORDER))


def _head_keys(arch: str) -> List[str]:
    """State-dict keys of the regression head: those whose shape follows the number of outputs."""
    a, b = build_model(arch, 2, pretrained=False).state_dict(), build_model(arch, 4, pretrained=False).state_dict()
    return [k for k in a if a[k].shape != b[k].shape]


def adapt_head(model: torch.nn.Module, meta: Dict[str, Any],
               categories: Sequence[str]) -> Tuple[torch.nn.Module, str]:
    """``model`` with one (x, y) output pair per category of ``categories``, and a note ("" if unchanged).

    The same categories (or one category each) keep the model as it is. Otherwise each category takes
    the head rows of the model's category of the same name, and a new category those of its first one.
    """
    init_cats = list(meta.get("categories") or [])
    categories = list(categories)
    if init_cats == categories:
        return model, ""
    if len(init_cats) == 1 and len(categories) == 1:
        return model, "the model's category %r predicts the dataset's %r" % (init_cats[0], categories[0])
    rows = [init_cats.index(c) if c in init_cats else 0 for c in categories]
    new = build_model(meta["arch"], 2 * len(categories), pretrained=False)
    state, old = new.state_dict(), model.state_dict()
    heads = set(_head_keys(meta["arch"]))
    for k, v in old.items():
        if k in heads:
            state[k] = v.index_select(0, torch.tensor([2 * r + j for r in rows for j in (0, 1)])).clone()
        else:
            state[k] = v.clone()
    new.load_state_dict(state)
    fresh = [c for c in categories if c not in init_cats]
    return new.eval(), ("categories %s start from the model's %r outputs" % (fresh, init_cats[0]) if fresh else
                        "outputs reordered to the categories %s" % categories)


def fit_head(model: torch.nn.Module, meta: Dict[str, Any], categories: Sequence[str],
             obstacle_outputs: Sequence[str]) -> Tuple[torch.nn.Module, str]:
    """``model`` with an (x, y) pair per category of ``categories`` (as :func:`adapt_head` fits them) followed by
    ``obstacle_outputs``: the model's own obstacle rows are kept where it has them, new ones start at zero
    (a blocked probability of 0.5 until trained). Returns the model and a note ("" if unchanged)."""
    old_road = 2 * max(1, len(meta.get("categories") or []))
    layer = head_layer(model)
    kept_w = layer.weight.detach()[old_road:].clone()
    kept_b = layer.bias.detach()[old_road:].clone() if layer.bias is not None else None
    had = list(meta.get("obstacle_outputs") or [])
    if had:
        grow_head(model, old_road)  # the road rows only, as adapt_head expects them
    model, note = adapt_head(model, dict(meta, obstacle_outputs=[]), categories)
    road = 2 * len(categories)
    grow_head(model, road + len(obstacle_outputs))
    keep = min(len(had), len(obstacle_outputs))
    if keep:
        layer = head_layer(model)
        with torch.no_grad():
            layer.weight[road:road + keep] = kept_w[:keep].to(layer.weight.device)
            if kept_b is not None and layer.bias is not None:
                layer.bias[road:road + keep] = kept_b[:keep].to(layer.bias.device)
    added = list(obstacle_outputs)[len(had):]
    if added:
        note = "; ".join(n for n in (note, "new obstacle output(s) %s start untrained (p = 0.5)" % ", ".join(added)) if n)
    return model, note
