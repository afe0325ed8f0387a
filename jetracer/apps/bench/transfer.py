"""From the simulator to a real track, measured: ``jetracer bench transfer`` (also ``jetracer transfer-bench``).

On real labelled frames (``--real``, by default ``/work/shared/realframes`` or ``$JETRACER_REALFRAMES``),
for a starter model (``--starter FILE``; without it one is trained first with ``jetracer pretrain``'s
preset for this machine):

* zero-shot: r(x) of the starter on the real frames held out for evaluation;
* for K in 25, 100, 400 real frames (where the set has that many before its held-out part): the
  starter fine-tuned on K frames (``train(init=starter)``, the product's recipe) against K frames alone
  (the same architecture and input size from ImageNet weights when torchvision has them, else from
  random weights; the report says which), over several seeds (different K-frame draws), medians reported;
* optionally (``--sim DIR``) the mixed recipes, from the same start as "K alone": the simulator folder
  and the K frames in one training with equal shares of every epoch (``mix``, the default of
  ``jetracer train`` with several folders) or shares by frame count (``mix_size``, where the real
  frames drown); ``finetune_mix`` mixes with equal shares and starts from the starter.

Each real set is ordered in time; its last ``--eval-share`` (30 %) is the evaluation part, never
trained on; the K frames are drawn from the earlier part. Sets known here (see realframes' README):

* ``jetracer_nhanhqq``: clicked targets, file names in the upstream layout (``labels.csv`` holds x, y);
* ``donkey_tmdpi01car``: a CSV of the driver's steering angle (-1 left .. +1 right, the sign of x),
  converted to a temporary upstream-layout dataset (x = angle, y = 0) of symbolic links in a temporary
  folder: the frames are never copied. Angle and clicked x agree in sign, not in scale, which is why
  the figures are correlations.

Targets (reported, not pass/fail): zero-shot r >= 0.8 (GPU starter) / 0.6 (CPU preset); fine-tuned on
25 frames r >= 0.9 / 0.85; the fine-tuned starter beats K frames alone for every K.
"""
import csv
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...pixels import pixel_label, to_pixel

logger = logging.getLogger(__name__)

DEFAULT_REAL = "/work/shared/realframes"
KS = (25, 100, 400)
ARMS = ("finetune", "alone", "mix", "mix_size", "finetune_mix")
TARGETS = {"gpu": {"zero_shot_r": 0.8, "finetune_25_r": 0.9}, "cpu": {"zero_shot_r": 0.6, "finetune_25_r": 0.85}}


class RealFrame(object):
    """One real frame: ``path``, normalised label ``x``, ``y``, image ``width``, ``height``, ``order`` (time)."""

    __slots__ = ("path", "x", "y", "width", "height", "order")

    def __init__(self, path: str, x: float, y: float, width: int, height: int, order: float) -> None:
        self.path, self.x, self.y, self.width, self.height, self.order = path, x, y, width, height, order


def _size(path: str) -> Tuple[int, int]:
    from PIL import Image
    with Image.open(path) as img:
        return int(img.size[0]), int(img.size[1])


def _uuid1_time(name: str) -> Optional[int]:
    try:
        u = uuid.UUID(os.path.splitext(name)[0].split("_", 2)[2])
    except (ValueError, IndexError):
        return None
    return u.time if u.version == 1 else None


def read_jetracer_set(folder: str) -> List[RealFrame]:
    """Clicked frames (``labels.csv``: file, x, y), in capture order (the uuid1 time in the file name)."""
    frames = []
    with open(os.path.join(folder, "labels.csv")) as f:
        for k, row in enumerate(csv.DictReader(f)):
            path = os.path.join(folder, row["file"])
            w, h = _size(path)
            t = _uuid1_time(row["file"])
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


READERS = {"jetracer_nhanhqq": read_jetracer_set, "donkey_tmdpi01car": read_donkey_set}


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
                 sim: Optional[str], say: Any, finetune: Optional[Dict[str, Any]] = None) -> None:
        from ...pilot.checkpoint import load_checkpoint
        _, meta = load_checkpoint(starter)
        self.starter, self.meta, self.tmp = starter, meta, tmp
        self.arch, self.input_size = meta["arch"], list(meta["input_size"])
        self.device, self.threads, self.epochs, self.sim, self.say = device, threads, epochs, sim, say
        self.alone_start = None  # type: Optional[str]
        self.finetune = dict(finetune or {})  # train options of the arms that start from the starter
        self.runs = 0

    def _train(self, dirs: List[str], seed: int, **options: Any) -> str:
        from ...learning.train import train
        from ...pilot.model import PretrainedWeightsUnavailable
        self.runs += 1
        out = os.path.join(self.tmp, "model-%d.pth" % self.runs)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PretrainedWeightsUnavailable)
            train(dirs, out, val_fraction=0.0, test_fraction=0.0, seed=seed, device=self.device, progress=False,
                  threads=self.threads, epochs=self.epochs, **options)
        if not options.get("init"):
            offline = any(issubclass(w.category, PretrainedWeightsUnavailable) for w in caught)
            self.alone_start = "random init (no ImageNet weights here)" if offline else "ImageNet weights"
        return out

    def arm(self, name: str, kdir: str, seed: int) -> str:
        """Train arm ``name`` on the K-frame folder; returns the model file."""
        if name == "finetune":
            return self._train([kdir], seed, init=self.starter, **self.finetune)
        if name == "alone":
            return self._train([kdir], seed, arch=self.arch, input_size=self.input_size, pretrained=True)
        if name == "mix":
            return self._train([self.sim, kdir], seed, arch=self.arch, input_size=self.input_size, pretrained=True)
        if name == "mix_size":  # the old recipe: folders in proportion to their frames (the real ones drown)
            return self._train([self.sim, kdir], seed, arch=self.arch, input_size=self.input_size, pretrained=True,
                               dataset_weights="size")
        if name == "finetune_mix":
            return self._train([self.sim, kdir], seed, init=self.starter, **self.finetune)
        raise ValueError("unknown arm %r; arms: %s" % (name, ", ".join(ARMS)))


