"""The obstacle stop: the drive loop brakes and holds while the way ahead is blocked, and goes on once it is clear.

**The reading.** Each new frame gives ``blocked_p``, the probability that the way ahead is blocked: the
pilot's own where the model has an obstacle output (``pilot.predict``: the same forward pass as the road
target), else a separate stop model's (upstream JetBot's collision model, ``drive.obstacle.stop_model``).
A NaN reading counts as blocked: a broken obstacle output must not drive on.

**The rule** (``drive.obstacle``, :class:`jetracer.config_schema.ObstacleSettings`):

* a frame is *blocked* when ``blocked_p >= threshold`` and *clear* when ``blocked_p < release_threshold``;
  between the two (the hysteresis band) it is neither: it does not count towards a stop, nor towards
  going on;
* ``frames`` consecutive blocked frames stop the car (one frame under the threshold starts the count
  again);
* stopped, a forward throttle command becomes the profile's brake for its ``duration_s`` (an ESC whose
  first reverse pulse after going forward brakes: ``throttle.reverse`` double-tap or none), then neutral;
  elsewhere neutral at once (a ``motorhat_dc`` car's neutral brakes its motors);
* the car goes on once every frame for ``clear_s`` was clear (a blocked or in-between frame starts the
  time again) and, with ``resume: rearm``, a person armed the drive since it stopped (``jetracer arm``,
  the gamepad's START, the notebook's ARM).

The stop can only ever lower the throttle: a forward command is replaced by the brake or neutral, a
neutral or reverse command (a person backing away in ``auto-steer``) passes unchanged, and nothing is
ever raised. In ``manual`` mode the model does not run and the person drives.

The stop's reason ("obstacle ahead: p=0.93") is the loop's ``stop_reason``, so it reaches the state file,
the OLED, ``jetracer arm --status`` and the notebooks; :meth:`ObstacleStop.status` adds the live reading.
"""
import logging
import math
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from ..config import ConfigError
from ..config_schema import ObstacleSettings

logger = logging.getLogger(__name__)

REASON = "obstacle ahead"
MAX_EVENTS = 20

CLEAR, STOPPED, WAITING = "clear", "stopped", "waiting for arm"


class ObstacleStopError(ConfigError):
    """An obstacle stop asked of a drive that has no obstacle reading (exit 2: the message names both fixes)."""


class Brake(NamedTuple):
    """How a stop slows the car: ``command`` (a car-level throttle, giving the profile's brake output) held for
    ``duration_s``, then neutral; ``command`` 0.0: neutral at once. ``description`` says which and why."""

    command: float
    duration_s: float
    description: str


def brake_for(profile: Any, car: Any) -> Brake:
    """The brake a stop uses on ``profile``'s car: its ``throttle.brake`` where its ESC brakes on a reverse
    pulse (``throttle.reverse`` double-tap or none), else neutral (with the reason)."""
    from ..profiles.schema import BRAKE_REVERSE_MODES

    throttle = profile["throttle"]
    brake = throttle.get("brake", None)
    if throttle["driver"] == "motorhat_dc":
        return Brake(0.0, 0.0, "neutral (the motor driver's neutral mode: %s)"
                     % ", ".join(sorted(set(m["neutral"] for m in throttle["motors"]))))
    if brake is None:
        return Brake(0.0, 0.0, "neutral (the profile has no throttle.brake)")
    reverse = throttle.get("reverse", None)
    if reverse not in BRAKE_REVERSE_MODES:
        return Brake(0.0, 0.0, "neutral (throttle.reverse is %s: a reverse pulse might drive backwards; jetracer "
                               "calibrate finds out whether this ESC brakes on it)" % (reverse or "not known"))
    command = command_for_output(float(brake["output"]), car)
    if command >= 0.0:
        return Brake(0.0, 0.0, "neutral (this car's throttle gain and offset cannot give the brake output %.2f)"
                     % brake["output"])
    return Brake(command, float(brake["duration_s"]), "brake output %.2f for %.2f s (throttle.reverse %s), then "
                                                      "neutral" % (brake["output"], brake["duration_s"], reverse))


def command_for_output(output: float, car: Any) -> float:
    """The car-level throttle command whose output (``command * gain + offset``) is ``output``, within [-1, 1]
    (0.0 where the gain is 0: nothing then moves the car)."""
    gain = float(car.throttle_gain)
    if gain == 0.0:
        return 0.0
    return max(-1.0, min(1.0, (output - float(car.throttle_offset)) / gain))


