"""Kinematic bicycle model of the car about its rear axle, driven by the car's driver outputs.

Inputs are what a driver receives (``car.steering_output``, ``car.throttle_output`` in [-1, 1]), so the
profile's gains, offsets and sign act exactly as on the real car:

* wheel angle (left positive) = ``out * max_steer_left`` for ``out >= 0``, ``out * max_steer_right`` below;
  reached through a first-order lag (``steer_tau_s``) limited to ``steer_rate_rad_s``;
* speed target = ``out * max_speed_mps`` through a first-order lag (``throttle_tau_s``); below the
  ``throttle_deadband`` the car coasts, slowing at ``coast_decel_mps2``;
* a command acts ``latency_s`` after it was given (a queue), as camera-to-wheels latency does.

The pose ``(x, y, yaw)`` is the rear-axle centre (world frame: x east, y north, yaw CCW from +x);
heading rate = v tan(delta) / L, integrated exactly over sub-steps of at most ``max_substep_s``.
"""
import collections
import math
from typing import Any, Deque, List, Tuple

DEFAULT_SUBSTEP_S = 0.0025


class DynamicsParams(object):
    """The ``dynamics:`` section of a profile as plain floats (angles in radians)."""

    def __init__(self, dynamics: Any) -> None:
        d = dynamics.to_dict() if hasattr(dynamics, "to_dict") else dict(dynamics)
        self.wheelbase_m = float(d["wheelbase_m"])
        self.max_left_rad = math.radians(float(d["max_steer_left_deg"]))
        self.max_right_rad = math.radians(float(d["max_steer_right_deg"]))
        self.steer_tau_s = float(d["steer_tau_s"])
        self.steer_rate_rad_s = float(d["steer_rate_rad_s"])
        self.max_speed_mps = float(d["max_speed_mps"])
        self.throttle_tau_s = float(d["throttle_tau_s"])
        self.throttle_deadband = float(d["throttle_deadband"])
        self.coast_decel_mps2 = float(d["coast_decel_mps2"])
        self.latency_s = float(d["latency_s"])

    def wheel_angle(self, steering_output: float) -> float:
        """Wheel angle (rad, left positive) that a driver steering output in [-1, 1] asks for."""
        out = max(-1.0, min(1.0, steering_output))
        return out * (self.max_left_rad if out >= 0 else self.max_right_rad)

    def steering_output_for(self, angle_rad: float) -> float:
        """The driver steering output that asks for wheel angle ``angle_rad`` (clipped to [-1, 1])."""
        out = angle_rad / (self.max_left_rad if angle_rad >= 0 else self.max_right_rad)
        return max(-1.0, min(1.0, out))



def turning_radius_m(profile: Any, steering: float = 1.0) -> float:
    """Radius (m) of the rear-axle circle for car-level ``steering`` command on this profile's car.

    Applies the profile's ``car.steering_gain``/``steering_offset`` as :class:`jetracer.racecar.Racecar`
    does, then R = L / tan(|delta|). ``inf`` when the wheels stay straight.
    """
    params = DynamicsParams(profile["dynamics"])
    car = profile["car"]
    out = max(-1.0, min(1.0, steering * float(car["steering_gain"]) + float(car["steering_offset"])))
    delta = abs(params.wheel_angle(out))
    return params.wheelbase_m / math.tan(delta) if delta > 1e-9 else float("inf")


def min_turning_radius_m(profile: Any) -> float:
    """The larger of the full-lock radii to either side (the tightest curve the car can take both ways)."""
    return max(turning_radius_m(profile, 1.0), turning_radius_m(profile, -1.0))


