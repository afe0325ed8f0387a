"""The schema of the user configuration, as data: every section, key, type, range and default, once.

The same :class:`jetracer.schema.Field` machinery as the car profiles, so a config file, an
environment override and a command-line option are checked alike and a problem is named by its key.
:mod:`jetracer.config` reads the file and the environment against :data:`CONFIG_SCHEMA`, once, and
hands each section out typed (:class:`CameraSettings`, :class:`SimSettings`, :class:`DriveSettings`
with its :class:`GamepadMapping`, :class:`DisplaySettings`): built only from the validated mapping,
with no defaults of their own, so no second list of keys or defaults exists anywhere and no part
validates a setting again.

The vocabularies come from the code that acts on them where that code stands low enough to be
imported here (``THROTTLE_MODES`` from :mod:`jetracer.steering_law`, ``I2C_MODES`` from
:mod:`jetracer.hardware.i2c`, ``FLIPS`` from :mod:`jetracer.pixels`, the I2C bus range from the car
profile's schema); the drive modes and camera sources are declared here because the code that acts
on them (:mod:`jetracer.driving`, :mod:`jetracer.camera.factory`) stands floors above and imports them.
"""
import copy
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Union

from .hardware.i2c import I2C_MODES
from .hardware.outputs import OUTPUTS
from .pixels import FLIPS
from .profiles.schema import I2C_BUS
from .schema import Field, Section, defaults, validate
from .steering_law import THROTTLE_MODES


def Key(kind: Any, *args: Any, **kwargs: Any) -> Field:  # noqa: N802 - reads as a declaration
    """A config key: a :class:`Field` that may be left out (its ``default`` is then used)."""
    kwargs.setdefault("required", False)
    return Field(kind, *args, **kwargs)


CAMERA_SOURCES = ("csi", "usb", "sim", "replay")  # camera.factory builds each (its BUILDERS, tested to match)
DRIVE_MODES = ("manual", "auto-steer", "auto")     # the drive loop's modes, in the order its mode button cycles

# -- gamepad mappings ------------------------------------------------------------------------------
# Indices follow the W3C "standard" gamepad layout, which browsers use for Xbox, PlayStation and the
# Logitech F710 in XInput mode: axes 0/1 left stick x/y, 2/3 right stick x/y (up is -1); buttons
# 0 A/cross, 1 B/circle, 2 X/square, 3 Y/triangle, 4/5 bumpers, 6/7 triggers, 8 back, 9 start.
_STANDARD = {
    "steering_axis": 0, "steering_invert": False,
    "throttle_axis": 1, "throttle_invert": True,
    "estop_button": 1, "release_button": 9, "mode_button": 3, "record_button": 0, "reverse_button": 4,
    "deadzone": 0.05, "expo": 0.3, "throttle_limit": 0.5,
}

GAMEPAD_MAPPINGS = {
    "standard": _STANDARD,                                          # left stick steers and drives
    "standard-two-stick": dict(_STANDARD, throttle_axis=3),         # left stick steers, right stick drives
    "f710-dinput": dict(_STANDARD, throttle_axis=3, estop_button=2, record_button=1, mode_button=3),  # F710 "D" switch
}

_AXIS = Key(int, 0, 15, doc="stick axis index (W3C standard layout)")
_BUTTON = Key(int, 0, 31, nullable=True, doc="button index (W3C standard layout); null: no such button")
GAMEPAD_SCHEMA = {
    "base": Key(str, choices=sorted(GAMEPAD_MAPPINGS), doc="the named mapping these keys change"),
    "steering_axis": _AXIS, "steering_invert": Key(bool),
    "throttle_axis": _AXIS, "throttle_invert": Key(bool),
    "estop_button": _BUTTON, "release_button": _BUTTON, "mode_button": _BUTTON, "record_button": _BUTTON,
    "reverse_button": _BUTTON,
    "deadzone": Key(float, 0.0, 0.5), "expo": Key(float, 0.0, 1.0), "throttle_limit": Key(float, 0.0, 1.0),
}


