"""From the simulator to a real track, measured: ``jetracer bench transfer`` (also ``jetracer transfer-bench``).

On every real dev set under ``--real`` (by default ``$JETRACER_REALFRAMES`` or ``/work/shared/realframes``; a
known set that is missing is said, not an error), for a starter model (``--starter FILE``; without it one is
trained first with ``jetracer pretrain``'s preset for this machine):

* zero-shot: r(x) and sign agreement of the starter on every frame of the set (none is trained on), and how
  the set's labels lie (:func:`label_spread`: a set that turns one way only is said);
* for K in 10, 25, 100 (where the set has K frames and ``MIN_TEST`` more to test on), each arm trained on K
  frames and scored on the others:

  - ``finetune``: the starter fine-tuned on them, the product's recipe (``jetracer train --init --no-guard``:
    ``train(init=starter)`` with its defaults, so from 50 frames on a fifth is held for validation/test);
  - ``guard``: the few-shot guard (``jetracer train --init``, :mod:`jetracer.learning.few_shot`): fine-tuning
    kept only where its mean |error x| beats the starter on the last 20 % of the K frames, else the starter;
  - ``alone``: the K frames alone, the same architecture and input size from ImageNet weights when torchvision
    has them, else from random weights (the report says which);
  - optional (``--arms``, with ``--mix-data DIR``, a simulator dataset): ``mix`` (the simulator folder and the
    K frames in one training, equal shares of every epoch, from the same start as ``alone``), ``mix_size``
    (shares by frame count) and ``finetune_mix`` (equal shares, from the starter);

  split two ways, reported apart: by TIME (``time``: the first K frames train, the rest test; an owner's
  first clicks come from one session, so this is the split that says what an owner gets) and by random
  draws (``random``: K frames drawn at random, ``--seeds`` draws, medians reported);
* the starter's laps in the simulator's randomised worlds (``apps/closed_loop`` on ``twisty`` and the
  procedural tracks 7 and 8, as ``jetracer pretrain`` drives them): laps, off-track events, why each run ended.

Sets (see realframes' README): a folder with a ``labels.csv`` of ``file,x,y`` (clicked targets, the upstream
layout: ``jetracer_nhanhqq``, ``fabianschenker_jetbot``), ordered by the uuid1 time anywhere in the file name
(JetBot's ``xy_001_160_<uuid1>.jpg`` too), else by row; or of ``file,angle,...,index`` (``donkey_tmdpi01car``:
the driver's steering, -1 left .. +1 right, ordered by ``index``), which becomes x = angle, y = 0. Every
dataset the arms train on is a temporary upstream-layout folder of symbolic links: the frames are never
copied. Angle and clicked x agree in sign, not in scale, which is why the figures are correlations.

Targets of issue 20 (reported, not pass/fail): GPU starter zero-shot r(x) >= 0.7 on each set, mean >= 0.75,
sign of x right on >= 90 % of frames with |x| > 0.2; 25-shot fine-tuned r(x) >= 0.9; the starter + K beats
K alone for K = 25 and 100. CPU preset: zero-shot r(x) >= 0.55, 25-shot >= 0.85.
"""
import csv
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...pixels import pixel_label, to_pixel
from . import BenchError

logger = logging.getLogger(__name__)

DEFAULT_REAL = "/work/shared/realframes"
KNOWN_SETS = ("donkey_tmdpi01car", "fabianschenker_jetbot", "jetracer_nhanhqq")
KS = (10, 25, 100)
MIN_TEST = 20                      # frames a K leaves to test on, at least
ONE_SIDED = 0.9                    # a set with this share of its labels on one side turns one way only
ARMS = ("finetune", "guard", "alone", "mix", "mix_size", "finetune_mix")
DEFAULT_ARMS = ("finetune", "guard", "alone")
SPLITS = ("time", "random")
SIM_LAPS = 2
OFFLINE = "random init (no ImageNet weights here)"
TARGETS = {"gpu": {"zero_shot_r": 0.7, "zero_shot_mean_r": 0.75, "sign": 0.9, "finetune_25_r": 0.9},
           "cpu": {"zero_shot_r": 0.55, "zero_shot_mean_r": 0.55, "sign": None, "finetune_25_r": 0.85}}


class RealFrame(object):
    """One real frame: ``path``, normalised label ``x``, ``y``, image ``width``, ``height``, ``order`` (time)."""

    __slots__ = ("path", "x", "y", "width", "height", "order")

    def __init__(self, path: str, x: float, y: float, width: int, height: int, order: float) -> None:
        self.path, self.x, self.y, self.width, self.height, self.order = path, x, y, width, height, order


