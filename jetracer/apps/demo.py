"""``jetracer demo``: the whole workflow in the simulator, on an embedded default, in one call.

1. collect auto-labelled frames with the perturbed expert over procedural tracks (never the
   evaluation track), 2. train the road-following model with a session-wise split, and keep the epoch
   that drives best one lap of three procedural tracks it never saw (:mod:`jetracer.apps.epoch_choice`:
   the validation loss does not say which epoch laps), 3. optimize it
   for the best backend this machine has (parity-checked against fp32; a refused candidate falls back
   to the next one), 4. drive laps of a built-in track with the optimized model through the same
   pilot and steering-law code the car uses, on the clean look (the profile's camera, plain floor; the
   pass/fail metrics), then once in a randomised world (reported apart), and report the closed-loop metrics;
5. put a box on the road ahead and drive at it with the drive's obstacle stop (``drive.obstacle``): the car
   stops before it, holds, and goes on once the simulated person has lifted it (:mod:`jetracer.sim.lifter`).
   The reading is the model's own obstacle output (step 1 also writes blocked/free frames from episodes
   with obstacles, on tracks of their own, so training gives the model that output); a model without one stops on
   the simulator's label instead, and the report says which, and what happened (stopped, its margin,
   collisions, went on).

On a CPU the model input is smaller (64x64 from the 224x224 camera) and the dataset shorter so the
demo ends in minutes (6-11 min measured on two 2-core machines); the report says so. With a GPU it trains at 224x224 on more data.
"""
import json
import os
import shutil
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

PRESETS = {
    # frames, procedural track seeds, epochs, model input, batch size. The cpu preset is the smallest
    # measured to drive 3 laps of oval, twisty and narrow without leaving them (random init, cte_rms
    # about 1.5 cm; see tests/test_end_to_end.py): 64x64 trains about 3x faster than 112x112 on a CPU,
    # and more frames and epochs matter more than input size for a randomly initialised resnet18.
    # obstacle_frames: blocked/free frames (JetBot's layout) from episodes with `obstacles` obstacles each, on
    # tracks of their own, trained beside the road frames by share of frames: the road frames stay the ones
    # measured to lap (obstacles in every road episode cost the road: 0 laps of twisty, measured).
    "cpu": {"frames": 4000, "seeds": 40, "epochs": 8, "input_size": 64, "batch_size": 32, "obstacle_frames": 1000,
            "obstacles": 6},
    "cuda": {"frames": 12000, "seeds": 60, "epochs": 12, "input_size": 224, "batch_size": 128,
             "obstacle_frames": 3000, "obstacles": 6},
    "quick": {"frames": 600, "seeds": 12, "epochs": 3, "input_size": 64, "batch_size": 32, "obstacle_frames": 150,
              "obstacles": 6},
}
OBSTACLE_AHEAD_M = 2.5    # the demo's box stands this far along the track ahead of the car's start
OBSTACLE_EPISODE_S = 14.0  # simulated seconds: reach it (about 3 s), wait for the lift (2 s), go on


def pick_preset(device: str, quick: bool) -> str:
    """``quick`` for smoke runs, else ``cuda`` when training runs on a GPU, else ``cpu``."""
    if quick:
        return "quick"
    return "cuda" if device.startswith("cuda") else "cpu"


