"""How well a model file predicts labelled frames: ``evaluate_model(model, datasets) -> dict``.

Road frames are judged on the road outputs; obstacle frames (``<dataset>/blocked``, ``<dataset>/free``, or a
road frame's index label) on the obstacle output (or a separate stop model): count, accuracy, AUROC,
precision and recall at the operating threshold (:mod:`jetracer.learning.obstacle_metrics`).

Any file :func:`jetracer.pilot.load_pilot` loads (checkpoint, upstream state dict, ONNX,
TensorRT, optimized torch) on any labelled dataset in the upstream layout. Every frame goes through
the pilot exactly as on the car (its own resize, normalisation and colour order), so a model of
another input size than the frames is fine.

Figures (for x and for y): ``count``, Pearson ``r`` (None with fewer than 2 frames or a constant
label or prediction), mean and median ``|error|`` of the normalised value; for x also the sign
agreement over frames whose label is clearly off-centre (``|x| > sign_threshold``, 0.2 by default):
the share of them where the model steers the same way as the label. r says whether the model
follows the target's movements, |error| whether it is also on scale, sign agreement whether it
turns the right way where it matters.
"""
import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import UserError
from .obstacle_metrics import OPERATING_THRESHOLD, blocked_metrics, distance_metrics

SIGN_THRESHOLD = 0.2
# predictions that spread less than this share of the labels' do not steer: on 300 frames of six unseen procedural
# tracks, models that lapped them spread 0.81-0.93, two mobilenet models that lapped nothing 0.11 and 0.27
FLAT_X_SPREAD = 0.3


class EvalError(UserError):
    """The dataset cannot be evaluated (nothing labelled in it, categories the model lacks)."""


def pearson_r(a: Sequence[float], b: Sequence[float]) -> Optional[float]:
    """Pearson correlation of two equal-length sequences; None when fewer than 2 values or either is constant.
    Constant means all values equal: the std of equal floats can be 1e-17, not 0, and r then came out as 0.0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size < 2 or a.max() == a.min() or b.max() == b.min():
        return None
    return float(np.corrcoef(a, b)[0, 1])


def x_spread(pred_x: Sequence[float], label_x: Sequence[float]) -> Optional[float]:
    """How widely the predicted x varies, as a share of how widely the labels do (std over std; None under
    two frames or labels that do not vary). Near 0 the model puts out one x for every frame and cannot steer,
    whatever its loss says: a model that collapsed to the mean has a loss near the labels' variance."""
    pred, label = np.asarray(pred_x, dtype=np.float64), np.asarray(label_x, dtype=np.float64)
    if label.size < 2 or label.max() == label.min():
        return None
    return _round(float(np.std(pred) / np.std(label)))


def flat_output_note(spread: Optional[float], frames: str = "frame") -> Optional[str]:
    """A warning when predictions hardly vary (``spread`` from :func:`x_spread` under :data:`FLAT_X_SPREAD`),
    else None. ``frames`` names them ("validation frame")."""
    if spread is None or spread >= FLAT_X_SPREAD:
        return None
    return ("the model puts out nearly the same x for every %s (its spread is %.3f of the labels'): it will not "
            "steer. Train longer or on more varied frames, and check it with `jetracer eval` before the car moves"
            % (frames, spread))


def label_metrics(pred: Any, label: Any, sign_threshold: float = SIGN_THRESHOLD) -> Dict[str, Any]:
    """Metrics of predicted against labelled normalised (x, y): arrays of shape (N, 2)."""
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 2)
    label = np.asarray(label, dtype=np.float64).reshape(-1, 2)
    if pred.shape != label.shape:
        raise ValueError("predictions %s and labels %s differ in shape" % (pred.shape, label.shape))
    out = {"count": int(label.shape[0])}  # type: Dict[str, Any]
    for k, name in enumerate(("x", "y")):
        err = np.abs(pred[:, k] - label[:, k])
        out["r_" + name] = _round(pearson_r(pred[:, k], label[:, k]))
        out["mae_" + name] = _round(float(err.mean())) if err.size else None
        out["median_abs_error_" + name] = _round(float(np.median(err))) if err.size else None
    out["spread_x"] = x_spread(pred[:, 0], label[:, 0])
    off_centre = np.abs(label[:, 0]) > sign_threshold
    n_sign = int(off_centre.sum())
    agree = np.sign(pred[off_centre, 0]) == np.sign(label[off_centre, 0])
    out.update({"sign_threshold": sign_threshold, "sign_count_x": n_sign,
                "sign_agreement_x": _round(float(agree.mean())) if n_sign else None})
    return out


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


