"""The starter model: ``pretrain(out, preset=...)`` trains a road follower on randomised simulator frames.

A user fine-tunes it on a few frames of their own track (``jetracer train MY_FRAMES --init starter.pth``),
which is much better than training on those frames alone (see ``jetracer bench transfer``). Steps:

1. collect a randomised dataset (``jetracer.apps.collect.collect``, the perturbed expert over procedural
   tracks 1000, 1001, ...; one job per track, spread over processes on machines with many cores; the
   result does not depend on the number of processes);
2. train it (``jetracer.learning.train.train``, ImageNet weights when torchvision has them) on the best
   device (CUDA when present), with a session split, so validation and test are on tracks not trained on;
3. drive it in the simulator (``jetracer.apps.closed_loop``) on tracks it never saw, in randomised worlds:
   the built-in ``twisty`` and the procedural tracks 7 and 8;
4. report what it trained (frames, tracks, architecture, input size, epochs, device), its validation
   and test metrics and the closed-loop laps, off-track events and cross-track error, also written to
   ``<out without extension>_pretrain.json``; optionally ``jetracer eval`` figures on labelled real frames
   (road frames, and blocked/free folders for the obstacle output).

Obstacles: the road frames are collected exactly as for a road-only starter, and OBSTACLE_SHARE more frames
(a quarter) come from episodes with ``obstacles`` obstacles each (the preset's, 8) on tracks of their own,
written in JetBot's blocked/free layout with labels from geometry at the nominal speed
(:func:`jetracer.apps.collect.nominal_speed_mps`: the speed the default auto-mode throttle gives the car; a
camera cannot see speed). Training reads both: road frames train the road outputs, blocked/free frames the
blocked logit and the distance, on one backbone. Obstacles inside the road episodes (every other track, the first design)
cost the road: mean zero-shot r(x) on real frames 0.47 -> 0.39 (GPU, one seed) and 0.22 / 0.23 / 0.07 for
the CPU preset (real AUROC 0.36); with the frames apart the demo kept its 3 laps and the CPU preset
measured 0.18 / 0.01 / 0.41 (within the spread of its single runs) and AUROC 0.65. ``obstacles=0``
collects and trains the road-only starter, frame for frame. The preset's ``obstacle_weight`` scales the
obstacle terms of the loss: at 1 (blocked 0.5, distance 0.1) they drove the shared backbone of the GPU starter
and halved its real r(x) (0.24 against 0.48 road-only); every preset uses 0.1 (GPU 0.43; the CPU preset 0.32
against 0.20, real AUROC 0.68 against 0.65). The demo keeps 1: at 0.1 its 64x64 model lost its stop for the box.

Presets: ``gpu`` is the best model (resnet18 at 224x224, tens of thousands of frames); ``cpu`` finishes
in 12-21 minutes on 2 cores, by machine (its input size, frames and epochs were chosen by measuring how well
the starter fine-tunes from 25 real frames; fine-tuning keeps the starter's input size); ``quick`` is
a smoke run of a minute or two.
"""
import json
import os
import shutil
import time
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence

from ..atomic import atomic_write
from ..errors import UserError
from ..learning.train_options import MAX_INPUT_SIDE, MIN_INPUT_SIDE, TRAIN
from ..schema import Field, validate
from .spawned import run_spawned