class BicycleModel(object):
    """State ``x, y, yaw, speed_mps, steer_rad`` and the queue of commands still in flight."""

    def __init__(self, dynamics: Any, max_substep_s: float = DEFAULT_SUBSTEP_S) -> None:
        self.params = dynamics if isinstance(dynamics, DynamicsParams) else DynamicsParams(dynamics)
        self.max_substep_s = float(max_substep_s)
        self.reset(0.0, 0.0, 0.0)

    def reset(self, x: float, y: float, yaw: float, speed_mps: float = 0.0, steer_rad: float = 0.0) -> None:
        """Place the car; commands in flight are dropped and the inputs return to neutral."""
        self.x, self.y, self.yaw = float(x), float(y), float(yaw)
        self.speed_mps = float(speed_mps)
        self.steer_rad = float(steer_rad)
        self.time_s = 0.0
        self.steering_output = 0.0
        self.throttle_output = 0.0
        self.queue = collections.deque()  # type: Deque[Tuple[float, float, float]]

    def command(self, steering_output: float, throttle_output: float) -> None:
        """Queue driver outputs given now; they act ``latency_s`` later."""
        self.queue.append((self.time_s + self.params.latency_s, float(steering_output), float(throttle_output)))

    def pending(self) -> List[Tuple[float, float, float]]:
        """Commands in flight: ``(time_s they act, steering_output, throttle_output)``."""
        return list(self.queue)

    def advance(self, duration_s: float) -> None:
        """Integrate ``duration_s`` seconds, applying queued commands when their time comes."""
        n = max(1, int(math.ceil(duration_s / self.max_substep_s - 1e-9)))
        dt = duration_s / n
        state = [self.x, self.y, self.yaw, self.speed_mps, self.steer_rad, self.steering_output, self.throttle_output]
        t0 = self.time_s
        for k in range(n):
            t = t0 + k * dt
            while self.queue and self.queue[0][0] <= t + 1e-9:
                _, state[5], state[6] = self.queue.popleft()
            _integrate(self.params, state, dt)
        self.x, self.y, self.yaw, self.speed_mps, self.steer_rad, self.steering_output, self.throttle_output = state
        self.time_s = t0 + duration_s

    def predict(self, horizon_s: float, dt: float = 0.01) -> Tuple[float, float, float, float, float]:
        """``(x, y, yaw, speed_mps, steer_rad)`` after ``horizon_s`` with the queued commands and no new ones."""
        state = [self.x, self.y, self.yaw, self.speed_mps, self.steer_rad, self.steering_output, self.throttle_output]
        queue = list(self.queue)
        n = max(1, int(math.ceil(horizon_s / dt - 1e-9)))
        dt = horizon_s / n
        j = 0
        for k in range(n):
            t = self.time_s + k * dt
            while j < len(queue) and queue[j][0] <= t + 1e-9:
                _, state[5], state[6] = queue[j]
                j += 1
            _integrate(self.params, state, dt)
        return state[0], state[1], state[2], state[3], state[4]


def _integrate(p: DynamicsParams, s: List[float], dt: float) -> None:
    """One sub-step on ``s = [x, y, yaw, v, delta, steering_output, throttle_output]`` (in place)."""
    x, y, yaw, v, delta, steer_out, throttle_out = s
    target = p.wheel_angle(steer_out)
    rate = (target - delta) / p.steer_tau_s if p.steer_tau_s > 0 else (target - delta) / dt
    limit = p.steer_rate_rad_s
    rate = -limit if rate < -limit else limit if rate > limit else rate
    step = rate * dt
    if abs(step) > abs(target - delta):
        step = target - delta
    delta = max(-p.max_right_rad, min(p.max_left_rad, delta + step))
    if abs(throttle_out) < p.throttle_deadband:
        dv = p.coast_decel_mps2 * dt
        v = 0.0 if abs(v) <= dv else v - math.copysign(dv, v)
    else:
        vt = max(-1.0, min(1.0, throttle_out)) * p.max_speed_mps
        v = vt + (v - vt) * math.exp(-dt / p.throttle_tau_s) if p.throttle_tau_s > 0 else vt
    w = v * math.tan(delta) / p.wheelbase_m
    if abs(w) > 1e-9:
        r = v / w
        yaw1 = yaw + w * dt
        x += r * (math.sin(yaw1) - math.sin(yaw))
        y -= r * (math.cos(yaw1) - math.cos(yaw))
        yaw = yaw1
    else:
        x += v * math.cos(yaw) * dt
        y += v * math.sin(yaw) * dt
    s[0], s[1], s[2], s[3], s[4] = x, y, yaw, v, delta
