"""Simulator throughput on one core: rendered frames per second and full steps per second.

A full step is what data collection does per frame: randomised render (room, floor, camera module),
label, perturbed expert (with its latency prediction) and the dynamics step. Each run is a new episode
(its own camera, floor, room and sensor look, built before the timing starts and timed apart as
``episode_build_s``: the floor texture and the room), so the figures are medians over ``runs`` different
episodes, with ``cv2.setNumThreads(1)``.
"""
import statistics
import time
from typing import Any, Dict

from .expert import PerturbedExpert, PurePursuitExpert
from .world import SimWorld


def bench(profile: Any = "latrax", track: Any = "twisty", steps: int = 1000, runs: int = 5, width: int = 224,
          height: int = 224) -> Dict[str, Any]:
    """``{"render_fps", "step_fps", ...}`` measured on one core (see the module docstring)."""
    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        world = SimWorld(profile, track=track, seed=0, width=width, height=height, randomize=True)
        world.renderer  # noqa: B018 -- build the renderer outside the timing
        render_rates, step_rates, builds = [], [], []
        for run in range(runs):
            if run:
                world.reset()
            driver = PerturbedExpert(PurePursuitExpert(world.track, world.profile), world.streams.dynamics)
            t0 = time.perf_counter()
            world.render()   # builds this episode's floor texture and room
            builds.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for _ in range(steps):
                world.render()
            render_rates.append(steps / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            for _ in range(steps):
                world.render()
                world.label_uv()
                world.car.steering, world.car.throttle = driver.act(world)
                if world.step().offtrack:   # put the car back without a new episode (no rebuild in the timing)
                    world.dynamics.reset(*world.track.pose_at(world.state.progress_m))
            step_rates.append(steps / (time.perf_counter() - t0))
        world.close()
    finally:
        cv2.setNumThreads(threads)
    return {
        "render_fps": round(statistics.median(render_rates), 1),
        "episode_build_s": round(statistics.median(builds), 3),
        "step_fps": round(statistics.median(step_rates), 1),
        "width": width,
        "height": height,
        "steps_per_run": steps,
        "runs": runs,
        "threads": 1,
    }
