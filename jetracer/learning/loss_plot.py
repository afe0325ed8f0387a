"""The loss curve a training run writes next to its checkpoint (and the training notebook draws)."""
import math
from typing import Any, Dict, Sequence

from ..atomic import atomic_write


def plot_losses(history: Sequence[Dict[str, Any]], path: str) -> str:
    """Train/validation loss per epoch (log scale) and validation |du| in pixels, as a PNG at ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    tr = [(h["epoch"], h["train_loss"]) for h in history if h.get("train_loss") is not None]
    va = [(h["epoch"], h["val"]["loss"]) for h in history if _finite((h.get("val") or {}).get("loss"))]
    if tr:
        ax.plot(*zip(*tr), "o-" if len(tr) <= 60 else "-", label="train")
    if va:
        ax.plot(*zip(*va), "s-" if len(va) <= 60 else "-", label="validation")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE loss (normalised x, y)")
    ax.legend()
    du = [(h["epoch"], h["val"]["mean_abs_du_px"]) for h in history if _finite((h.get("val") or {}).get("mean_abs_du_px"))]
    dv = [(h["epoch"], h["val"]["mean_abs_dv_px"]) for h in history if _finite((h.get("val") or {}).get("mean_abs_dv_px"))]
    if du:
        ax2.plot(*zip(*du), "s-" if len(du) <= 60 else "-", label="mean |du|")
        ax2.plot(*zip(*dv), "^-" if len(dv) <= 60 else "-", label="mean |dv|")
        ax2.legend()
    else:
        ax2.text(0.5, 0.5, "no validation frames", ha="center", va="center", transform=ax2.transAxes)
    ax2.set_xlabel("epoch")
    for a in (ax, ax2):
        a.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax2.set_ylabel("validation error (input pixels)")
    fig.tight_layout()
    with atomic_write(path, fsync=False) as f:
        fig.savefig(f, dpi=80, format="png")
    plt.close(fig)
    return path


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