def limit_throttle(throttle: Optional[float], stopped: bool, braking: bool, brake_command: float) -> Optional[float]:
    """The throttle the stop lets through: while ``stopped``, a forward command becomes ``brake_command``
    (while ``braking``) or 0.0; anything else passes unchanged. Never higher, never larger in magnitude
    except as the brake, and of another sign only as the brake."""
    if not stopped or throttle is None or throttle <= 0.0:
        return throttle
    return brake_command if braking and brake_command < 0.0 else 0.0


class ObstacleStop(object):
    """The obstacle stop's state machine (see the module docstring); the drive loop calls :meth:`read` on each
    new frame and :meth:`limit` on each throttle command, with times on its own clock.

    ``stop_model`` (``frame -> blocked_p``) is used only where the pilot has no obstacle output.
    ``capture_wall`` maps a frame's stamp to its capture time on ``time.monotonic()`` for the events (the
    simulator's lockstep clock is not the wall clock); without it a reading's wall time is when it was read.
    """

    def __init__(self, settings: ObstacleSettings, brake: Optional[Brake] = None, stop_model: Any = None,
                 capture_wall: Optional[Callable[[float], float]] = None) -> None:
        self.settings = settings
        self.brake = brake or Brake(0.0, 0.0, "neutral")
        self.stop_model = stop_model
        self.capture_wall = capture_wall
        self.state = CLEAR
        self.blocked_p = None  # type: Optional[float]
        self.distance_m = None  # type: Optional[float]
        self.source = ""
        self.reason = ""
        self.stops = 0
        self.events = []  # type: List[Dict[str, Any]]
        self._run = 0
        self._first_blocked = None  # type: Optional[Tuple[float, float]]
        self._stopped_at = None  # type: Optional[float]
        self._stop_p = 0.0
        self._clear_since = None  # type: Optional[float]
        self._armed_since_stop = False
        self._now_s = 0.0

    # -- readings ----------------------------------------------------------------------------------

    def read(self, pilot: Any, frame: Any, now_s: float) -> Tuple[float, float]:
        """Run the pilot (and the stop model where the pilot has no obstacle output) on ``frame``, take the
        blocked reading, return the road target ``(x, y)``."""
        from ..pilot.base import predict_frame

        prediction = predict_frame(pilot, frame)
        blocked_p, source = prediction.blocked_p, "model"
        if blocked_p is None and self.stop_model is not None:
            blocked_p, source = self.stop_model(frame), "stop model"
        self.distance_m = prediction.distance_m
        self.source = source
        self.observe(blocked_p, now_s)
        return prediction.x, prediction.y

    def observe(self, blocked_p: Optional[float], now_s: float) -> None:
        """Take one frame's reading (None: no reading, nothing changes) at ``now_s`` on the loop's clock."""
        if blocked_p is None:
            return
        p = float(blocked_p)
        p = 1.0 if not math.isfinite(p) else min(1.0, max(0.0, p))
        self.blocked_p = p
        self._now_s = now_s
        s = self.settings
        blocked, clear = p >= s.threshold, p < s.release_threshold
        if self.state == CLEAR:
            if blocked:
                if self._run == 0:
                    self._first_blocked = (now_s, self._wall(now_s))
                self._run += 1
                if self._run >= s.frames:
                    self._stop(p, now_s)
            else:
                self._run = 0
            return
        if not clear:
            self._clear_since = None
            return
        if self._clear_since is None:
            self._clear_since = now_s
        if now_s - self._clear_since >= s.clear_s - 1e-9:
            if s.resume == "rearm" and not self._armed_since_stop:
                if self.state != WAITING:
                    self.state = WAITING
                    self.reason = "%s: p=%.2f; the way is clear: arm again to go on" % (REASON, self._stop_p)
                    logger.warning("obstacle stop: the way is clear; waiting for a person to arm again")
                return
            self._go_on(now_s)

    def _wall(self, now_s: float) -> float:
        return float(self.capture_wall(now_s)) if self.capture_wall is not None else time.monotonic()

    def _stop(self, p: float, now_s: float) -> None:
        self.state = STOPPED
        self.stops += 1
        self._stop_p = p
        self._stopped_at = now_s
        self._clear_since = None
        self._armed_since_stop = False
        self._run = 0
        self.reason = "%s: p=%.2f" % (REASON, p)
        first = self._first_blocked or (now_s, self._wall(now_s))
        self.events.append({"stop": self.stops, "p": round(p, 3), "source": self.source, "time_s": round(now_s, 4),
                            "first_blocked_s": round(first[0], 4), "first_blocked_wall_s": first[1],
                            "stop_wall_s": time.monotonic(), "brake": self.brake.command < 0.0})
        del self.events[:-MAX_EVENTS]
        logger.warning("obstacle stop: %s%s; %s", self.reason, " (%s)" % self.source if self.source else "",
                       self.brake.description)

    def _go_on(self, now_s: float) -> None:
        held_s = now_s - (self._stopped_at if self._stopped_at is not None else now_s)
        if self.events:
            self.events[-1]["held_s"] = round(held_s, 3)
        logger.info("obstacle stop: the way was clear for %.1f s; going on (held %.1f s)", self.settings.clear_s,
                    held_s)
        self.state = CLEAR
        self.reason = ""
        self._run = 0
        self._clear_since = None
        self._first_blocked = None

    # -- the throttle --------------------------------------------------------------------------------

    def limit(self, throttle: Optional[float], now_s: float) -> Tuple[Optional[float], str]:
        """``(throttle, reason)``: the command the stop lets through at ``now_s``, and why it lowered it ("": it
        did not)."""
        if self.state == CLEAR:
            return throttle, ""
        braking = self._stopped_at is not None and now_s - self._stopped_at < self.brake.duration_s
        return limit_throttle(throttle, True, braking, self.brake.command), self.reason

    # -- a person ------------------------------------------------------------------------------------

    def rearm(self) -> None:
        """A person armed the drive: with ``resume: rearm`` the car may go on once the way is clear."""
        if self.state != CLEAR:
            self._armed_since_stop = True
            if self.state == WAITING:
                self._go_on(self._now_s)

    # -- reporting -----------------------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        return self.state != CLEAR

    def status(self) -> Dict[str, Any]:
        """What the state file, the OLED and ``jetracer arm --status`` show of the stop (JSON-serialisable)."""
        p = self.blocked_p
        return {"state": self.state, "blocked_p": None if p is None else round(p, 3),
                "distance_m": None if self.distance_m is None or not math.isfinite(self.distance_m)
                else round(self.distance_m, 3),
                "source": self.source, "threshold": self.settings.threshold, "stops": self.stops,
                "resume": self.settings.resume, "brake": self.brake.description}

    def metrics(self) -> Dict[str, Any]:
        """The run's stops for the drive report: the count and the last :data:`MAX_EVENTS` events."""
        return dict(self.status(), events=list(self.events))