def gamepad_problems(where: str, spec: Any) -> List[str]:
    """Problems of a ``drive.gamepad`` value: a mapping name, or a mapping of keys over its ``base``."""
    if isinstance(spec, str):
        return Key(str, choices=sorted(GAMEPAD_MAPPINGS)).check(where, spec)
    return validate(spec, GAMEPAD_SCHEMA, where)


# -- sections --------------------------------------------------------------------------------------

CAMERA = {
    "source": Key(str, choices=CAMERA_SOURCES, default="csi", doc="csi, usb, sim (the simulator) or replay"),
    "path": Key(str, nullable=True, doc="replay: a folder of images or a video file"),
    "device": Key(int, 0, 63, nullable=True, doc="usb: N of /dev/videoN"),
    "realtime": Key(bool, default=False, doc="sim: step the simulated world at the wall-clock rate"),
    "fps": Key(float, 0.1, 240.0, nullable=True, doc="replay: frames per second (null: the file's own)"),
    "loop": Key(bool, default=True, doc="replay: start again at the end"),
    "flip": Key(str, choices=FLIPS, nullable=True, doc="null: the car profile's camera.flip"),
    "width": Key(int, 16, 1024, nullable=True, doc="null: the car profile's camera.width"),
    "height": Key(int, 16, 1024, nullable=True, doc="null: the car profile's camera.height"),
    "sensor_id": Key(int, 0, 7, nullable=True, doc="csi: null: the car profile's camera.sensor_id"),
}

SIM = {
    "track": Key((str, int), 0, 2 ** 31 - 1, default="oval",
                   doc="a built-in track name (oval, twisty, narrow) or an integer seed of a procedural track"),
    "seed": Key(int, 0, 2 ** 32 - 1, default=0, doc="random seed of the episodes"),
    "fps": Key(float, 1.0, 240.0, nullable=True, doc="simulated frames per second (null: the profile's capture_fps)"),
    "randomize": Key(bool, default=True, doc="appearance, camera geometry and photometric randomisation"),
    "obstacles": Key(int, 0, 64, default=0, doc="obstacles placed on the track each episode (seeded)"),
}

# -- drive.obstacle: the obstacle stop (jetracer.driving.obstacle_stop acts on it) ------------------
OBSTACLE_RESUME = ("auto", "rearm")  # go on once the way is clear | and only after a person arms again


def _check_obstacle(where: str, data: Mapping[str, Any]) -> List[str]:
    """The release threshold at or below the stop threshold (the hysteresis band), a rule between two keys."""
    stop, release = data.get("threshold", OBSTACLE["threshold"].default), data.get(
        "release_threshold", OBSTACLE["release_threshold"].default)
    if isinstance(stop, (int, float)) and isinstance(release, (int, float)) and release > stop:
        return ["%s: release_threshold %r is above threshold %r; the way counts as clear below release_threshold, so "
                "set it at or below threshold (e.g. threshold 0.5, release_threshold 0.35)" % (where, release, stop)]
    return []


OBSTACLE = {
    "enabled": Key(bool, nullable=True,
                     doc="stop for obstacles; null: when the model or the stop model has an obstacle output"),
    "stop_model": Key(str, nullable=True,
                        doc="an upstream JetBot collision model (best_model.pth), for a pilot without an obstacle output"),
    "threshold": Key(float, 0.01, 1.0, default=0.5, doc="blocked probability at or above which a frame is blocked"),
    "release_threshold": Key(float, 0.0, 1.0, default=0.35,
                               doc="blocked probability below which a frame is clear (hysteresis: at most threshold)"),
    "frames": Key(int, 1, 30, default=2, doc="consecutive blocked frames that stop the car"),
    "clear_s": Key(float, 0.0, 60.0, default=1.0, doc="how long the way must be clear before the car goes on"),
    "resume": Key(str, choices=OBSTACLE_RESUME, default="auto",
                    doc="auto: go on once clear for clear_s; rearm: also wait for a person to arm again"),
}