# What a preset sets, on the schema engine; the keys it shares with training take training's ranges.
PRESET = {
    "frames": Field(int, 1, 10000000, doc="randomised simulator frames to collect"),
    "tracks": Field(int, 1, 10000, doc="procedural tracks to collect them over"),
    "epochs": Field(int, TRAIN["epochs"].lo, TRAIN["epochs"].hi, doc="training epochs at most"),
    "input_size": Field(int, MIN_INPUT_SIDE, MAX_INPUT_SIDE, doc="model input N, for NxN"),
    "arch": Field(str, choices=TRAIN["arch"].choices, doc="torchvision backbone"),
    "batch_size": Field(int, TRAIN["batch_size"].lo, TRAIN["batch_size"].hi, doc="images per step"),
    "eval_laps": Field(int, 1, 100, doc="closed-loop laps of each unseen track"),
    "obstacles": Field(int, 0, 64, doc="obstacles per episode of the blocked/free frames; 0: a road-only starter"),
    "obstacle_weight": Field(float, TRAIN["obstacle_weight"].lo, TRAIN["obstacle_weight"].hi,
                             doc="scales the obstacle terms of the loss next to the road's (train's obstacle_weight)"),
    "randconv": Field(float, TRAIN["randconv"].lo, TRAIN["randconv"].hi,
                      doc="share of training images restyled by a random convolution (train's randconv)"),
}
PRESETS = {
    # randconv: 0.5 on the GPU (four seeds, paired: real zero-shot r +0.05, +0.03, -0.01, +0.02; blocked AUROC +0.04 to
    # +0.08 on each); 0 on the CPU, where two seeds of the 96x96 preset went down (README, "From the simulator to your
    # track")
    "gpu": {"frames": 40000, "tracks": 200, "epochs": 12, "input_size": 224, "arch": "resnet18", "batch_size": 128,
            "eval_laps": 3, "obstacles": 8, "obstacle_weight": 0.1, "randconv": 0.5},
    "cpu": {"frames": 6000, "tracks": 60, "epochs": 8, "input_size": 96, "arch": "resnet18", "batch_size": 32,
            "eval_laps": 2, "obstacles": 8, "obstacle_weight": 0.1, "randconv": 0.0},
    "quick": {"frames": 600, "tracks": 12, "epochs": 2, "input_size": 64, "arch": "resnet18", "batch_size": 32,
              "eval_laps": 1, "obstacles": 8, "obstacle_weight": 0.1, "randconv": 0.0},
}
PRESET_NAME = Field(str, choices=tuple(PRESETS))
FIRST_TRACK_SEED = 1000                 # training tracks: 1000, 1001, ...; never the evaluation tracks below
OBSTACLE_SHARE = 0.25                   # blocked/free frames collected besides the road frames, as a share of them
EVAL_TRACKS = ("twisty", 7, 8)          # a built-in track and two procedural ones the starter never saw


class PretrainError(UserError):
    """What pretrain was asked cannot be: an unknown preset or preset key, a --data folder that holds files."""


class Preset(NamedTuple):
    """A preset with its overrides, validated against :data:`PRESET` (fields: its keys)."""
    frames: int
    tracks: int
    epochs: int
    input_size: int
    arch: str
    batch_size: int
    eval_laps: int
    obstacles: int
    obstacle_weight: float
    randconv: float


def pick_preset(preset: Optional[str], device: str) -> str:
    """``preset`` if given (PretrainError when unknown), else ``gpu`` on a CUDA device, else ``cpu``."""
    if preset is None:
        return "gpu" if device.startswith("cuda") else "cpu"
    problems = validate(preset, PRESET_NAME, "preset")
    if problems:
        raise PretrainError("; ".join(problems))
    return preset


def preset_settings(name: str, overrides: Optional[Mapping[str, Any]] = None) -> Preset:
    """Preset ``name`` with ``overrides`` (any of its keys), validated: PretrainError naming every unknown key
    (with the likely one meant) and every value out of its range."""
    values = dict(PRESETS[name], **(overrides or {}))
    problems = validate(values, PRESET, top="preset")
    if problems:
        raise PretrainError("preset %s: %s" % (name, "; ".join(problems)))
    return Preset(**values)


def default_processes(tracks: int) -> int:
    """Collection processes: one per core beyond the first two (a 2-core machine collects in-process)."""
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else max(1, min(tracks, cores - 1, 32))


def _collect_track(job: Dict[str, Any]) -> Dict[str, Any]:
    from .collect import collect
    return collect(job["dir"], job["frames"], tracks=[job["track"]], profile=job["profile"], seed=job["seed"],
                   width=job["width"], height=job["height"], randomize=True, obstacles=job.get("obstacles", 0),
                   layout="jetbot" if job.get("obstacles") else "road")


