"""``jetracer sim collect|drive|bench|track``: the simulator from the command line.

* ``collect``: the perturbed expert drives and writes a labelled dataset in upstream's layout;
* ``drive``: closed-loop laps with a model (``--model``) or the expert, metrics as JSON, PNG and video;
* ``bench``: rendered frames/s and full simulation steps/s on one core (the same as ``jetracer bench sim``);
* ``track``: write the top-down picture of a track.

The world is built from the configuration as ``jetracer drive --sim`` builds it
(:func:`jetracer.config.sim_world_args`: the configured profile, ``sim:`` and ``camera:``); the
options here replace single values.
"""
import argparse
import json
import os
import sys
from typing import Any, Dict, List

from .bench import add_sim_options
from .errors import CommandFailed, UsageError
from .options import (FPS, IMAGE_SIDE, SEED, add_config_option, add_json_option, add_profile_option, check_tracks,
                      config_with_profile, from_schema, integer, number, output_file, output_folder, track_seeds, Vocabulary)

SUB_VERBS = ("collect", "drive", "bench", "track")

MAX_FRAMES = 1000000


def _category(text: str) -> str:
    if not text or text in (".", "..") or "/" in text or "\\" in text or "\x00" in text:
        raise argparse.ArgumentTypeError("expected a plain folder name, got %r" % text)
    return text


def _add_world_args(p: argparse.ArgumentParser, seeds: bool = False) -> None:
    add_config_option(p)
    add_profile_option(p)
    p.add_argument("--track", default=None, help=("built-in track name(s), comma separated" if seeds else "built-in "
                                                  "track name") + ": oval, twisty, narrow (default: sim.track, oval)")
    if seeds:
        p.add_argument("--track-seeds", type=track_seeds, default=None, help="procedural track seeds, e.g. 0-49 or 1,5,7")
    else:
        p.add_argument("--track-seed", type=SEED, default=None, help="a procedural track from this seed")
    p.add_argument("--seed", type=SEED, default=None, help="random seed of the episodes (default: sim.seed, 0)")
    p.add_argument("--fps", type=FPS, default=None,
                   help="simulated frames per second, 1-240 (default: sim.fps, else the profile's capture_fps)")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("sim", help="simulator: collect data, evaluate models, benchmark",
                                   description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="sim_verb", metavar="COMMAND")

    c = verbs.add_parser("collect", help="drive the perturbed expert and write a labelled dataset")
    _add_world_args(c, seeds=True)
    c.add_argument("--frames", type=integer(1, MAX_FRAMES), required=True,
                   help="number of images to write, at most %d (split over the tracks)" % MAX_FRAMES)
    c.add_argument("--out", required=True, type=output_folder("the dataset"),
                   help="dataset folder; images go to OUT/CATEGORY/<u>_<v>_<uuid>.jpg")
    c.add_argument("--category", type=_category, default="apex", help="category sub-folder (default apex)")
    c.add_argument("--size", type=IMAGE_SIDE, nargs=2, default=None, metavar=("W", "H"),
                   help="image size, 16-1024 a side (default: camera.width/height, else the profile's)")
    c.add_argument("--no-randomize", action="store_true", help="no appearance/geometry/photometric randomisation")
    c.add_argument("--obstacles", type=integer(0, 64), default=0, metavar="N",
                   help="obstacles per episode; each frame's index line then also says blocked (in the car's path "
                        "within its stopping distance at --label-speed) and distance_m (default 0: none)")
    c.add_argument("--layout", choices=Vocabulary(_layouts), metavar="LAYOUT", default="road",
                   help="road: OUT/CATEGORY/<u>_<v>_<uuid>.jpg (default); jetbot: upstream JetBot's collision layout, "
                        "OUT/blocked/<uuid>.jpg and OUT/free/<uuid>.jpg (needs --obstacles)")
    c.add_argument("--label-speed", type=number(0.0, 10.0), default=None, metavar="MPS",
                   help="the speed (m/s) the blocked label assumes (a camera cannot see speed); default the speed "
                        "drive.throttle gives this car (0.64 m/s for the latrax at 0.2)")
    c.set_defaults(func=run_collect)

    d = verbs.add_parser("drive", help="closed-loop laps with a model or the expert; prints JSON metrics")
    who = d.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", help="model file for jetracer.pilot.load_pilot")
    who.add_argument("--expert", action="store_true", help="drive the expert (the reference)")
    _add_world_args(d)
    d.add_argument("--laps", type=integer(1, 1000), default=3, help="laps to drive (default 3)")
    d.add_argument("--max-seconds", type=number(0.0, 3600.0, open_lo=True), default=300.0,
                   help="simulated time limit, at most 3600 (default 300)")
    d.add_argument("--out", default=None, type=output_folder("trajectory.png, camera.avi and result.json"),
                   help="folder for trajectory.png, camera.avi and result.json")
    d.add_argument("--no-video", action="store_true", help="do not write camera.avi")
    add_json_option(d, "only the result")
    d.add_argument("--gain", type=from_schema("drive", "steering_gain"), default=None,
                   help="steering = gain * x + bias (model only; default: the pure-pursuit gain of this car and camera)")
    d.add_argument("--bias", type=from_schema("drive", "steering_bias"), default=0.0, help="steering bias (model only)")
    d.add_argument("--throttle", type=from_schema("drive", "throttle"), default=0.2,
                   help="throttle command (model only, default 0.2)")
    d.add_argument("--no-randomize", action="store_true", help="clean frames and the nominal camera")
    d.add_argument("--obstacles", type=from_schema("sim", "obstacles"), default=None, metavar="N",
                   help="place N obstacles on the track (seeded; default sim.obstacles, 0); the car stops for them "
                        "as `jetracer drive` does (drive.obstacle) and one it waited 2 s before is lifted away")
    d.add_argument("--stop-model", metavar="PATH",
                   help="an upstream JetBot collision model to stop with, for a model without an obstacle output")
    d.add_argument("--no-obstacle-stop", action="store_true",
                   help="drive into the obstacles (count the collisions without the obstacle stop)")
    d.set_defaults(func=run_drive)

    add_sim_options(verbs.add_parser("bench", help="render_fps and step_fps on one core (as `jetracer bench sim`)"))

    t = verbs.add_parser("track", help="write the top-down picture of a track")
    add_config_option(t)
    t.add_argument("--track", default=None)
    t.add_argument("--track-seed", type=SEED, default=None)
    add_profile_option(t)
    t.add_argument("--out", required=True, type=output_file((".png", ".jpg", ".jpeg"), what="PNG file"),
                   help="PNG file to write (or .jpg)")
    t.set_defaults(func=run_track)
    parser.set_defaults(func=run_bare)