def _category_index(pilot: Any, category: str) -> int:
    names = list(pilot.categories or [])
    if category in names:
        return names.index(category)
    if len(names) <= 1 or int(getattr(pilot, "road_outputs", pilot.num_outputs)) == 2:
        return 0
    raise EvalError("the model predicts categories %s but the dataset has category %r; evaluate a folder of one "
                    "of the model's categories" % (", ".join(names), category))


def no_labelled_images_message(dirs: Sequence[str], problems: Sequence[Any]) -> str:
    """One line saying why a scan found nothing to use, with the first skipped file as an example."""
    from ..dataset import shown_path
    where = ", ".join(shown_path(d) for d in dirs)
    if not problems:
        return ("no labelled images in %s: expected JPEGs named <u>_<v>_<id>.jpg (the target pixel) in "
                "<dataset>/<category>/ or directly in the folder, or obstacle frames in <dataset>/blocked/ and "
                "<dataset>/free/" % where)
    first = problems[0]
    return ("no labelled images in %s: %d file(s) skipped, e.g. %s (%s); expected JPEGs named <u>_<v>_<id>.jpg "
            "with the target pixel" % (where, len(problems), shown_path(os.path.basename(first.path)), first.reason))


def _check_classes(per_dir: Sequence[Any]) -> None:
    """EvalError for a blocked/free folder with one class empty: AUROC (and accuracy on one class) say nothing."""
    from ..dataset import OBSTACLE_FOLDERS, shown_path
    for name, entries in per_dir:
        foldered = [e for e in entries if e.has_obstacle and not e.has_road and e.category in OBSTACLE_FOLDERS]
        if not foldered:
            continue
        blocked = sum(1 for e in foldered if e.blocked)
        if blocked == 0 or blocked == len(foldered):
            have, empty = ("blocked", "free") if blocked else ("free", "blocked")
            raise EvalError("%s has %d %s frame(s) and no %s one: blocked/free metrics (AUROC) need both classes; add "
                            "frames to %s/%s/ or evaluate a folder that has both"
                            % (shown_path(name), len(foldered), have, empty, shown_path(name), empty))


def _stop_source(pilot: Any, stop_model: Any) -> Any:
    """What the evaluation judges obstacle frames on: the stop model where one is given, else the pilot with
    its own obstacle output, else None."""
    if stop_model is not None:
        return stop_model
    return pilot if getattr(pilot, "has_obstacle_output", False) else None


def _check_model_files(model: Any, stop_model: Any) -> None:
    """Refuse a missing, irregular or oversized model file before a long scan of the datasets."""
    from ..pilot.load import read_model_head
    for path in (model, stop_model):
        if isinstance(path, (str, os.PathLike)):
            read_model_head(os.fspath(path))  # missing, not a regular file, too large: before a long scan


def _scan(datasets: Any, categories: Optional[List[str]],
          entries: Optional[Sequence[Any]]) -> Tuple[List[str], List[Any], List[Any]]:
    """The dataset folders as paths, their labelled entries per folder (or the given ``entries``) and the files
    the scan could not use; EvalError when nothing labelled is found."""
    from ..dataset import scan_dataset
    if isinstance(datasets, (str, os.PathLike)):
        datasets = [datasets]
    datasets = [os.fspath(d) for d in (datasets or [])]
    per_dir = []  # type: List[Any]
    problems = []  # type: List[Any]
    if entries is not None:
        per_dir.append(("entries", list(entries)))
    else:
        for d in datasets:
            index = scan_dataset(d, categories, obstacles=True)
            per_dir.append((d, index.entries))
            problems.extend(index.problems)
    if not any(e for _, e in per_dir):
        raise EvalError(no_labelled_images_message(datasets, problems))
    return datasets, per_dir, problems


