"""The backbone table: ``jetracer bench backbones``, the figures that choose the car's default model.

For each architecture ``pilot/model.py`` builds (``ARCHS``) at each input size of ``CANDIDATES`` (or ``only``):

* GFLOPs of one frame: counted by ``torch.utils.flop_counter.FlopCounterMode`` where torch has it (2.1 and
  newer: every convolution and matrix product, 2 FLOPs per multiply-add), else by forward hooks on
  ``Conv2d`` and ``Linear`` (the same rule); the report names the counter. The depthwise share
  (convolutions with ``groups == in_channels > 1``) is always counted by hooks.
* CPU latency here: torch on ``threads`` CPU threads (default 1), batch 1, ``eval()`` and ``no_grad``, the
  median of ``runs`` calls after ``warmup``; resnet18@224 is measured in the same run and every row gives
  its ratio to it, so a loaded machine shifts every row alike.
* A Nano estimate (a model, not a measurement): resnet18@224 runs at ``NANO_R18_224_MS`` (~11 ms) in
  TensorRT fp16 on a Jetson Nano and is compute-bound, so dense FLOPs cost
  ``(NANO_R18_224_MS - NANO_FIXED_MS) / GFLOP(resnet18@224)`` ms per GFLOP, plus ``NANO_FIXED_MS`` per frame;
  depthwise convolutions, memory-bound on its Maxwell GPU, cost ``depthwise_penalty`` (default
  ``DEPTHWISE_PENALTY``, 10) times as much per FLOP. Published MobileNet figures on the Nano are slower than
  this gives: the estimate ranks dense networks well and flatters depthwise ones.
* Real-frame r(x) from ``results`` files, when given: a ``jetracer bench transfer --json`` report (its
  starter's zero-shot r per set, the 25 first frames fine-tuned, and the simulator laps) or the issue-20
  research's ``results*.json`` (``runs`` of arch, input and zero-shot r per set; only runs of the product's
  recipe: default worlds, base augmentation). Several runs of one arch@size (seeds) are averaged: repeat
  trainings differ by up to 0.08 on one camera.

The car's default model (issue 20): the cheapest in GFLOPs whose mean zero-shot r is within
``WITHIN_R`` (0.02) of the best row's; :func:`pick_default` names it when results are given.
"""
import json
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import BenchError

CANDIDATES = (("resnet18", 224), ("resnet18", 160), ("resnet18", 128), ("resnet18", 96),
              ("mobilenet_v3_large", 224), ("mobilenet_v3_large", 160), ("mobilenet_v2", 224),
              ("efficientnet_b0", 224))
REFERENCE = ("resnet18", 224)
OTHER_SIZE = 224             # the input size of every other architecture ARCHS builds
NANO_R18_224_MS = 11.0       # resnet18@224, TensorRT fp16, Jetson Nano: measured (issue 20)
NANO_FIXED_MS = 1.0          # per frame whatever the network: launch, copies
DEPTHWISE_PENALTY = 10.0     # a depthwise FLOP costs this many dense ones on the Nano (an assumption, stated)
WITHIN_R = 0.02


def candidates(only: Optional[Sequence[Tuple[str, int]]] = None) -> List[Tuple[str, int]]:
    """``only``, else ``CANDIDATES`` then every other architecture of ``ARCHS`` at ``OTHER_SIZE``; always
    with ``REFERENCE`` first (the ratios need it). BenchError for an architecture ``ARCHS`` does not have."""
    from ...pilot.model import ARCHS
    rows = list(only) if only else list(CANDIDATES) + [(a, OTHER_SIZE) for a in ARCHS
                                                      if a not in {c[0] for c in CANDIDATES}]
    unknown = sorted(set(a for a, _ in rows) - set(ARCHS))
    if unknown:
        raise BenchError("unknown arch(s) %s; choose from %s" % (", ".join(unknown), ", ".join(sorted(ARCHS))))
    return [REFERENCE] + [r for r in rows if r != REFERENCE]


