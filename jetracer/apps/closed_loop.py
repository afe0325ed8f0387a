"""Closed-loop evaluation in the simulator: drive laps with a model (or the expert) and measure them.

A model drives as on the car: the frame goes to ``pilot(frame) -> (x, y)``, then
:class:`jetracer.steering_law.SteeringLaw` turns ``x`` into ``car.steering``/``car.throttle``
(the car applies the profile's gains). Results: laps completed, lap times, cross-track error (RMS,
max), off-track events (entries beyond an edge), mean speed and why the run ended (``laps``,
``max_seconds`` or ``lost``: more than ``lost_m`` beyond the edge). Optionally a top-down PNG of the
trajectory and an AVI of the camera view with the target drawn.
"""
import json
import math
import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..config_schema import default_settings
from ..pilot import load_pilot
from ..pilot.base import Pilot
from ..pixels import to_pixel
from ..sim.expert import PurePursuitExpert
from ..sim.labels import pursuit_steering_gain
from ..sim.world import SimWorld
from ..steering_law import SteeringLaw


class ExpertPolicy(object):
    """The latency-aware pure-pursuit expert as a policy (the reference a model is compared with)."""

    needs_frame = False

    def __init__(self, world: SimWorld) -> None:
        self.expert = PurePursuitExpert(world.track, world.profile)

    def act(self, world: SimWorld, frame: Optional[np.ndarray]) -> Tuple[float, float, Optional[Tuple[float, float]]]:
        steering, throttle = self.expert.act(world)
        uv, visible = world.renderer.project(np.array([self.expert.target_xy]), world.pose) if frame is not None else (None, None)
        target = (float(uv[0, 0]), float(uv[0, 1])) if visible is not None and visible[0] else None
        return steering, throttle, target


class ModelPolicy(object):
    """A pilot (``pilot(frame_bgr) -> (x, y)``) and a steering law, as on the car."""

    needs_frame = True

    def __init__(self, pilot: Pilot, law: SteeringLaw) -> None:
        self.pilot = pilot
        self.law = law

    def act(self, world: SimWorld, frame: Optional[np.ndarray]) -> Tuple[float, float, Optional[Tuple[float, float]]]:
        x, y = self.pilot(frame)
        steering, throttle = self.law(float(x), world.state.time_s)
        target = to_pixel(float(x), float(y), world.width, world.height)
        return steering, throttle, target


def model_policy(path: str, gain: Optional[float] = None, bias: float = 0.0, throttle: float = 0.2,
                 throttle_mode: str = "slow-in-turns", world: Optional[SimWorld] = None) -> ModelPolicy:
    """Load a model file with :func:`jetracer.pilot.load_pilot` and wrap it with the steering law.

    ``gain=None`` uses the pure-pursuit gain of ``world``'s car and camera (see
    :func:`jetracer.sim.labels.pursuit_steering_gain`).
    """
    if gain is None:
        if world is None:
            raise ValueError("give a steering gain or the world whose car sets it")
        gain = pursuit_steering_gain(world)
    law = SteeringLaw.from_settings(default_settings("drive")._replace(steering_bias=bias, throttle=throttle,
                                                                       throttle_mode=throttle_mode), gain=gain)
    return ModelPolicy(load_pilot(path), law)


def evaluate(world: SimWorld, policy: Any, laps: int = 3, max_seconds: float = 300.0, out_dir: Optional[str] = None,
             video: bool = True, lost_m: float = 0.5) -> Dict[str, Any]:
    """Drive ``policy`` until ``laps`` laps, ``max_seconds`` of simulated time, or the car is lost.

    With ``out_dir``, writes ``trajectory.png`` (top-down) and, with ``video``, ``camera.avi`` (MJPG).
    Returns the metrics as a JSON-serialisable dict (see the module docstring).
    """
    import cv2

    writer = None
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        if video:
            path = os.path.join(out_dir, "camera.avi")
            writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), world.fps, (world.width, world.height))
            if not writer.isOpened():
                raise IOError("OpenCV cannot write %s (no MJPG encoder)" % path)
    render = policy.needs_frame or writer is not None
    trajectory = [world.pose[:2]]  # type: List[Tuple[float, float]]
    ctes, speeds, lap_times = [], [], []  # type: List[float], List[float], List[float]
    offtrack_events = 0
    was_off = world.state.offtrack
    last_lap_t = 0.0
    end_reason = "max_seconds"
    half = world.track.width_m / 2.0
    try:
        while world.state.time_s < max_seconds:
            frame = world.render() if render else None
            steering, throttle, target = policy.act(world, frame)
            world.car.steering = steering
            world.car.throttle = throttle
            if writer is not None:
                shown = frame.copy()
                if target is not None and all(math.isfinite(t) for t in target):
                    cv2.circle(shown, (int(round(target[0])), int(round(target[1]))), 5, (0, 0, 255), 2, cv2.LINE_AA)
                writer.write(shown)
            before = world.state.laps
            state = world.step()
            trajectory.append((state.x, state.y))
            ctes.append(state.cte_m)
            speeds.append(state.speed_mps)
            if state.offtrack and not was_off:
                offtrack_events += 1
            was_off = state.offtrack
            if state.laps > before:
                lap_times.append(state.time_s - last_lap_t)
                last_lap_t = state.time_s
            if state.laps >= laps:
                end_reason = "laps"
                break
            if abs(state.cte_m) > half + lost_m:
                end_reason = "lost"
                break
    finally:
        world.car.stop("evaluation finished")
        if writer is not None:
            writer.release()
    cte = np.asarray(ctes) if ctes else np.zeros(1)
    result = {
        "track": world.track.name,
        "laps_completed": int(world.state.laps),
        "lap_time_s": [round(t, 3) for t in lap_times],
        "mean_lap_time_s": round(float(np.mean(lap_times)), 3) if lap_times else None,
        "cte_rms_m": round(float(np.sqrt(np.mean(cte ** 2))), 4),
        "cte_max_m": round(float(np.max(np.abs(cte))), 4),
        "offtrack_events": offtrack_events,
        "mean_speed_mps": round(float(np.mean(speeds)) if speeds else 0.0, 3),
        "time_s": round(world.state.time_s, 3),
        "end_reason": end_reason,
    }
    if out_dir:
        cv2.imwrite(os.path.join(out_dir, "trajectory.png"), world.top_down(trajectory))
        with open(os.path.join(out_dir, "result.json"), "w") as f:
            json.dump(result, f, indent=1)
    return result