def _load_models(model: Any, stop_model: Any, device: Optional[str]) -> Tuple[Any, Any]:
    """The pilot and the stop model loaded from their paths (or as given), the pilot's metadata checked."""
    from ..pilot.load import load_pilot
    pilot = load_pilot(os.fspath(model), device=device) if isinstance(model, (str, os.PathLike)) else model
    if isinstance(stop_model, (str, os.PathLike)):
        from ..pilot.stop_model import load_stop_model
        stop_model = load_stop_model(os.fspath(stop_model), device=device)
    if pilot is not None:
        from ..pilot.limits import check_pilot_metadata
        check_pilot_metadata(pilot)  # a file claiming a 20000x20000 input would make each frame 1.2 GB
    return pilot, stop_model


class _Tally(object):
    """What the frames give the metrics: road predictions with labels and folder, obstacle probabilities, rows."""

    def __init__(self, pilot: Any, stop_model: Any, judge: Any) -> None:
        self.pilot, self.stop_model, self.judge = pilot, stop_model, judge
        self.preds = []  # type: List[Any]
        self.labels = []  # type: List[Any]
        self.rows = []  # type: List[Dict[str, Any]]
        self.groups = []  # type: List[int]
        self.obstacle = {"p": [], "blocked": [], "dist_pred": [], "dist": []}  # type: Dict[str, List[Any]]
        self.unreadable = 0

    def run(self, per_dir: Sequence[Any]) -> None:
        """Every frame there is something to judge on, read once; an undecodable one is counted, not fatal."""
        from ..dataset import load_frame
        for g, (_, group_entries) in enumerate(per_dir):
            for e in group_entries:
                if not (e.has_road and self.pilot is not None) and not (e.has_obstacle and self.judge is not None):
                    continue
                frame = load_frame(e.path, getattr(e, "orientation", 1))
                if frame is None:
                    self.unreadable += 1
                    continue
                self.rows.append(self._judge(g, e, frame))

    def _judge(self, g: int, e: Any, frame: Any) -> Dict[str, Any]:
        """One frame's prediction row; its road and obstacle figures go into the tally."""
        from ..dataset import shown_path
        pilot, stop_model = self.pilot, self.stop_model
        row = {"file": shown_path(e.path), "category": e.category}  # type: Dict[str, Any]
        reading = None
        if pilot is not None:
            k = _category_index(pilot, e.category) if e.has_road else 0
            reading = pilot.reading(pilot.outputs(frame), k)  # one pass for the road and the obstacle outputs
        if e.has_road and reading is not None:
            x, y = e.xy
            self.preds.append((reading.x, reading.y))
            self.labels.append((x, y))
            self.groups.append(g)
            row.update({"x": round(x, 5), "y": round(y, 5), "pred_x": round(reading.x, 5),
                        "pred_y": round(reading.y, 5)})
        if e.has_obstacle and self.judge is not None:
            p = float(stop_model(frame) if stop_model is not None else reading.blocked_p)
            self.obstacle["p"].append(p)
            self.obstacle["blocked"].append(bool(e.blocked))
            row.update({"blocked": bool(e.blocked), "blocked_p": round(p, 5) if math.isfinite(p) else None})
            if e.distance_m is not None and stop_model is None and reading.distance_m is not None:
                self.obstacle["dist_pred"].append(reading.distance_m)
                self.obstacle["dist"].append(e.distance_m)
                row.update({"distance_m": e.distance_m, "pred_distance_m": round(reading.distance_m, 4)})
        return row


