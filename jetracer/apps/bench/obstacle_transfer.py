"""The obstacle output on real frames, measured: ``jetracer bench obstacle-transfer --starter MODEL``.

On a real blocked/free set in upstream JetBot's layout (default the development set
``realframes/obstacles/penumbrage_jetbot``; never trained on except as below):

* zero-shot: count, accuracy, AUROC, precision and recall of the starter's obstacle output on every frame;
* fine-tuned: K blocked + K free frames (25 by default) fine-tune the starter with the product's recipe
  (``jetracer train K_FRAMES --init STARTER``: the road outputs get no frames, they are masked out), and the
  starter and the fine-tuned model are scored on the other frames. K frames per class are chosen two ways,
  reported apart: by TIME (the first K of each class by capture time: an owner's first frames, and on the
  development set a different room than most of the test frames) and at RANDOM (``seeds`` draws, medians);
* the road outputs: r(x) of the starter and of each fine-tuned model on the real road sets (folders of clicked
  frames named ``<u>_<v>_<id>.jpg``: ``jetracer_nhanhqq``, ``fabianschenker_jetbot``), so a fine-tune that
  costs the steering shows.

Every dataset a model trains on is a temporary folder of symbolic links: the frames are never copied.
Targets of issue 19 (reported, not pass/fail): zero-shot AUROC >= 0.8 for the CPU preset's starter, >= 0.9 for
the GPU one; >= 0.95 after fine-tuning on 25 + 25.
"""
import logging
import os
import random
import shutil
import tempfile
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from . import BenchError

logger = logging.getLogger(__name__)

DEFAULT_SET = "obstacles/penumbrage_jetbot"
ROAD_SETS = ("jetracer_nhanhqq", "fabianschenker_jetbot")
MIN_TEST = 10  # frames per class left to test on, at least


def _split(entries: Sequence[Any], k: int, mode: str, seed: int) -> Dict[str, List[Any]]:
    """{"train": K of each class, "test": the rest}, by capture time or drawn with ``seed``."""
    from ...learning.few_shot import capture_time
    out = {"train": [], "test": []}  # type: Dict[str, List[Any]]
    for label in ("blocked", "free"):
        mine = sorted([e for e in entries if e.category == label], key=lambda e: (capture_time(e), e.path))
        if mode == "random":
            random.Random(seed).shuffle(mine)
        out["train"].extend(mine[:k])
        out["test"].extend(mine[k:])
    return out


def _link(entries: Sequence[Any], root: str) -> str:
    for e in entries:
        folder = os.path.join(root, e.category)
        os.makedirs(folder, exist_ok=True)
        os.symlink(os.path.abspath(e.path), os.path.join(folder, os.path.basename(e.path)))
    return root


def _blocked(model: str, entries: Sequence[Any], device: str) -> Dict[str, Any]:
    from ...learning.evaluate import evaluate_model
    return evaluate_model(model, None, device=device, entries=entries)["blocked"]


def _road(model: str, road_dirs: Sequence[str], device: str) -> Dict[str, Any]:
    from ...learning.evaluate import evaluate_model
    return {os.path.basename(d): evaluate_model(model, [d], device=device)["r_x"] for d in road_dirs}