DRIVE = {
    "mode": Key(str, choices=DRIVE_MODES, default="auto",
                  doc="manual (gamepad), auto-steer (model steers, gamepad throttle), auto"),
    "model": Key(str, nullable=True, doc="pilot file (checkpoint / ONNX / TensorRT); expert with --sim"),
    "steering_gain": Key(float, -10.0, 10.0, nullable=True,
                           doc="steering = steering_gain * x + steering_bias (+ steering_kd * dx/dt); null: "
                               "upstream's 0.75 on the car, the pure-pursuit gain in the simulator"),
    "steering_bias": Key(float, -1.0, 1.0, default=0.0),
    "steering_kd": Key(float, -1.0, 1.0, default=0.0),
    "throttle": Key(float, -1.0, 1.0, default=0.2,
                      doc="throttle command in auto mode (the car's max_throttle still caps it)"),
    "throttle_mode": Key(str, choices=THROTTLE_MODES, default="constant",
                           doc="slow-in-turns: throttle * (1 - throttle_slowdown * |x|)"),
    "throttle_slowdown": Key(float, 0.0, 1.0, default=0.5),
    "max_frame_age_s": Key(float, 0.001, 10.0, default=0.06, doc="stop when the newest frame is older"),
    "command_timeout_s": Key(float, 0.001, 10.0, default=0.06, doc="stop when gamepad commands stop"),
    "heartbeat_timeout_s": Key(float, 0.001, 10.0, default=0.3, doc="stop when the browser heartbeat stops"),
    "watchdog_s": Key(float, 0.0, 10.0, default=0.2, doc="the car's own watchdog if the loop hangs (0: off)"),
    "supervisor_timeout_s": Key(float, 0.02, 5.0, default=0.08,
                                  doc="the supervisor stops the car when the loop's heartbeat is this late"),
    "self_check_frames": Key(int, 0, 100, default=5,
                               doc="camera frames the model is checked on before it may drive (0: no check)"),
    "self_check_timeout_s": Key(float, 1.0, 600.0, default=30.0,
                                  doc="wall-clock limit of the model self-check"),
    "gamepad": Key((str, dict), default="standard", check=gamepad_problems,
                     doc="a mapping name (%s) or a mapping of keys over its base" % ", ".join(sorted(GAMEPAD_MAPPINGS))),
    "gamepad_device": Key(str, nullable=True, doc="evdev device path (null: the first gamepad found)"),
    "record_root": Key(str, nullable=True, doc="where the record button saves frames"),
    "record_category": Key(str, default="apex"),
    "publish_hz": Key(float, 0.1, 100.0, default=2.0, doc="how often the state file for the OLED is written"),
    "obstacle": Section(OBSTACLE, required=False, check=_check_obstacle,
                        doc="stopping for obstacles (the model's obstacle output or a stop model)"),
}


DISPLAY = {
    "height": Key(int, choices=(32, 64), default=32, doc="OLED panel height in pixels"),
    "i2c_address": Key(int, 0x03, 0x77, default=0x3C, doc="the SSD1306's 7-bit I2C address"),
}

# -- the sections, typed ---------------------------------------------------------------------------
# One class per section: its fields are the section's keys, in order (a test holds them equal), and it
# is built only by :func:`section_settings` from a validated, complete mapping. None of them has a
# default: the defaults are the schema's. ``settings._replace(key=value)`` makes a changed copy
# without validation (tests); a person's values go through ``Config.with_overrides``.

class GamepadMapping(NamedTuple):
    """A full gamepad mapping (a named one of :data:`GAMEPAD_MAPPINGS` with the keys set over it)."""

    steering_axis: int
    steering_invert: bool
    throttle_axis: int
    throttle_invert: bool
    estop_button: Optional[int]
    release_button: Optional[int]
    mode_button: Optional[int]
    record_button: Optional[int]
    reverse_button: Optional[int]
    deadzone: float
    expo: float
    throttle_limit: float


class CameraSettings(NamedTuple):
    """The ``camera:`` section (:data:`CAMERA`); None: the car profile's value (or not used)."""

    source: str
    path: Optional[str]
    device: Optional[int]
    realtime: bool
    fps: Optional[float]
    loop: bool
    flip: Optional[str]
    width: Optional[int]
    height: Optional[int]
    sensor_id: Optional[int]