def _result(tally: _Tally, per_dir: Sequence[Any], model: Any, datasets: List[str], problems: Sequence[Any],
            sign_threshold: float, threshold: float) -> Dict[str, Any]:
    """The evaluation's dictionary from the tally: road metrics, obstacle metrics, per folder, and the rows."""
    pilot, stop_model, preds = tally.pilot, tally.stop_model, tally.preds
    obstacle = tally.obstacle
    result = label_metrics(preds, tally.labels, sign_threshold) if preds else {"count": 0}
    judged = stop_model if stop_model is not None and pilot is None else pilot
    result.update({"model": getattr(judged, "path", "") or str(model), "backend": getattr(pilot, "backend", "torch"),
                   "model_input_size": list(getattr(judged, "input_size", (224, 224))), "datasets": datasets,
                   "skipped": len(problems) + tally.unreadable})
    if stop_model is not None:
        result["stop_model"] = getattr(stop_model, "path", "") or str(stop_model)
    if obstacle["p"]:
        result["blocked"] = blocked_metrics(obstacle["p"], obstacle["blocked"], threshold)
        if obstacle["dist"]:
            result["blocked"]["distance"] = distance_metrics(obstacle["dist_pred"], obstacle["dist"])
    elif any(e.has_obstacle for _, es in per_dir for e in es):
        result["notes"] = ["obstacle labels not evaluated: %s has no obstacle output (give --stop-model to judge "
                           "upstream's collision model)" % result["model"]]
    if len(per_dir) > 1 and preds:
        p, l, gr = np.asarray(preds), np.asarray(tally.labels), np.asarray(tally.groups)
        result["per_dataset"] = {name: label_metrics(p[gr == g], l[gr == g], sign_threshold)
                                 for g, (name, _) in enumerate(per_dir) if (gr == g).any()}
    result["predictions"] = tally.rows
    return result


def evaluate_model(model: Any, datasets: Any, device: Optional[str] = None, categories: Optional[List[str]] = None,
                   sign_threshold: float = SIGN_THRESHOLD, entries: Optional[Sequence[Any]] = None,
                   threshold: float = OPERATING_THRESHOLD, stop_model: Any = None) -> Dict[str, Any]:
    """Run ``model`` (a path for ``load_pilot``, or a loaded pilot) on every labelled frame of ``datasets``.

    Road frames: the metrics of :func:`label_metrics` for all of them together, plus ``model``, ``backend``,
    ``model_input_size``, ``datasets``, ``skipped`` (files the scan could not use), ``per_dataset`` (the same
    metrics per folder, when there are several). Frames with an obstacle label (``<dataset>/blocked``,
    ``<dataset>/free``, or a road frame's index label): ``blocked``, the metrics of
    :func:`~jetracer.learning.obstacle_metrics.blocked_metrics` at ``threshold`` (and ``blocked.distance`` where
    frames give a distance), judged on the model's obstacle output or on ``stop_model`` (a path for
    ``load_stop_model`` or a loaded one; ``model`` may then be None). ``predictions``: one row per frame.
    ``entries`` evaluates those dataset entries instead of scanning. Raises FileNotFoundError (missing model or
    folder), PilotLoadError (not a model file, or one refused for its size), SelfCheckError (a model claiming an
    impossible input size or output count) and EvalError (no labelled frame, a category the model lacks, a
    blocked/free folder with one class empty, obstacle frames only and nothing to judge them).
    """
    _check_model_files(model, stop_model)
    if model is None and stop_model is None:
        raise EvalError("nothing to evaluate: give a model (--model) or a stop model (--stop-model)")
    datasets, per_dir, problems = _scan(datasets, categories, entries)
    _check_classes(per_dir)
    if model is None:
        per_dir = [(name, [e for e in es if e.has_obstacle]) for name, es in per_dir]
    pilot, stop_model = _load_models(model, stop_model, device)
    judge = _stop_source(pilot, stop_model)
    road_frames = pilot is not None and any(e.has_road for _, es in per_dir for e in es)
    if judge is None and not road_frames:
        raise EvalError("%s has no obstacle output and %s holds obstacle frames only: train one on road and "
                        "blocked/free folders (jetracer train ROAD OBSTACLES --init %s), or evaluate upstream's "
                        "collision model with --stop-model best_model.pth"
                        % (getattr(pilot, "path", "") or model, ", ".join(datasets) or "the data", model))
    tally = _Tally(pilot, stop_model, judge)
    tally.run(per_dir)
    if not tally.rows:
        raise EvalError("none of the %d labelled images in %s could be decoded" % (sum(len(e) for _, e in per_dir),
                                                                                  ", ".join(datasets)))
    return _result(tally, per_dir, model, datasets, problems, sign_threshold, threshold)


