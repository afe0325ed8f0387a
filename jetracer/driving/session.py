"""One drive session as the service runs it: build car, camera, pilot and gamepad from the config, drive, report.

:func:`drive` is what ``jetracer drive`` calls: the real car (camera capture thread, real time) or the
simulator (``sim=True``: lockstep, paced to real time unless ``fast``). With ``config.i2c ==
"emulated"`` the car's outputs go to the emulated PCA9685 chips, and the report includes their pulses.
SIGTERM/SIGINT latch the car's e-stop at once and end the loop; the report then says when the
throttle reached neutral (``signal.neutral_time``, wall clock). Ctrl-Z (SIGTSTP) latches the e-stop,
then lets the process stop; after ``fg`` it drives again only when a person arms it.

The session never drives by itself: the loop starts disarmed (``arm=True`` is for a person starting
it in a terminal, ``jetracer drive --arm``) and a supervisor process (:mod:`.supervisor`) watches it
with its own I2C handle on the throttle's chip, from a session of its own (what stops or kills the drive
process's process group at a terminal does not reach it); it also owns the control socket ``jetracer
arm`` talks to, writes the state file, and speaks to systemd (``READY=1``, ``WATCHDOG=1``).
"""
import logging
import os
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from ..config import Config, ConfigError
from ..config_schema import DriveSettings
from ..pilot.limits import check_pilot_metadata
from ..pixels import to_normalised
from ..state import publish_state
from ..steering_law import SteeringLaw
from .failsafe import install_job_stop_handler, install_signal_handlers, self_check
from .loop import DriveLoop
from .obstacle_stop import obstacle_stop_for
from .settings import steering_gain

logger = logging.getLogger(__name__)


def emulated_outputs(config: Config, profile: Any) -> Optional[Dict[str, float]]:
    """The emulated chips' outputs, or None on real hardware.

    A servo/ESC section gives ``<section>_pulse_us``; a DC-motor throttle (``motors:``) gives
    ``throttle_duty``: the first motor's speed duty in [0, 1], negative when its bridge drives backward.
    """
    if config.i2c != "emulated":
        return None
    from ..hardware.emulated import shared_bus

    out = {}
    for section in ("steering", "throttle"):
        s = profile[section]
        chip = shared_bus().chip(s.i2c_address)
        if "channel" in s:
            out["%s_pulse_us" % section] = round(chip.pulse_us(s.channel), 1)
        elif s.get("motors", None):
            motor = s.motors[0]
            backward = chip.duty(motor.in2_channel) > 0.5 and chip.duty(motor.in1_channel) < 0.5
            duty = chip.duty(motor.pwm_channel)
            out["%s_duty" % section] = round(-duty if backward and duty > 0 else duty, 4)
    return out


def share_emulated_bus(config: Config) -> Optional[str]:
    """On emulated chips without ``$JETRACER_EMULATED_BUS``, name one in the runtime directory; return the file.

    The supervisor is another process: with a bus private to each process its neutral writes would
    reach a chip of its own, not the one the drive process commands. The file (``emulated_bus.bin`` in
    :func:`jetracer.runtime.runtime_dir`, private to this user) makes them one chip, as on the car;
    ``jetracer drive --neutral`` (the unit's ExecStopPost) then finds the same chips.
    """
    from ..hardware.emulated import BUS_FILE_ENV, bus_file
    from ..runtime import emulated_bus_path

    if config.i2c != "emulated":
        return None
    if bus_file():
        return bus_file()
    path = emulated_bus_path()
    os.environ[BUS_FILE_ENV] = path
    return path


def put_at_neutral(config: Config, state_file: Optional[str] = None) -> Dict[str, Any]:
    """Throttle at neutral and steering centred, then publish "stopped" (``ExecStartPre=``/``ExecStopPost=``).

    An invalid calibration in the user's config must not leave a driving pulse on the chip: then the
    shipped profile's pulses are used, with a warning naming the problem.
    """
    from ..car import create_car
    from ..profiles import ProfileError

    report = {"neutral": True}  # type: Dict[str, Any]
    try:
        config.load_profile()
    except ProfileError as e:
        logger.error("%s; putting the car at the shipped profile's neutral instead", e)
        config = config.with_overrides(profile_overrides={})
        report["warning"] = str(e)
    car = create_car(config)
    car.close()
    report["outputs"] = emulated_outputs(config, car.profile)
    try:
        publish_state({"mode": "stopped", "armed": False, "stop_reason": "drive service not running",
                       "outputs": report["outputs"]}, path=state_file)
    except OSError as e:
        logger.warning("could not publish the stopped state: %s", e)
    return report