def _size(path: str) -> Tuple[int, int]:
    from PIL import Image
    with Image.open(path) as img:
        return int(img.size[0]), int(img.size[1])


def read_clicked_set(folder: str) -> List[RealFrame]:
    """Clicked frames (``labels.csv``: file, x, y) in capture order: the uuid1 time anywhere in the file name
    (``<u>_<v>_<uuid1>.jpg``, JetBot's ``xy_<u>_<v>_<uuid1>.jpg``), else the row order."""
    from ...learning.few_shot import uuid1_unix_s
    frames = []
    with open(os.path.join(folder, "labels.csv")) as f:
        for k, row in enumerate(csv.DictReader(f)):
            path = os.path.join(folder, row["file"])
            w, h = _size(path)
            t = uuid1_unix_s(row["file"])
            frames.append(RealFrame(path, float(row["x"]), float(row["y"]), w, h, float(t if t is not None else k)))
    return sorted(frames, key=lambda fr: (fr.order, fr.path))


def read_donkey_set(folder: str) -> List[RealFrame]:
    """Driven frames (``labels.csv``: file, angle, ..., index): x = steering angle (same sign), y = 0; in
    record order."""
    frames = []
    with open(os.path.join(folder, "labels.csv")) as f:
        for row in csv.DictReader(f):
            path = os.path.join(folder, "images", row["file"])
            w, h = _size(path)
            frames.append(RealFrame(path, float(row["angle"]), 0.0, w, h, float(row["index"])))
    return sorted(frames, key=lambda fr: (fr.order, fr.path))


def read_set(folder: str) -> List[RealFrame]:
    """The frames of a real set, by its ``labels.csv`` header: ``angle`` (a driven set) or ``x`` (clicked)."""
    with open(os.path.join(folder, "labels.csv")) as f:
        header = next(csv.reader(f), [])
    if "angle" in header:
        return read_donkey_set(folder)
    if "x" in header:
        return read_clicked_set(folder)
    raise BenchError("%s/labels.csv has neither an x nor an angle column" % folder)


def label_spread(frames: Sequence[RealFrame], threshold: float) -> Dict[str, Any]:
    """How a set's labels x lie: mean, standard deviation, and how many are left of ``-threshold``, within it
    and right of it (the sign figures' threshold). ``one_sided`` when 90 % lie on one side: a loop driven one
    way round, where r(x) grades how sharply the car should turn, not which way (the sign agreement says that)."""
    xs = np.array([f.x for f in frames], dtype=np.float64)
    left, right = int((xs < -threshold).sum()), int((xs > threshold).sum())
    return {"mean_x": round(float(xs.mean()), 4), "sd_x": round(float(xs.std()), 4), "left": left,
            "centre": len(xs) - left - right, "right": right, "one_sided": max(left, right) >= ONE_SIDED * len(xs)}


def find_sets(real: str, sets: Optional[Sequence[str]] = None) -> Tuple[List[str], List[str]]:
    """``(present, missing)``: the sets of ``real`` to measure (``sets``, else every folder holding a
    ``labels.csv``) and those asked for or known (``KNOWN_SETS``) that are not there."""
    found = sorted(n for n in os.listdir(real) if os.path.isfile(os.path.join(real, n, "labels.csv")))
    wanted = list(sets) if sets else sorted(set(found) | set(KNOWN_SETS))
    return [n for n in wanted if n in found], [n for n in wanted if n not in found]


def write_links(frames: Sequence[RealFrame], root: str, category: str = "apex") -> str:
    """An upstream-layout dataset at ``root`` of symbolic links to ``frames`` (named ``<u>_<v>_<k>.jpg``, the
    label pixel rounded into the image), with an ``index.jsonl`` holding one session and the time order."""
    folder = os.path.join(root, category)
    os.makedirs(folder)
    with open(os.path.join(folder, "index.jsonl"), "w") as index:
        for k, fr in enumerate(frames):
            u, v = pixel_label(*to_pixel(fr.x, fr.y, fr.width, fr.height), width=fr.width, height=fr.height)
            name = "%d_%d_%04d.jpg" % (u, v, k)
            os.symlink(os.path.abspath(fr.path), os.path.join(folder, name))
            index.write(json.dumps({"file": name, "session": "real", "width": fr.width, "height": fr.height,
                                    "source": "real", "time": fr.order}) + "\n")
    return root