def collect_dataset(out_dir: str, frames: int, tracks: List[Any], seed: int = 0, profile: str = "latrax",
                    processes: int = 1, size: int = 224, category: str = "apex", obstacles: int = 0,
                    obstacle_tracks: Sequence[Any] = (), obstacle_frames: int = 0) -> Dict[str, Any]:
    """Collect ``frames`` over ``tracks`` into ``out_dir`` (upstream layout, one ``index.jsonl``), and with
    ``obstacles`` also ``obstacle_frames`` over ``obstacle_tracks`` in JetBot's layout (``out_dir/blocked``,
    ``out_dir/free``).

    One collection job per track (its own seed, from ``seed`` and the track), run in ``processes``
    processes, each into its own part folder, then moved into ``out_dir`` in track order, so the files do
    not depend on ``processes``. Returns {"frames", "sessions", "tracks", "dir"}, with obstacles also
    "blocked" and "free" (frames of each) and "label_speed_mps".
    """
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        # pretrain trains on everything in it and removes it at the end: only a folder it made itself
        raise PretrainError("%s already holds a dataset or other files; pretrain collects into a new or empty folder "
                         "and removes it at the end (pick another --data)" % out_dir)
    parts = os.path.join(out_dir, ".parts")
    jobs = _jobs(parts, frames, tracks, seed, profile, size, 0)
    if obstacles and obstacle_frames:
        jobs += _jobs(parts, obstacle_frames, list(obstacle_tracks), seed, profile, size, obstacles, first=len(jobs))
    results = run_spawned(_collect_track, jobs, processes)
    road = [job for job in jobs if not job["obstacles"]]
    _merge(road, category, os.path.join(out_dir, category))
    for label in ("blocked", "free"):
        _merge([job for job in jobs if job["obstacles"]], label, os.path.join(out_dir, label))
    shutil.rmtree(parts)
    out = {"frames": sum(r["frames"] for r, job in zip(results, jobs) if not job["obstacles"]),
           "sessions": [s for r in results for s in r["sessions"]], "tracks": len(road),
           "dir": os.path.join(out_dir, category)}  # type: Dict[str, Any]
    labelled = [r for r in results if "blocked" in r]
    if labelled:
        out.update({"blocked": sum(r["blocked"] for r in labelled), "free": sum(r["free"] for r in labelled),
                    "label_speed_mps": labelled[0]["label_speed_mps"], "obstacle_tracks": len(labelled)})
    return out


