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
from typing import Any, Dict, List, Optional

from ..config import Config, ConfigError
from ..pilot.limits import check_pilot_metadata
from ..pixels import to_normalised
from ..state import publish_state
from ..steering_law import SteeringLaw
from .failsafe import install_job_stop_handler, install_signal_handlers, self_check
from .loop import DriveLoop
from .settings import drive_settings, steering_gain

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
    """The simulator as a lockstep camera: ``read()`` renders the world's current pose."""

    def __init__(self, world: Any) -> None:
        self.world = world
        self.width, self.height = world.width, world.height

    @property
    def frame_id(self) -> int:
        return self.world.frame

    def read(self) -> Any:
        return self.world.render()

    def release(self) -> None:
        pass


class LabelPilot(object):
    """The simulator's own label as a pilot (``--model expert`` with ``--sim``): tests the service without a model.

    It reads the world, not the frame, so it is exempt from the self-check.
    """

    backend = "sim-label"
    last_timing_ms = {}  # type: Dict[str, float]

    def __init__(self, world: Any) -> None:
        self.world = world

    def __call__(self, frame_bgr: Any) -> Any:
        u, v = self.world.label_uv()
        return to_normalised(u, v, self.world.width, self.world.height)


class _Pacer(object):
    """Steps the world, then sleeps so simulated time keeps up with (not ahead of) the wall clock."""

    def __init__(self, world: Any, realtime: bool) -> None:
        self.world = world
        self.realtime = realtime
        self.start = None  # type: Optional[float]

    def __call__(self) -> None:
        self.world.step()
        if self.realtime:
            if self.start is None:
                self.start = time.monotonic() - self.world.state.time_s
            delay = self.start + self.world.state.time_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def _gamepad(settings: Dict[str, Any], teleop: Any, car: Any, loop: Any) -> Any:
    from .gamepad import EvdevGamepad, connect_controller

    pad = EvdevGamepad(settings["gamepad_device"])
    connect_controller(pad, teleop, car=car, loop=loop)
    return pad


def _close_all(closers: List[Any]) -> None:
    """Run every closer, in order, whatever the others raise (the car is last)."""
    for close in closers:
        try:
            close()
        except Exception:  # noqa: BLE001 - every other closer must still run
            logger.exception("cleanup failed")


def _start_supervisor(config: Config, profile: Any, settings: Dict[str, Any], sim: bool,
                      state_file: Optional[str]) -> Any:
    from ..runtime import runtime_dir
    from ..state import state_path
    from .supervisor_link import SOCKET_NAME, SupervisorLink

    chips = not sim or config.i2c == "emulated"
    return SupervisorLink.start(profile if chips else None, config.i2c, config.i2c_bus if chips else 1,
                                timeout_s=settings["supervisor_timeout_s"], state_file=state_file or state_path(),
                                control_path=os.path.join(runtime_dir(), SOCKET_NAME))


