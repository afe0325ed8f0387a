"""Choosing the training epoch by driving: each epoch's checkpoint (``train(epoch_dir=...)``) drives one lap
of a few clean procedural tracks that no training frame came from, and the one that drives best is kept.

Why: the validation loss does not say which epoch drives, because one bad turn ends a lap (offline metrics
and driving disagree: Codevilla et al., ECCV 2018). Measured on ``jetracer demo``'s CPU recipe (its 4,000
frames, 64x64, 8 epochs; training seeds 0, 1, 2; 23 epochs in all), each epoch driving one lap of ``twisty``
and of nine unseen procedural tracks (1100-1102, 2000-2005), clean look: the epochs that lapped were
scattered (seed 0: epochs 3, 4 and 6 lapped everything, 5, 7 and 8 nothing). Choosing on three of those
tracks and counting the laps on the other seven (21 per rule over the three seeds), the choice by driving
made 15-17, the rule training keeps (least road loss + 0.5 x blocked BCE) 10-12, the last epoch 10-12 and
the least road loss alone 5-7.

An epoch scores its laps over the tracks, then the metres it drove on the tracks it did not lap, then its
worst track's cross-track error RMS (lower is better: one bad turn ends a lap); a tie goes to the later
epoch. The metres of a finished lap do not count: a weaving car drives more of them for the same lap (the
demo kept an epoch for its 71.4 m against 68.5 m while its cross-track RMS on one track was 0.23 m against
0.09 m, and it lost `twisty`).
"""
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .spawned import run_spawned

VALIDATION_TRACKS = 3         # procedural tracks an epoch drives
VALIDATION_TRACK_BASE = 2000  # their seeds start here (+ the run's seed): the demo and pretrain collect on 1000-1999
MAX_SECONDS = 90.0            # simulated seconds a lap may take
MAX_PROCESSES = 4             # each loads the model (on a GPU machine, a CUDA context each)


class EpochChoice(object):
    """The epoch kept: ``epoch``, ``path`` (its checkpoint), ``tracks`` (the procedural seeds driven), ``table``
    (one row per epoch: ``epoch``, ``laps``, ``metres``, ``metres_unlapped`` (on the tracks it did not lap),
    ``cte_rms_m`` (mean over the tracks), ``cte_rms_worst_m``, per-track ``runs``) and ``summary``."""

    def __init__(self, epoch: int, path: str, tracks: List[int], table: List[Dict[str, Any]]) -> None:
        self.epoch, self.path, self.tracks, self.table = epoch, path, tracks, table
        row = next(r for r in table if r["epoch"] == epoch)
        self.summary = ("kept epoch %d of %d: %d of %d laps of procedural tracks %s, which it never trained on "
                        "(laps by epoch: %s)" % (epoch, len(table), row["laps"], len(tracks),
                                                 ", ".join(str(t) for t in tracks),
                                                 " ".join(str(r["laps"]) for r in table)))

    def as_dict(self) -> Dict[str, Any]:
        return {"epoch": self.epoch, "path": os.path.abspath(self.path), "tracks": self.tracks, "table": self.table}


def validation_tracks(seed: int = 0, count: int = VALIDATION_TRACKS) -> List[int]:
    """The procedural track seeds epochs are driven on: none of the demo's or pretrain's training tracks."""
    return list(range(VALIDATION_TRACK_BASE + seed, VALIDATION_TRACK_BASE + seed + count))


def _drive(job: Tuple[str, int, str]) -> Dict[str, Any]:
    """One lap of one clean procedural track with one checkpoint (a spawned process's job)."""
    import torch

    from ..sim.world import SimWorld
    from .closed_loop import evaluate, model_policy
    path, track, profile = job
    torch.set_num_threads(1)
    world = SimWorld(profile, track=track, seed=0, randomize=False)
    try:
        r = evaluate(world, model_policy(path, world=world), laps=1, max_seconds=MAX_SECONDS)
    finally:
        world.close()
    return {"track": track, "laps": r["laps_completed"], "metres": round(r["mean_speed_mps"] * r["time_s"], 2),
            "cte_rms_m": r["cte_rms_m"], "end_reason": r["end_reason"]}


def epoch_number(path: str) -> int:
    """``epoch_07.pth`` -> 7 (the names ``train(epoch_dir=...)`` writes)."""
    return int(os.path.splitext(os.path.basename(path))[0].rsplit("_", 1)[1])


def drive_score(row: Dict[str, Any]) -> Tuple[Any, ...]:
    """How well one epoch drove (a row of the table; higher is better): laps, then how far it got on the tracks
    it did not lap, then the lower cross-track RMS of its worst track, then the later epoch."""
    return row["laps"], row["metres_unlapped"], -row["cte_rms_worst_m"], row["epoch"]


def choose_epoch(paths: Sequence[str], tracks: Sequence[int], profile: str = "latrax", processes: Optional[int] = None,
                 say: Callable[[str], Any] = print) -> EpochChoice:
    """Drive every checkpoint of ``paths`` (``epoch_NN.pth``) one lap of each of ``tracks`` (clean look) and
    return the best (see the module docstring). ``processes``: default one per CPU core, at most
    ``MAX_PROCESSES``."""
    if not paths:
        raise ValueError("no epoch checkpoints to choose from")
    jobs = [(p, int(t), profile) for p in paths for t in tracks]
    runs = run_spawned(_drive, jobs, processes or min(os.cpu_count() or 1, MAX_PROCESSES))
    table = []
    for i, path in enumerate(paths):
        mine = runs[i * len(tracks):(i + 1) * len(tracks)]
        table.append({"epoch": epoch_number(path), "laps": sum(r["laps"] for r in mine),
                      "metres": round(sum(r["metres"] for r in mine), 2),
                      "metres_unlapped": round(sum(r["metres"] for r in mine if r["laps"] < 1), 2),
                      "cte_rms_m": round(sum(r["cte_rms_m"] for r in mine) / len(mine), 4),
                      "cte_rms_worst_m": max(r["cte_rms_m"] for r in mine), "runs": mine})
    best = max(range(len(paths)), key=lambda i: drive_score(table[i]))
    choice = EpochChoice(table[best]["epoch"], paths[best], [int(t) for t in tracks], table)
    say("      " + choice.summary)
    return choice
