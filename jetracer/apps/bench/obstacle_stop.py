"""Benchmark: the obstacle stop, in the simulator's closed loop and at the wire.

**Placements** (``closed_loop``): on held-out tracks (the built-in ``twisty``, ``oval``, ``narrow`` and
procedural seeds 0-6: every training track is 1000 or above) with ``obstacles`` per track, the pilot drives
``laps`` laps at the drive's default speed (``drive.throttle`` 0.2: 0.64 m/s on the latrax) through the
drive's steering law and obstacle stop (``drive.obstacle``), and the simulated person lifts an obstacle the
car has waited 2 s before. Printed: obstacles placed, collisions, stops, false stops, every stop's margin
(front bumper to the obstacle once the car stood still), laps. Then ``clear_laps`` laps of each track with
no obstacle: every stop there is a false one (per 10 laps). Targets: 0 collisions over at least 50
placements, every margin at least 10 cm, at most 1 false stop per 10 laps of a clear track.

The pilot is ``label`` (the rule: the simulator's road label and its obstacle label at the cruising speed,
as ``jetracer drive --sim --model expert``), or a model file (``--model``: its own obstacle output, or a stop
model with ``--stop-model``).

**The wire** (``wire``): ``jetracer drive --sim --model expert --obstacles N --seed S --arm`` runs paced to
real time in a child process on a bus file; :class:`jetracer.apps.bench.safety.ThrottleScope` reads its
throttle channel every 1 ms from this process. The figure is the wall-clock time from the capture of the first
frame in which a stopping obstacle is visible (the drive's ``first_blocked_wall_s``: when the simulator
began rendering it, ``time.monotonic()``) to the first sample at brake or neutral. Target: at most one
frame period plus 20 ms (53 ms at 30 fps); the stop itself comes with the second blocked frame
(``drive.obstacle.frames`` 2). On a real car add up to one PWM period (20 ms at 50 Hz) before the ESC sees it.

    jetracer bench obstacle-stop [--model PATH] [--wire-runs 5] [--json]
"""
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

HELD_OUT_TRACKS = ("twisty", "oval", "narrow", 0, 1, 2, 3, 4, 5, 6)
WIRE_SCENES = ((2, 2), (3, 3), (5, 3))  # (world seed, obstacles) on the oval: a stop within 4 s of the start
PERIOD_S = 1.0 / 30


class LabelPolicy(object):
    """The rule as a policy: the simulator's label pilot through the drive's steering law (no frame rendered)."""

    needs_frame = False

    def __init__(self, world: Any, drive: Any) -> None:
        from ...driving.session import LabelPilot, cruise_speed_mps
        from ...driving.settings import steering_gain
        from ...steering_law import SteeringLaw
        from ..closed_loop import ModelPolicy

        self.cruise_mps = cruise_speed_mps(world, drive.throttle)
        self.inner = ModelPolicy(LabelPilot(world, self.cruise_mps),
                                 SteeringLaw.from_settings(drive, gain=steering_gain(drive, world)))
        self.pilot = self.inner.pilot
        self.blocked_p = None  # type: Optional[float]

    def act(self, world: Any, frame: Any) -> Any:
        out = self.inner.act(world, frame)
        self.blocked_p = self.inner.blocked_p
        return out


def _policy(world: Any, drive: Any, model: Optional[str], stop_model: Optional[str]) -> Any:
    if model is None:
        return LabelPolicy(world, drive)
    from ..closed_loop import model_policy

    return model_policy(model, drive.steering_gain, drive.steering_bias, drive.throttle, drive.throttle_mode,
                        world=world)


