"""The drive loop: camera frame -> pilot -> steering law -> car, at the camera's rate, with failsafes.

One iteration (:meth:`DriveLoop.step`):

1. take the newest frame (a capture thread's, waited for at most one frame period; or, in lockstep
   mode for the simulator, ``camera.read()``); a frame already processed is not processed again;
2. in ``auto``/``auto-steer`` mode run the pilot on a new frame and the steering law on its ``x``;
3. in ``manual``/``auto-steer`` mode take the gamepad's commands;
4. check the failsafes; any of them puts the throttle at neutral (``car.stop(reason)``) in this
   iteration: the newest frame older than ``max_frame_age_s``, gamepad commands older than
   ``command_timeout_s`` (in modes that use them), the browser heartbeat older than
   ``heartbeat_timeout_s``, the pilot raising or returning NaN, the camera reporting an error (the
   stop reason is then ``camera: <its message>``, in the log, the state file and on the OLED). The car's latched e-stop overrides
   every mode. Failsafes other than the e-stop clear by themselves when the cause goes away;
5. with an ``obstacle_stop`` (:mod:`jetracer.driving.obstacle_stop`), in ``auto``/``auto-steer`` mode: the
   pilot's (or the stop model's) blocked reading of a new frame goes to it, and it may lower the throttle
   (brake, then neutral) while the way is blocked; its reason ("obstacle ahead: p=0.93") is the loop's
   ``stop_reason`` while no failsafe has one.

**Arming.** A loop starts disarmed unless made with ``armed=True``: disarmed is the car's latched
e-stop (reason :data:`NOT_ARMED`), so no thread can move the car until a person arms it
(:meth:`DriveLoop.arm`: the gamepad's START, the notebook's ARM, ``jetracer arm``). Steering still
follows the model while disarmed: it moves only the front wheels of a car that cannot roll, and lets
the person see the model track the road before arming. A supervisor trip, a lost supervisor, the
e-stop button and ``jetracer disarm`` all disarm, and so does a camera that reopened itself
(:class:`jetracer.camera.recovering.RecoveringCamera`) when its frames come back: a stop long enough to
reopen the camera is one a person may have walked up to (to reseat a cable, restart the daemon), so
the car waits for an arm instead of driving off; a shorter gap clears by itself as the other failsafes.

**Supervision.** With a ``supervisor`` (:class:`jetracer.driving.supervisor_link.SupervisorLink`) the loop
beats before each model call and after each actuation, and reads the supervisor's messages before
each actuation, so a trip (the supervisor saw no beat for its timeout and put the throttle at neutral
through its own I2C handle) latches the e-stop before the next throttle write.

A supervised loop also watches its own clock: when more time than the supervisor's timeout passed
between two of its beats, or passes between its last beat and a throttle write, the process was
stopped (Ctrl-Z, SIGSTOP, a suspended terminal job) or starved, and the supervisor has put (or is
putting) the throttle at neutral. The loop then latches its e-stop (reason :data:`STALLED`) whether or
not the supervisor's trip message has been read, so a process that resumes comes back disarmed and a
person re-arms it. The check runs every iteration, just before the throttle is written and again just
after (a stop that lands inside the write: neutral again at once on resume).

In real time the wait for a frame is cut short at the moment the frame, the gamepad command or the
browser heartbeat would become stale, so a failsafe acts within about a millisecond of its limit.
All ages are measured on ``clock`` (``time.monotonic`` in real time, simulated seconds in lockstep).
"""
import logging
import math
import time
from typing import Any, Callable, Dict, Optional, Tuple

import traitlets

from ..config_schema import DRIVE, DRIVE_MODES, DriveSettings
from ..racecar import Racecar
from ..steering_law import SteeringLaw
from .frames import LockstepFrames, ThreadedFrames

logger = logging.getLogger(__name__)

