"""How well a road-following model does: its MSE loss on the normalised (x, y) label and the absolute
error in pixels of the model's input image (``|du| = |dx| * W/2``, ``|dv| = |dy| * H/2``), per side
(validation, test) with the folders weighed by their shares.

A model with an obstacle head is also trained and scored on the frames that have obstacle labels: binary
cross-entropy of the blocked logit, a robust (Huber) loss of the distance in metres, each on the frames that
have that label only (:func:`multitask_loss`), and on validation and test the blocked metrics of
:mod:`.obstacle_metrics` (AUROC, accuracy, precision, recall at the operating threshold)."""
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..pilot.preprocess import Preprocessor, input_hw
from .evaluate import x_spread
from .obstacle_metrics import blocked_metrics, distance_metrics
from .road_dataset import BLOCKED, BLOCKED_MASK, DISTANCE_M, DISTANCE_MASK, ROAD_MASK

BLOCKED_WEIGHT = 0.5     # the blocked BCE's weight next to the road MSE, times the run's obstacle_weight
DISTANCE_WEIGHT = 0.1    # the distance Huber loss's weight, times the run's obstacle_weight
DISTANCE_HUBER_M = 0.25  # quadratic within this error, linear beyond: a far-off distance label does not dominate


def select_outputs(outputs: torch.Tensor, category_idx: torch.Tensor) -> torch.Tensor:
    """(N, 2K) outputs -> (N, 2): the (x, y) pair of each sample's own category."""
    idx = (category_idx.long() * 2).unsqueeze(1) + torch.arange(2, device=outputs.device)
    return outputs.gather(1, idx)


def multitask_loss(outputs: torch.Tensor, category_idx: torch.Tensor, xy: torch.Tensor, targets: torch.Tensor,
                   road_outputs: int, obstacle_weight: float = 1.0) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """The loss of a batch whose frames have the labels ``targets`` says (see ``RoadDataset``): the road MSE on
    the frames with a road label, plus :data:`BLOCKED_WEIGHT` x BCE of the blocked logit (output
    ``road_outputs``) on those with a blocked label, plus :data:`DISTANCE_WEIGHT` x Huber of the distance (output
    ``road_outputs + 1``, when the model has it) on those with a distance; each term a mean over its own frames,
    none when the batch has no such frame; ``obstacle_weight`` scales both obstacle terms. Returns (loss, the
    terms, unweighted)."""
    outputs = outputs.float()
    parts = {}  # type: Dict[str, torch.Tensor]
    road = targets[:, ROAD_MASK] > 0
    if bool(road.any()):
        parts["road"] = F.mse_loss(select_outputs(outputs[road, :road_outputs], category_idx[road]), xy[road])
    labelled = targets[:, BLOCKED_MASK] > 0
    if bool(labelled.any()):
        parts["blocked"] = F.binary_cross_entropy_with_logits(outputs[labelled, road_outputs],
                                                              targets[labelled, BLOCKED])
    known = targets[:, DISTANCE_MASK] > 0
    if outputs.shape[1] > road_outputs + 1 and bool(known.any()):
        parts["distance"] = F.smooth_l1_loss(outputs[known, road_outputs + 1], targets[known, DISTANCE_M],
                                             beta=DISTANCE_HUBER_M)
    loss = None  # type: Optional[torch.Tensor]
    for name, weight in (("road", 1.0), ("blocked", BLOCKED_WEIGHT * obstacle_weight),
                         ("distance", DISTANCE_WEIGHT * obstacle_weight)):
        if name in parts:
            loss = weight * parts[name] if loss is None else loss + weight * parts[name]
    return (outputs.sum() * 0.0 if loss is None else loss), parts


