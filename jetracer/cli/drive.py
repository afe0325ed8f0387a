"""``jetracer drive``: the road-following service (real car, emulated chips, or the simulator)."""
import argparse
import json
import os
import sys
from typing import Any

from .errors import UsageError
from .options import DRIVE_MODES, SEED, add_config_option, add_json_option, from_schema, load_config_from, number


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("drive", help="drive the car (or the simulator) with a model and/or a gamepad",
                              description="Drive: camera -> model -> steering, with failsafes and a supervisor process. "
                                          "Starts DISARMED: the throttle stays at neutral until a person arms it "
                                          "(gamepad START, or `jetracer arm`). Autostart entry point (systemd). With "
                                          "JETRACER_I2C=emulated the car's outputs go to emulated chips.")
    add_config_option(p)
    p.add_argument("--sim", action="store_true", help="drive the simulator instead of the camera (lockstep)")
    p.add_argument("--fast", action="store_true", help="with --sim: do not pace to real time")
    p.add_argument("--model", help="pilot file (checkpoint, .onnx, *_trt.pth), or \"expert\" with --sim (the simulator's label); default drive.model")
    p.add_argument("--mode", choices=DRIVE_MODES, metavar="MODE", help="%(choices)s (default drive.mode, auto)")
    p.add_argument("--arm", action="store_true", help="start armed: you are at this terminal and the car may drive "
                                                      "at once (refused under systemd). Ctrl-C ends the drive; Ctrl-Z "
                                                      "stops the car too, and after fg it waits at neutral for "
                                                      "`jetracer arm` or START")
    p.add_argument("--duration", type=number(0, 1e6, open_lo=True), metavar="S",
                   help="stop after this many seconds (simulated with --sim; default: until stopped)")
    p.add_argument("--seed", type=SEED, default=None, help="with --sim: world seed (default: sim.seed, 0)")
    p.add_argument("--obstacles", type=from_schema("sim", "obstacles"), metavar="N",
                   help="with --sim: place N obstacles on the track (seeded; default sim.obstacles, 0); one the car "
                        "has waited before for 2 s is lifted away")
    p.add_argument("--stop-model", metavar="PATH",
                   help="an upstream JetBot collision model (best_model.pth) to stop for obstacles with, for a model "
                        "without an obstacle output (default drive.obstacle.stop_model)")
    p.add_argument("--no-obstacle-stop", action="store_true",
                   help="do not stop for obstacles (drive.obstacle.enabled: false)")
    p.add_argument("--state-file", help="where to publish the state for the OLED (default $JETRACER_STATE, else "
                                        "the runtime directory)")
    p.add_argument("--neutral", action="store_true", help="only put throttle at neutral and steering centred, then exit "
                                                          "(the service's ExecStartPre and ExecStopPost)")
    add_json_option(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..driving.session import drive, put_at_neutral, share_emulated_bus

    if args.obstacles is not None and not args.sim:
        raise UsageError("--obstacles places obstacles in the simulator: add --sim (on the car, put real ones on the "
                         "track)")
    if args.arm and os.environ.get("INVOCATION_ID"):
        raise UsageError("--arm is refused under systemd: the service must never drive by itself. Arm it with "
                         "`jetracer arm` or the gamepad's START button")
    config = load_config_from(args)
    share_emulated_bus(config)  # the supervisor's neutral must reach this process's emulated chips
    if args.neutral:
        report = put_at_neutral(config, state_file=args.state_file)
    else:
        config = config.with_overrides(source="--model/--mode", drive={"model": args.model, "mode": args.mode})
        config = _with_obstacle_options(config, args)
        report = drive(config, sim=args.sim, duration_s=args.duration, fast=args.fast, state_file=args.state_file,
                       seed=args.seed, arm=args.arm)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for key, value in sorted(report.items()):
            print("%s: %s" % (key, value))
    if report.get("supervisor_lost"):
        print("jetracer drive: stopped, the supervisor was lost (%s)" % report["supervisor_lost"], file=sys.stderr)
        return 3
    return 0


def _with_obstacle_options(config: Any, args: argparse.Namespace) -> Any:
    """The configuration with --obstacles, --stop-model and --no-obstacle-stop in it (checked as the file is)."""
    obstacle = config.drive.obstacle
    if args.stop_model is not None:
        obstacle = obstacle._replace(stop_model=args.stop_model)
    if args.no_obstacle_stop:
        obstacle = obstacle._replace(enabled=False)
    sim = {"obstacles": args.obstacles} if args.obstacles is not None else None
    return config.with_overrides(source="--obstacles/--stop-model/--no-obstacle-stop", sim=sim,
                                 drive={"obstacle": obstacle} if obstacle != config.drive.obstacle else None)