class WorldCamera(object):
    """The simulator as a lockstep camera: ``read()`` renders the world's current pose; ``timestamp`` is when
    the last read began, on ``time.monotonic()`` (the capture time of a real camera's frame)."""

    def __init__(self, world: Any) -> None:
        self.world = world
        self.width, self.height = world.width, world.height
        self.timestamp = 0.0

    @property
    def frame_id(self) -> int:
        return self.world.frame

    def read(self) -> Any:
        self.timestamp = time.monotonic()
        return self.world.render()

    def release(self) -> None:
        pass


class LabelPilot(object):
    """The simulator's own label as a pilot (``--model expert`` with ``--sim``): tests the service without a model.

    It reads the world, not the frame, so it is exempt from the self-check. ``predict`` also reports the
    world's obstacle label as ``blocked_p`` 1.0 or 0.0 (:meth:`jetracer.sim.world.SimWorld.obstacle_label`), at
    the car's speed or, if higher, ``speed_mps`` (the speed it drives at: a stopped car keeps seeing the
    obstacle it stopped for, as a model that cannot see speed does), and the distance to it.
    """

    backend = "sim-label"
    has_obstacle_output = True
    last_timing_ms = {}  # type: Dict[str, float]

    def __init__(self, world: Any, speed_mps: float = 0.0) -> None:
        self.world = world
        self.speed_mps = float(speed_mps)

    def __call__(self, frame_bgr: Any) -> Any:
        u, v = self.world.label_uv()
        return to_normalised(u, v, self.world.width, self.world.height)

    def predict(self, frame_bgr: Any) -> Any:
        from ..pilot.base import Prediction

        x, y = self(frame_bgr)
        label = self.world.obstacle_label()
        if label.speed_mps < self.speed_mps:
            label = self.world.obstacle_label(speed_mps=self.speed_mps)
        return Prediction(x, y, 1.0 if label.blocked else 0.0, label.distance_m)


def cruise_speed_mps(world: Any, throttle: float) -> float:
    """The speed the world's car settles at for throttle command ``throttle`` (its gain, offset and cap)."""
    car = world.car
    output = throttle * car.throttle_gain + car.throttle_offset
    output = max(-car.max_throttle, min(car.max_throttle, output))
    return abs(output) * world.dynamics.params.max_speed_mps


class _Pacer(object):
    """Steps the world (and lets its person lift an obstacle the car waits before: :mod:`jetracer.sim.lifter`),
    then sleeps so simulated time keeps up with (not ahead of) the wall clock."""

    def __init__(self, world: Any, realtime: bool) -> None:
        from ..sim.lifter import ObstacleLifter

        self.world = world
        self.realtime = realtime
        self.start = None  # type: Optional[float]
        self.lifter = ObstacleLifter(world)

    def __call__(self) -> None:
        self.world.step()
        self.lifter()
        if self.realtime:
            if self.start is None:
                self.start = time.monotonic() - self.world.state.time_s
            delay = self.start + self.world.state.time_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)


class DriveParts(NamedTuple):
    """Stand-ins for what :func:`drive` builds from the configuration (tests and benchmarks inject faults through them).

    ``pilot`` replaces the model file (a callable ``frame -> (x, y)``), ``camera`` the configured camera
    (real-time branch only; the caller releases it), ``teleop`` the evdev gamepad, ``heartbeat`` adds a
    heartbeat to watch; ``supervise=False`` runs without the supervisor process (not for a real car).
    """

    pilot: Any = None
    camera: Any = None
    teleop: Any = None
    heartbeat: Any = None
    supervise: bool = True


class _Rig(NamedTuple):
    """What a session drives: the car, its camera and pilot, the simulated world (or None), how the loop runs."""

    car: Any
    camera: Any
    pilot: Any
    world: Any
    loop_options: Dict[str, Any]
    check_frames: List[Any]


def _gamepad(drive: DriveSettings, teleop: Any, car: Any, loop: Any) -> Any:
    from .gamepad import EvdevGamepad, connect_controller

    pad = EvdevGamepad(drive.gamepad_device)
    connect_controller(pad, teleop, car=car, loop=loop)
    return pad


def _close_all(closers: List[Any]) -> None:
    """Run every closer, in order, whatever the others raise (the car is last)."""
    for close in closers:
        try:
            close()
        except Exception:  # noqa: BLE001 - every other closer must still run
            logger.exception("cleanup failed")


def _start_supervisor(config: Config, profile: Any, drive: DriveSettings, sim: bool,
                      state_file: Optional[str]) -> Any:
    from ..runtime import runtime_dir
    from ..state import state_path
    from .supervisor_link import SOCKET_NAME, SupervisorLink

    chips = not sim or config.i2c == "emulated"
    return SupervisorLink.start(profile if chips else None, config.i2c, config.i2c_bus if chips else 1,
                                timeout_s=drive.supervisor_timeout_s, state_file=state_file or state_path(),
                                control_path=os.path.join(runtime_dir(), SOCKET_NAME))


