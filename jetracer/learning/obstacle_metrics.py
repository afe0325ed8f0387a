"""How well an obstacle output tells blocked from free: count, accuracy, AUROC, precision and recall.

Numpy only (``jetracer eval`` and training's validation share it). ``blocked_p`` are probabilities (the
sigmoid of the model's blocked logit, or a stop model's softmax); ``blocked`` the labels (True: the way is
blocked). At the operating ``threshold`` a frame is called blocked when ``p >= threshold``, as the drive
stops. AUROC is the probability that a blocked frame gets a higher ``p`` than a free one (ties count half:
the Mann-Whitney statistic), so it judges the ranking whatever the threshold; it needs both classes.
"""
import math
from typing import Any, Dict, Optional, Sequence

import numpy as np

OPERATING_THRESHOLD = 0.5  # the drive's default (drive.obstacle.threshold)


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> Optional[float]:
    """Area under the ROC curve of ``scores`` for the positives in ``labels``; None without both classes.
    Exact with ties (average ranks)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0  # 1-based average rank of the tie group
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _ratio(num: int, den: int) -> Optional[float]:
    return None if den == 0 else round(num / float(den), 4)


def blocked_metrics(blocked_p: Sequence[float], blocked: Sequence[bool],
                    threshold: float = OPERATING_THRESHOLD) -> Dict[str, Any]:
    """``n``, ``n_blocked``, ``n_free``, ``accuracy``, ``auroc``, ``threshold``, ``precision`` (of the frames
    called blocked, the share that are), ``recall`` (of the blocked frames, the share called blocked),
    ``false_positive_rate`` (of the free frames, the share called blocked: false stops); None where a
    ratio has nothing to count. A NaN probability counts as wrong on either side."""
    p = np.asarray(blocked_p, dtype=np.float64).reshape(-1)
    y = np.asarray(blocked, dtype=bool).reshape(-1)
    if p.shape != y.shape:
        raise ValueError("%d probabilities for %d labels" % (p.size, y.size))
    finite = np.isfinite(p)
    called = finite & (p >= threshold)
    correct = np.where(y, called, finite & ~called)
    tp, fp = int((called & y).sum()), int((called & ~y).sum())
    score = auroc(np.where(finite, p, 0.5), y)
    return {"n": int(y.size), "n_blocked": int(y.sum()), "n_free": int((~y).sum()),
            "accuracy": _ratio(int(correct.sum()), int(y.size)), "auroc": None if score is None else round(score, 4),
            "threshold": float(threshold), "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, int(y.sum())),
            "false_positive_rate": _ratio(fp, int((~y).sum()))}


def distance_metrics(predicted_m: Sequence[float], labelled_m: Sequence[float]) -> Dict[str, Any]:
    """``n``, mean and median absolute error (m) of predicted against labelled distances."""
    pred = np.asarray(predicted_m, dtype=np.float64).reshape(-1)
    lab = np.asarray(labelled_m, dtype=np.float64).reshape(-1)
    err = np.abs(pred - lab)
    if not err.size:
        return {"n": 0, "mae_m": None, "median_abs_error_m": None}
    mae, med = float(err.mean()), float(np.median(err))
    return {"n": int(err.size), "mae_m": round(mae, 4) if math.isfinite(mae) else None,
            "median_abs_error_m": round(med, 4) if math.isfinite(med) else None}