def format_result(result: Dict[str, Any]) -> str:
    """A few human lines about ``evaluate_model``'s result."""
    def fmt(v: Any, spec: str = "%.3f") -> str:
        return "n/a" if v is None else spec % v

    lines = ["%s (%s, input %dx%d) on %d frame(s) of %s%s" % (
        result["model"], result["backend"], result["model_input_size"][0], result["model_input_size"][1],
        len(result["predictions"]), ", ".join(result["datasets"]) or "the given entries",
        "; %d file(s) skipped" % result["skipped"] if result.get("skipped") else "")]
    lines.extend(_road_lines(result, fmt) if result["count"] else [])
    blocked = result.get("blocked")
    if blocked:
        lines.append("blocked: %d frame(s) (%d blocked, %d free), AUROC %s, accuracy %s; at p >= %.2f: precision %s, "
                     "recall %s, false stops %s of free frames" % (
                         blocked["n"], blocked["n_blocked"], blocked["n_free"], fmt(blocked["auroc"]),
                         fmt(blocked["accuracy"]), blocked["threshold"], fmt(blocked["precision"]),
                         fmt(blocked["recall"]), fmt(blocked["false_positive_rate"])))
        if blocked.get("distance", {}).get("n"):
            lines.append("distance: %d frame(s), mean |error| %s m, median %s m" % (
                blocked["distance"]["n"], fmt(blocked["distance"]["mae_m"]),
                fmt(blocked["distance"]["median_abs_error_m"])))
    lines.extend(result.get("notes") or [])
    return "\n".join(lines)


def _road_lines(result: Dict[str, Any], fmt: Any) -> List[str]:
    lines = []
    for name in ("x", "y"):
        lines.append("%s: r %s, mean |error| %s, median |error| %s" % (
            name, fmt(result["r_" + name]), fmt(result["mae_" + name]), fmt(result["median_abs_error_" + name])))
    flat = flat_output_note(result.get("spread_x"))
    if flat:
        lines.append(flat)
    agree = result["sign_agreement_x"]
    lines.append("sign of x agrees on %s of %d frame(s) with |label x| > %.2f" % (
        "n/a" if agree is None else "%.0f%%" % (100 * agree), result["sign_count_x"], result["sign_threshold"]))
    for name, m in sorted((result.get("per_dataset") or {}).items()):
        lines.append("  %s: %d frame(s), r(x) %s, mean |error x| %s" % (name, m["count"], fmt(m["r_x"]), fmt(m["mae_x"])))
    return lines


def plot_predictions(result: Dict[str, Any], path: str) -> str:
    """PNG at ``path``: predicted against labelled x (one dot per frame) with the identity line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in result["predictions"] if "x" in r]
    if not rows:
        raise EvalError("--plot draws predicted against labelled x, and %s has no road frames"
                        % (", ".join(result["datasets"]) or "the data"))
    x = np.array([r["x"] for r in rows])
    px = np.array([r["pred_x"] for r in rows])
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    lo = float(min(-1.0, x.min(), px.min())) - 0.05
    hi = float(max(1.0, x.max(), px.max())) + 0.05
    ax.plot([lo, hi], [lo, hi], "-", color="0.6", lw=1, label="prediction = label")
    ax.axhline(0, color="0.85", lw=0.8)
    ax.axvline(0, color="0.85", lw=0.8)
    ax.scatter(x, px, s=10, alpha=0.6)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("labelled x (-1 left .. +1 right)")
    ax.set_ylabel("predicted x")
    r = result.get("r_x")
    ax.set_title("%d frames: r(x) %s, mean |error| %.3f" % (
        result["count"], "n/a" if r is None else "%.3f" % r, result["mae_x"]), fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    from ..atomic import atomic_write
    with atomic_write(path, fsync=False) as f:
        fig.savefig(f, dpi=90, format="png")
    plt.close(fig)
    return path