def run_demo(out_dir: str = "runs/demo", track: str = "twisty", laps: int = 3, device: str = "auto",
             quick: bool = False, seed: int = 0, say: Callable[[str], Any] = print,
             overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Run collect -> train -> optimize -> drive in ``out_dir`` and return the report (also written
    as ``report.json``). ``overrides`` replaces preset values (frames, seeds, epochs, input_size, batch_size)."""
    from ..learning.train import pick_device

    torch_device = str(pick_device(device))
    preset_name = pick_preset(torch_device, quick)
    preset = dict(PRESETS[preset_name], **(overrides or {}))
    os.makedirs(out_dir, exist_ok=True)
    timings = {}  # type: Dict[str, float]
    notes = []  # type: List[str]
    if preset["input_size"] < 224:
        notes.append("%s preset: the model sees %dx%d frames (downscaled from the 224x224 camera) and %d training "
                     "frames, so the demo ends in minutes; a GPU trains at 224x224 on more data"
                     % (preset_name, preset["input_size"], preset["input_size"], preset["frames"]))

    say("[1/5] collecting %d auto-labelled frames over %d procedural tracks -> %s"
        % (preset["frames"], preset["seeds"], os.path.join(out_dir, "dataset")))
    start = time.time()
    data_dir, obstacle_dir, collected = _collect(out_dir, preset, seed, say)
    timings["collect_s"] = round(time.time() - start, 1)

    ckpt = os.path.join(out_dir, "model.pth")
    say("[2/5] training resnet18 at %dx%d on %s for up to %d epochs -> %s"
        % (preset["input_size"], preset["input_size"], torch_device, preset["epochs"], ckpt))
    start = time.time()
    trained, chosen = _train([data_dir, obstacle_dir], ckpt, preset, torch_device, seed, say)
    timings["train_s"] = round(time.time() - start, 1)

    say("[3/5] optimizing for the best backend on this machine")
    start = time.time()
    optimized = _optimize(ckpt, data_dir, torch_device, notes, say)
    timings["optimize_s"] = round(time.time() - start, 1)
    model_path = optimized.path if optimized is not None else ckpt
    if optimized is not None:
        say("      %s %s, parity max |dx| %.4f" % (optimized.backend, optimized.precision,
                                                  optimized.parity.get("max_abs_dx", float("nan"))))

    say("[4/5] driving %d laps of the built-in track %r with %s (clean look; then once in a randomised world)"
        % (laps, track, os.path.basename(model_path)))
    start = time.time()
    metrics, randomised = _drive(model_path, track, seed, laps, out_dir)
    notes.append("driven on the clean look (randomize=False); in a randomised world (seed %d: its own camera, floor, "
                 "room and sensor look) the same model did %d lap%s with %d off-track event%s"
                 % (seed, randomised["laps_completed"], "" if randomised["laps_completed"] == 1 else "s",
                    randomised["offtrack_events"], "" if randomised["offtrack_events"] == 1 else "s"))
    timings["drive_s"] = round(time.time() - start, 1)

    say("[5/5] a box on the road %.1f m ahead: stopping for it, going on once it is lifted" % OBSTACLE_AHEAD_M)
    start = time.time()
    obstacle = obstacle_episode(model_path, track, seed, os.path.join(out_dir, "obstacle"))
    say("      " + obstacle["summary"])
    notes.append("obstacle: " + obstacle["summary"])
    timings["obstacle_s"] = round(time.time() - start, 1)

    report = {
        "metrics": metrics,
        "metrics_randomised": randomised,
        "obstacle": obstacle,
        "model": os.path.abspath(model_path),
        "checkpoint": os.path.abspath(ckpt),
        "backend": "%s-%s" % (optimized.backend, optimized.precision) if optimized else "torch-fp32 (checkpoint)",
        "parity": optimized.parity if optimized else None,
        "trajectory_png": os.path.abspath(os.path.join(out_dir, "drive", "trajectory.png")),
        "video": os.path.abspath(os.path.join(out_dir, "drive", "camera.avi")),
        "dataset": {"dir": os.path.abspath(data_dir), "frames": collected["frames"], "sessions": len(collected["sessions"])},
        "preset": dict(preset, name=preset_name, device=torch_device),
        "timings_s": timings,
        "notes": notes,
    }
    report.update(_training_figures(trained), epoch_choice=chosen.as_dict())
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    return report


def _train(dirs: List[str], ckpt: str, preset: Dict[str, Any], device: str, seed: int,
           say: Callable[[str], Any]) -> Tuple[Any, Any]:
    """Train, then keep at ``ckpt`` the epoch that drives best on procedural tracks it never saw
    (:mod:`jetracer.apps.epoch_choice`: the validation loss does not say which epoch laps)."""
    from ..learning.train import train
    from .epoch_choice import choose_epoch, validation_tracks
    epochs_dir = os.path.join(os.path.dirname(ckpt), "epochs")
    shutil.rmtree(epochs_dir, ignore_errors=True)  # an earlier run's epochs are not candidates
    # obstacle_weight 1, not pretrain's 0.1: at 0.1 this 64x64 model read the road better but hit the box (seeds 0, 1)
    trained = train(dirs, ckpt, dataset_weights="size", arch="resnet18", epochs=preset["epochs"],
                    input_size=preset["input_size"], batch_size=preset["batch_size"], device=device, seed=seed,
                    progress=False, epoch_dir=epochs_dir, obstacle_weight=1.0,
                    callback=lambda record: say("      epoch %s: %s" % (record.get("epoch"), _short(record))))
    tracks = validation_tracks(seed)
    say("      driving each epoch one lap of procedural tracks %s (clean look) to choose one"
        % ", ".join(str(t) for t in tracks))
    paths = sorted(os.path.join(epochs_dir, n) for n in os.listdir(epochs_dir) if n.endswith(".pth"))
    chosen = choose_epoch(paths, tracks, say=say)
    os.replace(chosen.path, ckpt)
    shutil.rmtree(epochs_dir)
    chosen.path = ckpt
    return trained, chosen


def _training_figures(trained: Any) -> Dict[str, Any]:
    """The report's lines on training: the loss plot, the test metrics, the speed."""
    return {"loss_plot": os.path.abspath(trained.loss_plot) if trained.loss_plot else None,
            "test_metrics": trained.metrics.get("test"), "test_metrics_epoch": trained.best_epoch,
            "train_images_per_s": round(trained.images_per_s, 1)}


def _collect(out_dir: str, preset: Dict[str, Any], seed: int, say: Callable[[str], Any]) -> Tuple[str, str, Dict[str, Any]]:
    """Road frames over the preset's procedural tracks, and blocked/free frames (JetBot's layout) on tracks of
    their own; returns the two folders and the road collection's summary."""
    from .collect import collect

    data_dir = os.path.join(out_dir, "dataset")
    seeds = list(range(1000 + seed, 1000 + seed + preset["seeds"]))
    collected = collect(data_dir, preset["frames"], tracks=seeds, seed=seed)
    obstacle_dir = os.path.join(out_dir, "obstacle_frames")
    obstacle_seeds = list(range(seeds[-1] + 1, seeds[-1] + 1 + max(1, preset["seeds"] // 4)))
    say("      and %d blocked/free frames with %d obstacles an episode over %d other tracks -> %s"
        % (preset["obstacle_frames"], preset["obstacles"], len(obstacle_seeds), obstacle_dir))
    collect(obstacle_dir, preset["obstacle_frames"], tracks=obstacle_seeds, seed=seed, obstacles=preset["obstacles"],
            layout="jetbot")
    return data_dir, obstacle_dir, collected


def _optimize(ckpt: str, data_dir: str, device: str, notes: List[str], say: Callable[[str], Any]) -> Any:
    """The first backend of this machine whose candidate passes the parity check (None: keep the checkpoint);
    each refusal is a note."""
    from ..learning.optimize import available_backends, optimize
    from ..learning.parity import ParityError, format_parity

    for backend, precision in available_backends(device):
        try:
            return optimize(ckpt, backend, precision, calib_dataset=[data_dir], device=device)
        except ParityError as e:
            notes.append("%s %s refused by the parity check (%s against the fp32 checkpoint; tolerance %.4g); trying "
                         "the next backend" % (backend, precision, format_parity(e.parity), e.tolerance))
            say("      " + notes[-1])
    return None


def _drive(model_path: str, track: str, seed: int, laps: int, out_dir: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Laps on the clean look (the pass/fail metrics: the profile's camera, plain floor; a small CPU model does
    not learn every random world, docs/simulator.md), then in a randomised world, reported apart."""
    from ..sim.world import SimWorld
    from .closed_loop import evaluate, model_policy

    world = SimWorld("latrax", track=track, seed=seed, randomize=False)
    try:
        metrics = evaluate(world, model_policy(model_path, world=world), laps=laps, out_dir=os.path.join(out_dir, "drive"))
    finally:
        world.close()
    world = SimWorld("latrax", track=track, seed=seed, randomize=True)
    try:
        randomised = evaluate(world, model_policy(model_path, world=world), laps=laps,
                              out_dir=os.path.join(out_dir, "drive_randomised"), video=False)
    finally:
        world.close()
    return metrics, randomised


class _Reading(object):
    """A policy whose blocked reading is its own or (``label``) the simulator's label; ``max_p`` the highest seen."""

    def __init__(self, policy: Any, label: bool) -> None:
        self.policy = policy
        self.label = label
        self.needs_frame = policy.needs_frame
        self.blocked_p = None  # type: Optional[float]
        self.cruise_mps = 0.0
        self.max_p = 0.0

    def act(self, world: Any, frame: Any) -> Any:
        from .closed_loop import cruise_label

        out = self.policy.act(world, frame)
        self.cruise_mps = self.policy.cruise_mps
        if self.label:
            self.blocked_p = 1.0 if cruise_label(world, self.cruise_mps).blocked else 0.0
        else:
            self.blocked_p = self.policy.blocked_p
        if self.blocked_p is not None:
            self.max_p = max(self.max_p, float(self.blocked_p))
        return out


def obstacle_episode(model_path: str, track: str, seed: int, out_dir: str) -> Dict[str, Any]:
    """Drive ``model_path`` at a box :data:`OBSTACLE_AHEAD_M` ahead on the clean look with the drive's obstacle
    stop for :data:`OBSTACLE_EPISODE_S`; what happened (``summary`` says it in a line), with a video in ``out_dir``."""
    from ..config_schema import default_settings
    from ..driving.obstacle_stop import ObstacleStop, brake_for
    from ..sim.obstacles import make_obstacle
    from ..sim.world import SimWorld
    from .closed_loop import evaluate, model_policy

    world = SimWorld("latrax", track=track, seed=seed, randomize=False)
    try:
        t = world.track
        s0, _, _ = t.nearest(world.pose[0], world.pose[1])
        x, y, yaw = t.pose_at(s0 + OBSTACLE_AHEAD_M)
        world.set_obstacles([make_obstacle("box", x, y, yaw, size_m=(0.2, 0.25, 0.2), texture="cardboard")])
        policy = model_policy(model_path, world=world)
        own = bool(getattr(policy.pilot, "has_obstacle_output", False))
        reading = "the model's obstacle output" if own else "the simulator's label (the model has no obstacle output)"
        stop = ObstacleStop(default_settings("drive").obstacle, brake=brake_for(world.profile, world.car))
        reader = _Reading(policy, label=not own)
        result = evaluate(world, reader, laps=1, max_seconds=OBSTACLE_EPISODE_S, out_dir=out_dir, obstacle_stop=stop)
        went_on = bool(result["lifted"]) and world.dynamics.speed_mps > 0.1
    finally:
        world.close()
    first = stop.events[0] if stop.events else {}
    # where the car stood: the closed loop's margin of a stop within the stopping distance, else (a stop
    # earlier than the rule needs, which the rule counts as a false stop) the distance when the box was lifted
    margin = result["stop_margins_m"][0] if result["stop_margins_m"] else (
        result["lifted"][0]["distance_m"] if first and result["lifted"] else None)
    if result["collisions"]:
        summary = "the car hit the box (%d collision%s) reading %s: %s" % (
            result["collisions"], "" if result["collisions"] == 1 else "s", reading,
            "its blocked probability never reached the threshold %.2f (highest %.2f)" % (stop.settings.threshold,
                                                                                          reader.max_p)
            if reader.max_p < stop.settings.threshold else "it stopped too late (highest blocked probability %.2f)"
            % reader.max_p)
    elif not first or margin is None:
        summary = "the car did not stop for the box within %.0f s, reading %s (highest blocked probability %.2f)" % (
            OBSTACLE_EPISODE_S, reading, reader.max_p)
    else:
        summary = "stopped %.2f m before the box (p=%.2f from %s), %s" % (
            margin, first.get("p", 1.0), reading, "went on once it was lifted" if went_on else
            "did not go on after it was lifted")
    return {"reading": "model" if own else "label", "summary": summary, "stopped": margin is not None,
            "stop_margin_m": margin, "collisions": result["collisions"], "false_stops": result["false_stops"],
            "lifted": result["lifted"], "went_on": went_on, "events": stop.events, "max_blocked_p": round(reader.max_p, 3),
            "video": os.path.abspath(os.path.join(out_dir, "camera.avi"))}


def _short(record: Dict[str, Any]) -> str:
    val = record.get("val") or {}
    parts = [("train loss", record.get("train_loss")), ("val loss", val.get("loss")),
             ("val |du| px", val.get("mean_abs_du_px"))]
    return ", ".join("%s %.4g" % (k, v) for k, v in parts if isinstance(v, (int, float)))
