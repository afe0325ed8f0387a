"""Closed-loop evaluation in the simulator: drive laps with a model (or the expert) and measure them.

A model drives as on the car: the frame goes to ``pilot(frame) -> (x, y)``, then
:class:`jetracer.steering_law.SteeringLaw` turns ``x`` into ``car.steering``/``car.throttle``
(the car applies the profile's gains). Results: laps completed, lap times, cross-track error (RMS,
max), off-track events (entries beyond an edge), mean speed and why the run ended (``laps``,
``max_seconds`` or ``lost``: more than ``lost_m`` beyond the edge). Optionally a top-down PNG of the
trajectory and an AVI of the camera view with the target drawn.

**Obstacles** (a world made with ``obstacles=N``): every result counts ``collisions`` (the car's footprint
touching an obstacle). With an ``obstacle_stop`` (:class:`jetracer.driving.obstacle_stop.ObstacleStop`, the
drive loop's own) the policy's blocked reading goes to it and its limit to the throttle, as on the car;
the simulated person of :mod:`jetracer.sim.lifter` lifts an obstacle the car has waited 2 s before, so laps
go on. The result then also has ``obstacle_stops``; ``false_stops``: stops with no obstacle in the swept
path within the stopping distance at the policy's cruising speed (or the car's, if higher); the margin
of every other stop, ``stop_margins_m`` (front bumper to the obstacle once the car stood still; 0.0 where
it touched first) and their least, ``min_stop_margin_m``; and ``lifted``.
"""
import json
import math
import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..config_schema import default_settings
from ..pilot import load_pilot
from ..pilot.base import Pilot, predict_frame
from ..pixels import to_pixel
from ..sim.expert import PurePursuitExpert
from ..sim.labels import pursuit_steering_gain
from ..sim.world import SimWorld
from ..steering_law import SteeringLaw


class ExpertPolicy(object):
    """The latency-aware pure-pursuit expert as a policy (the reference a model is compared with); its blocked
    reading is the world's obstacle label (1.0 or 0.0) at its cruising speed or the car's, if higher."""

    needs_frame = False

    def __init__(self, world: SimWorld) -> None:
        self.expert = PurePursuitExpert(world.track, world.profile)
        self.cruise_mps = float(np.max(self.expert.speed))
        self.blocked_p = None  # type: Optional[float]

    def act(self, world: SimWorld, frame: Optional[np.ndarray]) -> Tuple[float, float, Optional[Tuple[float, float]]]:
        steering, throttle = self.expert.act(world)
        self.blocked_p = 1.0 if cruise_label(world, self.cruise_mps).blocked else 0.0
        uv, visible = world.renderer.project(np.array([self.expert.target_xy]), world.pose) if frame is not None else (None, None)
        target = (float(uv[0, 0]), float(uv[0, 1])) if visible is not None and visible[0] else None
        return steering, throttle, target


class ModelPolicy(object):
    """A pilot (``pilot(frame_bgr) -> (x, y)``, ``pilot.predict`` for its blocked reading where it has one) and a
    steering law, as on the car. ``stop_model`` gives the blocked reading of a pilot without one."""

    needs_frame = True

    def __init__(self, pilot: Pilot, law: SteeringLaw, stop_model: Any = None) -> None:
        self.pilot = pilot
        self.law = law
        self.stop_model = stop_model
        self.blocked_p = None  # type: Optional[float]
        self.cruise_mps = 0.0

    def act(self, world: SimWorld, frame: Optional[np.ndarray]) -> Tuple[float, float, Optional[Tuple[float, float]]]:
        x, y, self.blocked_p, _ = predict_frame(self.pilot, frame)
        if self.blocked_p is None and self.stop_model is not None:
            self.blocked_p = self.stop_model(frame)
        if not self.cruise_mps:
            from ..driving.session import cruise_speed_mps

            self.cruise_mps = cruise_speed_mps(world, self.law.throttle)
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


