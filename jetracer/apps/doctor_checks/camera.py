"""The camera: it opens, delivers frames at the asked rate for about 1.5 s; the nvargus daemon's state.

Beside a running drive that holds the camera, the drive's own report of it (its state file) is the finding:
a camera it is reopening fails the check, one it recovered is a warning, each with the fix.

The camera is opened and read on a worker thread, so one that hangs in its driver (a CSI camera whose
``nvargus-daemon`` is stuck: users.md, "Camera") is reported as frozen instead of stopping the doctor.
Off the Jetson a CSI camera (or a USB camera without its /dev/video node) is replaced by the simulator
camera, and the finding says so; a ``sim`` or ``replay`` camera is checked as configured.
"""
import os
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

from .base import Context, Finding
from .probe import one_line, run_command

OPEN_TIMEOUT_S = 20.0
FREEZE_S = 3.0  # no new frame for this long: the camera froze (a CSI camera gives one every 33 ms)
MIN_RATE_SHARE = 0.8  # below this share of the asked rate the drive sees old frames
NVARGUS_RESTART = "sudo systemctl restart nvargus-daemon"
CSI_FIX = ("%s, then check the ribbon cable (seated at both ends, contacts the right way round) and camera.sensor_id "
           "(0 or 1 on two-camera boards); a notebook kernel or the drive service may hold the camera" % NVARGUS_RESTART)


def systemd_running() -> bool:
    """Whether systemd is this machine's init (``systemctl`` works only then)."""
    return os.path.isdir("/run/systemd/system")


def check_nvargus(context: Context) -> Finding:
    """``systemctl is-active nvargus-daemon``: the CSI camera's daemon, which hangs after an unclean stop."""
    source = context.config.camera.source
    if not context.on_jetson:
        return Finding("nvargus", "skipped", "not a Jetson: no nvargus-daemon (it serves the Jetson's CSI cameras)",
                       "nothing to do here; on the car jetracer doctor checks it")
    if source != "csi":
        return Finding("nvargus", "skipped", "camera source is %s: nvargus-daemon serves CSI cameras only" % source,
                       "nothing to do")
    if not systemd_running():
        return Finding("nvargus", "skipped", "systemd is not running here, so the daemon's state cannot be asked",
                       "if the CSI camera does not open: %s" % NVARGUS_RESTART)
    result = run_command(["systemctl", "is-active", "nvargus-daemon"], timeout_s=5.0)
    state = result.out.strip() or result.problem or result.text()
    if state == "active":
        return Finding("nvargus", "ok", "nvargus-daemon is active")
    return Finding("nvargus", "fail", "nvargus-daemon is %s: the CSI camera cannot open without it" % state,
                   NVARGUS_RESTART + " (and `journalctl -u nvargus-daemon -n 30` says why it stopped)")


def camera_plan(context: Context) -> Tuple[Any, str, str]:
    """``(config to open the camera with, source, note)``: the configured camera, or the simulator's off the Jetson
    where the configured device is missing (``note`` says so)."""
    config = context.config
    source = config.camera.source
    if source == "csi" and not context.on_jetson:
        return (config.with_overrides(source="jetracer doctor", camera={"source": "sim"}), "sim",
                "not a Jetson: no CSI camera here; checked the simulator camera instead")
    if source == "usb":
        node = "/dev/video%d" % int(config.camera.device or 0)
        if not os.path.exists(node) and not context.on_jetson:
            return (config.with_overrides(source="jetracer doctor", camera={"source": "sim"}), "sim",
                    "not a Jetson and no %s: checked the simulator camera instead" % node)
    return config, source, ""


def _drive_holding(source: str) -> str:
    """A running drive's state when it holds a device camera (csi, usb), else "" (nothing, or a sim/replay camera)."""
    if source not in ("csi", "usb"):
        return ""
    from ...driving.supervisor_link import control
    try:
        answer = control("status", timeout_s=1.0)
    except Exception:  # noqa: BLE001 - no drive, or one not to be trusted (the drive check says which)
        return ""
    return "armed" if answer.get("armed") else "disarmed"