def obstacle_stop_for(settings: ObstacleSettings, pilot: Any, profile: Any, car: Any, model_name: str = "the model",
                      load_stop_model: Optional[Callable[[str], Any]] = None) -> Optional[ObstacleStop]:
    """The drive's obstacle stop, or None where there is none to make.

    ``enabled`` null: on when the pilot has an obstacle output or a stop model is set; false: off; true: on,
    and a pilot without an obstacle output and no stop model is an :class:`ObstacleStopError` naming both
    fixes, raised before anything drives. The pilot's own output wins over a stop model (which is then
    not loaded).
    """
    if settings.enabled is False or (pilot is None and not settings.enabled):
        return None
    own = bool(getattr(pilot, "has_obstacle_output", False))
    if pilot is None or (not own and not settings.stop_model):
        if not settings.enabled:
            return None
        raise ObstacleStopError(
            "drive.obstacle.enabled is true but %s has no obstacle output and drive.obstacle.stop_model is not set: "
            "train a model with obstacle frames (jetracer train ROAD_DATASET BLOCKED_FREE_DATASET) or set "
            "drive.obstacle.stop_model to an upstream JetBot collision model (best_model.pth); or set "
            "drive.obstacle.enabled: false to drive without stopping for obstacles"
            % (model_name if pilot is not None else "manual mode without a model"))
    stop_model = None
    if own:
        if settings.stop_model:
            logger.info("drive.obstacle.stop_model %s is not used: %s has its own obstacle output",
                        settings.stop_model, model_name)
    else:
        if load_stop_model is None:
            from ..pilot.stop_model import load_stop_model
        stop_model = load_stop_model(settings.stop_model)
    return ObstacleStop(settings, brake=brake_for(profile, car), stop_model=stop_model)
