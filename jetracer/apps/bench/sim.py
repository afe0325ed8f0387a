"""Simulator throughput on one core: rendered frames per second and full steps per second.

Two looks are timed side by side in the same run, for each image size asked for:

* ``realistic``: ``SimWorld(randomize=True)``, what ``sim collect`` renders (episode camera, floor and
  markings, room, wheels, camera module with its per-frame effects);
* ``plain``: ``SimWorld(randomize=False)``, the realism switched off (the profile's camera, a grey
  floor, a flat backdrop, no camera effects). The v0.1 renderer is no longer in the code; this is the
  nearest reference that is.

A full step (``realistic`` only) is what data collection does per frame: render, label, perturbed
expert (with its latency prediction) and the dynamics step. Each run is a new episode (its own camera,
floor, room and sensor look, built before the timing starts and timed apart as ``episode_build_s``:
the floor texture and the room), the two looks alternate run by run so both see the same machine load,
and the figures are medians over ``runs`` runs, with ``cv2.setNumThreads(1)``.
"""
import statistics
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...sim.expert import PerturbedExpert, PurePursuitExpert
from ...sim.world import SimWorld


def _render_rate(world: SimWorld, frames: int) -> Tuple[float, float]:
    """``(frames/s, episode build s)`` of ``frames`` renders of a fresh episode of ``world``."""
    t0 = time.perf_counter()
    world.render()   # builds this episode's floor texture and room
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(frames):
        world.render()
    return frames / (time.perf_counter() - t0), build


def _step_rate(world: SimWorld, steps: int) -> float:
    driver = PerturbedExpert(PurePursuitExpert(world.track, world.profile), world.streams.dynamics)
    t0 = time.perf_counter()
    for _ in range(steps):
        world.render()
        world.label_uv()
        world.car.steering, world.car.throttle = driver.act(world)
        if world.step().offtrack:   # put the car back without a new episode (no rebuild in the timing)
            world.dynamics.reset(*world.track.pose_at(world.state.progress_m))
    return steps / (time.perf_counter() - t0)


def bench_size(profile: Any, track: Any, width: int, height: int, steps: int, runs: int) -> Dict[str, Any]:
    """One image size: realistic and plain render rates, their ratio, full steps/s and the episode build time."""
    realistic = SimWorld(profile, track=track, seed=0, width=width, height=height, randomize=True)
    plain = SimWorld(profile, track=track, seed=0, width=width, height=height, randomize=False)
    rates = {"realistic": [], "plain": []}  # type: Dict[str, List[float]]
    steps_s, builds = [], []  # type: List[float], List[float]
    try:
        for run in range(runs):
            for name, world in (("plain", plain), ("realistic", realistic)) if run % 2 else (
                    ("realistic", realistic), ("plain", plain)):
                if run:
                    world.reset()
                rate, build = _render_rate(world, steps)
                rates[name].append(rate)
                if name == "realistic":
                    builds.append(build)
                    steps_s.append(_step_rate(world, steps))
    finally:
        realistic.close()
        plain.close()
    fast, slow = statistics.median(rates["plain"]), statistics.median(rates["realistic"])
    return {
        "render_fps": round(slow, 1),
        "plain_render_fps": round(fast, 1),
        "slowdown": round(fast / slow, 2),
        "step_fps": round(statistics.median(steps_s), 1),
        "episode_build_s": round(statistics.median(builds), 3),
        "width": width,
        "height": height,
    }


def bench(profile: Any = "latrax", track: Any = "twisty", steps: int = 1000, runs: int = 5, width: int = 224,
          height: int = 224, sizes: Optional[Sequence[Tuple[int, int]]] = None) -> Dict[str, Any]:
    """``{"render_fps", "plain_render_fps", "slowdown", "step_fps", ...}`` at ``width`` x ``height``, and
    with ``sizes`` one such entry per ``(width, height)`` under ``"sizes"`` (see the module docstring)."""
    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        if sizes:
            out = {"sizes": dict(("%dx%d" % wh, bench_size(profile, track, wh[0], wh[1], steps, runs)) for wh in sizes)}
        else:
            out = bench_size(profile, track, width, height, steps, runs)
    finally:
        cv2.setNumThreads(threads)
    out.update({"steps_per_run": steps, "runs": runs, "threads": 1,
                "plain": "randomize=False (realism off; the v0.1 renderer is not in the code)"})
    return out


def format_report(result: Dict[str, Any]) -> str:
    """The lines a person reads: one per image size (largest first) when several were timed, then every figure."""
    result = dict(result)
    lines = ["%s: %s" % (size, ", ".join("%s %s" % kv for kv in figures.items() if kv[0] not in ("width", "height")))
             for size, figures in sorted(result.pop("sizes", {}).items(), key=lambda kv: -kv[1]["width"])]
    lines.extend("%-16s %s" % kv for kv in result.items())
    return "\n".join(lines)


def bench_obstacles(profile: Any = "latrax", track: Any = "oval", count: int = 8, width: int = 224, height: int = 224,
                    frames: int = 150, runs: int = 5, seed: int = 3, randomize: bool = True) -> Dict[str, float]:
    """What obstacles cost a rendered frame: ``world.render()`` in worlds of ``seed`` with no obstacles and
    with ``count``, on one OpenCV thread, the two timed alternately run by run; medians of ``runs`` runs of
    ``frames`` frames. Two sets of poses: ``lap`` (evenly along the centreline, as a drive sees them) and
    ``in_view`` (0.5-1.5 m before each obstacle, facing it). Also the cost of placing them (a reset)."""
    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        worlds = {n: SimWorld(profile, track=track, seed=seed, width=width, height=height, randomize=randomize,
                              obstacles=n) for n in (0, count)}
        busy = worlds[count]
        L = busy.track.length_m
        lap = [busy.track.pose_at(L * i / frames) for i in range(frames)]
        before = []
        for i in range(frames):
            o = busy.obstacles.items[i % count]
            s, _, _ = busy.track.nearest(o.x, o.y)
            before.append(busy.track.pose_at(s - 0.5 - (i * 0.37) % 1.0))
        out = {}  # type: Dict[str, float]
        for name, poses in (("lap", lap), ("in_view", before)):
            times = {0: [], count: []}  # type: Dict[int, List[float]]
            for _ in range(runs):
                for n, world in worlds.items():
                    world.render()
                    t0 = time.perf_counter()
                    for pose in poses:
                        world.dynamics.reset(*pose)
                        world.render()
                    times[n].append((time.perf_counter() - t0) * 1e3 / len(poses))
            out["%s_ms_without" % name] = round(float(np.median(times[0])), 3)
            out["%s_ms_with" % name] = round(float(np.median(times[count])), 3)
        resets = {0: [], count: []}  # type: Dict[int, List[float]]
        for _ in range(runs):
            for n, world in worlds.items():
                t0 = time.perf_counter()
                for _ in range(10):
                    world.reset()
                resets[n].append((time.perf_counter() - t0) * 1e3 / 10)
        out["reset_ms_without"] = round(float(np.median(resets[0])), 3)
        out["reset_ms_with"] = round(float(np.median(resets[count])), 3)
        return out
    finally:
        cv2.setNumThreads(threads)