def drive_camera_trouble(source: str, state: Optional[Dict[str, Any]] = None) -> Optional[Finding]:
    """What the running drive's camera went through, from its published state (``state["camera"]``, written by
    :class:`jetracer.camera.recovering.RecoveringCamera`): ``fail`` while it reopens the camera, ``warning`` when
    it recovered from a stop; None when its camera never stopped (or no drive publishes)."""
    if state is None:
        from ...state import read_state
        state = read_state() or {}
    camera = state.get("camera") or {}
    fix = str(camera.get("fix") or _fix_for(source, None))
    if camera.get("status") == "reopening":
        cause = " ".join(str(camera.get("cause") or "").split())
        stopped = " (it stopped with: %s)" % cause if cause else ""
        return Finding("camera", "fail", "the running drive's %s camera stopped delivering: %s%s"
                       % (source, camera.get("message") or "reopening", stopped), fix)
    if camera.get("last_recovery"):
        ago_s = max(0.0, time.time() - float(camera.get("last_recovery_time") or time.time()))
        count = int(camera.get("recoveries") or 1)
        return Finding("camera", "warning", "the running drive's %s camera stopped delivering and %s, %.0f s ago (%d "
                                            "time%s since the drive started); it delivers now"
                       % (source, camera["last_recovery"], ago_s, count, "" if count == 1 else "s"),
                       "if it happens again: %s" % fix)
    return None


def asked_fps(config: Any, source: str, camera: Any = None) -> float:
    """The frame rate the drive expects of this source."""
    profile = config.load_profile()
    if source == "sim":
        return float(config.sim.fps or profile.camera.capture_fps)
    if source == "replay":
        return float(getattr(camera, "fps", 0) or config.camera.fps or 30.0)
    return float(profile.camera.capture_fps)


def measure(open_camera: Callable[[], Any], seconds: float, state: Dict[str, Any]) -> None:
    """Open, read frames for ``seconds``, release; progress in ``state`` (read by the caller even if this hangs)."""
    started = time.monotonic()
    state["phase"] = "opening"
    camera = open_camera()
    state["camera"] = camera
    state["open_s"] = time.monotonic() - started
    state["phase"] = "reading"
    state["reading_since"] = time.monotonic()
    stamps = state.setdefault("stamps", [])
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and len(stamps) < 2000:
            frame = camera.read()
            stamps.append(time.monotonic())
            shape = getattr(frame, "shape", None)
            if shape is None or len(shape) != 3 or shape[2] != 3:
                state["bad_frame"] = "frame %d is %s, not an HxWx3 image" % (len(stamps), shape)
                break
            state["shape"] = shape
    except Exception as e:  # noqa: BLE001 - reported as the camera's failure
        state["read_error"] = e
    finally:
        state["phase"] = "releasing"
        try:
            camera.release()
        except Exception:  # noqa: BLE001 - a camera that cannot release was already reported by its read
            pass
        state["phase"] = "done"


def watch(work: Callable[[], None], state: Dict[str, Any], seconds: float) -> Tuple[str, Optional[BaseException]]:
    """Run ``work`` (:func:`measure`) on a daemon thread and watch ``state``: ``("done", error)``, or
    ``("open hangs", None)`` / ``("froze", None)`` when it stops making progress (the thread is left behind)."""
    box = {}  # type: Dict[str, Any]

    def target() -> None:
        try:
            work()
        except BaseException as e:  # noqa: BLE001 - the camera's failure to open, reported
            box["error"] = e

    thread = threading.Thread(target=target, name="doctor-camera", daemon=True)
    started = time.monotonic()
    thread.start()
    while True:
        thread.join(0.05)
        if not thread.is_alive():
            return "done", box.get("error")
        now = time.monotonic()
        phase = state.get("phase")
        if phase in (None, "opening") and now - started > OPEN_TIMEOUT_S:
            return "open hangs", None
        if phase == "reading":
            stamps = state.get("stamps") or []
            last = stamps[-1] if stamps else state.get("reading_since", now)
            if now - last > FREEZE_S:
                state["quiet_s"] = now - last
                return "froze", None
        if phase == "releasing" and now - started > OPEN_TIMEOUT_S + seconds + FREEZE_S:
            return "done", None  # the frames are in; a camera slow to release is not this check's failure


def _fix_for(source: str, config: Any, error: Optional[BaseException] = None, reading: bool = False) -> str:
    if error is not None and type(error).__name__ == "JetcamMissing":
        return one_line(error).split(" (")[0]
    if source == "csi":
        return CSI_FIX
    if source == "usb":
        return ("check the USB camera's cable and `dmesg | tail` (camera.device is N of /dev/videoN); a notebook "
                "kernel or the drive service may hold it")
    if source == "replay" and reading:
        return ("remove or replace the unreadable frame it names, or point camera.path in your config at another "
                "recording")
    if source == "replay":
        return ("point camera.path in your config at a folder of images or a video file (a recording of `jetracer "
                "drive` or a dataset folder)")
    return ("the simulator camera failed: run `jetracer -v sim drive --expert --laps 1` to see the traceback, and "
            "report it; set camera.source to csi on the car")