def _errors(model: torch.nn.Module, loader: Any, preprocess: Preprocessor, device: torch.device,
            road_outputs: Optional[int] = None) -> Tuple[torch.Tensor, Dict[str, np.ndarray]]:
    """(N, 2) road errors of the frames with a road label, and the obstacle outputs and labels of those with
    one (``logit``, ``blocked``, ``distance_pred``, ``distance``), and ``label_x``: the road frames' x labels."""
    model.eval()
    errors, label_x = [], []
    obstacle = {"logit": [], "blocked": [], "distance_pred": [], "distance": []}  # type: Dict[str, List[Any]]
    with torch.no_grad():
        for batch in loader:
            frames, category_idx, xy = batch[:3]
            out = model(preprocess.batch(frames)).float()
            if len(batch) < 4:
                errors.append((select_outputs(out, category_idx.to(device)) - xy.to(device)).cpu())
                label_x.append(xy[:, 0].double())
                continue
            targets = batch[3].to(device)
            road = targets[:, ROAD_MASK] > 0
            label_x.append(xy[road.cpu(), 0].double())
            errors.append((select_outputs(out[road, :road_outputs], category_idx.to(device)[road])
                           - xy.to(device)[road]).cpu())
            labelled = targets[:, BLOCKED_MASK] > 0
            if out.shape[1] > road_outputs and bool(labelled.any()):
                obstacle["logit"].append(out[labelled, road_outputs].cpu().numpy())
                obstacle["blocked"].append(targets[labelled, BLOCKED].cpu().numpy() > 0.5)
            known = targets[:, DISTANCE_MASK] > 0
            if out.shape[1] > road_outputs + 1 and bool(known.any()):
                obstacle["distance_pred"].append(out[known, road_outputs + 1].cpu().numpy())
                obstacle["distance"].append(targets[known, DISTANCE_M].cpu().numpy())
    err = torch.cat(errors).double() if errors else torch.zeros((0, 2), dtype=torch.double)
    extra = {k: np.concatenate(v) if v else np.zeros(0) for k, v in obstacle.items()}
    extra["label_x"] = torch.cat(label_x).numpy() if label_x else np.zeros(0)
    return err, extra