def run_bench(real: str, starter: str, sets: Optional[Sequence[str]] = None, ks: Sequence[int] = KS,
              seeds: int = 3, arms: Sequence[str] = ("finetune", "alone"), eval_share: float = 0.3,
              device: str = "auto", threads: Optional[int] = None, epochs: Optional[int] = None,
              sim: Optional[str] = None, keep: Optional[str] = None, say: Any = print,
              finetune: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Run the benchmark (see the module docstring) and return the report as a JSON-able dict.
    ``finetune``: train options (e.g. ``lr``, ``freeze_bn``) of the arms that start from the starter."""
    from ...learning.evaluate import evaluate_model
    from ...learning.train import pick_device

    device = str(pick_device(device))
    names = [n for n in (sets or sorted(READERS)) if os.path.isdir(os.path.join(real, n))]
    if not names:
        raise FileNotFoundError("none of the real sets %s is under %s" % (", ".join(sets or sorted(READERS)), real))
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise ValueError("unknown arm(s) %s; arms: %s" % (", ".join(unknown), ", ".join(ARMS)))
    if any("mix" in a for a in arms) and not sim:
        raise ValueError("the mix arms need --sim DIR (a simulator dataset folder)")
    tmp = keep or tempfile.mkdtemp(prefix="jetracer-transfer-")
    os.makedirs(tmp, exist_ok=True)
    start = time.time()
    report = {"real": os.path.abspath(real), "starter": os.path.abspath(starter), "device": device,
              "seeds": seeds, "arms": list(arms), "eval_share": eval_share, "finetune_options": dict(finetune or {}),
              "sets": {}}  # type: Dict[str, Any]
    try:
        bench = Bench(starter, tmp, device, threads, epochs, sim, say, finetune)
        report["starter_meta"] = {"arch": bench.arch, "input_size": bench.input_size,
                                  "dataset": bench.meta.get("dataset"), "info": bench.meta.get("info")}
        for name in names:
            frames = READERS[name](os.path.join(real, name))
            n_eval = max(1, int(round(len(frames) * eval_share)))
            pool, held = frames[:-n_eval], frames[-n_eval:]
            set_dir = os.path.join(tmp, name)
            eval_dir = write_links(held, os.path.join(set_dir, "eval"))
            all_dir = write_links(frames, os.path.join(set_dir, "all"))
            zero = evaluate_model(starter, [eval_dir], device=device)
            zero_all = evaluate_model(starter, [all_dir], device=device)
            entry = {"frames": len(frames), "eval_frames": len(held), "pool_frames": len(pool),
                     "zero_shot": _brief(zero), "zero_shot_all_frames": _brief(zero_all), "k": {}}  # type: Dict[str, Any]
            say("%s: %d frames (%d held out for evaluation); zero-shot r(x) %s on them, %s on all frames"
                % (name, len(frames), len(held), _fmt(zero["r_x"]), _fmt(zero_all["r_x"])))
            for k in ks:
                if k > len(pool):
                    say("  K=%d: skipped, only %d frames before the held-out part" % (k, len(pool)))
                    continue
                per_arm = {a: [] for a in arms}  # type: Dict[str, List[Dict[str, Any]]]
                for s in range(seeds):
                    rng = np.random.RandomState(1000 * k + s)
                    chosen = sorted(rng.choice(len(pool), k, replace=False))
                    kdir = write_links([pool[i] for i in chosen], os.path.join(set_dir, "k%d-s%d" % (k, s)))
                    for a in arms:
                        t0 = time.time()
                        model = bench.arm(a, kdir, s)
                        result = _brief(evaluate_model(model, [eval_dir], device=device))
                        result["train_s"] = round(time.time() - t0, 1)
                        per_arm[a].append(result)
                        os.remove(model)
                        say("  K=%d seed %d %-12s r(x) %s, mean |error x| %s (%.0f s)" % (
                            k, s, a, _fmt(result["r_x"]), _fmt(result["mae_x"]), result["train_s"]))
                entry["k"][str(k)] = {a: {"r_x_median": _median([r["r_x"] for r in rs]),
                                          "mae_x_median": _median([r["mae_x"] for r in rs]), "runs": rs}
                                      for a, rs in per_arm.items()}
                say("  K=%d median r(x): %s" % (k, ", ".join("%s %s" % (a, _fmt(v["r_x_median"]))
                                                             for a, v in entry["k"][str(k)].items())))
            report["sets"][name] = entry
        report["alone_start"] = bench.alone_start
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    report["seconds"] = round(time.time() - start, 1)
    report["targets"] = targets_report(report)
    return report


def _brief(result: Dict[str, Any]) -> Dict[str, Any]:
    return {k: result[k] for k in ("count", "r_x", "mae_x", "r_y", "sign_agreement_x", "sign_count_x")}


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else "%.3f" % value


def targets_report(report: Dict[str, Any]) -> Dict[str, Any]:
    """Each set's figures against the targets of the starter's preset (``gpu`` unless the starter says
    ``cpu``): reported, not pass/fail."""
    info = (report.get("starter_meta") or {}).get("info") or {}
    preset = "cpu" if (info.get("starter") or {}).get("preset") in ("cpu", "quick") else "gpu"
    out = {"preset": preset, "targets": TARGETS[preset]}  # type: Dict[str, Any]
    for name, entry in report["sets"].items():
        row = {"zero_shot_r": entry["zero_shot"]["r_x"]}  # type: Dict[str, Any]
        k25 = entry["k"].get("25", {}).get("finetune")
        row["finetune_25_r"] = k25["r_x_median"] if k25 else None
        beats = {}
        for k, arms in entry["k"].items():
            ft, alone = arms.get("finetune", {}).get("r_x_median"), arms.get("alone", {}).get("r_x_median")
            if ft is not None and alone is not None:
                beats[k] = ft > alone
        row["finetune_beats_alone"] = beats
        row["met"] = {"zero_shot_r": _at_least(row["zero_shot_r"], TARGETS[preset]["zero_shot_r"]),
                      "finetune_25_r": _at_least(row["finetune_25_r"], TARGETS[preset]["finetune_25_r"]),
                      "finetune_beats_alone": all(beats.values()) if beats else None}
        out[name] = row
    return out


def _at_least(value: Optional[float], target: float) -> Optional[bool]:
    return None if value is None else value >= target


def format_report(report: Dict[str, Any]) -> str:
    """The table a person reads."""
    lines = ["starter %s (%s %dx%d); K alone starts from %s; %d seed(s); %.0f s" % (
        report["starter"], report["starter_meta"]["arch"], report["starter_meta"]["input_size"][0],
        report["starter_meta"]["input_size"][1], report.get("alone_start") or "n/a", report["seeds"],
        report["seconds"])]
    arms = report["arms"]
    for name, entry in report["sets"].items():
        lines.append("%s: %d frames, %d held out; zero-shot r(x) %s (all frames %s); median r(x) on the held-out frames:"
                     % (name, entry["frames"], entry["eval_frames"], _fmt(entry["zero_shot"]["r_x"]),
                        _fmt(entry["zero_shot_all_frames"]["r_x"])))
        lines.append("  %-6s %s" % ("K", " ".join("%-14s" % a for a in arms)))
        for k, per in entry["k"].items():
            lines.append("  %-6s %s" % (k, " ".join("%-14s" % _fmt(per[a]["r_x_median"]) for a in arms)))
    t = report["targets"]
    goal = t["targets"]
    lines.append("targets (%s starter; reported, not pass/fail): zero-shot r >= %.2f, 25 frames fine-tuned r >= %.2f, "
                 "fine-tuned beats alone for every K" % (t["preset"], goal["zero_shot_r"], goal["finetune_25_r"]))
    word = {True: "met", False: "not met", None: "n/a"}
    for name in report["sets"]:
        row = t[name]
        lines.append("  %s: zero-shot %s (%s), 25 fine-tuned %s (%s), beats alone %s (%s)" % (
            name, _fmt(row["zero_shot_r"]), word[row["met"]["zero_shot_r"]], _fmt(row["finetune_25_r"]),
            word[row["met"]["finetune_25_r"]],
            ", ".join("K=%s %s" % (k, "yes" if v else "no") for k, v in sorted(row["finetune_beats_alone"].items(),
                                                                               key=lambda kv: int(kv[0]))) or "n/a",
            word[row["met"]["finetune_beats_alone"]]))
    return "\n".join(lines)


def bench(real: str, starter: Optional[str] = None, preset: Optional[str] = None, device: str = "auto",
          say: Any = print, **options: Any) -> Dict[str, Any]:
    """:func:`run_bench` of ``starter``; without one, a starter is trained first with ``jetracer pretrain``'s
    ``preset`` (default: gpu on CUDA, else cpu) into a temporary folder. ``options`` go to :func:`run_bench`."""
    if starter is None:
        from ..pretrain import pretrain
        starter = os.path.join(tempfile.mkdtemp(prefix="jetracer-starter-"), "starter.pth")
        say("no --starter: training one with `jetracer pretrain` (%s) -> %s" % (preset or "auto preset", starter))
        pretrain(starter, preset=preset, device=device, say=say)
    return run_bench(real, starter, device=device, say=say, **options)