class SimSettings(NamedTuple):
    """The ``sim:`` section (:data:`SIM`)."""

    track: Union[str, int]
    seed: int
    fps: Optional[float]
    randomize: bool
    obstacles: int


class ObstacleSettings(NamedTuple):
    """The ``drive.obstacle:`` section (:data:`OBSTACLE`)."""

    enabled: Optional[bool]
    stop_model: Optional[str]
    threshold: float
    release_threshold: float
    frames: int
    clear_s: float
    resume: str


class DriveSettings(NamedTuple):
    """The ``drive:`` section (:data:`DRIVE`), its ``gamepad`` resolved to a :class:`GamepadMapping` and its
    ``obstacle`` section an :class:`ObstacleSettings`."""

    mode: str
    model: Optional[str]
    steering_gain: Optional[float]
    steering_bias: float
    steering_kd: float
    throttle: float
    throttle_mode: str
    throttle_slowdown: float
    max_frame_age_s: float
    command_timeout_s: float
    heartbeat_timeout_s: float
    watchdog_s: float
    supervisor_timeout_s: float
    self_check_frames: int
    self_check_timeout_s: float
    gamepad: GamepadMapping
    gamepad_device: Optional[str]
    record_root: Optional[str]
    record_category: str
    publish_hz: float
    obstacle: ObstacleSettings


class DisplaySettings(NamedTuple):
    """The ``display:`` section (:data:`DISPLAY`)."""

    height: int
    i2c_address: int


SECTION_TYPES = {"camera": CameraSettings, "sim": SimSettings, "drive": DriveSettings, "display": DisplaySettings}


def _typed(field: Field, value: Any) -> Any:
    """An integer given for a number field as a float (YAML's ``throttle: 1``), else ``value``."""
    kinds = field.kind if isinstance(field.kind, tuple) else (field.kind,)
    if kinds == (float,) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def resolve_gamepad(spec: Any) -> GamepadMapping:
    """The full mapping of a validated ``drive.gamepad`` value: a mapping name, or keys over their ``base``."""
    if isinstance(spec, str):
        name, keys = spec, {}  # type: Any, Dict[str, Any]
    else:
        keys = dict(spec)
        name = keys.pop("base", DRIVE["gamepad"].default)
    mapping = dict(GAMEPAD_MAPPINGS[name])
    mapping.update((key, _typed(GAMEPAD_SCHEMA[key], value)) for key, value in keys.items())
    return GamepadMapping(**mapping)


def section_settings(name: str, data: Mapping[str, Any]) -> Any:
    """Section ``name`` of a validated configuration (every key present) as its typed class."""
    schema = CONFIG_SCHEMA[name].schema
    values = dict((key, _typed(field, data[key])) for key, field in schema.items() if isinstance(field, Field))
    if name == "drive":
        values["gamepad"] = resolve_gamepad(values["gamepad"])
        values["obstacle"] = ObstacleSettings(**dict((key, _typed(field, data["obstacle"][key]))
                                                     for key, field in OBSTACLE.items()))
    return SECTION_TYPES[name](**values)


def default_settings(name: str) -> Any:
    """The defaults of section ``name``, typed (e.g. ``default_settings("drive").throttle``)."""
    return section_settings(name, defaults(CONFIG_SCHEMA[name].schema))


def section_data(value: Any) -> Any:
    """A typed section (or a mapping holding one) back as plain mappings, as a config file holds it."""
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, Mapping):
        return dict((key, section_data(item)) for key, item in value.items())
    return value


# -- devices on the bus ----------------------------------------------------------------------------
# The display has no bus of its own: the OLED service opens the car's bus (``i2c_bus``, else the
# profile's), so a display address that a motor chip answers is always a clash.

PCA9685_ALL_CALL = 0x70  # every PCA9685 answers it after power-up, and the Adafruit driver keeps ALLCALL on
OLED_ADDRESSES = (0x3C, 0x3D)  # the SSD1306's two addresses (0x3D with its address jumper moved)