def obstacle_summary(obstacle: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """The blocked metrics, the BCE (``loss``) and, where frames give one, the distance error of a side's
    obstacle outputs; {} when it has no obstacle label."""
    logits, labels = obstacle["logit"].astype(np.float64), obstacle["blocked"].astype(bool)
    if not logits.size:
        return {}
    out = blocked_metrics(0.5 * (1.0 + np.tanh(0.5 * logits)), labels)
    bce = np.logaddexp(0.0, logits) - labels * logits  # log(1 + e^z) - y z, stable
    out["loss"] = float(bce.mean())
    if obstacle["distance"].size:
        out["distance"] = distance_metrics(obstacle["distance_pred"], obstacle["distance"])
    return out


def _weighted_median(values: torch.Tensor, weights: torch.Tensor) -> float:
    order = torch.argsort(values)
    cum = torch.cumsum(weights[order], 0)
    return float(values[order][int(torch.searchsorted(cum, cum[-1] / 2.0).clamp(max=len(values) - 1))])


def error_summary(err: torch.Tensor, input_size: Any, weights: Optional[torch.Tensor] = None) -> Dict[str, float]:
    """Loss and pixel errors of (N, 2) errors of normalised (x, y) in an input of ``input_size``;
    ``weights`` (N,) weigh the frames (the folder shares), uniform by default."""
    n = int(err.shape[0])
    if n == 0:
        return {"loss": float("nan"), "images": 0}
    h, w = input_hw(input_size)
    du, dv = err[:, 0].abs() * (w / 2.0), err[:, 1].abs() * (h / 2.0)
    if weights is None:
        return {"loss": float((err ** 2).mean()), "mean_abs_du_px": float(du.mean()),
                "median_abs_du_px": float(du.median()), "mean_abs_dv_px": float(dv.mean()),
                "median_abs_dv_px": float(dv.median()), "images": n}
    wn = weights.double() / weights.sum()
    return {"loss": float(((err ** 2).mean(1) * wn).sum()), "mean_abs_du_px": float((du * wn).sum()),
            "median_abs_du_px": _weighted_median(du, wn), "mean_abs_dv_px": float((dv * wn).sum()),
            "median_abs_dv_px": _weighted_median(dv, wn), "images": n}


def describe_errors(side: str, summary: Dict[str, Any]) -> str:
    """A log phrase for a validation or test summary; says so when that side has no frames (not "nan")."""
    blocked = summary.get("blocked") or {}
    obstacle = "" if not blocked else "%sblocked AUROC %s, accuracy %s (%d frames)" % (
        ", " if summary.get("images") else "%s " % side, "n/a" if blocked["auroc"] is None else "%.3f" % blocked["auroc"],
        "n/a" if blocked["accuracy"] is None else "%.3f" % blocked["accuracy"], blocked["n"])
    if not summary.get("images"):
        return obstacle.strip() or "no %s frames" % ("validation" if side == "val" else side)
    return "%s loss %.5f, |du| mean %.2f px median %.2f px, |dv| mean %.2f px%s" % (
        side, summary["loss"], summary["mean_abs_du_px"], summary["median_abs_du_px"], summary["mean_abs_dv_px"],
        obstacle)


def selection_loss(summary: Dict[str, Any], obstacle_weight: float = 1.0) -> float:
    """What picks the best epoch: the road loss, plus :data:`BLOCKED_WEIGHT` x ``obstacle_weight`` x the blocked
    BCE where the side has obstacle labels (the terms training minimises); NaN when the side has nothing."""
    parts = []
    if summary.get("images"):
        parts.append(summary["loss"])
    blocked = summary.get("blocked") or {}
    if "loss" in blocked:
        parts.append(BLOCKED_WEIGHT * obstacle_weight * blocked["loss"])
    return float(sum(parts)) if parts else float("nan")


class EvalSet(object):
    """A validation or test side: one loader per folder and the folders' shares, scored as one weighted set.

    ``loaders``: ``(folder index, folder name, loader)`` for each folder with frames on this side."""

    def __init__(self, loaders: List[Tuple[int, str, Any]], shares: Optional[List[float]], input_size: Any,
                 road_outputs: Optional[int] = None) -> None:
        self.loaders, self.shares, self.input_size = loaders, shares, input_size
        self.road_outputs = road_outputs  # set for a model with an obstacle head (loaders of 4-tuples)

    def __call__(self, model: torch.nn.Module, preprocess: Preprocessor, device: torch.device) -> Dict[str, Any]:
        scored = [(name, g, _errors(model, loader, preprocess, device, self.road_outputs))
                  for g, name, loader in self.loaders]
        obstacle = obstacle_summary({k: np.concatenate([o[k] for _, _, (_, o) in scored]) if scored else np.zeros(0)
                                     for k in ("logit", "blocked", "distance_pred", "distance")})
        summary = self._road(scored)
        if obstacle:
            summary["blocked"] = obstacle
        return summary

    def _road(self, scored: List[Tuple[str, int, Any]]) -> Dict[str, Any]:
        parts = [(name, g, err) for name, g, (err, _) in scored if err.shape[0]]
        if not parts:
            return {"loss": float("nan"), "images": 0}
        err = torch.cat([p[2] for p in parts])
        weights = None
        if self.shares is not None and len(parts) > 1:
            held = sum(self.shares[g] for _, g, _ in parts)
            weights = torch.cat([torch.full((e.shape[0],), self.shares[g] / held / e.shape[0], dtype=torch.double)
                                 for _, g, e in parts])
        summary = error_summary(err, self.input_size, weights)
        label_x = np.concatenate([extra["label_x"] for _, _, (_, extra) in scored])
        spread = x_spread(label_x + err[:, 0].numpy(), label_x)
        if spread is not None:
            summary["x_spread"] = spread
        if len(parts) > 1:
            summary["per_dataset"] = {name: error_summary(e, self.input_size) for name, _, e in parts}
        return summary
