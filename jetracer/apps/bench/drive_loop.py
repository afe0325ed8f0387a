"""Benchmark the drive loop's own overhead per frame, beyond capture and inference.

A lockstep loop on an in-memory camera (a pre-made frame, new ``frame_id`` each read) and a pilot that
returns at once, driving the configured car on the emulated PCA9685: what remains is the loop's
bookkeeping, the steering law and the car's traitlets plus the I2C writes (``actuation_ms``).

    jetracer bench loop [--iterations N]
"""
import os
import time
from typing import Any, Dict

import numpy as np


class _Frames(object):
    def __init__(self) -> None:
        self.frame = np.zeros((224, 224, 3), np.uint8)
        self.frame_id = 0

    def read(self) -> Any:
        self.frame_id += 1
        return self.frame


class _Pilot(object):
    """Returns at once, with a target that changes every frame so the servo is really rewritten."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, frame: Any) -> Any:
        self.n += 1
        return 0.5 * np.sin(self.n / 10.0), 0.0


def bench_loop_overhead(iterations: int = 3000, car: Any = None) -> Dict[str, Any]:
    """Mean/p99 per-iteration times in ms: loop overhead (total minus pilot) and actuation share."""
    from ...car import create_car
    from ...config_schema import default_settings
    from ...driving.loop import DriveLoop
    from ...driving.settings import steering_gain
    from ...steering_law import SteeringLaw

    if car is None:
        os.environ["JETRACER_I2C"] = "emulated"
        car = create_car()
    drive = default_settings("drive")
    loop = DriveLoop(car, _Frames(), _Pilot(), SteeringLaw.from_settings(drive, gain=steering_gain(drive)), drive,
                     lockstep=True)
    totals = []
    for _ in range(iterations):
        t = time.perf_counter()
        loop.step()
        totals.append((time.perf_counter() - t) * 1000.0 - loop.timing_ms["inference_ms"])
    car.close()
    m = loop.metrics()["mean_ms"]
    return {"iterations": iterations, "loop_ms_mean": round(float(np.mean(totals)), 4),
            "loop_ms_p99": round(float(np.percentile(totals, 99)), 4), "actuation_ms_mean": m["actuation_ms"],
            "overhead_ms_mean": m["overhead_ms"]}