def bench(real: str, starter: str, k: int = 25, seeds: int = 2, device: Optional[str] = None,
          threads: Optional[int] = None, epochs: Optional[int] = None, obstacle_set: Optional[str] = None,
          keep: Optional[str] = None, say: Callable[[str], Any] = print) -> Dict[str, Any]:
    """Measure ``starter`` (see the module docstring) on ``real``'s obstacle set (``obstacle_set``, a path or a
    folder under ``real``) and road sets; returns the JSON-able report. BenchError when the set has no blocked/free
    folders, too few frames for ``k``, or the starter has no obstacle output."""
    from ...dataset import scan_dataset
    from ...learning.train import train
    from ...pilot.load import load_pilot
    where = obstacle_set or os.path.join(real, DEFAULT_SET)
    if not os.path.isdir(where):
        raise BenchError("no obstacle set at %s: pass --set DIR (a folder with blocked/ and free/)" % where)
    entries = [e for e in scan_dataset(where, obstacles=True).entries if e.has_obstacle and not e.has_road]
    counts = {label: sum(1 for e in entries if e.category == label) for label in ("blocked", "free")}
    if min(counts.values()) < k + MIN_TEST:
        raise BenchError("%s has %d blocked and %d free frames; K=%d needs %d of each (K to train, %d to test)"
                         % (where, counts["blocked"], counts["free"], k, k + MIN_TEST, MIN_TEST))
    device = device or "cpu"
    if not load_pilot(starter, device=device).has_obstacle_output:
        raise BenchError("%s has no obstacle output: train one with `jetracer pretrain` (obstacles on by default) "
                         "or `jetracer train ROAD OBSTACLES`" % starter)
    road_dirs = [os.path.join(real, s) for s in ROAD_SETS if os.path.isdir(os.path.join(real, s))]
    report = {"set": where, "frames": counts, "starter": os.path.abspath(starter), "k": k, "device": device,
              "zero_shot": _blocked(starter, entries, device), "road_sets": [os.path.basename(d) for d in road_dirs],
              "starter_road_r_x": _road(starter, road_dirs, device), "splits": {}}  # type: Dict[str, Any]
    say("zero-shot on all %d frames: AUROC %s" % (len(entries), report["zero_shot"]["auroc"]))
    tmp = keep or tempfile.mkdtemp(prefix="jetracer-obstacle-transfer-")
    try:
        draws = [("time", 0)] + [("random", s) for s in range(seeds)]
        for mode, seed in draws:
            name = "time" if mode == "time" else "random-%d" % seed
            part = _split(entries, k, mode, seed)
            data = _link(part["train"], os.path.join(tmp, name, "data"))
            out = os.path.join(tmp, name, "finetuned.pth")
            train([data], out, init=starter, device=device, threads=threads, epochs=epochs, progress=False,
                  val_fraction=0.0, test_fraction=0.0)
            run = {"train": len(part["train"]), "test": len(part["test"]),
                   "starter": _blocked(starter, part["test"], device), "finetuned": _blocked(out, part["test"], device),
                   "finetuned_road_r_x": _road(out, road_dirs, device)}
            report["splits"][name] = run
            say("%s: %d + %d frames fine-tune, test on %d: AUROC starter %s, fine-tuned %s" % (
                name, k, k, run["test"], run["starter"]["auroc"], run["finetuned"]["auroc"]))
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    randoms = [r for n, r in report["splits"].items() if n.startswith("random")]
    if randoms:
        report["random_median"] = {
            "starter_auroc": float(np.median([r["starter"]["auroc"] for r in randoms])),
            "finetuned_auroc": float(np.median([r["finetuned"]["auroc"] for r in randoms]))}
    return report


def format_report(report: Dict[str, Any]) -> str:
    """What a person reads: the zero-shot line, one line per split, the road r(x) before and after."""
    z = report["zero_shot"]
    lines = ["%s on %s (%d blocked, %d free): zero-shot AUROC %s, accuracy %s, precision %s, recall %s at p >= %.2f"
             % (report["starter"], report["set"], report["frames"]["blocked"], report["frames"]["free"], z["auroc"],
                z["accuracy"], z["precision"], z["recall"], z["threshold"])]
    for name, run in report["splits"].items():
        lines.append("%-9s fine-tuned on %d, tested on %d: AUROC %s (starter %s), accuracy %s, precision %s, recall %s;"
                     " road r(x) %s" % (name, run["train"], run["test"], run["finetuned"]["auroc"],
                                        run["starter"]["auroc"], run["finetuned"]["accuracy"],
                                        run["finetuned"]["precision"], run["finetuned"]["recall"],
                                        _road_text(run["finetuned_road_r_x"])))
    if report.get("random_median"):
        m = report["random_median"]
        lines.append("random draws, median AUROC: fine-tuned %.4f, starter %.4f" % (m["finetuned_auroc"], m["starter_auroc"]))
    lines.append("starter road r(x): %s" % _road_text(report["starter_road_r_x"]))
    return "\n".join(lines)


def _road_text(values: Dict[str, Any]) -> str:
    return ", ".join("%s %s" % (k, "n/a" if v is None else "%.3f" % v) for k, v in sorted(values.items())) or "no road set"