def policy_obstacle_stop(settings: Any, policy: Any, world: SimWorld, model_name: str = "the model") -> Any:
    """The drive's obstacle stop (:func:`jetracer.driving.obstacle_stop.obstacle_stop_for`, ``settings`` a
    ``drive.obstacle`` section) for ``policy`` on ``world``'s car: the expert reads the world's label; a model
    its own obstacle output, else the stop model (given to the policy). None where there is none to make."""
    from ..driving.obstacle_stop import ObstacleStop, brake_for, obstacle_stop_for

    if isinstance(policy, ExpertPolicy):
        if settings.enabled is False:
            return None
        return ObstacleStop(settings, brake=brake_for(world.profile, world.car))
    stop = obstacle_stop_for(settings, policy.pilot, world.profile, world.car, model_name=model_name)
    if stop is not None:
        policy.stop_model = stop.stop_model
    return stop


def cruise_label(world: SimWorld, cruise_mps: float) -> Any:
    """The world's obstacle label at the car's speed or, if higher, ``cruise_mps`` (a stopped car keeps seeing
    what it stopped for)."""
    label = world.obstacle_label()
    return world.obstacle_label(speed_mps=cruise_mps) if label.speed_mps < cruise_mps else label


class StopRecord(object):
    """The obstacle figures of one run: each stop judged (false or not) when it comes, its margin once the car
    stands still."""

    def __init__(self, world: SimWorld, stop: Any, policy: Any) -> None:
        from ..sim.lifter import STILL_MPS, ObstacleLifter

        self.world, self.stop, self.policy = world, stop, policy
        self.lifter = ObstacleLifter(world)
        self.still_mps = STILL_MPS
        self.stops = self.false_stops = 0
        self.margins = []  # type: List[float]
        self._pending = False
        self._collisions = world.collisions

    def limit(self, throttle: float) -> float:
        """The policy's reading to the stop, the throttle it lets through; a new stop judged."""
        world, stop = self.world, self.stop
        now = world.state.time_s
        stop.observe(getattr(self.policy, "blocked_p", None), now)
        throttle, _ = stop.limit(throttle, now)
        if stop.stops > self.stops:
            self.stops = stop.stops
            if cruise_label(world, float(getattr(self.policy, "cruise_mps", 0.0))).blocked:
                self._pending, self._collisions = True, world.collisions
            else:
                self.false_stops += 1
        return float(throttle)

    def after_step(self) -> None:
        """A pending stop's margin once the car stands still (0.0 if it touched first); the person lifts."""
        world = self.world
        if self._pending:
            if world.collisions > self._collisions:
                self.margins.append(0.0)
                self._pending = False
            elif abs(world.dynamics.speed_mps) <= self.still_mps:
                label = world.obstacle_label(speed_mps=0.0)
                self.margins.append(round(float(label.nearest_m), 4) if label.nearest_m is not None else 0.0)
                self._pending = False
        self.lifter()

    def result(self) -> Dict[str, Any]:
        return {"obstacle_stops": self.stops, "false_stops": self.false_stops,
                "min_stop_margin_m": min(self.margins) if self.margins else None, "stop_margins_m": self.margins,
                "lifted": self.lifter.lifted}


def _open_video(world: SimWorld, out_dir: Optional[str], video: bool) -> Any:
    """The camera video's writer (None without ``out_dir`` or ``video``), refused at once if OpenCV cannot write it."""
    import cv2

    writer = None
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        if video:
            path = os.path.join(out_dir, "camera.avi")
            writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), world.fps, (world.width, world.height))
            if not writer.isOpened():
                raise IOError("OpenCV cannot write %s (no MJPG encoder)" % path)
    return writer


def _write_frame(writer: Any, frame: np.ndarray, target: Optional[Tuple[float, float]]) -> None:
    """One video frame with the policy's target drawn, so a run can be watched as the car saw it."""
    import cv2

    shown = frame.copy()
    if target is not None and all(math.isfinite(t) for t in target):
        cv2.circle(shown, (int(round(target[0])), int(round(target[1]))), 5, (0, 0, 255), 2, cv2.LINE_AA)
    writer.write(shown)