def _choose_pilot(config: Config, drive: DriveSettings, sim: bool, pilot: Any) -> Tuple[Any, bool]:
    """``(pilot, expert)``: the given pilot, the model file loaded and checked, or the simulator's label."""
    expert = drive.model == "expert" and pilot is None
    if expert and not sim:
        raise ConfigError("--model expert (the simulator's label) only works with --sim; give a model file")
    if drive.mode != "manual" and not drive.model and pilot is None:
        raise ConfigError("drive mode %r needs a model: pass --model PATH or set drive.model in %s (or use "
                          "--mode manual to drive with the gamepad)" % (drive.mode, config.path))
    if drive.model and not expert and pilot is None:
        from ..pilot.load import load_pilot

        pilot = load_pilot(drive.model)
    if pilot is not None and not expert:
        check_pilot_metadata(pilot)  # before anything is built: a model claiming 20000x20000 inputs never runs
    return pilot, expert


def _sim_rig(config: Config, profile: Any, pilot: Any, expert: bool, seed: Optional[int], fast: bool) -> _Rig:
    """The simulator, lockstep (paced to real time unless ``fast``); on emulated chips its car drives them too."""
    from ..sim_mode import build_world

    driver = None
    if config.i2c == "emulated":
        from ..car import create_driver

        driver = create_driver(config, profile)
    world = build_world(config, seed=seed, driver=driver)
    options = dict(lockstep=True, clock=lambda: world.state.time_s, advance=_Pacer(world, not fast),
                   period_s=1.0 / world.fps)  # type: Dict[str, Any]
    frames = [world.render() for _ in range(config.drive.self_check_frames)]
    if expert:
        pilot = LabelPilot(world, cruise_speed_mps(world, config.drive.throttle))
    return _Rig(world.car, WorldCamera(world), pilot, world, options, frames)


def _car_rig(config: Config, profile: Any, pilot: Any, camera: Any, closers: List[Any]) -> _Rig:
    """The configured car and camera in real time (a camera it opens goes into ``closers``)."""
    from ..camera.recovering import recovering_camera
    from ..car import create_car

    car = create_car(config)
    if camera is None:
        camera = recovering_camera(config)
        closers.append(camera.release)
    frames = [camera.read() for _ in range(config.drive.self_check_frames)]
    return _Rig(car, camera, pilot, None, dict(period_s=1.0 / profile.camera.capture_fps), frames)


def drive(config: Config, sim: bool = False, duration_s: Optional[float] = None, fast: bool = False,
          state_file: Optional[str] = None, seed: Optional[int] = None, arm: bool = False,
          parts: DriveParts = DriveParts()) -> Dict[str, Any]:
    """Drive until ``duration_s`` (simulated seconds with ``sim``), a signal, or forever; return the report.

    Everything else comes from ``config`` (``config.drive``: the model, mode, limits; command-line values
    go in through ``config.with_overrides(drive={...})``). ``arm`` starts armed (a person at the
    terminal); otherwise the car waits at neutral for an arm. ``parts`` (:class:`DriveParts`) replaces
    what would be built from the configuration. ``report["supervisor_lost"]`` says why the session ended
    when the supervisor went away (the CLI then exits non-zero so systemd restarts it). Raises
    ``SelfCheckError`` (without moving the car) when the model's output is NaN or constant, and
    ``SupervisorError`` when the supervisor cannot attach to the chips or another drive process runs.
    """
    session = _Session(config, sim, parts, state_file)
    session.build(seed, fast)
    try:
        session.run(arm, duration_s)
    finally:
        _close_all(session.closers)
    return session.finish()


