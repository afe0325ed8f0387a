"""Simulator throughput on one core: rendered frames per second and full steps per second.

A full step is what data collection does per frame: photometric-randomised render, label, perturbed
expert (with its latency prediction) and the dynamics step. Figures are medians of ``runs`` runs with
``cv2.setNumThreads(1)``.
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
        driver = PerturbedExpert(PurePursuitExpert(world.track, world.profile), world.streams.dynamics)
        world.render()  # build the renderer and the texture outside the timing
        render_rates, step_rates = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            for _ in range(steps):
                world.render()
            render_rates.append(steps / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            for _ in range(steps):
                world.render()
                world.label_uv()
                world.car.steering, world.car.throttle = driver.act(world)
                if world.step().offtrack:
                    world.reset()
            step_rates.append(steps / (time.perf_counter() - t0))
        world.close()
    finally:
        cv2.setNumThreads(threads)
    return {
        "render_fps": round(statistics.median(render_rates), 1),
        "step_fps": round(statistics.median(step_rates), 1),
        "width": width,
        "height": height,
        "steps_per_run": steps,
        "runs": runs,
        "threads": 1,
    }
