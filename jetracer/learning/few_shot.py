"""Fine-tuning on a few clicks that never ends below the starter: ``guarded_finetune(dirs, out, init=MODEL)``.

Why: an owner's first clicks come from one session (one lap, one light), so fine-tuning on them can make
the starter worse on the rest of the track: on two of four real cameras the product's recipe took r(x)
from 0.39 to 0.36 and from 0.41 to 0.19 after the first 25 clicks. The guard measures that on the
owner's own clicks before trusting it:

1. hold back the last ``HOLDOUT_SHARE`` (20 %) of each folder's clicks by capture time, at least
   ``MIN_HOLDOUT`` (3) frames;
2. fine-tune the starter on the rest with the product's recipe (``train(init=...)``, the same options);
3. score the starter and that model on the held-back clicks by the mean |error x| (r(x) of a handful of
   clicks is noise: see :func:`fine_tuning_wins`);
4. if fine-tuning wins, fine-tune the starter again on all the clicks into ``out`` (the product's recipe,
   exactly what ``jetracer train --init`` writes); else ``out`` is a byte copy of the starter.

Measured on three real cameras (issue 20, split by time): judged by the error, it never ended below a GPU
starter (K = 10, 25, 100), and it kept fine-tuning in all six cases of the CPU starter (K = 10, 25), five of
them above the starter's r(x) and one level with it (-0.02 against 0.03). Capture time: the dataset
index's time, else the uuid1 time in an upstream file name
(``<u>_<v>_<uuid1>.jpg``, JetBot's ``xy_<u>_<v>_<uuid1>.jpg``), else the file's modification time.
"""
import json
import logging
import os
import shutil
import tempfile
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..atomic import atomic_write, keep_previous, remove_leftovers, same_file
from ..dataset import INDEX_NAME, Entry, scan_dataset, shown_path

logger = logging.getLogger(__name__)

HOLDOUT_SHARE = 0.2       # last share of each folder's clicks (by capture time) the guard scores on
MIN_HOLDOUT = 3           # held-back clicks at least
MIN_TRAIN = 2             # clicks left to fine-tune on at least
GUARD_MAX_FRAMES = 200    # `jetracer train --init` guards by default below this many frames
IMAGE_EXTENSIONS = (".jpg", ".jpeg")
_UUID_EPOCH_100NS = 0x01B21DD213814000  # 1582-10-15 to 1970-01-01 in uuid1's 100 ns ticks