class _Session(object):
    """One :func:`drive`: what it runs on, what it must close (``closers``, in order), what it reports."""

    def __init__(self, config: Config, sim: bool, parts: DriveParts, state_file: Optional[str]) -> None:
        self.config = config
        self.drive = config.drive
        self.profile = config.load_profile()
        self.sim = sim
        self.parts = parts
        self.state_file = state_file
        self.closers = []  # type: List[Any]
        self.link = None  # type: Any
        self.recorder = None  # type: Any
        self.expert = False
        self.rig = None  # type: Any
        self.obstacle = None  # type: Any
        self.report = {"mode": self.drive.mode, "sim": sim}  # type: Dict[str, Any]

    def build(self, seed: Optional[int], fast: bool) -> None:
        """The pilot, the car and camera (or the simulator) and the supervisor; all closed again if one fails."""
        pilot, self.expert = _choose_pilot(self.config, self.drive, self.sim, self.parts.pilot)
        if self.sim:
            self.rig = _sim_rig(self.config, self.profile, pilot, self.expert, seed, fast)
        else:
            self.rig = _car_rig(self.config, self.profile, pilot, self.parts.camera, self.closers)
        self.closers.append(self.rig.car.close)
        try:
            self._build_obstacle_stop()
            if self.parts.supervise:
                self.link = _start_supervisor(self.config, self.profile, self.drive, self.sim, self.state_file)
                self.closers.insert(0, self.link.close)
        except BaseException:
            _close_all(self.closers)
            raise

    def _build_obstacle_stop(self) -> None:
        """``drive.obstacle`` made (the stop model loaded), or its error raised before anything drives."""
        rig = self.rig
        name = "the simulator's label" if self.expert else (self.drive.model or "the pilot")
        self.obstacle = obstacle_stop_for(self.drive.obstacle, rig.pilot, self.profile, rig.car, model_name=name)
        if self.obstacle is not None and rig.world is not None:
            camera = rig.camera
            self.obstacle.capture_wall = lambda stamp: camera.timestamp  # lockstep stamps are simulated seconds

    def publish(self, state: Dict[str, Any]) -> None:
        """The loop's state, with the emulated outputs, to the supervisor (which writes it) or the state file."""
        state["outputs"] = emulated_outputs(self.config, self.profile)
        health = getattr(self.rig.camera, "health", None)  # a camera that reopens itself says how it is
        if health is not None:
            state["camera"] = health()
        if self.link is not None:
            self.link.publish(state)
        else:
            publish_state(state, path=self.state_file)

    def run(self, arm: bool, duration_s: Optional[float]) -> None:
        """Self-check the pilot, build the loop with its gamepad and recorder, run it until it ends."""
        drive, rig, parts = self.drive, self.rig, self.parts
        if rig.pilot is not None and rig.check_frames and not self.expert:
            self_check(rig.pilot, rig.check_frames, timeout_s=drive.self_check_timeout_s)
        teleop = parts.teleop
        own_teleop = teleop is None and drive.mode != "auto"
        if own_teleop:
            from .gamepad import Teleop

            teleop = Teleop(drive.gamepad, clock=rig.loop_options.get("clock", time.monotonic))
        if drive.record_root:
            from .recorder import Recorder

            self.recorder = Recorder(drive.record_root, drive.record_category)
            self.closers.insert(0, self.recorder.close)
        law = SteeringLaw.from_settings(drive, gain=steering_gain(drive, rig.world))
        loop = DriveLoop(rig.car, rig.camera, rig.pilot, law, drive, teleop=teleop, recorder=self.recorder,
                         publish=self.publish, armed=arm, supervisor=self.link, heartbeat=parts.heartbeat,
                         obstacle_stop=self.obstacle, **rig.loop_options)
        if own_teleop:
            self.closers.insert(0, _gamepad(drive, teleop, rig.car, loop).close)
        self._run_loop(loop, duration_s)

    def _run_loop(self, loop: DriveLoop, duration_s: Optional[float]) -> None:
        """Run ``loop`` with the signal handlers in place; a signal's time and outputs go in the report."""
        car, report = self.rig.car, self.report

        def on_signal(name: str) -> None:
            report["signal"] = {"name": name, "neutral_time": time.time(),
                                "outputs": emulated_outputs(self.config, self.profile)}
            loop.request_stop()

        restore = install_signal_handlers(car, on_signal)
        restore_job_stop = install_job_stop_handler(car)
        try:
            report.update(loop.run(duration_s=duration_s))
        finally:
            restore_job_stop()
            restore()
        if self.link is not None and self.link.lost:
            report["supervisor_lost"] = self.link.lost
        if self.rig.world is not None:
            state = self.rig.world.state
            report["sim_state"] = {"laps": state.laps, "distance_m": round(state.distance_m, 2),
                                   "offtrack": bool(state.offtrack), "time_s": round(state.time_s, 2)}
            world = self.rig.world
            if len(world.obstacles.items):
                report["sim_state"].update(obstacles=len(world.obstacles.items), collisions=world.collisions,
                                           lifted=loop.advance.lifter.lifted)

    def finish(self) -> Dict[str, Any]:
        """The report once everything is closed: the recorder's counts, the outputs; "stopped" published."""
        report, recorder = self.report, self.recorder
        if recorder is not None:  # closed: every queued frame is written (or failed) by now
            report.update(frames_recorded=recorder.saved, frames_record_failed=recorder.failed,
                          frames_record_dropped=recorder.dropped)
        report["outputs"] = emulated_outputs(self.config, self.profile)
        if self.link is None:
            try:
                publish_state({"mode": "stopped", "armed": False, "stop_reason": "drive service ended",
                               "outputs": report["outputs"]}, path=self.state_file)
            except OSError:
                logger.warning("could not publish the final drive state")
        return report
