"""``jetracer sim collect|drive|bench|track``: the simulator from the command line.

* ``collect``: the perturbed expert drives and writes a labelled dataset in upstream's layout;
* ``drive``: closed-loop laps with a model (``--model``) or the expert, metrics as JSON, PNG and video;
* ``bench``: rendered frames/s and full simulation steps/s on one core;
* ``track``: write the top-down picture of a track.
"""
import argparse
import json
import os
import sys
from typing import Any


def _add_world_args(p: argparse.ArgumentParser, seeds: bool = False) -> None:
    p.add_argument("--profile", default="latrax", help="car profile name or YAML path (default latrax)")
    p.add_argument("--track", default=None, help="built-in track name(s), comma separated: oval, twisty, narrow")
    if seeds:
        p.add_argument("--track-seeds", default=None, help="procedural track seeds, e.g. 0-49 or 1,5,7")
    else:
        p.add_argument("--track-seed", type=int, default=None, help="a procedural track from this seed")
    p.add_argument("--seed", type=int, default=0, help="random seed of the episodes (default 0)")
    p.add_argument("--fps", type=float, default=30.0, help="simulated frames per second (default 30)")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("sim", help="simulator: collect data, evaluate models, benchmark",
                                   description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="sim_verb", metavar="COMMAND")

    c = verbs.add_parser("collect", help="drive the perturbed expert and write a labelled dataset")
    _add_world_args(c, seeds=True)
    c.add_argument("--frames", type=int, required=True, help="number of images to write (split over the tracks)")
    c.add_argument("--out", required=True, help="dataset folder; images go to OUT/CATEGORY/<u>_<v>_<uuid>.jpg")
    c.add_argument("--category", default="apex", help="category sub-folder (default apex)")
    c.add_argument("--size", type=int, nargs=2, default=(224, 224), metavar=("W", "H"), help="image size (default 224 224)")
    c.add_argument("--no-randomize", action="store_true", help="no appearance/geometry/photometric randomisation")
    c.set_defaults(func=run_collect)

    d = verbs.add_parser("drive", help="closed-loop laps with a model or the expert; prints JSON metrics")
    who = d.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", help="model file for jetracer.learning.pilot.load_pilot")
    who.add_argument("--expert", action="store_true", help="drive the expert (the reference)")
    _add_world_args(d)
    d.add_argument("--laps", type=int, default=3, help="laps to drive (default 3)")
    d.add_argument("--max-seconds", type=float, default=300.0, help="simulated time limit (default 300)")
    d.add_argument("--out", default=None, help="folder for trajectory.png, camera.avi and result.json")
    d.add_argument("--no-video", action="store_true", help="do not write camera.avi")
    d.add_argument("--json", action="store_true", help="print only the JSON object")
    d.add_argument("--gain", type=float, default=None,
                   help="steering = gain * x + bias (model only; default: the pure-pursuit gain of this car and camera)")
    d.add_argument("--bias", type=float, default=0.0, help="steering bias (model only)")
    d.add_argument("--throttle", type=float, default=0.2, help="throttle command (model only, default 0.2)")
    d.add_argument("--no-randomize", action="store_true", help="clean frames and the nominal camera")
    d.set_defaults(func=run_drive)

    b = verbs.add_parser("bench", help="render_fps and step_fps on one core")
    b.add_argument("--profile", default="latrax")
    b.add_argument("--track", default="twisty")
    b.add_argument("--steps", type=int, default=1000, help="steps per run (default 1000)")
    b.add_argument("--runs", type=int, default=5, help="runs; the median is reported (default 5)")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(func=run_bench)

    t = verbs.add_parser("track", help="write the top-down picture of a track")
    t.add_argument("--track", default=None)
    t.add_argument("--track-seed", type=int, default=None)
    t.add_argument("--profile", default="latrax")
    t.add_argument("--out", required=True, help="PNG file to write")
    t.set_defaults(func=run_track)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _track_spec(args: argparse.Namespace) -> Any:
    if getattr(args, "track_seed", None) is not None:
        return int(args.track_seed)
    return args.track or "oval"


def run_collect(args: argparse.Namespace) -> int:
    from ..sim.collect import collect, parse_track_list

    tracks = parse_track_list(args.track, args.track_seeds)
    result = collect(args.out, args.frames, tracks=tracks, profile=args.profile, seed=args.seed,
                     category=args.category, fps=args.fps, width=args.size[0], height=args.size[1],
                     randomize=not args.no_randomize, progress=sys.stderr.isatty())
    print(json.dumps({"frames": result["frames"], "sessions": len(result["sessions"]), "dir": result["dir"]}))
    return 0


def run_drive(args: argparse.Namespace) -> int:
    from ..sim.evaluate import ExpertPolicy, evaluate, model_policy
    from ..sim.world import SimWorld

    world = SimWorld(args.profile, track=_track_spec(args), seed=args.seed, fps=args.fps,
                     randomize=not args.no_randomize)
    try:
        try:
            policy = ExpertPolicy(world) if args.expert else model_policy(args.model, args.gain, args.bias,
                                                                          args.throttle, world=world)
        except (ValueError, ImportError, FileNotFoundError) as e:  # a model file that cannot be used: say why
            print("jetracer sim drive: %s" % e, file=sys.stderr)
            return 2
        result = evaluate(world, policy, laps=args.laps, max_seconds=args.max_seconds, out_dir=args.out,
                          video=not args.no_video)
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


def run_bench(args: argparse.Namespace) -> int:
    from ..sim.bench import bench

    result = bench(args.profile, args.track, steps=args.steps, runs=args.runs)
    print(json.dumps(result) if args.json else "\n".join("%-14s %s" % kv for kv in result.items()))
    return 0


def run_track(args: argparse.Namespace) -> int:
    import cv2

    from ..sim.world import SimWorld

    world = SimWorld(args.profile, track=_track_spec(args), randomize=False)
    cv2.imwrite(args.out, world.top_down())
    t = world.track
    print(json.dumps({"track": t.name, "length_m": round(t.length_m, 2), "width_m": t.width_m,
                      "min_radius_m": round(t.min_radius_m(), 3), "size_m": [round(v, 2) for v in t.size_m()]}))
    world.close()
    return 0