def _median(values: Sequence[Optional[float]]) -> Optional[float]:
    vals = [v for v in values if v is not None]
    return round(float(np.median(vals)), 4) if vals else None


class Bench(object):
    """One benchmark run: the starter, the temporary folder, the training options shared by every arm."""

    def __init__(self, starter: str, tmp: str, device: str, threads: Optional[int], epochs: Optional[int],
                 mix_data: Optional[str], finetune: Optional[Dict[str, Any]] = None) -> None:
        from ...pilot.checkpoint import load_checkpoint
        _, meta = load_checkpoint(starter)
        self.starter, self.meta, self.tmp = starter, meta, tmp
        self.arch, self.input_size = meta["arch"], list(meta["input_size"])
        self.device, self.threads, self.epochs, self.mix_data = device, threads, epochs, mix_data
        self.alone_start = None  # type: Optional[str]
        self.finetune = dict(finetune or {})  # train options of the arms that start from the starter
        self.runs = 0

    def _out(self) -> str:
        self.runs += 1
        return os.path.join(self.tmp, "model-%d.pth" % self.runs)

    def _common(self, seed: int) -> Dict[str, Any]:
        return {"seed": seed, "device": self.device, "progress": False, "threads": self.threads, "epochs": self.epochs}

    def _imagenet(self) -> bool:
        """Ask for ImageNet weights until one training found them unavailable (offline: no new download tries)."""
        return self.alone_start != OFFLINE

    def _train(self, dirs: List[str], seed: int, **options: Any) -> str:
        from ...learning.train import train
        from ...pilot.model import PretrainedWeightsUnavailable
        out = self._out()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PretrainedWeightsUnavailable)
            train(dirs, out, **dict(self._common(seed), **options))
        if not options.get("init") and self._imagenet():
            offline = any(issubclass(w.category, PretrainedWeightsUnavailable) for w in caught)
            self.alone_start = OFFLINE if offline else "ImageNet weights"
        return out

    def arm(self, name: str, kdir: str, seed: int) -> Tuple[str, Dict[str, Any]]:
        """Train arm ``name`` on the K-frame folder; returns the model file and what the arm chose."""
        if name == "finetune":
            return self._train([kdir], seed, init=self.starter, **self.finetune), {}
        if name == "guard":
            from ...learning.few_shot import guarded_finetune
            out = self._out()
            result = guarded_finetune([kdir], out, init=self.starter, **dict(self._common(seed), **self.finetune))
            return out, {"choice": result.choice, "metric": result.metric,
                         "starter_held_out": result.starter_score[result.metric],
                         "finetuned_held_out": result.finetuned_score[result.metric],
                         "held_out_scores": {"starter": result.starter_score,
                                             "finetuned": result.finetuned_score}}
        if name == "alone":
            return self._train([kdir], seed, arch=self.arch, input_size=self.input_size, pretrained=self._imagenet()), {}
        if name == "mix":
            return self._train([self.mix_data, kdir], seed, arch=self.arch, input_size=self.input_size,
                               pretrained=self._imagenet()), {}
        if name == "mix_size":  # the old recipe: folders in proportion to their frames (the real ones drown)
            return self._train([self.mix_data, kdir], seed, arch=self.arch, input_size=self.input_size,
                               pretrained=self._imagenet(), dataset_weights="size"), {}
        if name == "finetune_mix":
            return self._train([self.mix_data, kdir], seed, init=self.starter, **self.finetune), {}
        raise BenchError("unknown arm %r; arms: %s" % (name, ", ".join(ARMS)))


def _brief(result: Dict[str, Any]) -> Dict[str, Any]:
    return {k: result[k] for k in ("count", "r_x", "mae_x", "sign_agreement_x", "sign_count_x")}


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else "%.3f" % value


def _draws(n: int, k: int, split: str, seeds: int) -> List[Tuple[List[int], List[int]]]:
    """[(train indices, test indices)] of frames in time order: the first K, or ``seeds`` random draws."""
    if split == "time":
        return [(list(range(k)), list(range(k, n)))]
    out = []
    for s in range(seeds):
        chosen = sorted(int(i) for i in np.random.RandomState(1000 * k + s).choice(n, k, replace=False))
        picked = set(chosen)
        out.append((chosen, [i for i in range(n) if i not in picked]))
    return out