def _jobs(parts: str, frames: int, tracks: List[Any], seed: int, profile: str, size: int, obstacles: int,
          first: int = 0) -> List[Dict[str, Any]]:
    """One job per track, its frames split evenly; part folders numbered from ``first``."""
    counts = [frames // len(tracks) + (1 if i < frames % len(tracks) else 0) for i in range(len(tracks))]
    return [{"dir": os.path.join(parts, "%04d" % (first + i)), "frames": n, "track": t, "profile": profile,
             "seed": seed * 100003 + (t if isinstance(t, int) else 50000 + i), "width": size, "height": size,
             "obstacles": obstacles}
            for i, (t, n) in enumerate(zip(tracks, counts)) if n > 0]


def _merge(jobs: List[Dict[str, Any]], sub: str, folder: str) -> None:
    """Move each job's ``sub`` folder's images into ``folder`` and join their indexes, in job order."""
    if not jobs:
        return
    os.makedirs(folder)
    with open(os.path.join(folder, "index.jsonl"), "w") as index:
        for job in jobs:
            src = os.path.join(job["dir"], sub)
            if not os.path.isdir(src):
                continue
            if os.path.exists(os.path.join(src, "index.jsonl")):
                with open(os.path.join(src, "index.jsonl")) as f:
                    index.write(f.read())
            for name in os.listdir(src):
                if name != "index.jsonl":
                    os.replace(os.path.join(src, name), os.path.join(folder, name))


def drive_check(model: str, laps: int, profile: str = "latrax", seed: int = 0,
                tracks: Any = EVAL_TRACKS) -> Dict[str, Any]:
    """Closed-loop laps of each evaluation track with ``model`` (as on the car: pilot + steering law)."""
    from ..sim.world import SimWorld
    from .closed_loop import evaluate, model_policy
    out = {}
    for spec in tracks:
        world = SimWorld(profile, track=spec, seed=seed)
        try:
            r = evaluate(world, model_policy(model, world=world), laps=laps, max_seconds=120.0 * laps)
        finally:
            world.close()
        key = spec if isinstance(spec, str) else "seed-%d" % spec
        out[key] = {k: r[k] for k in ("laps_completed", "offtrack_events", "cte_rms_m", "cte_max_m",
                                      "mean_speed_mps", "end_reason")}
    return out


def pretrain(out: str, preset: Optional[str] = None, device: str = "auto", data_dir: Optional[str] = None,
             seed: int = 0, processes: Optional[int] = None, threads: Optional[int] = None,
             eval_datasets: Optional[List[str]] = None, keep_data: bool = False,
             say: Callable[[str], Any] = print, overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Collect, train and check a starter model at ``out``; returns the report (see the module docstring).

    ``data_dir`` (default ``<out without extension>_data``) holds the collected frames; it is removed at
    the end unless ``keep_data``. ``overrides`` replaces preset values (frames, tracks, epochs,
    input_size, arch, batch_size, eval_laps). ``eval_datasets``: labelled real folders to report
    ``jetracer eval`` figures on.
    """
    from ..learning.evaluate import evaluate_model
    from ..learning.train import pick_device

    _check_eval_datasets(eval_datasets or [])  # a wrong --eval folder is found now, not after the training
    torch_device = str(pick_device(device))
    name = pick_preset(preset, torch_device)
    cfg = preset_settings(name, overrides)
    out = os.fspath(out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    data_dir = data_dir or os.path.splitext(out)[0] + "_data"
    tracks = list(range(FIRST_TRACK_SEED, FIRST_TRACK_SEED + cfg.tracks))
    procs = processes or default_processes(len(tracks))
    timings = {}  # type: Dict[str, float]
    t_all = time.time()
    if name == "gpu" and not torch_device.startswith("cuda"):
        say("note: the gpu preset on %s will take hours; the cpu preset finishes in 12-21 minutes on 2 cores" % torch_device)

    t0 = time.time()
    collected = _collect(data_dir, cfg, tracks, seed, procs, say)
    timings["collect_s"] = round(time.time() - t0, 1)

    say("[2/3] training %s at %dx%d on %s for up to %d epochs -> %s" % (
        cfg.arch, cfg.input_size, cfg.input_size, torch_device, cfg.epochs, out))
    t0 = time.time()
    trained = _train_starter(data_dir, out, name, cfg, collected, tracks, torch_device, seed, threads, say)
    timings["train_s"] = round(time.time() - t0, 1)

    say("[3/3] driving %d lap(s) of each unseen track (%s)" % (
        cfg.eval_laps, ", ".join(t if isinstance(t, str) else "procedural seed %d" % t for t in EVAL_TRACKS)))
    t0 = time.time()
    closed_loop = drive_check(out, cfg.eval_laps, seed=seed)
    timings["drive_s"] = round(time.time() - t0, 1)

    report = {
        "model": os.path.abspath(out), "preset": name, "device": torch_device, "arch": cfg.arch,
        "input_size": [cfg.input_size] * 2, "epochs": cfg.epochs, "epochs_run": trained.epochs_run,
        "best_epoch": trained.best_epoch, "frames": collected["frames"], "tracks": collected["tracks"],
        "sessions": len(collected["sessions"]), "collect_processes": procs, "obstacles": cfg.obstacles,
        "obstacle_weight": cfg.obstacle_weight if cfg.obstacles else None, "randconv": cfg.randconv,
        "obstacle_frames": {k: collected[k] for k in ("blocked", "free", "label_speed_mps") if k in collected},
        "val": _short(trained.metrics.get("val")), "test": _short(trained.metrics.get("test")),
        "closed_loop": closed_loop, "images_per_s": round(trained.images_per_s, 1), "notes": trained.notes,
        "loss_plot": os.path.abspath(trained.loss_plot),
    }
    if eval_datasets:
        t0 = time.time()
        real = evaluate_model(out, eval_datasets, device=torch_device)
        real.pop("predictions", None)
        report["eval"] = real
        timings["eval_s"] = round(time.time() - t0, 1)
    if not keep_data:
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        report["data"] = os.path.abspath(data_dir)
    timings["total_s"] = round(time.time() - t_all, 1)
    report["timings_s"] = timings
    path = os.path.splitext(out)[0] + "_pretrain.json"
    with atomic_write(path, "w") as f:
        json.dump(report, f, indent=1)
    report["report"] = os.path.abspath(path)
    return report


def _collect(data_dir: str, cfg: Preset, tracks: List[int], seed: int, procs: int,
             say: Callable[[str], Any]) -> Dict[str, Any]:
    """The road frames over ``tracks`` and, with obstacles, OBSTACLE_SHARE more blocked/free frames on the
    tracks after them; a collection whose obstacle frames are all one class keeps the road frames only."""
    obstacle_tracks = list(range(tracks[-1] + 1, tracks[-1] + 1 + max(1, len(tracks) // 4))) if cfg.obstacles else []
    obstacle_frames = int(round(OBSTACLE_SHARE * cfg.frames)) if cfg.obstacles else 0
    say("[1/3] collecting %d randomised simulator frames over %d procedural tracks%s (%d process%s) -> %s"
        % (cfg.frames, len(tracks), ", and %d blocked/free frames with %d obstacles an episode on %d more" % (
            obstacle_frames, cfg.obstacles, len(obstacle_tracks)) if cfg.obstacles else "",
           procs, "" if procs == 1 else "es", data_dir))
    collected = collect_dataset(data_dir, cfg.frames, tracks, seed=seed, processes=procs, obstacles=cfg.obstacles,
                                obstacle_tracks=obstacle_tracks, obstacle_frames=obstacle_frames)
    if cfg.obstacles and not (collected.get("blocked") and collected.get("free")):
        for label in ("blocked", "free"):  # one class only (a tiny collection): the road starter still trains
            shutil.rmtree(os.path.join(data_dir, label), ignore_errors=True)
        say("      no obstacle output: the %d obstacle frames are all one class (collect more --frames)"
            % (collected.get("blocked", 0) + collected.get("free", 0)))
    return collected


def _check_eval_datasets(folders: List[str]) -> None:
    """EvalError for an ``--eval`` folder without labelled frames (FileNotFoundError for a missing one)."""
    from ..dataset import scan_dataset
    from ..learning.evaluate import EvalError, no_labelled_images_message
    for d in folders:
        index = scan_dataset(d, obstacles=True)
        if not index.entries:
            raise EvalError("--eval: " + no_labelled_images_message([d], index.problems))


def _train_starter(data_dir: str, out: str, name: str, cfg: Preset, collected: Dict[str, Any], tracks: List[int],
                   device: str, seed: int, threads: Optional[int], say: Callable[[str], Any]) -> Any:
    """Train the starter on the collected frames, saying each epoch; its checkpoint's ``info.starter``
    records what it was trained on (the notebook's starter field shows it)."""
    from ..learning.train import train
    info = {"starter": {"preset": name, "frames": collected["frames"], "tracks": collected["tracks"],
                        "track_seeds": [tracks[0], tracks[-1]], "sessions": len(collected["sessions"]),
                        "labels": "simulator: the centreline point 0.6 m ahead of the rear axle (jetracer.sim.labels)",
                        "randconv": cfg.randconv}}
    if cfg.obstacles:
        info["starter"].update({"obstacles": cfg.obstacles, "obstacle_weight": cfg.obstacle_weight,
                                "blocked_frames": collected.get("blocked"),
                                "free_frames": collected.get("free"),
                                "obstacle_labels": "simulator geometry: something in the swept path within the stopping "
                                                   "distance at %.2f m/s (jetracer.sim.obstacle_labels)"
                                                   % collected.get("label_speed_mps", 0.0)})
    return train([data_dir], out, arch=cfg.arch, input_size=cfg.input_size, epochs=cfg.epochs,
                 batch_size=cfg.batch_size, device=device, seed=seed, pretrained=True,
                 obstacle_weight=cfg.obstacle_weight if cfg.obstacles else 1.0,  # road-only: nothing to weigh
                 randconv=cfg.randconv,
                 progress=False, threads=threads, info=info,
                 callback=lambda r: say("      epoch %d/%d: train loss %.4g, val loss %.4g, val |du| %.2f px%s" % (
                     r["epoch"], r["epochs"], r["train_loss"], r["val"].get("loss", float("nan")),
                     r["val"].get("mean_abs_du_px", float("nan")), _auroc_phrase(r["val"]))))


def _auroc_phrase(metrics: Optional[Dict[str, Any]]) -> str:
    blocked = (metrics or {}).get("blocked") or {}
    return "" if blocked.get("auroc") is None else ", blocked AUROC %.3f (%d frames)" % (blocked["auroc"], blocked["n"])


def _short(metrics: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if not metrics:
        return None
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in metrics.items() if k != "per_dataset"}


def format_report(report: Dict[str, Any]) -> str:
    """What ``jetracer pretrain`` prints."""
    def px(m: Optional[Dict[str, Any]], key: str) -> str:
        v = (m or {}).get(key)
        return "n/a" if v is None else "%.2f" % v

    lines = ["starter model %s" % report["model"],
             "trained: %s at %dx%d, %d epochs (best %d) on %s, %d simulator frames over %d tracks (%d sessions); "
             "preset %s" % (report["arch"], report["input_size"][0], report["input_size"][1], report["epochs_run"],
                            report["best_epoch"], report["device"], report["frames"], report["tracks"],
                            report["sessions"], report["preset"])]
    for side in ("val", "test"):
        m = report.get(side) or {}
        lines.append("%s (simulator tracks not trained on): %d images, |du| mean %s px median %s px, |dv| mean %s px%s"
                     % (side, m.get("images", 0), px(m, "mean_abs_du_px"), px(m, "median_abs_du_px"),
                        px(m, "mean_abs_dv_px"), _auroc_phrase(m)))
    for track, r in report["closed_loop"].items():
        lines.append("closed loop on %s: %d lap(s), %d off-track, cross-track RMS %.1f cm, max %.1f cm (%s)" % (
            track, r["laps_completed"], r["offtrack_events"], 100 * r["cte_rms_m"], 100 * r["cte_max_m"], r["end_reason"]))
    if report.get("eval"):
        e = report["eval"]
        if e.get("count"):
            lines.append("on %s: %d frames, r(x) %s, mean |error x| %s, sign of x agrees on %s" % (
                ", ".join(e["datasets"]), e["count"], e["r_x"], e["mae_x"], e["sign_agreement_x"]))
        if e.get("blocked"):
            b = e["blocked"]
            lines.append("on %s: blocked AUROC %s, accuracy %s, precision %s, recall %s at p >= %.2f (%d frames)" % (
                ", ".join(e["datasets"]), b["auroc"], b["accuracy"], b["precision"], b["recall"], b["threshold"], b["n"]))
    t = report["timings_s"]
    lines.append("time: collect %.0f s, train %.0f s, drive %.0f s, total %.0f s" % (
        t["collect_s"], t["train_s"], t["drive_s"], t["total_s"]))
    lines.append("next: jetracer train YOUR_FRAMES --init %s --out my_model.pth" % report["model"])
    return "\n".join(lines)