NOT_ARMED = "not armed: press START on the gamepad, ARM in the notebook, or run jetracer arm"
STALLED = "drive loop stalled"
STAGES = ("capture_age_ms", "wait_ms", "preprocess_ms", "inference_ms", "actuation_ms", "advance_ms", "overhead_ms",
          "total_ms")


class DriveLoop(traitlets.HasTraits):
    """Drive ``car`` from ``camera`` frames through ``pilot`` (``pilot(frame_bgr) -> (x, y)``) and ``law``.

    ``settings`` (:class:`jetracer.config_schema.DriveSettings`, e.g. ``config.drive``) gives the
    starting ``mode``, the failsafe limits (``max_frame_age_s``, ``command_timeout_s``,
    ``heartbeat_timeout_s``), the car's own ``watchdog_s`` and ``publish_hz``; the loop has no defaults
    of its own for them. ``teleop`` (see :class:`jetracer.driving.gamepad.Teleop`) supplies ``steering``,
    ``throttle`` and ``stamp`` (its last input on ``clock``); ``heartbeat`` supplies
    ``send(now)``/``age_s(now)``; ``recorder`` supplies ``record(frame, x, y)``. ``advance`` (lockstep
    only) is called after the car is commanded, e.g. ``world.step``. ``publish(state)`` is called about
    ``publish_hz`` times a second of wall time (e.g. :func:`jetracer.state.publish_state` for the OLED).
    ``obstacle_stop`` (:class:`jetracer.driving.obstacle_stop.ObstacleStop`) stops the car for what is in its way.
    """

    mode = traitlets.Enum(DRIVE_MODES, default_value=DRIVE["mode"].default)
    stop_reason = traitlets.Unicode(default_value="")
    target = traitlets.Tuple(default_value=(0.0, 0.0))
    fps = traitlets.Float(default_value=0.0)
    timing_ms = traitlets.Dict()
    iterations = traitlets.Int(default_value=0)

    def __init__(self, car: Racecar, camera: Any, pilot: Optional[Callable[[Any], Any]], law: SteeringLaw,
                 settings: DriveSettings, teleop: Any = None, heartbeat: Any = None, recorder: Any = None,
                 lockstep: bool = False, clock: Optional[Callable[[], float]] = None,
                 advance: Optional[Callable[[], Any]] = None, period_s: float = 1.0 / 30,
                 publish: Optional[Callable[[Dict[str, Any]], None]] = None, armed: bool = False,
                 supervisor: Any = None, obstacle_stop: Any = None) -> None:
        super(DriveLoop, self).__init__()
        if settings.mode != "manual" and pilot is None:
            raise ValueError("mode %r needs a pilot (a model: --model PATH); only manual mode drives without one"
                             % settings.mode)
        self.car = car
        self.camera = camera
        self.pilot = pilot
        self.law = law
        self.settings = settings
        self.teleop = teleop
        self.heartbeat = heartbeat
        self.recorder = recorder
        self.lockstep = lockstep
        self.period_s = float(period_s)
        if clock is None:
            clock = _LockstepClock(self.period_s) if lockstep else time.monotonic
        self.clock = clock
        self.advance = advance
        self.max_frame_age_s = settings.max_frame_age_s
        self.command_timeout_s = settings.command_timeout_s
        self.heartbeat_timeout_s = settings.heartbeat_timeout_s
        self.publish = publish
        self.publish_period_s = 1.0 / settings.publish_hz
        if not lockstep and settings.watchdog_s > 0:
            car.command_timeout_s = settings.watchdog_s
        self._frames = None  # type: Any
        self._last_id = -1
        self._stop_requested = False
        self._record_requested = False
        self._sums = dict((k, 0.0) for k in STAGES)
        self._stops = {}  # type: Dict[str, int]
        self._processed = 0
        self._recorded = 0
        self._started = None  # type: Optional[float]
        self._elapsed_s = 0.0
        self._last_publish = float("-inf")
        self._auto_throttle = 0.0
        self._frame_stamp = float("-inf")
        self.supervisor = supervisor
        self._last_beat_s = None  # type: Optional[float]
        self._gap_s = 0.0
        self._failsafe = ""  # the failsafe reason of the last iteration (stop_reason may be the obstacle stop's)
        self.obstacle_stop = obstacle_stop
        self._camera_recoveries = int(getattr(camera, "recoveries", 0) or 0)
        self.mode = settings.mode
        if armed:
            self.arm()
        else:
            self.disarm(NOT_ARMED)

    # -- controls (safe to call from widgets, buttons, signal handlers) ----------------------------

    def request_stop(self, *args: Any) -> None:
        """End :meth:`run` after the current iteration."""
        self._stop_requested = True

    @property
    def armed(self) -> bool:
        """True when throttle commands reach the car: no e-stop latched (a lost supervisor latches one; see arm)."""
        return not self.car.estopped

    def arm(self, *args: Any) -> bool:
        """Let the loop drive: release the car's latched e-stop. Refused (False) when the supervisor is lost."""
        if self.supervisor is not None and self.supervisor.lost:
            logger.warning("arm refused: %s", self.supervisor.lost)
            return False
        if self.car.estopped:
            self.car.release_estop()
            logger.info("armed")
        if self.obstacle_stop is not None:
            self.obstacle_stop.rearm()  # resume: rearm waits for this
        return True

    def disarm(self, reason: str = "disarmed") -> None:
        """Throttle to neutral and keep it there until :meth:`arm` (the car's e-stop latch)."""
        if not self.car.estopped or self.car.stop_reason != reason:
            self.car.estop(reason)

    def request_record(self, *args: Any) -> None:
        """Save the next processed frame with the current steering target (needs a ``recorder``)."""
        self._record_requested = True

    def next_mode(self, *args: Any) -> str:
        """Cycle manual -> auto-steer -> auto -> manual (modes needing a pilot are skipped without one)."""
        modes = DRIVE_MODES if self.pilot is not None else ("manual",)
        i = modes.index(self.mode) if self.mode in modes else -1
        self.mode = modes[(i + 1) % len(modes)]
        return self.mode

    @traitlets.validate("mode")
    def _valid_mode(self, proposal: Any) -> str:
        if proposal["value"] != "manual" and self.pilot is None:
            raise traitlets.TraitError("mode %r needs a pilot; this loop has none" % proposal["value"])
        return proposal["value"]

    @traitlets.observe("mode")
    def _on_mode(self, change: Any) -> None:
        self.law.reset()
        logger.info("drive mode: %s", change["new"])

    # -- one iteration -----------------------------------------------------------------------------

    def step(self) -> None:
        """Run one iteration (see the module docstring)."""
        if self._frames is None:
            self._open()
        t0 = time.perf_counter()
        frame, frame_id, stamp = self._frames.next(self._last_id, self._wait_s())
        self._after_camera_recovery()
        t1 = time.perf_counter()
        now = self.clock()
        self._frame_stamp = stamp
        self._beat()
        timing = {"capture_age_ms": 1000.0 * (now - stamp) if frame is not None else float("inf"),
                  "wait_ms": 1000.0 * (t1 - t0), "preprocess_ms": 0.0, "inference_ms": 0.0}
        mode = self.mode
        fresh = frame is not None and frame_id != self._last_id
        reason = ""
        camera_error = getattr(self._frames, "error", "")
        if camera_error:
            reason = "camera: %s" % camera_error
            fresh = False
        elif frame is None or now - stamp > self.max_frame_age_s:
            reason = "no camera frame for %.0f ms" % (1000.0 * (now - stamp)) if frame is not None else "no camera frame yet"
        steering = None  # type: Optional[float]
        throttle = None  # type: Optional[float]
        if fresh:
            self._last_id = frame_id
            self._processed += 1
        if mode != "manual" and fresh and not reason:
            steering, reason = self._run_pilot(frame, stamp, timing)
        if mode == "auto":
            throttle = self._auto_throttle
        else:
            teleop = self.teleop
            if teleop is None or now - teleop.stamp > self.command_timeout_s:
                reason = reason or ("no gamepad command for %.0f ms" % (1000.0 * (now - teleop.stamp))
                                    if teleop is not None else "mode %s needs a gamepad" % mode)
            else:
                throttle = teleop.throttle
                if mode == "manual":
                    steering = teleop.steering
                    self.target = (self.law.x_for_steering(steering), self.target[1])
        if self.heartbeat is not None:
            self.heartbeat.send(now)
            age = self.heartbeat.age_s(now)
            if age > self.heartbeat_timeout_s:
                reason = reason or "browser heartbeat lost for %.0f ms" % (1000.0 * age)
        self._supervise()
        if self.car.estopped:
            reason = self.car.stop_reason or "emergency stop"
        note = ""
        if self.obstacle_stop is not None and mode != "manual":  # the obstacle stop: it can only lower the throttle
            throttle, note = self.obstacle_stop.limit(throttle, now)
        t2 = time.perf_counter()
        self._actuate(steering, throttle, reason, note)
        self._beat()
        t3 = time.perf_counter()
        if fresh and self._record_requested and self.recorder is not None and not self.car.estopped:
            self._record_requested = False
            if self.recorder.record(frame, self.target[0], self.target[1]):
                self._recorded += 1  # queued; ``frames_recorded`` reports the recorder's written files
        t4 = time.perf_counter()
        if self.advance is not None:
            self.advance()
        if isinstance(self.clock, _LockstepClock):
            self.clock.ticks += 1
        t5 = time.perf_counter()
        timing["actuation_ms"] = 1000.0 * (t3 - t2)
        timing["advance_ms"] = 1000.0 * (t5 - t4)
        timing["total_ms"] = 1000.0 * (t5 - t0)
        timing["overhead_ms"] = max(0.0, timing["total_ms"] - timing["wait_ms"] - timing["preprocess_ms"]
                                    - timing["inference_ms"] - timing["actuation_ms"] - timing["advance_ms"])
        self._account(timing, reason or note)

    def _run_pilot(self, frame: Any, stamp: float, timing: Dict[str, float]) -> Tuple[Optional[float], str]:
        """``(steering, stop reason)`` from the pilot and the law on ``frame`` (the auto throttle is kept for
        ``auto`` mode); its preprocess and inference times go into ``timing``."""
        steering = None  # type: Optional[float]
        reason = ""
        ts = time.perf_counter()
        try:
            stop = self.obstacle_stop
            x, y = stop.read(self.pilot, frame, stamp) if stop is not None else self.pilot(frame)
            x, y = float(x), float(y)
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError("returned (%r, %r)" % (x, y))
            steering, self._auto_throttle = self.law(x, stamp)
            self.target = (x, y)
        except Exception as e:  # noqa: BLE001 - any model failure must stop the car, not the program
            reason = "model failed: %s" % (e,)
            self._auto_throttle = 0.0
        pilot_ms = 1000.0 * (time.perf_counter() - ts)
        last = getattr(self.pilot, "last_timing_ms", None) or {}
        timing["preprocess_ms"] = float(last.get("preprocess", last.get("preprocess_ms", 0.0)))
        timing["inference_ms"] = pilot_ms - timing["preprocess_ms"]
        return steering, reason

    def _after_camera_recovery(self) -> None:
        """Disarm when the camera reopened itself since the last look (it counts them before the first new frame)."""
        count = int(getattr(self.camera, "recoveries", 0) or 0)
        if count != self._camera_recoveries:
            self._camera_recoveries = count
            self.law.reset()
            said = getattr(self.camera, "recovered_message", "") or "reopened"
            self.disarm("camera: %s; arm again to drive" % said)

    def _wait_s(self) -> float:
        """How long to wait for a frame: a period, cut short where a freshness limit runs out."""
        if self.lockstep or self._failsafe or self._frame_stamp == float("-inf"):
            return self.period_s
        now = self.clock()
        deadlines = [self._frame_stamp + self.max_frame_age_s]
        if self.mode != "auto" and self.teleop is not None:
            deadlines.append(self.teleop.stamp + self.command_timeout_s)
        if self.heartbeat is not None:
            deadlines.append(now - self.heartbeat.age_s(now) + self.heartbeat_timeout_s)
        return min(self.period_s, max(0.0005, min(deadlines) - now + 0.0005))

    def _beat(self) -> None:
        if self.supervisor is not None:
            self._note_gap()
            self._last_beat_s = time.monotonic()
            self.supervisor.beat(self.armed, self.car.throttle_output)

    def _note_gap(self) -> None:
        """Remember the longest wall-clock time without a beat (the supervisor's measure) since :meth:`_stalled`."""
        if self._last_beat_s is not None:
            self._gap_s = max(self._gap_s, time.monotonic() - self._last_beat_s)

    def _stalled(self) -> bool:
        """Latch the e-stop if the loop went longer than the supervisor's timeout without a beat; True if it did."""
        link = self.supervisor
        if link is None:
            return False
        self._note_gap()
        gap_s, self._gap_s = self._gap_s, 0.0
        limit_s = getattr(link, "timeout_s", None)
        if limit_s is None or gap_s <= limit_s or not self.armed:
            return False
        self.disarm("%s: no beat for %.0f ms, over the supervisor's %.0f ms (process stopped by Ctrl-Z or SIGSTOP, "
                    "or starved); arm again to drive" % (STALLED, 1000.0 * gap_s, 1000.0 * limit_s))
        return True

    def _supervise(self) -> None:
        """Act on the supervisor's messages before the car is commanded."""
        link = self.supervisor
        if link is None:
            return
        self._stalled()  # before the messages: an arm read below is a person's, after the stop
        for message in link.poll():
            kind = message.get("t")
            if kind == "trip":
                self.disarm("supervisor: %s" % message.get("reason", "tripped"))
            elif kind == "disarm":
                self.disarm(str(message.get("reason") or "disarmed"))
                link.reply(message, True, "disarmed: throttle at neutral")
            elif kind == "arm":
                ok = self.arm()
                link.reply(message, ok, "armed" if ok else "refused: %s" % (link.lost or self.car.stop_reason))
        if link.lost:  # unsupervised, the loop may not drive again: end it (a new run starts a new supervisor)
            self.disarm("supervisor lost: %s" % link.lost)
            self._stop_requested = True

    def _actuate(self, steering: Optional[float], throttle: Optional[float], reason: str, note: str = "") -> None:
        """Command the car: neutral for a failsafe ``reason``, else ``throttle``; ``note`` (the obstacle stop's
        reason for a lowered throttle) is the stop reason shown when there is no failsafe."""
        car = self.car
        if steering is not None:
            car.steering = steering
        if not reason and throttle is not None and self._stalled():
            reason = car.stop_reason  # stopped since the last check: this write would have been the first after it
        if reason:
            if car.throttle_output != 0.0 or car.throttle != 0.0 or self.stop_reason != reason:
                car.stop(reason)
            else:
                car.heartbeat()
        elif throttle is not None:
            car.throttle = throttle
            self._stalled()  # stopped inside the write: neutral again as soon as it resumes
        else:
            car.heartbeat()
        if reason and reason != self._failsafe:
            logger.warning("throttle at neutral: %s", reason)
        self._failsafe = reason
        if (reason or note) != self.stop_reason:
            self.stop_reason = reason or note

    def _account(self, timing: Dict[str, float], reason: str) -> None:
        self.iterations += 1
        for key in STAGES:
            if key != "capture_age_ms" or math.isfinite(timing[key]):
                self._sums[key] += timing[key]
        if reason:
            key = reason.split(" for ")[0].split(":")[0]
            self._stops[key] = self._stops.get(key, 0) + 1
        self.timing_ms = timing
        wall = time.monotonic()
        if self._started is not None:
            self._elapsed_s = wall - self._started
            if self._elapsed_s > 0:
                self.fps = self._processed / self._elapsed_s
        if self.publish is not None and wall - self._last_publish >= self.publish_period_s:
            self._last_publish = wall
            try:
                self.publish(self.state())
            except Exception:  # noqa: BLE001 - the display is not worth stopping the car for
                logger.exception("could not publish the drive state")

    # -- running -----------------------------------------------------------------------------------

    def _open(self) -> None:
        self._last_id = -1  # a new frame source numbers its frames from the start
        if self.lockstep:
            self._frames = LockstepFrames(self.camera, self.clock)
        else:
            self._frames = ThreadedFrames(self.camera, self.period_s)
        self._started = time.monotonic()

    def run(self, max_iterations: Optional[int] = None, duration_s: Optional[float] = None) -> Dict[str, Any]:
        """Iterate until :meth:`request_stop`, ``max_iterations`` or ``duration_s`` (on ``clock``).

        The car is stopped (throttle neutral) when the loop ends, however it ends. Returns :meth:`metrics`.
        """
        self._stop_requested = False
        start = self.clock() if duration_s is not None else 0.0
        try:
            while not self._stop_requested:
                if max_iterations is not None and self.iterations >= max_iterations:
                    break
                if duration_s is not None and self.clock() - start >= duration_s - 1e-9:
                    break
                self.step()
        finally:
            self.car.stop("drive loop ended")
            if self.supervisor is not None:
                self.supervisor.pause()
                self._last_beat_s = None  # paused: the supervisor keeps no deadline until the next beat
            self.close()
        return self.metrics()

    def close(self) -> None:
        """Stop the capture thread this loop started (the camera itself is the caller's)."""
        if self._frames is not None:
            self._frames.close()
            self._frames = None

    def metrics(self) -> Dict[str, Any]:
        """Counts and mean per-stage timings since the loop started (JSON-serialisable)."""
        n = max(1, self.iterations)
        return {
            "iterations": self.iterations,
            "frames_processed": self._processed,
            "frames_recorded": int(getattr(self.recorder, "saved", self._recorded)),
            "frames_record_queued": self._recorded,
            "frames_record_failed": int(getattr(self.recorder, "failed", 0)),
            "frames_record_dropped": int(getattr(self.recorder, "dropped", 0)),
            "elapsed_s": round(self._elapsed_s, 3),
            "fps": round(self.fps, 2),
            "mean_ms": dict((k, round(v / n, 4)) for k, v in self._sums.items()),
            "stops": dict(self._stops),
            "mode": self.mode,
            **({"obstacle": self.obstacle_stop.metrics()} if self.obstacle_stop is not None else {}),
        }

    def state(self) -> Dict[str, Any]:
        """The state published for the OLED display and other observers."""
        car = self.car
        return {
            "mode": self.mode,
            "armed": self.armed,
            "fps": round(self.fps, 1),
            "steering": round(car.steering, 3),
            "throttle": round(car.throttle, 3),
            "stop_reason": self.stop_reason,
            "estopped": bool(car.estopped),
            "target": [round(v, 3) for v in self.target],
            "timing_ms": dict((k, round(v, 2)) for k, v in self.timing_ms.items() if math.isfinite(v)),
            "iterations": self.iterations,
            **({"obstacle": self.obstacle_stop.status()} if self.obstacle_stop is not None else {}),
        }


class _LockstepClock(object):
    """Simulated seconds for a lockstep loop given no clock: one frame period per iteration."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.ticks = 0

    def __call__(self) -> float:
        return self.ticks * self.period_s
