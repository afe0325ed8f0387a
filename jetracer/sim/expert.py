"""The expert driver: latency-aware pure pursuit on the centreline, and a perturbed version for data.

:class:`PurePursuitExpert` first predicts where the car will be when a new command acts (integrating the
commands still in flight through the dynamics), then steers toward the centreline point ``Ld = k v + Lc``
ahead of that pose: ``delta = atan2(2 L sin(alpha), Ld)``. Speed follows a profile that slows for curves
(``v <= sqrt(a_lat / |kappa|)``) and brakes ahead of them. Its output is the car-level command
(``car.steering``, ``car.throttle``): the profile's gain and offset are inverted so that, after the car
applies them, the driver gets the wanted output, exactly as a human on the real car would have to.

:class:`PerturbedExpert` adds smooth noise and occasional swerves (from the dynamics random stream) so
that datasets hold recovery states; it stops perturbing when the car is already far off the centre.
"""
import math
from typing import Any, Optional, Tuple

import numpy as np

from .dynamics import DynamicsParams


def _clip(v: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return lo if v < lo else hi if v > hi else v


def car_command_for(output: float, gain: float, offset: float) -> float:
    """The car-level command that the car turns into driver ``output`` (``output = command*gain + offset``)."""
    if gain == 0.0:
        return 0.0
    return _clip((output - offset) / gain)


def forward_output_range(car: Any) -> Tuple[float, float]:
    """``(lo, hi)``: the forward driver outputs the car can give (it gives every output in ``(lo, hi]``).

    The car (:class:`jetracer.racecar.Racecar`) sends ``throttle * gain + offset`` capped to
    ``|output| <= max_throttle``, and neutral when the offset would reverse or cancel the direction
    ``throttle * gain`` gives. So with the command at most 1 the largest forward output is
    ``min(max_throttle, |gain| + offset)``; with a positive offset nothing in ``(0, offset]`` is reachable.
    """
    gain, offset, limit = float(car.throttle_gain), float(car.throttle_offset), float(car.max_throttle)
    hi = min(limit, abs(gain) + offset) if gain != 0.0 else 0.0
    return min(max(0.0, offset), max(0.0, hi)), max(0.0, hi)


def top_speed_mps(car: Any, params: DynamicsParams) -> float:
    """Fastest speed the car's ``max_throttle``, gain and offset let the driver ask for."""
    return forward_output_range(car)[1] * params.max_speed_mps


def throttle_command_for(car: Any, output: float) -> float:
    """The car-level throttle that makes the car give forward ``output``, or the nearest output it can give."""
    hi = forward_output_range(car)[1]
    if output <= 0.0 or hi <= 0.0:
        return 0.0
    output = min(output, hi)
    wanted = output - float(car.throttle_offset)          # throttle * gain
    if wanted <= 0.0:  # below a positive offset: the smallest forward command (an output just above the offset)
        wanted = min(1e-3, abs(float(car.throttle_gain)))
    return _clip(wanted / float(car.throttle_gain))


class PurePursuitExpert(object):
    """Latency-aware pure pursuit; ``act(world) -> (steering, throttle)`` car-level commands."""

    def __init__(self, track: Any, profile: Any, cruise_mps: float = 1.5, lat_accel_mps2: float = 1.6,
                 decel_mps2: float = 1.5, k_s: float = 0.25, lc_m: float = 0.3) -> None:
        self.track = track
        self.params = DynamicsParams(profile["dynamics"])
        self.k_s = float(k_s)
        self.lc_m = float(lc_m)
        self.speed = _speed_profile(track, float(cruise_mps), float(lat_accel_mps2), float(decel_mps2))
        self._hint = None  # type: Optional[int]
        self.target_xy = (0.0, 0.0)

    def reset(self) -> None:
        self._hint = None

    def wanted(self, model: Any) -> Tuple[float, float]:
        """``(wheel angle rad, speed m/s)`` the expert wants for the dynamics state of ``model``."""
        x, y, yaw, v, _ = model.predict(self.params.latency_s) if self.params.latency_s > 0 else (
            model.x, model.y, model.yaw, model.speed_mps, model.steer_rad)
        s, _, self._hint = self.track.nearest(x, y, self._hint)
        ld = self.k_s * max(v, 0.0) + self.lc_m
        tx, ty = self.track.point_at(s + ld)
        self.target_xy = (float(tx), float(ty))
        alpha = math.atan2(ty - y, tx - x) - yaw
        dist = math.hypot(tx - x, ty - y)
        delta = math.atan2(2.0 * self.params.wheelbase_m * math.sin(alpha), max(dist, 1e-3))
        i = int(round(s / self.track.ds_m)) % len(self.speed)
        return delta, float(self.speed[i])

    def act(self, world: Any) -> Tuple[float, float]:
        """Car-level ``(steering, throttle)`` for the world's car now."""
        delta, v = self.wanted(world.dynamics)
        return self.commands(world.car, delta, v)

    def commands(self, car: Any, delta: float, speed_mps: float) -> Tuple[float, float]:
        """Invert the car's gains: the commands that make the driver ask for ``delta`` and ``speed_mps``."""
        steer_out = self.params.steering_output_for(delta)
        speed = min(speed_mps, top_speed_mps(car, self.params))
        throttle_out = speed / self.params.max_speed_mps
        if 0 < throttle_out < self.params.throttle_deadband:
            throttle_out = self.params.throttle_deadband
        steering = car_command_for(steer_out, car.steering_gain, car.steering_offset)
        throttle = throttle_command_for(car, throttle_out)
        return steering, throttle


class PerturbedExpert(object):
    """The expert with Ornstein-Uhlenbeck steering noise and occasional swerves (for recovery data).

    ``noise`` is the stationary std of the steering-command noise, ``swerve_per_s`` the rate of swerves
    (a steering offset of 0.3-0.8 held 0.2-0.6 s). Perturbation stops while ``|cte|`` exceeds
    ``recover_frac`` of the half width, so the car always comes back.
    """

    def __init__(self, expert: PurePursuitExpert, rng: np.random.Generator, noise: float = 0.15,
                 swerve_per_s: float = 0.3, recover_frac: float = 0.5, tau_s: float = 0.3) -> None:
        self.expert = expert
        self.rng = rng
        self.noise = float(noise)
        self.swerve_per_s = float(swerve_per_s)
        self.recover_frac = float(recover_frac)
        self.tau_s = float(tau_s)
        self._n = 0.0
        self._swerve = 0.0
        self._swerve_left_s = 0.0

    def act(self, world: Any, dt: Optional[float] = None) -> Tuple[float, float]:
        dt = dt if dt is not None else 1.0 / world.fps
        steering, throttle = self.expert.act(world)
        a = math.exp(-dt / self.tau_s)
        self._n = a * self._n + math.sqrt(1.0 - a * a) * self.noise * float(self.rng.standard_normal())
        if self._swerve_left_s > 0:
            self._swerve_left_s -= dt
        elif self.rng.random() < self.swerve_per_s * dt:
            self._swerve = float(self.rng.uniform(0.3, 0.8)) * (1 if self.rng.random() < 0.5 else -1)
            self._swerve_left_s = float(self.rng.uniform(0.2, 0.6))
        if abs(world.state.cte_m) > self.recover_frac * world.track.width_m / 2.0:
            self._swerve_left_s = 0.0
            return steering, throttle
        extra = self._n + (self._swerve if self._swerve_left_s > 0 else 0.0)
        return _clip(steering + extra), throttle


def _speed_profile(track: Any, cruise: float, lat_accel: float, decel: float) -> np.ndarray:
    """Speed (m/s) per centreline sample: curve limit, then braking ahead of curves (wraps around)."""
    k = np.abs(track.curvature)
    v = np.minimum(cruise, np.sqrt(lat_accel / np.maximum(k, 1e-6)))
    n = len(v)
    out = v.copy()
    ds = track.ds_m
    for _ in range(2):   # two laps backwards so the braking zone before sample 0 is right too
        for i in range(n - 1, -1, -1):
            nxt = out[(i + 1) % n]
            limit = math.sqrt(nxt * nxt + 2.0 * decel * ds)
            if out[i] > limit:
                out[i] = limit
    return out