def _layouts() -> List[str]:
    from ..apps.collect import LAYOUTS
    return list(LAYOUTS)


def run_bare(args: argparse.Namespace) -> int:
    raise UsageError("name a command: jetracer sim %s" % "|".join(SUB_VERBS))


def _world_args(args: argparse.Namespace, config: Any, **extra: Any) -> Dict[str, Any]:
    from ..config import sim_world_args

    track = args.track_seed if getattr(args, "track_seed", None) is not None else args.track
    options = dict(track=track, seed=getattr(args, "seed", None), fps=getattr(args, "fps", None),
                   randomize=False if getattr(args, "no_randomize", False) else None)
    options.update(extra)
    return sim_world_args(config, **options)


def run_collect(args: argparse.Namespace) -> int:
    from ..apps.collect import collect

    config = config_with_profile(args)
    width, height = args.size if args.size else (None, None)
    world = _world_args(args, config, width=width, height=height)
    names = [n.strip() for n in (args.track or "").split(",") if n.strip()]
    tracks = names + list(args.track_seeds or [])  # type: List[Any]
    if not tracks:
        tracks = [world["track"]]
    check_tracks(tracks)
    if args.layout == "jetbot" and not args.obstacles:
        raise UsageError("--layout jetbot sorts frames into blocked/ and free/: give --obstacles N (e.g. 8)")
    result = collect(args.out, args.frames, tracks=tracks, profile=world["profile"], seed=world["seed"],
                     category=args.category, fps=world["fps"], width=world["width"], height=world["height"],
                     randomize=world["randomize"], progress=sys.stderr.isatty(), obstacles=args.obstacles,
                     layout=args.layout, label_speed_mps=args.label_speed)
    summary = {"frames": result["frames"], "written": result.get("written", result["frames"]),
               "kept": result.get("kept", 0), "sessions": len(result["sessions"]), "dir": result["dir"]}
    summary.update({k: result[k] for k in ("blocked", "free", "label_speed_mps") if k in result})
    print(json.dumps(summary))
    return 0


def run_drive(args: argparse.Namespace) -> int:
    from ..apps.closed_loop import ExpertPolicy, evaluate, model_policy, policy_obstacle_stop
    from ..pilot.limits import check_pilot_metadata
    from ..sim.world import SimWorld

    config = config_with_profile(args)
    world = SimWorld(**_world_args(args, config, obstacles=args.obstacles))
    try:
        if args.expert:
            policy = ExpertPolicy(world)
        else:
            policy = model_policy(args.model, args.gain, args.bias, args.throttle, world=world)
            check_pilot_metadata(policy.pilot)
        settings = config.drive.obstacle
        if args.stop_model is not None:
            settings = settings._replace(stop_model=args.stop_model)
        stop = None
        if len(world.obstacles.items) and not args.no_obstacle_stop:
            stop = policy_obstacle_stop(settings, policy, world, model_name=args.model or "the expert")
        result = evaluate(world, policy, laps=args.laps, max_seconds=args.max_seconds, out_dir=args.out,
                          video=not args.no_video, obstacle_stop=stop)
    finally:
        world.close()
    result["policy"] = "expert" if args.expert else os.path.abspath(args.model)
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=1))
        if args.out:
            print("wrote %s" % ", ".join(sorted(os.listdir(args.out))))
    return 0 if result["laps_completed"] >= args.laps else 1


def run_track(args: argparse.Namespace) -> int:
    import cv2

    from ..sim.world import SimWorld

    world = SimWorld(**_world_args(args, config_with_profile(args), randomize=False))
    try:
        if not cv2.imwrite(args.out, world.top_down()):
            raise CommandFailed("OpenCV could not write %s" % args.out)
        t = world.track
        print(json.dumps({"track": t.name, "length_m": round(t.length_m, 2), "width_m": t.width_m,
                          "min_radius_m": round(t.min_radius_m(), 3), "size_m": [round(v, 2) for v in t.size_m()]}))
    finally:
        world.close()
    return 0
