"""Benchmark training throughput with the frames kept decoded (``learning.frame_cache``) against decoding every
frame every epoch, measured in the same run (runs alternated, medians).

    jetracer bench training DATASET... [--runs 3] [--epochs 2] [--input-size 64]

Each run is a whole ``train()`` from random weights on the same folders and options, so its wall time
includes filling the cache; the two arms end with the same weights (the frames are the same bit for bit).
"""
import os
import statistics
import tempfile
import time
from typing import Any, Dict, List, Sequence

ARMS = ("kept", "decoded")  # frame_cache on, off


def bench_training(dataset_dirs: Sequence[str], runs: int = 3, epochs: int = 2, input_size: int = 64,
                   batch_size: int = 32, threads: Any = None, device: str = "cpu") -> Dict[str, Any]:
    """Each arm's training runs (wall seconds), their medians, and the speedup (decoded / kept)."""
    from ...learning.train import train

    times = dict((arm, []) for arm in ARMS)  # type: Dict[str, List[float]]
    with tempfile.TemporaryDirectory(prefix="jetracer-bench-training-") as tmp:
        for run in range(runs):
            for arm in (ARMS if run % 2 == 0 else ARMS[::-1]):
                start = time.perf_counter()
                train(list(dataset_dirs), os.path.join(tmp, "%s.pth" % arm), epochs=epochs, input_size=input_size,
                      batch_size=batch_size, pretrained=False, progress=False, threads=threads, device=device, seed=0,
                      frame_cache=arm == "kept")
                times[arm].append(time.perf_counter() - start)
        difference = _max_difference(os.path.join(tmp, "kept.pth"), os.path.join(tmp, "decoded.pth"))
    medians = dict((arm, statistics.median(t)) for arm, t in times.items())
    return {"datasets": list(dataset_dirs), "runs": runs, "epochs": epochs, "input_size": input_size,
            "batch_size": batch_size, "device": device,
            "seconds": dict((arm, [round(t, 2) for t in ts]) for arm, ts in times.items()),
            "median_s": dict((arm, round(m, 2)) for arm, m in medians.items()),
            "speedup": round(medians["decoded"] / medians["kept"], 3), "max_weight_difference": difference}


def _max_difference(a: str, b: str) -> float:
    """The largest absolute difference between two checkpoints' weights (0.0 on a CPU: the same frames)."""
    from ...pilot.checkpoint import load_checkpoint

    wa, wb = load_checkpoint(a)[0].state_dict(), load_checkpoint(b)[0].state_dict()
    return max(float((wa[k].double() - wb[k].double()).abs().max()) if wa[k].numel() else 0.0 for k in wa)


def format_report(report: Dict[str, Any]) -> str:
    lines = ["training %d epochs at %dx%d, batch %d on %s, %d runs per arm (alternated):" % (
        report["epochs"], report["input_size"], report["input_size"], report["batch_size"], report["device"],
        report["runs"])]
    for arm, label in zip(ARMS, ("frames kept decoded", "decoded every epoch")):
        lines.append("  %-22s median %7.2f s  (runs: %s)" % (label, report["median_s"][arm],
                                                            ", ".join("%.2f" % t for t in report["seconds"][arm])))
    lines.append("  speedup x%.2f (decoded / kept); largest weight difference between the arms %.3g"
                 % (report["speedup"], report["max_weight_difference"]))
    return "\n".join(lines)