def check_camera(context: Context) -> Finding:
    """Open the configured camera (or its off-Jetson stand-in), read ~1.5 s of frames, judge the rate."""
    from ...camera.factory import create_camera

    configured = context.config.camera.source
    holder = _drive_holding(configured) if context.open_camera is None else None
    trouble = drive_camera_trouble(configured) if holder else None
    if trouble is not None:
        return trouble
    if holder:
        return Finding("camera", "skipped", "a drive process is running (%s) and holds the %s camera: the doctor does "
                                            "not open a camera another process reads" % (holder, configured),
                       "to check the camera, stop the drive (sudo systemctl stop jetracer-drive, or Ctrl-C where it "
                       "runs) and run jetracer doctor again")
    config, source, note = camera_plan(context)
    prefix = "%s: " % note if note else ""
    if context.open_camera is not None:
        open_camera = context.open_camera  # type: Callable[[], Any]
        source = "%s (given)" % source if not note else source
    else:
        def open_camera() -> Any:
            return create_camera(config)
    what = "%s camera" % source.split(" ")[0]
    state = {}  # type: Dict[str, Any]
    seconds = context.camera_seconds
    kind = source.split(" ")[0]
    outcome, error = watch(lambda: measure(open_camera, seconds, state), state, seconds)
    if error is not None:
        return Finding("camera", "fail", "%sthe %s does not open: %s" % (prefix, what, one_line(error)),
                       _fix_for(kind, config, error))
    stamps = state.get("stamps", [])
    if outcome == "open hangs":
        return Finding("camera", "fail", "%sopening the %s did not return within %.0f s (the driver or daemon hangs)"
                       % (prefix, what, OPEN_TIMEOUT_S), _fix_for(kind, config))
    if outcome == "froze":
        return Finding("camera", "fail", "%sthe %s opened in %.1f s, then froze: %d frame%s, then none for %.1f s"
                       % (prefix, what, state.get("open_s", 0.0), len(stamps), "" if len(stamps) == 1 else "s",
                          state.get("quiet_s", 0.0)), _fix_for(kind, config, reading=True))
    if state.get("read_error") is not None:
        failure = state["read_error"]
        return Finding("camera", "fail", "%sthe %s opened, then failed on frame %d: %s%s"
                       % (prefix, what, len(stamps) + 1, "" if type(failure).__name__.endswith("CameraError") else
                          type(failure).__name__ + ": ", one_line(failure)), _fix_for(kind, config, failure, True))
    if state.get("bad_frame"):
        return Finding("camera", "fail", "%sthe %s delivers what is not an image: %s" % (prefix, what, state["bad_frame"]),
                       _fix_for(kind, config, reading=True))
    camera = state.get("camera")
    want = asked_fps(config, kind, camera)
    if len(stamps) < 2:
        return Finding("camera", "fail", "%sthe %s delivered %d frame in %.1f s" % (prefix, what, len(stamps), seconds),
                       _fix_for(kind, config))
    rate = (len(stamps) - 1) / max(1e-6, stamps[-1] - stamps[0])
    shape = state.get("shape") or (0, 0, 3)
    lockstep = kind in ("sim", "replay") and not getattr(camera, "realtime", False)
    seen = ("%s%s opened in %.1f s, %d frames in %.1f s: %.1f frames/s%s, asked %g; %dx%d"
            % (prefix, what, state.get("open_s", 0.0), len(stamps), stamps[-1] - stamps[0], rate,
               " (as fast as it renders)" if lockstep else "", want, shape[1], shape[0]))
    if rate < MIN_RATE_SHARE * want:
        return Finding("camera", "warning", seen + ": slower than asked, so the drive sees older frames",
                       "ask a capture mode the sensor has (1280x720 at 30 or 60 fps for the IMX219), lock the clocks "
                       "(sudo jetson_clocks), or lower sim.fps / camera.fps" if kind != "replay" else
                       "lower camera.fps, or replay from a faster disk")
    return Finding("camera", "ok", seen)
