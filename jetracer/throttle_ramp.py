"""A soft start for the throttle output, as profile data (``car.throttle_ramp``).

Waveshare's JetRacer Pro code raises the throttle by 0.18 every 1.2 s towards the target (the first
step at once) and applies small targets (|target| < 0.1) and slowing down from forward at once. Here
the same numbers are a rate limit on ``|throttle output|``: it rises by at most ``step`` per
``interval_s`` (the first step from neutral at once), and anything that brings the output closer to
neutral (slowing down, neutral, stop, e-stop, the part of a reversal back to neutral) is applied at
once, whichever direction the car is going. Unlike upstream, new commands during a ramp do not add
steps (upstream takes a step on every new command, so a stream of commands skips its ramp).
"""
from typing import Any, Mapping, Optional, Tuple


def _sign(value: float) -> float:
    return 1.0 if value > 0 else -1.0 if value < 0 else 0.0


class ThrottleRamp(object):
    """Where the output may be now, on the way from ``current`` to ``target``; keeps the time of the last step."""

    def __init__(self, step: float, interval_s: float, immediate_below: float = 0.0) -> None:
        if not step > 0 or not interval_s > 0:
            raise ValueError("a throttle ramp needs step > 0 and interval_s > 0, got %r, %r" % (step, interval_s))
        self.step = float(step)
        self.interval_s = float(interval_s)
        self.immediate_below = float(immediate_below)
        self._last_step_s = None  # type: Optional[float]

    @classmethod
    def from_profile(cls, spec: Optional[Mapping[str, Any]]) -> Optional["ThrottleRamp"]:
        """The ramp a profile's ``car.throttle_ramp`` mapping describes, or None."""
        if not spec:
            return None
        return cls(spec["step"], spec["interval_s"], spec.get("immediate_below", 0.0))

    def reset(self) -> None:
        self._last_step_s = None

    def advance(self, current: float, target: float, now_s: float) -> Tuple[float, Optional[float]]:
        """``(output now, time of the next step or None when the target is reached)``."""
        if target == 0.0 or abs(target) < self.immediate_below:
            self.reset()
            return target, None
        if _sign(current) != _sign(target):
            current = 0.0  # a reversal: back to neutral at once, then ramp the other way
        if abs(target) <= abs(current):
            return target, None  # slowing down: at once (the step schedule stays, so jitter cannot outpace it)
        if self._last_step_s is None or now_s - self._last_step_s >= self.interval_s - 1e-6:
            current = _sign(target) * min(abs(target), abs(current) + self.step)
            self._last_step_s = now_s
        if current == target:
            return current, None
        return current, self._last_step_s + self.interval_s

    def __repr__(self) -> str:
        return "ThrottleRamp(+%.2f every %.2f s, immediate below %.2f)" % (self.step, self.interval_s, self.immediate_below)