def count_flops(model: Any, size: int) -> Dict[str, Any]:
    """``{"gflop", "depthwise_gflop", "counter"}`` of one ``size`` x ``size`` frame through ``model``."""
    import torch
    depthwise = [0]
    hook_total = [0]

    def conv_hook(m: Any, inp: Any, out: Any) -> None:
        flops = 2 * out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        hook_total[0] += flops
        if m.groups > 1 and m.groups == m.in_channels:
            depthwise[0] += flops

    def linear_hook(m: Any, inp: Any, out: Any) -> None:
        hook_total[0] += 2 * m.in_features * m.out_features * (out.numel() // m.out_features)

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    hooks += [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    x = torch.zeros(1, 3, size, size)
    try:
        try:
            from torch.utils.flop_counter import FlopCounterMode
        except ImportError:
            FlopCounterMode = None
        with torch.no_grad():
            if FlopCounterMode is not None:
                with FlopCounterMode(display=False) as counter:
                    model(x)
                total, name = counter.get_total_flops(), "torch.utils.flop_counter"
            else:
                model(x)
                total, name = hook_total[0], "forward hooks on Conv2d and Linear"
    finally:
        for h in hooks:
            h.remove()
    return {"gflop": round(total / 1e9, 4), "depthwise_gflop": round(depthwise[0] / 1e9, 4), "counter": name}


def cpu_latency_ms(model: Any, size: int, runs: int = 20, warmup: int = 5) -> float:
    """Median wall time (ms) of one batch-1 forward pass on the CPU, in torch's current threads."""
    import torch
    x = torch.zeros(1, 3, size, size)
    times = []
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        for _ in range(runs):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def nano_ms(gflop: float, depthwise_gflop: float, reference_gflop: float,
            depthwise_penalty: float = DEPTHWISE_PENALTY) -> float:
    """The Nano estimate of the module docstring: fixed cost + dense and (penalised) depthwise FLOPs at the
    rate resnet18@224's measured time gives."""
    ms_per_gflop = (NANO_R18_224_MS - NANO_FIXED_MS) / reference_gflop
    dense = gflop - depthwise_gflop
    return NANO_FIXED_MS + ms_per_gflop * (dense + depthwise_penalty * depthwise_gflop)


def _key(arch: str, size: int) -> str:
    return "%s@%d" % (arch, size)


def read_results(paths: Sequence[str]) -> Dict[str, Dict[str, Any]]:
    """{``arch@size``: {"runs": [per-run dicts of set -> zero-shot r], "finetune_25": [...], "laps": [...],
    "sources": [...]}} from transfer-bench ``--json`` reports and the research's ``results*.json``.
    BenchError naming a file that is missing or neither."""
    out = {}  # type: Dict[str, Dict[str, Any]]

    def slot(arch: str, size: int) -> Dict[str, Any]:
        return out.setdefault(_key(arch, size), {"runs": [], "finetune_25": [], "laps": [], "sources": []})

    for path in paths:
        try:
            with open(path) as f:
                data = json.load(f)
        except (IOError, OSError) as e:
            raise BenchError("--results %s: %s; give a `jetracer bench transfer --json` report or a results.json"
                             % (path, e.strerror or e))
        except ValueError as e:
            raise BenchError("--results %s is not JSON (%s)" % (path, e))
        if isinstance(data, dict) and "starter_meta" in data and "sets" in data:  # jetracer bench transfer --json
            meta = data["starter_meta"]
            s = slot(meta["arch"], int(meta["input_size"][0]))
            s["runs"].append({n: e["zero_shot"]["r_x"] for n, e in data["sets"].items()})
            s["finetune_25"].append({n: ((e.get("time") or {}).get("25") or {}).get("finetune", {}).get("r_x")
                                     for n, e in data["sets"].items()})
            if data.get("sim"):
                s["laps"].append(sum(r["laps_completed"] for r in data["sim"]["tracks"].values()))
            s["sources"].append(path)
        elif isinstance(data, dict) and isinstance(data.get("runs"), dict):  # the research's exp.py results
            worlds = data.get("datasets") or {}
            for name, run in sorted(data["runs"].items()):
                zero = run.get("zero_shot") if isinstance(run, dict) else None
                if not zero:
                    continue  # skipped for time
                if run.get("aug", "base") != "base" or (worlds.get(run.get("data")) or {}).get("domain"):
                    continue  # another recipe (augmentation, worlds) than the product's: not a backbone figure
                sets = {n: v["plain"]["r_x"] for n, v in zero.items() if not n.startswith("mean") and "plain" in v}
                s = slot(run.get("arch", "resnet18"), int(run.get("input", 224)))
                s["runs"].append(sets)
                s["sources"].append("%s:%s" % (path, name))
        else:
            raise BenchError("--results %s is neither a `jetracer bench transfer --json` report nor a results.json "
                             "of runs" % path)
    return out


def _mean_r(runs: List[Dict[str, Optional[float]]]) -> Tuple[Optional[float], Dict[str, float]]:
    """(mean over runs of the mean over sets, per-set mean over runs); sets missing a figure are skipped."""
    per_set = {}  # type: Dict[str, List[float]]
    means = []
    for run in runs:
        vals = [v for v in run.values() if v is not None]
        if vals:
            means.append(float(np.mean(vals)))
        for n, v in run.items():
            if v is not None:
                per_set.setdefault(n, []).append(v)
    return (round(float(np.mean(means)), 4) if means else None,
            {n: round(float(np.mean(v)), 4) for n, v in sorted(per_set.items())})


def run_bench(only: Optional[Sequence[Tuple[str, int]]] = None, runs: int = 20, warmup: int = 5, threads: int = 1,
              results: Optional[Sequence[str]] = None, depthwise_penalty: float = DEPTHWISE_PENALTY,
              say: Any = None) -> Dict[str, Any]:
    """The table as a JSON-able dict: ``rows`` (one per arch@size, reference first), the counter, the Nano model
    and, with ``results``, the real-frame columns and the default pick."""
    import torch
    from ...pilot.model import build_model
    real = read_results(results or [])
    old_threads = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    rows = []  # type: List[Dict[str, Any]]
    counter = None
    try:
        for arch, size in candidates(only):
            model = build_model(arch, 2, pretrained=False).eval()
            flops = count_flops(model, size)
            counter = flops.pop("counter")
            row = dict({"arch": arch, "input": size, "cpu_ms": round(cpu_latency_ms(model, size, runs, warmup), 2)},
                       **flops)
            rows.append(row)
            if say:
                say("%s@%d: %.3f GFLOP, %.1f ms" % (arch, size, row["gflop"], row["cpu_ms"]))
    finally:
        torch.set_num_threads(old_threads)
    ref = rows[0]
    for row in rows:
        row["flop_ratio"] = round(row["gflop"] / ref["gflop"], 3)
        row["cpu_ratio"] = round(row["cpu_ms"] / ref["cpu_ms"], 3)
        row["nano_ms_estimate"] = round(nano_ms(row["gflop"], row["depthwise_gflop"], ref["gflop"], depthwise_penalty), 1)
        found = real.get(_key(row["arch"], row["input"]))
        if found:
            row["real_r_mean"], row["real_r_per_set"] = _mean_r(found["runs"])
            row["real_runs"] = len(found["runs"])
            k25 = [r for r in found["finetune_25"] if any(v is not None for v in r.values())]
            if k25:
                row["finetune_25_r_mean"] = _mean_r(k25)[0]
            if found["laps"]:
                row["sim_laps"] = found["laps"]
            row["sources"] = found["sources"]
    report = {"rows": rows, "flop_counter": counter, "threads": int(threads), "runs": runs, "warmup": warmup,
              "torch": torch.__version__, "reference": _key(*REFERENCE),
              "nano_model": {"r18_224_ms": NANO_R18_224_MS, "fixed_ms": NANO_FIXED_MS,
                             "depthwise_penalty": depthwise_penalty,
                             "dense_ms_per_gflop": round((NANO_R18_224_MS - NANO_FIXED_MS) / ref["gflop"], 3)},
              "results": list(results or []), "unmatched_results": sorted(set(real) - set(_key(r["arch"], r["input"])
                                                                                         for r in rows))}
    report["default"] = pick_default(rows)
    return report


def pick_default(rows: Sequence[Dict[str, Any]], within: float = WITHIN_R) -> Optional[Dict[str, Any]]:
    """The cheapest row (GFLOPs) whose mean real r is within ``within`` of the best; None without results."""
    scored = [r for r in rows if r.get("real_r_mean") is not None]
    if not scored:
        return None
    best = max(r["real_r_mean"] for r in scored)
    pick = min((r for r in scored if r["real_r_mean"] >= best - within), key=lambda r: r["gflop"])
    return {"arch": pick["arch"], "input": pick["input"], "gflop": pick["gflop"], "real_r_mean": pick["real_r_mean"],
            "best_r_mean": best, "within": within}


def _fmt(value: Optional[float], spec: str = "%.3f") -> str:
    return "-" if value is None else spec % value


def format_report(report: Dict[str, Any]) -> str:
    """The table a person reads."""
    nano = report["nano_model"]
    rows = report["rows"]
    sets = sorted(set(n for r in rows for n in (r.get("real_r_per_set") or {})))
    lines = ["GFLOPs by %s; CPU: torch %s, %d thread(s), batch 1, median of %d; Nano: an estimate, %.1f ms fixed + "
             "%.3f ms per dense GFLOP (resnet18@224 = %.0f ms in TensorRT fp16, measured there), depthwise x%g" % (
                 report["flop_counter"], report["torch"], report["threads"], report["runs"], nano["fixed_ms"],
                 nano["dense_ms_per_gflop"], nano["r18_224_ms"], nano["depthwise_penalty"])]
    head = "%-22s %7s %6s %6s %8s %6s %8s" % ("arch@input", "GFLOP", "dw", "x r18", "CPU ms", "x r18", "Nano ms")
    if sets:
        head += " %7s %4s %s" % ("real r", "runs", " ".join("%-9s" % n[:9] for n in sets))
        if any(r.get("finetune_25_r_mean") is not None for r in rows):
            head += " %6s" % "25-ft"
    lines.append(head)
    for r in rows:
        line = "%-22s %7.3f %6.3f %6.3f %8.1f %6.2f %8.1f" % (
            _key(r["arch"], r["input"]), r["gflop"], r["depthwise_gflop"], r["flop_ratio"], r["cpu_ms"],
            r["cpu_ratio"], r["nano_ms_estimate"])
        if sets:
            per = r.get("real_r_per_set") or {}
            line += " %7s %4s %s" % (_fmt(r.get("real_r_mean")), r.get("real_runs", "-"),
                                     " ".join("%-9s" % _fmt(per.get(n)) for n in sets))
            if any(x.get("finetune_25_r_mean") is not None for x in rows):
                line += " %6s" % _fmt(r.get("finetune_25_r_mean"))
        lines.append(line)
    if report.get("unmatched_results"):
        lines.append("results for arch@input not in the table: %s" % ", ".join(report["unmatched_results"]))
    d = report.get("default")
    if d:
        lines.append("cheapest within %.2f of the best mean real r (%.3f): %s@%d, %.3f GFLOP (%.0f %% of %s), r %.3f" % (
            d["within"], d["best_r_mean"], d["arch"], d["input"], d["gflop"], 100 * d["gflop"] / rows[0]["gflop"],
            report["reference"], d["real_r_mean"]))
    elif not report.get("results"):
        lines.append("real r: give --results FILE (a `jetracer bench transfer --json` report or the research's "
                     "results.json) to fill the real-frame columns and pick the default")
    return "\n".join(lines)
