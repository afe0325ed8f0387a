"""How well a road-following model does: its MSE loss on the normalised (x, y) label and the absolute
error in pixels of the model's input image (``|du| = |dx| * W/2``, ``|dv| = |dy| * H/2``), per side
(validation, test) with the folders weighed by their shares."""
from typing import Any, Dict, List, Optional, Tuple

import torch

from ..pilot.preprocess import Preprocessor, input_hw


def select_outputs(outputs: torch.Tensor, category_idx: torch.Tensor) -> torch.Tensor:
    """(N, 2K) outputs -> (N, 2): the (x, y) pair of each sample's own category."""
    idx = (category_idx.long() * 2).unsqueeze(1) + torch.arange(2, device=outputs.device)
    return outputs.gather(1, idx)


def _errors(model: torch.nn.Module, loader: Any, preprocess: Preprocessor, device: torch.device) -> torch.Tensor:
    model.eval()
    errors = []
    with torch.no_grad():
        for frames, category_idx, xy in loader:
            pred = select_outputs(model(preprocess.batch(frames)).float(), category_idx.to(device))
            errors.append((pred - xy.to(device)).cpu())
    return torch.cat(errors).double() if errors else torch.zeros((0, 2), dtype=torch.double)


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
    if not summary.get("images"):
        return "no %s frames" % ("validation" if side == "val" else side)
    return "%s loss %.5f, |du| mean %.2f px median %.2f px, |dv| mean %.2f px" % (
        side, summary["loss"], summary["mean_abs_du_px"], summary["median_abs_du_px"], summary["mean_abs_dv_px"])


class EvalSet(object):
    """A validation or test side: one loader per folder and the folders' shares, scored as one weighted set.

    ``loaders``: ``(folder index, folder name, loader)`` for each folder with frames on this side."""

    def __init__(self, loaders: List[Tuple[int, str, Any]], shares: Optional[List[float]], input_size: Any) -> None:
        self.loaders, self.shares, self.input_size = loaders, shares, input_size

    def __call__(self, model: torch.nn.Module, preprocess: Preprocessor, device: torch.device) -> Dict[str, Any]:
        parts = [(name, g, _errors(model, loader, preprocess, device)) for g, name, loader in self.loaders]
        parts = [p for p in parts if p[2].shape[0]]
        if not parts:
            return {"loss": float("nan"), "images": 0}
        err = torch.cat([p[2] for p in parts])
        weights = None
        if self.shares is not None and len(parts) > 1:
            held = sum(self.shares[g] for _, g, _ in parts)
            weights = torch.cat([torch.full((e.shape[0],), self.shares[g] / held / e.shape[0], dtype=torch.double)
                                 for _, g, e in parts])
        summary = error_summary(err, self.input_size, weights)
        if len(parts) > 1:
            summary["per_dataset"] = {name: error_summary(e, self.input_size) for name, _, e in parts}
        return summary