def run_bench(real: str, starter: str, sets: Optional[Sequence[str]] = None, ks: Sequence[int] = KS,
              seeds: int = 2, arms: Sequence[str] = DEFAULT_ARMS, splits: Sequence[str] = SPLITS,
              device: str = "auto", threads: Optional[int] = None, epochs: Optional[int] = None,
              mix_data: Optional[str] = None, sim: bool = True, sim_laps: int = SIM_LAPS, keep: Optional[str] = None,
              say: Callable[[str], Any] = print, finetune: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Run the benchmark (see the module docstring) and return the report as a JSON-able dict.
    ``finetune``: train options (e.g. ``lr``, ``freeze_bn``) of the arms that start from the starter;
    ``sim``: drive the starter's laps in the simulator (``sim_laps`` per track)."""
    from ...learning.evaluate import SIGN_THRESHOLD, evaluate_model
    from ...learning.train import pick_device

    device = str(pick_device(device))
    names, missing = find_sets(real, sets)
    for name in missing:
        say("%s: not under %s; skipped" % (name, real))
    if not names:
        raise BenchError("none of the real sets %s is under %s" % (", ".join(missing), real))
    unknown = [a for a in arms if a not in ARMS] + [s for s in splits if s not in SPLITS]
    if unknown:
        raise BenchError("unknown arm(s) or split(s) %s; arms: %s; splits: %s" % (
            ", ".join(unknown), ", ".join(ARMS), ", ".join(SPLITS)))
    if any("mix" in a for a in arms) and not mix_data:
        raise BenchError("the mix arms need --mix-data DIR (a simulator dataset folder)")
    tmp = keep or tempfile.mkdtemp(prefix="jetracer-transfer-")
    os.makedirs(tmp, exist_ok=True)
    start = time.time()
    report = {"real": os.path.abspath(real), "starter": os.path.abspath(starter), "device": device,
              "seeds": seeds, "arms": list(arms), "splits": list(splits), "ks": list(ks), "missing": missing,
              "finetune_options": dict(finetune or {}), "sets": {}}  # type: Dict[str, Any]
    try:
        bench = Bench(starter, tmp, device, threads, epochs, mix_data, finetune)
        report["starter_meta"] = {"arch": bench.arch, "input_size": bench.input_size,
                                  "dataset": bench.meta.get("dataset"), "info": bench.meta.get("info")}
        for name in names:
            frames = read_set(os.path.join(real, name))
            set_dir = os.path.join(tmp, name)
            all_dir = write_links(frames, os.path.join(set_dir, "all"))
            zero = _brief(evaluate_model(starter, [all_dir], device=device))
            entry = {"frames": len(frames), "labels": label_spread(frames, SIGN_THRESHOLD),
                     "zero_shot": zero}  # type: Dict[str, Any]
            say("%s: %d frames; zero-shot r(x) %s, sign right on %s of %d frames with |x| > 0.2" % (
                name, len(frames), _fmt(zero["r_x"]), _fmt(zero["sign_agreement_x"]), zero["sign_count_x"]))
            for split in splits:
                entry[split] = {}
                for k in ks:
                    if k > len(frames) - MIN_TEST:
                        say("  %s K=%d: skipped, %d frames leave fewer than %d to test on" % (
                            split, k, len(frames), MIN_TEST))
                        continue
                    runs = []  # type: List[Dict[str, Any]]
                    for s, (train_idx, test_idx) in enumerate(_draws(len(frames), k, split, seeds)):
                        where = os.path.join(set_dir, "%s-k%d-s%d" % (split, k, s))
                        kdir = write_links([frames[i] for i in train_idx], os.path.join(where, "train"))
                        test_dir = write_links([frames[i] for i in test_idx], os.path.join(where, "test"))
                        run = {"zero_shot": _brief(evaluate_model(starter, [test_dir], device=device))}
                        for a in arms:
                            t0 = time.time()
                            model, chose = bench.arm(a, kdir, s)
                            run[a] = dict(_brief(evaluate_model(model, [test_dir], device=device)), **chose)
                            run[a]["train_s"] = round(time.time() - t0, 1)
                            os.remove(model)
                            say("  %s K=%d draw %d %-9s r(x) %s, sign %s%s (%.0f s)" % (
                                split, k, s, a, _fmt(run[a]["r_x"]), _fmt(run[a]["sign_agreement_x"]),
                                " (kept the %s)" % chose["choice"] if chose else "", run[a]["train_s"]))
                        shutil.rmtree(where, ignore_errors=True)
                        runs.append(run)
                    entry[split][str(k)] = _summarise(runs, arms)
            report["sets"][name] = entry
        report["alone_start"] = bench.alone_start
        if sim:
            report["sim"] = sim_laps_of(starter, sim_laps, say)
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    report["seconds"] = round(time.time() - start, 1)
    report["targets"] = targets_report(report)
    return report


def _summarise(runs: List[Dict[str, Any]], arms: Sequence[str]) -> Dict[str, Any]:
    """The medians over draws of each arm (and the zero-shot on the same test frames), and the draws."""
    out = {"test_frames": runs[0]["zero_shot"]["count"], "draws": len(runs)}  # type: Dict[str, Any]
    for a in ("zero_shot",) + tuple(arms):
        out[a] = {"r_x": _median([r[a]["r_x"] for r in runs]),
                  "sign_x": _median([r[a]["sign_agreement_x"] for r in runs]),
                  "mae_x": _median([r[a]["mae_x"] for r in runs])}
        if a == "guard":
            out[a]["kept_finetuned"] = sum(1 for r in runs if r[a].get("choice") == "finetuned")
    out["runs"] = runs
    return out


def sim_laps_of(starter: str, laps: int = SIM_LAPS, say: Callable[[str], Any] = print) -> Dict[str, Any]:
    """The starter driving ``laps`` laps of ``twisty`` and the procedural tracks 7 and 8 in randomised worlds (as
    ``jetracer pretrain`` checks a starter): laps, off-track events, cross-track error, why each run ended."""
    from ..pretrain import EVAL_TRACKS, drive_check
    t0 = time.time()
    result = drive_check(starter, laps, tracks=EVAL_TRACKS)
    for track, r in result.items():
        say("simulator %s (randomised world): %d of %d lap(s), %d off-track event(s), ended by %s" % (
            track, r["laps_completed"], laps, r["offtrack_events"], r["end_reason"]))
    return {"laps_asked": laps, "tracks": result, "seconds": round(time.time() - t0, 1)}


def targets_report(report: Dict[str, Any]) -> Dict[str, Any]:
    """Each set's figures against the targets of the starter's preset (``gpu`` unless the starter says
    ``cpu`` or ``quick``): reported, not pass/fail. Figures of the time split."""
    info = (report.get("starter_meta") or {}).get("info") or {}
    preset = "cpu" if (info.get("starter") or {}).get("preset") in ("cpu", "quick") else "gpu"
    goal = TARGETS[preset]
    out = {"preset": preset, "targets": goal, "sets": {}}  # type: Dict[str, Any]
    zero_rs = []
    for name, entry in report["sets"].items():
        timed = entry.get("time") or {}
        k25 = (timed.get("25") or {}).get("finetune")
        beats = {}
        for k in ("25", "100"):
            row = timed.get(k) or {}
            ft, alone = (row.get("finetune") or {}).get("r_x"), (row.get("alone") or {}).get("r_x")
            if ft is not None and alone is not None:
                beats[k] = ft > alone
        zero = entry["zero_shot"]
        if zero["r_x"] is not None:
            zero_rs.append(zero["r_x"])
        out["sets"][name] = {
            "zero_shot_r": zero["r_x"], "sign": zero["sign_agreement_x"],
            "finetune_25_r": k25["r_x"] if k25 else None, "finetune_beats_alone": beats,
            "met": {"zero_shot_r": _at_least(zero["r_x"], goal["zero_shot_r"]),
                    "sign": _at_least(zero["sign_agreement_x"], goal["sign"]),
                    "finetune_25_r": _at_least(k25["r_x"] if k25 else None, goal["finetune_25_r"]),
                    "finetune_beats_alone": all(beats.values()) if beats else None}}
    mean = round(float(np.mean(zero_rs)), 4) if zero_rs else None
    out["zero_shot_mean_r"] = mean
    out["zero_shot_mean_met"] = _at_least(mean, goal["zero_shot_mean_r"])
    return out


def _at_least(value: Optional[float], target: Optional[float]) -> Optional[bool]:
    return None if value is None or target is None else value >= target


def format_report(report: Dict[str, Any]) -> str:
    """The table a person reads."""
    meta = report["starter_meta"]
    preset = ((meta.get("info") or {}).get("starter") or {}).get("preset")
    lines = ["starter %s (%s %dx%d%s); K alone starts from %s; %.0f s on %s" % (
        report["starter"], meta["arch"], meta["input_size"][0], meta["input_size"][1],
        ", preset %s" % preset if preset else "", report.get("alone_start") or "n/a", report["seconds"],
        report["device"])]
    for name in report.get("missing") or []:
        lines.append("%s: not present, not measured" % name)
    arms = report["arms"]
    cols = ["zero-shot"] + arms
    for name, entry in report["sets"].items():
        zero = entry["zero_shot"]
        lines.append("%s: %d frames; zero-shot on all: r(x) %s, sign of x right on %s of %d frames with |x| > 0.2"
                     % (name, entry["frames"], _fmt(zero["r_x"]), _pct(zero["sign_agreement_x"]), zero["sign_count_x"]))
        labels = entry.get("labels") or {}
        if labels.get("one_sided"):
            lines.append("  labels x %.2f +- %.2f, %d left, %d centre, %d right: one way round, so r(x) grades how "
                         "sharply, not which way (the sign agreement says which way)"
                         % (labels["mean_x"], labels["sd_x"], labels["left"], labels["centre"], labels["right"]))
        if report["ks"]:
            lines.append("  %-22s %s" % ("r(x) on the rest", " ".join("%-10s" % c for c in cols)))
        for split in report["splits"]:
            for k, row in sorted((entry.get(split) or {}).items(), key=lambda kv: int(kv[0])):
                label = ("time: first %s" % k) if split == "time" else ("random %s (median %d)" % (k, row["draws"]))
                cells = [_fmt(row["zero_shot"]["r_x"])]
                for a in arms:
                    cell = _fmt(row[a]["r_x"])
                    if a == "guard":
                        cell += " %s" % ("tuned" if row[a]["kept_finetuned"] == row["draws"] else
                                         "start" if not row[a]["kept_finetuned"] else
                                         "%d/%d" % (row[a]["kept_finetuned"], row["draws"]))
                    cells.append(cell)
                lines.append("  %-22s %s" % (label, " ".join("%-10s" % c for c in cells)))
    if "guard" in arms:
        lines.append("guard: 'tuned' kept fine-tuning, 'start' kept the starter (fine-tuning lost on the last 20 % "
                     "of the K frames)")
    sim = report.get("sim")
    if sim:
        lines.append("simulator, randomised worlds, %d lap(s) asked: %s" % (sim["laps_asked"], "; ".join(
            "%s %d lap(s), %d off-track (%s)" % (t, r["laps_completed"], r["offtrack_events"], r["end_reason"])
            for t, r in sim["tracks"].items())))
    t = report["targets"]
    goal = t["targets"]
    word = {True: "met", False: "not met", None: "n/a"}
    lines.append("targets (%s starter; reported, not pass/fail): zero-shot r >= %.2f each, mean >= %.2f (%s: %s)%s; "
                 "25 first frames fine-tuned r >= %.2f; fine-tuned beats alone at K = 25, 100" % (
                     t["preset"], goal["zero_shot_r"], goal["zero_shot_mean_r"], _fmt(t["zero_shot_mean_r"]),
                     word[t["zero_shot_mean_met"]],
                     ", sign >= %.0f %%" % (100 * goal["sign"]) if goal["sign"] else "", goal["finetune_25_r"]))
    for name, row in t["sets"].items():
        lines.append("  %s: zero-shot %s (%s), 25 fine-tuned %s (%s), beats alone %s (%s)" % (
            name, _fmt(row["zero_shot_r"]), word[row["met"]["zero_shot_r"]], _fmt(row["finetune_25_r"]),
            word[row["met"]["finetune_25_r"]],
            ", ".join("K=%s %s" % (k, "yes" if v else "no") for k, v in sorted(row["finetune_beats_alone"].items(),
                                                                               key=lambda kv: int(kv[0]))) or "n/a",
            word[row["met"]["finetune_beats_alone"]]))
    return "\n".join(lines)


def _pct(value: Optional[float]) -> str:
    return "n/a" if value is None else "%.0f %%" % (100 * value)


def bench(real: str, starter: Optional[str] = None, preset: Optional[str] = None, device: str = "auto",
          say: Callable[[str], Any] = print, **options: Any) -> Dict[str, Any]:
    """:func:`run_bench` of ``starter``; without one, a starter is trained first with ``jetracer pretrain``'s
    ``preset`` (default: gpu on CUDA, else cpu) into a temporary folder. ``options`` go to :func:`run_bench`."""
    if starter is None:
        from ..pretrain import pretrain
        starter = os.path.join(tempfile.mkdtemp(prefix="jetracer-starter-"), "starter.pth")
        say("no --starter: training one with `jetracer pretrain` (%s) -> %s" % (preset or "auto preset", starter))
        pretrain(starter, preset=preset, device=device, say=say)
    return run_bench(real, starter, device=device, say=say, **options)