def drive(config: Config, sim: bool = False, model: Optional[str] = None, mode: Optional[str] = None,
          duration_s: Optional[float] = None, fast: bool = False, state_file: Optional[str] = None,
          seed: Optional[int] = None, self_check_frames: Optional[int] = None, arm: bool = False, pilot: Any = None,
          supervise: bool = True, camera: Any = None, teleop: Any = None, heartbeat: Any = None) -> Dict[str, Any]:
    """Drive until ``duration_s`` (simulated seconds with ``sim``), a signal, or forever; return the report.

    ``arm`` starts armed (a person at the terminal); otherwise the car waits at neutral for an arm.
    ``pilot`` replaces the model file (a callable ``frame -> (x, y)``), ``camera`` the configured camera
    (real-time branch only; the caller releases it), ``teleop`` the evdev gamepad, ``heartbeat`` adds a
    heartbeat to watch (tests and benchmarks inject faults through them); ``supervise=False`` runs
    without the supervisor process (not for a real car). ``report["supervisor_lost"]`` says why the
    session ended when the supervisor went away (the CLI then exits non-zero so systemd restarts it).
    Raises ``SelfCheckError`` (without moving the car) when the model's output is NaN or constant, and
    ``SupervisorError`` when the supervisor cannot attach to the chips or another drive process runs.
    """
    settings = drive_settings(config.drive, model=model, mode=mode, self_check_frames=self_check_frames)
    profile = config.load_profile()
    expert = settings["model"] == "expert" and pilot is None
    if expert and not sim:
        raise ConfigError("--model expert (the simulator's label) only works with --sim; give a model file")
    if settings["mode"] != "manual" and not settings["model"] and pilot is None:
        raise ConfigError("drive mode %r needs a model: pass --model PATH or set drive.model in %s (or use "
                          "--mode manual to drive with the gamepad)" % (settings["mode"], config.path))
    if settings["model"] and not expert and pilot is None:
        from ..pilot.load import load_pilot

        pilot = load_pilot(settings["model"])
    if pilot is not None and not expert:
        check_pilot_metadata(pilot)  # before anything is built: a model claiming 20000x20000 inputs never runs
    closers = []  # type: List[Any]
    if sim:
        from ..sim_mode import build_world

        driver = None
        if config.i2c == "emulated":
            from ..car import create_driver

            driver = create_driver(config, profile)
        world = build_world(config, seed=seed, driver=driver)
        car = world.car
        camera = WorldCamera(world)
        if expert:
            pilot = LabelPilot(world)
        kwargs = dict(lockstep=True, clock=lambda: world.state.time_s, advance=_Pacer(world, not fast),
                      period_s=1.0 / world.fps)  # type: Dict[str, Any]
        check_frames = []
        for _ in range(settings["self_check_frames"]):
            check_frames.append(world.render())
    else:
        from ..camera import create_camera
        from ..car import create_car

        car = create_car(config)
        if camera is None:
            camera = create_camera(config)
            closers.append(camera.release)
        kwargs = dict(period_s=1.0 / profile.camera.capture_fps, watchdog_s=settings["watchdog_s"])
        check_frames = [camera.read() for _ in range(settings["self_check_frames"])]
    closers.append(car.close)
    link = None  # type: Any
    try:
        if supervise:
            link = _start_supervisor(config, profile, settings, sim, state_file)
            closers.insert(0, link.close)
    except BaseException:
        _close_all(closers)
        raise
    law = SteeringLaw(steering_gain(settings, world if sim else None), settings["steering_bias"],
                      settings["steering_kd"], settings["throttle"], settings["throttle_mode"],
                      settings["throttle_slowdown"])
    report = {"mode": settings["mode"], "sim": sim}  # type: Dict[str, Any]
    recorder = None  # type: Any
    try:
        if pilot is not None and check_frames and not expert:
            self_check(pilot, check_frames, timeout_s=settings["self_check_timeout_s"])
        own_teleop = teleop is None and settings["mode"] != "auto"
        if own_teleop:
            from .gamepad import Teleop

            teleop = Teleop(settings["gamepad"], clock=kwargs.get("clock", time.monotonic))
        if settings["record_root"]:
            from .recorder import Recorder

            recorder = Recorder(settings["record_root"], settings["record_category"])
            closers.insert(0, recorder.close)

        def publish(state: Dict[str, Any]) -> None:
            state["outputs"] = emulated_outputs(config, profile)
            if link is not None:
                link.publish(state)
            else:
                publish_state(state, path=state_file)

        loop = DriveLoop(car, camera, pilot, law=law, teleop=teleop, recorder=recorder, mode=settings["mode"],
                         max_frame_age_s=settings["max_frame_age_s"], command_timeout_s=settings["command_timeout_s"],
                         heartbeat_timeout_s=settings["heartbeat_timeout_s"], publish=publish,
                         publish_hz=settings["publish_hz"], armed=arm, supervisor=link, heartbeat=heartbeat, **kwargs)
        if own_teleop:
            closers.insert(0, _gamepad(settings, teleop, car, loop).close)

        def on_signal(name: str) -> None:
            report["signal"] = {"name": name, "neutral_time": time.time(),
                                "outputs": emulated_outputs(config, profile)}
            loop.request_stop()

        restore = install_signal_handlers(car, on_signal)
        restore_job_stop = install_job_stop_handler(car)
        try:
            report.update(loop.run(duration_s=duration_s))
        finally:
            restore_job_stop()
            restore()
        if link is not None and link.lost:
            report["supervisor_lost"] = link.lost
        if sim:
            state = world.state
            report["sim_state"] = {"laps": state.laps, "distance_m": round(state.distance_m, 2),
                                   "offtrack": bool(state.offtrack), "time_s": round(state.time_s, 2)}
    finally:
        _close_all(closers)
    if recorder is not None:  # closed above: every queued frame is written (or failed) by now
        report.update(frames_recorded=recorder.saved, frames_record_failed=recorder.failed,
                      frames_record_dropped=recorder.dropped)
    report["outputs"] = emulated_outputs(config, profile)
    if link is None:
        try:
            publish_state({"mode": "stopped", "armed": False, "stop_reason": "drive service ended",
                           "outputs": report["outputs"]}, path=state_file)
        except OSError:
            logger.warning("could not publish the final drive state")
    return report