def drive_track(track: Any, obstacles: int, laps: int, model: Optional[str] = None, stop_model: Optional[str] = None,
                seed: int = 0, profile: str = "latrax", randomize: bool = True) -> Dict[str, Any]:
    """One track: ``laps`` laps with ``obstacles`` obstacles and the drive's obstacle stop; the closed-loop result."""
    from ...config_schema import default_settings
    from ...sim.world import SimWorld
    from ..closed_loop import evaluate, policy_obstacle_stop

    drive = default_settings("drive")
    settings = drive.obstacle._replace(enabled=True, stop_model=stop_model)
    world = SimWorld(profile, track=track, seed=seed, randomize=randomize, obstacles=obstacles)
    try:
        policy = _policy(world, drive, model, stop_model)
        stop = policy_obstacle_stop(settings, policy.inner if isinstance(policy, LabelPolicy) else policy, world,
                                    model_name=model or "the label")
        result = evaluate(world, policy, laps=laps, max_seconds=90.0 * laps, obstacle_stop=stop)
    finally:
        world.close()
    result["placed"] = obstacles
    result["track"] = track
    return result


def bench_closed_loop(tracks: Sequence[Any] = HELD_OUT_TRACKS, obstacles: int = 8, laps: int = 2,
                      clear_laps: int = 10, model: Optional[str] = None, stop_model: Optional[str] = None,
                      say: Any = None) -> Dict[str, Any]:
    """Collisions, stops, margins and false stops over ``tracks`` (see the module docstring)."""
    rows, clear = [], []
    for track in tracks:
        rows.append(drive_track(track, obstacles, laps, model, stop_model))
        if say:
            say("%s: %s" % (track, _row_text(rows[-1])))
    for track in tracks[:max(1, len(tracks) // 3)] if clear_laps else ():
        clear.append(drive_track(track, 0, clear_laps, model, stop_model))
        if say:
            say("%s clear: %s" % (track, _row_text(clear[-1])))
    margins = [m for r in rows for m in r.get("stop_margins_m", [])]
    clear_stops = sum(r.get("obstacle_stops", 0) for r in clear)
    clear_laps_done = sum(r["laps_completed"] for r in clear)
    return {
        "pilot": model or "label",
        "placements": sum(r["placed"] for r in rows),
        "collisions": sum(r["collisions"] for r in rows),
        "obstacle_stops": sum(r.get("obstacle_stops", 0) for r in rows),
        "met": sum(r.get("obstacle_stops", 0) - r.get("false_stops", 0) + r["collisions"] for r in rows),
        "false_stops": sum(r.get("false_stops", 0) for r in rows),
        "lifted": sum(len(r.get("lifted", [])) for r in rows),
        "laps": sum(r["laps_completed"] for r in rows),
        "stop_margins_m": margins,
        "min_stop_margin_m": min(margins) if margins else None,
        "median_stop_margin_m": round(statistics.median(margins), 4) if margins else None,
        "clear_laps": clear_laps_done,
        "clear_false_stops": clear_stops,
        "false_stops_per_10_clear_laps": round(10.0 * clear_stops / clear_laps_done, 2) if clear_laps_done else None,
        "tracks": [dict((k, r.get(k)) for k in ("track", "placed", "collisions", "obstacle_stops", "false_stops",
                                                "laps_completed", "end_reason")) for r in rows + clear],
    }


def _row_text(r: Dict[str, Any]) -> str:
    return "%d laps, %d collisions, %d stops (%d false), margins %s" % (
        r["laps_completed"], r["collisions"], r.get("obstacle_stops", 0), r.get("false_stops", 0),
        ", ".join("%.2f" % m for m in r.get("stop_margins_m", [])) or "-")


def wire_once(seed: int, obstacles: int, workdir: str, timeout_s: float = 30.0) -> Dict[str, Any]:
    """One real-time drive until its first obstacle stop, watched at the wire (see the module docstring)."""
    from ...profiles import load_profile
    from .safety import DRIVING, ThrottleScope, child_env

    env = child_env(workdir)
    proc = subprocess.Popen([sys.executable, "-m", "jetracer", "drive", "--sim", "--model", "expert", "--obstacles",
                             str(obstacles), "--seed", str(seed), "--arm", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    scope = ThrottleScope(env["JETRACER_EMULATED_BUS"], load_profile("latrax"))
    left = None
    try:
        deadline = time.monotonic() + timeout_s
        while not os.path.exists(env["JETRACER_EMULATED_BUS"]) and time.monotonic() < deadline:
            time.sleep(0.01)
        scope.start()
        driving = scope.wait_for(DRIVING, timeout_s)
        while driving is not None and left is None and time.monotonic() < deadline and proc.poll() is None:
            with scope._lock:
                later = [at for at, state in scope.transitions if at > driving and state != DRIVING]
            left = later[0] if later else None
            time.sleep(0.01)
    finally:
        scope.stop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    lines = out.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {}
    events = (report.get("obstacle") or {}).get("events") or []
    if left is None or not events:
        return {"seed": seed, "error": "no stop seen (%s)" % (err.strip().splitlines() or ["no report"])[-1]}
    event = events[0]
    return {"seed": seed, "obstacles": obstacles, "ms": round(1000.0 * (left - event["first_blocked_wall_s"]), 1),
            "frames": round((event["time_s"] - event["first_blocked_s"]) / PERIOD_S, 2),
            "decision_ms": round(1000.0 * (event["stop_wall_s"] - event["first_blocked_wall_s"]), 1)}


def bench_wire(runs: int = 5) -> Dict[str, Any]:
    """``runs`` real-time drives over :data:`WIRE_SCENES`: the time from the first blocked frame to the wire."""
    rows = []
    for i in range(runs):
        seed, obstacles = WIRE_SCENES[i % len(WIRE_SCENES)]
        with tempfile.TemporaryDirectory(prefix="jetracer-obstacle-wire-") as workdir:
            rows.append(wire_once(seed, obstacles, workdir))
    ms = [r["ms"] for r in rows if "ms" in r]
    return {"runs": rows, "median_ms": round(statistics.median(ms), 1) if ms else None,
            "max_ms": max(ms) if ms else None, "target_ms": round(1000.0 * PERIOD_S + 20.0, 1),
            "frame_period_ms": round(1000.0 * PERIOD_S, 1)}


def bench(model: Optional[str] = None, stop_model: Optional[str] = None, wire_runs: int = 5, obstacles: int = 8,
          laps: int = 2, clear_laps: int = 10, tracks: Sequence[Any] = HELD_OUT_TRACKS, say: Any = None) -> Dict[str, Any]:
    """The closed-loop figures and, with ``wire_runs``, the wire latency (see the module docstring)."""
    stop_log = logging.getLogger("jetracer.driving.obstacle_stop")
    level = stop_log.level
    stop_log.setLevel(logging.ERROR)  # a line per stop: the report lists them
    try:
        out = {"closed_loop": bench_closed_loop(tracks, obstacles, laps, clear_laps, model, stop_model, say)}
    finally:
        stop_log.setLevel(level)
    if wire_runs:
        out["wire"] = bench_wire(wire_runs)
    return out


def format_report(result: Dict[str, Any]) -> str:
    """The lines a person reads."""
    c = result["closed_loop"]
    lines = ["closed loop (%s, held-out tracks, drive.throttle 0.2):" % c["pilot"],
             "  %d obstacles placed, %d met in the car's path: %d collisions, %d stops (%d false), %d lifted, %d laps"
             % (c["placements"], c["met"], c["collisions"], c["obstacle_stops"], c["false_stops"], c["lifted"],
                c["laps"]),
             "  stop margins (m): %s" % (", ".join("%.3f" % m for m in c["stop_margins_m"]) or "-"),
             "  least %s, median %s (target >= 0.10)" % (c["min_stop_margin_m"], c["median_stop_margin_m"]),
             "  clear tracks: %s laps, %s stops: %s false stops per 10 laps (target <= 1)"
             % (c["clear_laps"], c["clear_false_stops"], c["false_stops_per_10_clear_laps"])]
    w = result.get("wire")
    if w:
        lines.append("wire (jetracer drive --sim --model expert, real time): first blocked frame -> brake/neutral: "
                     "median %s ms, max %s ms (target %s ms: one %s ms frame period + 20 ms)"
                     % (w["median_ms"], w["max_ms"], w["target_ms"], w["frame_period_ms"]))
        for r in w["runs"]:
            lines.append("  seed %s: %s" % (r["seed"], r.get("error") or "%s ms (stop %s frames after the first "
                                                                          "blocked one, decided %s ms after its "
                                                                          "capture)" % (r["ms"], r["frames"],
                                                                                        r["decision_ms"])))
    return "\n".join(lines)