def _drive_step(world: SimWorld, policy: Any, record: Optional[StopRecord], writer: Any,
                render: bool) -> Tuple[int, Any]:
    """One control period as on the car (frame, policy, obstacle stop, simulator step): the laps before, the state."""
    frame = world.render() if render else None
    steering, throttle, target = policy.act(world, frame)
    if record is not None:
        throttle = record.limit(throttle)
    world.car.steering = steering
    world.car.throttle = throttle
    if writer is not None:
        _write_frame(writer, frame, target)
    before = world.state.laps
    state = world.step()
    if record is not None:
        record.after_step()
    return before, state


class _RunTally(object):
    """The per-step figures of one run (path, cross-track error, speed, laps, edge crossings) kept together."""

    def __init__(self, world: SimWorld) -> None:
        self.trajectory = [world.pose[:2]]  # type: List[Tuple[float, float]]
        self.ctes, self.speeds, self.lap_times = [], [], []  # type: List[float], List[float], List[float]
        self.offtrack_events = 0
        self.was_off = world.state.offtrack
        self.last_lap_t = 0.0

    def add(self, state: Any, laps_before: int) -> None:
        """One step's state counted: an edge crossing on entering off-track, a lap time on a new lap."""
        self.trajectory.append((state.x, state.y))
        self.ctes.append(state.cte_m)
        self.speeds.append(state.speed_mps)
        if state.offtrack and not self.was_off:
            self.offtrack_events += 1
        self.was_off = state.offtrack
        if state.laps > laps_before:
            self.lap_times.append(state.time_s - self.last_lap_t)
            self.last_lap_t = state.time_s


def _result(world: SimWorld, tally: _RunTally, end_reason: str, record: Optional[StopRecord]) -> Dict[str, Any]:
    """The run's metrics as a JSON-serialisable dict (see the module docstring)."""
    lap_times, speeds = tally.lap_times, tally.speeds
    cte = np.asarray(tally.ctes) if tally.ctes else np.zeros(1)
    result = {
        "track": world.track.name,
        "laps_completed": int(world.state.laps),
        "lap_time_s": [round(t, 3) for t in lap_times],
        "mean_lap_time_s": round(float(np.mean(lap_times)), 3) if lap_times else None,
        "cte_rms_m": round(float(np.sqrt(np.mean(cte ** 2))), 4),
        "cte_max_m": round(float(np.max(np.abs(cte))), 4),
        "offtrack_events": tally.offtrack_events,
        "mean_speed_mps": round(float(np.mean(speeds)) if speeds else 0.0, 3),
        "time_s": round(world.state.time_s, 3),
        "end_reason": end_reason,
        "collisions": int(world.collisions),
    }
    if record is not None:
        result.update(record.result())
    return result


def _save(out_dir: str, world: SimWorld, trajectory: List[Tuple[float, float]], result: Dict[str, Any]) -> None:
    """The top-down trajectory and result.json in ``out_dir``, to look at a run after it."""
    import cv2

    cv2.imwrite(os.path.join(out_dir, "trajectory.png"), world.top_down(trajectory))
    with open(os.path.join(out_dir, "result.json"), "w") as f:
        json.dump(result, f, indent=1)


def evaluate(world: SimWorld, policy: Any, laps: int = 3, max_seconds: float = 300.0, out_dir: Optional[str] = None,
             video: bool = True, lost_m: float = 0.5, obstacle_stop: Any = None) -> Dict[str, Any]:
    """Drive ``policy`` until ``laps`` laps, ``max_seconds`` of simulated time, or the car is lost.

    With ``out_dir``, writes ``trajectory.png`` (top-down) and, with ``video``, ``camera.avi`` (MJPG).
    ``obstacle_stop`` stops the car for obstacles as the drive loop does (see the module docstring).
    Returns the metrics as a JSON-serialisable dict (see the module docstring).
    """
    writer = _open_video(world, out_dir, video)
    render = policy.needs_frame or writer is not None
    tally = _RunTally(world)
    end_reason = "max_seconds"
    half = world.track.width_m / 2.0
    record = StopRecord(world, obstacle_stop, policy) if obstacle_stop is not None else None
    try:
        while world.state.time_s < max_seconds:
            before, state = _drive_step(world, policy, record, writer, render)
            tally.add(state, before)
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
    result = _result(world, tally, end_reason, record)
    if out_dir:
        _save(out_dir, world, tally.trajectory, result)
    return result