def device_address_problems(display_address: int, profile: Mapping[str, Any], bus: int) -> List[str]:
    """The display at an address a motor chip of ``profile`` answers on ``bus``, named with the fix; or [].

    An OLED write at a PCA9685's address lands in its registers: each display refresh puts it to
    sleep and every channel loses its pulse, with no fault reported. Steering and throttle sharing one
    PCA9685 is fine (:func:`jetracer.profiles.schema.check_profile` checks their channels).
    """
    chips = {}  # type: Dict[int, List[str]]
    for section in ("steering", "throttle"):
        chips.setdefault(int(profile[section]["i2c_address"]), []).append(section)

    def named(address: int) -> str:
        kinds = sorted(set(OUTPUTS[profile[s]["driver"]].chip for s in chips[address]))
        return "the %s profile's %s %s" % (profile.get("name", "car"), "/".join(chips[address]), "/".join(kinds))

    move_oled = ("set display.i2c_address to the OLED's own address (an SSD1306 is usually at 0x3C, or 0x3D with its "
                 "address jumper moved)")
    if display_address in chips:
        if display_address in OLED_ADDRESSES:  # the OLED is where it belongs: the chip was moved onto it
            keys = " and ".join("%s.i2c_address" % s for s in chips[display_address])
            fix = ("give the chip its own address again (%s in the profile or its profile_overrides; a JetRacer's "
                   "PCA9685s are at 0x40 and 0x60)" % keys)
        else:
            fix = move_oled
        return ["display.i2c_address 0x%02X is also %s on I2C bus %d: each display refresh would write into that chip "
                "and stop its pulses; %s" % (display_address, named(display_address), bus, fix)]
    if display_address == PCA9685_ALL_CALL:
        return ["display.i2c_address 0x%02X is the PCA9685 All Call address, which %s also answer%s on I2C bus %d: "
                "each display refresh would write into %s and stop the pulses; %s"
                % (display_address, " and ".join("%s at 0x%02X" % (named(a), a) for a in sorted(chips)),
                   "s" if len(chips) == 1 else "", bus, "it" if len(chips) == 1 else "them", move_oled)]
    return []


CONFIG_SCHEMA = {
    "profile": Key(str, default="latrax",
                     doc="a shipped car profile (latrax, tamiya_tt02, waveshare_ai, waveshare_pro) or a YAML path"),
    "i2c": Key(str, choices=I2C_MODES, default="hardware",
                 doc="set JETRACER_I2C=emulated (or i2c: emulated) to run without a car"),
    "i2c_bus": Key(int, I2C_BUS.lo, I2C_BUS.hi, nullable=True,
                     doc="I2C bus number (null: the profile's; the Jetson Nano's 40-pin header is bus 1)"),
    "camera": Section(CAMERA, required=False),
    "sim": Section(SIM, required=False),
    "drive": Section(DRIVE, required=False),
    "display": Section(DISPLAY, required=False),
    "profile_overrides": Key(dict, default={}, doc="car profile keys to change (jetracer calibrate writes here)"),
}

SECTIONS = ("camera", "sim", "drive", "display")

# Environment variables that override a config key: name -> key path.
ENV_OVERRIDES = (
    ("JETRACER_PROFILE", ("profile",)),
    ("JETRACER_I2C", ("i2c",)),
    ("JETRACER_CAMERA", ("camera", "source")),
)


def config_defaults() -> Dict[str, Any]:
    """A fresh copy of every default of the configuration."""
    return copy.deepcopy(defaults(CONFIG_SCHEMA))


def section_defaults(section: Mapping[str, Any]) -> Dict[str, Any]:
    """A fresh copy of the defaults of one section schema (e.g. :data:`DRIVE`)."""
    return copy.deepcopy(defaults(section))


def field_at(path: Any) -> Field:
    """The Field at a key path such as ``("camera", "source")``."""
    node = CONFIG_SCHEMA  # type: Any
    for key in path:
        node = node.schema[key] if isinstance(node, Section) else node[key]
    return node