class GuardResult(object):
    """What :func:`guarded_finetune` did: ``checkpoint`` (``out``), ``choice`` (``"finetuned"`` or
    ``"starter"``), ``starter`` (the model it started from), ``metric`` (``"mae_x"``; earlier guards'
    checkpoints may say ``"r_x"``), the two scores on the held-back clicks (``starter_score``,
    ``finetuned_score``: r(x), mean |error x|, sign agreement, count), ``held_out`` and ``trained_on``
    (frames of the comparison), ``frames`` (all), ``train_result`` (the final ``TrainResult``; None when the
    starter was kept), ``previous`` (``out.prev`` when an existing ``out`` was replaced) and ``summary`` (one
    line for a person)."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def as_dict(self) -> Dict[str, Any]:
        """The decision as JSON-able data (also stored in a fine-tuned checkpoint's ``info.guard``)."""
        return {"choice": self.choice, "metric": self.metric, "starter": os.path.abspath(self.starter),
                "held_out": self.held_out, "trained_on": self.trained_on, "frames": self.frames,
                "starter_score": self.starter_score, "finetuned_score": self.finetuned_score}

    def __repr__(self) -> str:
        return "GuardResult(%s)" % self.summary


def uuid1_unix_s(name: str) -> Optional[float]:
    """Unix time (seconds) of the first version-1 uuid among the ``_``-separated parts of a file name, or
    None: ``12_34_<uuid1>.jpg`` and JetBot's ``xy_001_160_<uuid1>.jpg`` both hold one."""
    for part in os.path.splitext(os.path.basename(name))[0].split("_"):
        try:
            u = uuid.UUID(part)
        except ValueError:
            continue
        if u.version == 1:
            return (u.time - _UUID_EPOCH_100NS) / 1e7
    return None


def capture_time(entry: Entry) -> float:
    """When ``entry`` was recorded: its index time (``DatasetWriter``), else the uuid1 time in its name,
    else its modification time (what the scan gives a file without an index line)."""
    if entry.source == "legacy":
        t = uuid1_unix_s(entry.path)
        if t is not None:
            return t
    return float(entry.time)


def hold_back(entries: Sequence[Entry], share: float = HOLDOUT_SHARE,
              minimum: int = MIN_HOLDOUT) -> Tuple[List[Entry], List[Entry]]:
    """``(first, last)``: ``entries`` in capture order cut so that ``last`` holds ``share`` of them (at least
    ``minimum``). ValueError when fewer than ``MIN_TRAIN`` frames would be left before the cut."""
    ordered = sorted(entries, key=lambda e: (capture_time(e), e.path))
    n_hold = max(int(minimum), int(round(share * len(ordered))))
    if len(ordered) - n_hold < MIN_TRAIN:
        raise ValueError("%d frame(s): the guard holds back the last %d and needs %d more to fine-tune on"
                         % (len(ordered), n_hold, MIN_TRAIN))
    return ordered[:-n_hold], ordered[-n_hold:]


def link_dataset(entries: Sequence[Entry], root: str) -> str:
    """An upstream-layout dataset at ``root`` of symbolic links to ``entries`` (copies where the file system
    has no links), same names, with index lines keeping each frame's session and capture time, so the
    training split sees the same sessions. Returns ``root``."""
    by_category = {}  # type: Dict[str, List[Entry]]
    for e in entries:
        by_category.setdefault(e.category, []).append(e)
    for category, group in by_category.items():
        folder = os.path.join(root, category)
        os.makedirs(folder)
        with open(os.path.join(folder, INDEX_NAME), "w") as index:
            for e in group:
                name = os.path.basename(e.path)
                target = os.path.join(folder, name)
                try:
                    os.symlink(os.path.abspath(e.path), target)
                except OSError:
                    shutil.copyfile(e.path, target)
                index.write(json.dumps({"file": name, "session": e.session, "time": capture_time(e),
                                        "width": e.width, "height": e.height, "source": e.source}) + "\n")
    return root


def count_frames(dataset_dirs: Sequence[str], limit: int = GUARD_MAX_FRAMES) -> int:
    """JPEG files in ``dataset_dirs`` (flat, or one level of category folders), counted up to ``limit``
    without reading them: enough to choose the guard before a scan of thousands of frames."""
    count = 0
    for root in dataset_dirs:
        folders = [root]
        try:
            with os.scandir(root) as it:
                folders += [d.path for d in it if d.is_dir() and not d.name.startswith(".")]
        except OSError:
            continue
        for folder in folders:
            try:
                with os.scandir(folder) as it:
                    for d in it:
                        if d.name.lower().endswith(IMAGE_EXTENSIONS) and not d.name.startswith("."):
                            count += 1
                            if count >= limit:
                                return count
            except OSError:
                continue
    return count


def has_obstacle_folders(dataset_dirs: Sequence[str]) -> bool:
    """True when a folder holds JetBot's blocked/ or free/ obstacle folders (the guard judges road frames only)."""
    from ..dataset import OBSTACLE_FOLDERS
    return any(os.path.isdir(os.path.join(root, name)) for root in dataset_dirs for name in OBSTACLE_FOLDERS)


def guard_by_default(dataset_dirs: Sequence[str]) -> bool:
    """Whether ``jetracer train --init`` guards without being asked: for fewer than ``GUARD_MAX_FRAMES``
    frames, and enough to hold some back (``MIN_HOLDOUT + MIN_TRAIN``); never with blocked/free folders (the
    guard scores the road outputs, and would leave the obstacle frames out)."""
    return (MIN_HOLDOUT + MIN_TRAIN <= count_frames(dataset_dirs) < GUARD_MAX_FRAMES
            and not has_obstacle_folders(dataset_dirs))


def fine_tuning_wins(starter: Dict[str, Any], tuned: Dict[str, Any]) -> Tuple[bool, str]:
    """``(won, metric)``: the fine-tuned model wins with a lower mean |error x| on the held-back clicks; a tie
    keeps the starter. Not r(x): on the 3-40 clicks a guard holds back, r swings by +-0.5 from one click to
    the next (a starter scored 0.84 on 5 clicks and 0.00 on the 590 after them)."""
    return tuned["mae_x"] < starter["mae_x"], "mae_x"


def _score(model: str, entries: Sequence[Entry], device: str) -> Dict[str, Any]:
    from .evaluate import evaluate_model
    result = evaluate_model(model, None, device=device, entries=entries)
    return {k: result[k] for k in ("count", "r_x", "mae_x", "sign_agreement_x")}


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else "%.3f" % value


def _copy_model(src: str, out: str) -> Optional[str]:
    """``out`` becomes a byte copy of ``src``, atomically; an ``out`` it replaces is kept as ``out.prev``."""
    from .train import previous_path
    if os.path.exists(out) and same_file(src, out):
        return None
    kept = previous_path(out) if keep_previous(out, previous_path(out)) else None
    with open(src, "rb") as f, atomic_write(out) as g:
        shutil.copyfileobj(f, g)
    return kept


def guarded_finetune(dataset_dirs: Any, out: str, init: Optional[str] = None, overwrite: bool = True,
                     callback: Optional[Callable[[Dict[str, Any]], Any]] = None, holdout_share: float = HOLDOUT_SHARE,
                     min_holdout: int = MIN_HOLDOUT, **options: Any) -> GuardResult:
    """Fine-tune ``init`` on ``dataset_dirs`` into ``out`` only where it measurably beats ``init`` on the last
    clicks (see the module docstring); ``options`` are :func:`jetracer.learning.train.train`'s, used for
    both trainings (``callback`` too: it sees the comparison run, then the final one).

    ``out`` is refused up front as ``train`` refuses it (an existing file without ``overwrite``, a folder,
    a folder that cannot be written). Raises TrainError without ``init``, or when a folder has too few
    frames to hold some back; FileNotFoundError for a missing folder or ``init``."""
    from .train import TrainError, check_output, pick_device, previous_path, train
    if not init:
        raise TrainError("the guard compares a fine-tuned model with the model it starts from: give --init MODEL")
    init = os.fspath(init)
    if not os.path.isfile(init):
        raise FileNotFoundError("model to start from (--init) %s does not exist" % shown_path(init))
    if isinstance(dataset_dirs, (str, os.PathLike)):
        dataset_dirs = [dataset_dirs]
    dataset_dirs = [os.fspath(d) for d in dataset_dirs]
    if has_obstacle_folders(dataset_dirs):
        raise TrainError("--guard scores the road outputs on road frames only and would leave the blocked/free frames "
                         "out; fine-tune on them with --no-guard")
    out = os.fspath(out)
    check_output(out, overwrite=overwrite)
    remove_leftovers(out, previous_path(out))
    device = str(pick_device(options.get("device") or "auto"))
    firsts, lasts = [], []  # type: List[List[Entry]], List[Entry]
    total = 0
    for d in dataset_dirs:
        entries = scan_dataset(d, options.get("categories")).entries
        if not entries:
            raise TrainError("no labelled images in %s; expected <dataset>/<category>/<u>_<v>_<id>.jpg" % shown_path(d))
        try:
            first, last = hold_back(entries, holdout_share, min_holdout)
        except ValueError as e:
            raise TrainError("--guard: %s has %s; label more frames, or pass --no-guard" % (shown_path(d), e))
        firsts.append(first)
        lasts.extend(last)
        total += len(entries)
    trained_on = sum(len(f) for f in firsts)
    tmp = tempfile.mkdtemp(prefix="jetracer-guard-")
    try:
        dirs = [link_dataset(f, os.path.join(tmp, "part%d" % g)) for g, f in enumerate(firsts)]
        probe = os.path.join(tmp, "probe.pth")
        logger.info("guard: fine-tuning on the first %d of %d frames, scoring on the last %d", trained_on, total,
                    len(lasts))
        train(dirs, probe, init=init, callback=callback, **options)
        starter_score = _score(init, lasts, device)
        tuned_score = _score(probe, lasts, device)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    won, metric = fine_tuning_wins(starter_score, tuned_score)
    fields = dict(checkpoint=out, starter=init, metric=metric, starter_score=starter_score,
                  finetuned_score=tuned_score, held_out=len(lasts), trained_on=trained_on, frames=total,
                  choice="finetuned" if won else "starter", train_result=None, previous=None)
    figures = "mean |error x| on the last %d of %d frames: fine-tuned on the first %d %s, starter %s" % (
        len(lasts), total, trained_on, _fmt(tuned_score[metric]), _fmt(starter_score[metric]))
    if won:
        result = GuardResult(summary="guard: %s; kept fine-tuning, trained again on all %d frames -> %s"
                             % (figures, total, shown_path(out)), **fields)
        info = dict(options.pop("info", None) or {}, guard=result.as_dict())
        result.train_result = train(dataset_dirs, out, init=init, overwrite=overwrite, callback=callback, info=info,
                                    **options)
        result.previous = result.train_result.previous
    else:
        result = GuardResult(summary="guard: %s; fine-tuning did not beat the starter: %s is a copy of %s"
                             % (figures, shown_path(out), shown_path(init)), **fields)
        result.previous = _copy_model(init, out)
    logger.info("%s", result.summary)
    return result
