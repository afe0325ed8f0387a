"""How far an optimized model is from its fp32 checkpoint, and on which frames that is measured.

Parity is measured on held-out frames: the checkpoint's test sessions (``split["test"]``, whole
sessions or ``"<session>[a:b]"`` time blocks) found in the dataset folders. Calibration frames for
int8 come from the training sessions, never from the test ones. Numbers are in normalised units
(``x``, ``y`` in [-1, 1]); ``dx`` is over every x output (even indices of the road outputs), ``dy`` over every
y output. A model with an obstacle head is also compared on it: ``dp``, the blocked probability (sigmoid of
the logit, so a far-out logit that both call certain does not count), and ``dd``, the distance in metres; the
same tolerance refuses a candidate whose max |dp| exceeds it.
"""
import re
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from ..errors import Failure

DEFAULT_TOLERANCE = 0.02
_BLOCK_RE = re.compile(r"^(.*)\[(\d+):(\d+)\]$")


class ParityError(Failure, ValueError):
    """The optimized model differs from the fp32 checkpoint by more than the tolerance."""

    def __init__(self, message: str, parity: Dict[str, Any], tolerance: float) -> None:
        super(ParityError, self).__init__(message)
        self.parity = parity
        self.tolerance = tolerance


def compare(reference: Any, candidate: Any, frames: Sequence[np.ndarray]) -> Dict[str, Any]:
    """Run both pilots (``outputs(frame)``) on ``frames``; max/mean |dx|, |dy| and the frame count, and for a
    model with an obstacle head max/mean |dp| (blocked probability) and |dd| (distance, m).

    Raises ValueError when ``frames`` is empty: a parity check on nothing would pass anything.
    """
    if not len(frames):
        raise ValueError("no frames to check parity on; pass dataset folders with the checkpoint's test sessions")
    ref = np.stack([np.array(reference.outputs(f), np.float64) for f in frames])
    cand = np.stack([np.array(candidate.outputs(f), np.float64) for f in frames])
    if ref.shape != cand.shape:
        raise ValueError("the candidate gives %d outputs a frame, the checkpoint %d" % (cand.shape[1], ref.shape[1]))
    road = int(getattr(reference, "road_outputs", ref.shape[1]))
    diffs = np.abs(cand[:, :road] - ref[:, :road])
    dx, dy = diffs[:, 0::2], diffs[:, 1::2]
    out = {"max_abs_dx": float(dx.max()), "mean_abs_dx": float(dx.mean()),
           "max_abs_dy": float(dy.max()), "mean_abs_dy": float(dy.mean()), "frames": int(len(frames))}
    if ref.shape[1] > road:
        dp = np.abs(_sigmoid(cand[:, road]) - _sigmoid(ref[:, road]))
        out.update({"max_abs_dp": float(dp.max()), "mean_abs_dp": float(dp.mean())})
    if ref.shape[1] > road + 1:
        dd = np.abs(cand[:, road + 1] - ref[:, road + 1])
        out.update({"max_abs_dd_m": float(dd.max()), "mean_abs_dd_m": float(dd.mean())})
    return out


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * logits))  # no overflow for any logit


def format_parity(parity: Dict[str, Any]) -> str:
    """One line: ``max |dx| 0.0031 mean |dx| 0.0008, max |dy| ... [, max |dp| ...] over N frames``."""
    obstacle = ""
    if "max_abs_dp" in parity:
        obstacle = ", max |dp| %.4g mean |dp| %.4g" % (parity["max_abs_dp"], parity["mean_abs_dp"])
    if "max_abs_dd_m" in parity:
        obstacle += ", max |dd| %.4g m" % parity["max_abs_dd_m"]
    return ("max |dx| %.4g mean |dx| %.4g, max |dy| %.4g mean |dy| %.4g%s over %d frames"
            % (parity["max_abs_dx"], parity["mean_abs_dx"], parity["max_abs_dy"], parity["mean_abs_dy"], obstacle,
               parity["frames"]))


def check(parity: Dict[str, Any], tolerance: float, what: str) -> None:
    """Raise ParityError (with the numbers) when ``max_abs_dx`` or, for an obstacle head, ``max_abs_dp``
    exceeds ``tolerance``."""
    worst = max((parity["max_abs_dx"], "max |dx|"), (parity.get("max_abs_dp", 0.0), "max |dp|"))
    if worst[0] > tolerance:
        raise ParityError("%s is refused: %s vs the fp32 checkpoint exceeds the tolerance %.4g (%s). "
                          "Use a higher precision (fp16/fp32), more calibration frames, or --tolerance."
                          % (what, format_parity(parity), tolerance, worst[1]), parity, tolerance)


def _sides(entries: Sequence[Any], specs: Sequence[str]) -> List[Any]:
    """Entries named by split specs: whole sessions or ``"<session>[a:b]"`` time blocks."""
    by_session = {}  # type: Dict[str, List[Any]]
    for e in entries:
        by_session.setdefault(e.session, []).append(e)
    chosen = []
    for spec in specs:
        m = _BLOCK_RE.match(spec)
        if m and m.group(1) in by_session:
            members = sorted(by_session[m.group(1)], key=lambda e: (e.time, e.path))
            chosen.extend(members[int(m.group(2)):int(m.group(3))])
        else:
            chosen.extend(by_session.get(spec, []))
    return chosen


def _spread(items: Sequence[Any], limit: int) -> List[Any]:
    """At most ``limit`` items, evenly spaced (deterministic)."""
    if len(items) <= limit:
        return list(items)
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, limit)]


def dataset_frames(meta: Dict[str, Any], dataset_paths: Sequence[str], max_heldout: int = 200,
                   max_calib: int = 200) -> Tuple[List[np.ndarray], List[np.ndarray], str]:
    """(held-out frames, calibration frames, note) from the dataset folders and the checkpoint's split.

    Held-out: the checkpoint's ``split["test"]`` entries. Calibration: ``split["train"]`` entries (or
    every non-test entry when the checkpoint has no split). Without a test split, held-out frames are
    the non-calibration half of the data, and ``note`` says so.
    """
    from ..dataset import iter_frames, scan_dataset
    categories = meta.get("categories") or None
    entries = scan_dataset(list(dataset_paths), categories=categories).entries
    split = meta.get("split") or {}
    test = _sides(entries, split.get("test") or [])
    note = "held-out frames: %d from the checkpoint's test sessions" % len(test)
    if split.get("train"):
        calib = _sides(entries, split["train"])
    else:
        test_ids = set(id(e) for e in test)
        calib = [e for e in entries if id(e) not in test_ids]
    if not test:
        test, calib = calib[1::2], calib[0::2]
        note = ("the checkpoint's test sessions are not in %s; held-out frames are every other frame of the "
                "data (%d)" % (", ".join(dataset_paths), len(test)))
    heldout = [f for _, f in iter_frames(_spread(test, max_heldout))]
    calibration = [f for _, f in iter_frames(_spread(calib, max_calib))]
    return heldout, calibration, note


def dataset_paths_from_meta(meta: Dict[str, Any]) -> List[str]:
    """The dataset folders the checkpoint was trained on (``train_args``), if recorded."""
    args = meta.get("train_args") or {}
    for key in ("dataset_dirs", "datasets", "dataset", "data"):
        value = args.get(key)
        if value:
            return [value] if isinstance(value, str) else list(value)
    return []

