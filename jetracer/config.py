"""The user's configuration: which car profile, which I2C bus (real or emulated), camera, simulator, drive, display.

Read from the file given (``--config``), else ``$JETRACER_CONFIG``, else ``~/.config/jetracer/config.yaml``
(only that default file may be missing: then the defaults apply; a file that was named and is not
there is an error). The environment variables ``JETRACER_PROFILE``, ``JETRACER_I2C`` and
``JETRACER_CAMERA`` override it, so a notebook, the CLI or a service can be moved onto the emulated
chips or the simulator without editing code.

Every key of every section is checked here, against :data:`jetracer.config_schema.CONFIG_SCHEMA`,
with the file (or the environment variable, or the command-line option) and the key named in the
error; unknown keys are refused by name. Once the car profile is known, two devices at one I2C
address are refused too (the OLED's ``display.i2c_address`` at a motor chip's: the display shares the
car's bus, and its refreshes would stop that chip's pulses). The loaded :class:`Config` holds every default and
hands each section out typed (``config.drive.throttle``, a :class:`jetracer.config_schema.DriveSettings`),
so the rest of the package neither re-validates nor re-defaults a setting.
"""
import copy
import os
from typing import Any, Dict, List, Mapping, Optional

from .config_schema import (CAMERA_SOURCES, CONFIG_SCHEMA, ENV_OVERRIDES, I2C_MODES, SECTIONS, CameraSettings,
                            DisplaySettings, DriveSettings, SimSettings, config_defaults, device_address_problems,
                            field_at, section_data, section_settings)
from .errors import UserError
from .profiles import Profile, ProfileError, deep_merge, find_profile, load_profile
from .schema import validate

__all__ = ["CAMERA_SOURCES", "Config", "ConfigError", "I2C_MODES", "default_config_path", "load_config",
           "save_user_settings", "sim_world_args"]


class ConfigError(UserError):
    """The user configuration has a wrong key or value, or a named config file is missing or unreadable.

    The message is one line naming the file (or environment variable, or option), the key and the fix.
    """


def default_config_path(env: Optional[Mapping[str, str]] = None) -> str:
    """Where the configuration is read from and where calibration writes to."""
    env = os.environ if env is None else env
    named = env.get("JETRACER_CONFIG")
    if named:
        return os.path.expanduser(named)
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "jetracer", "config.yaml")


class Config(object):
    """The merged configuration (defaults < file < environment < explicit overrides), validated.

    ``origin`` says where each top-level value came from (the file, ``JETRACER_PROFILE``, ``--profile``...),
    so a problem found later (the profile's content) names the right place.
    """

    def __init__(self, data: Mapping[str, Any], path: Optional[str] = None,
                 origin: Optional[Mapping[str, str]] = None) -> None:
        self.data = dict(data)
        self.path = path
        self.origin = dict(origin or {})
        self._profile = None  # type: Optional[Profile]

    profile_name = property(lambda self: self.data["profile"])
    i2c = property(lambda self: self.data["i2c"])
    profile_overrides = property(lambda self: self.data["profile_overrides"])

    @property
    def camera(self) -> CameraSettings:
        return section_settings("camera", self.data["camera"])

    @property
    def sim(self) -> SimSettings:
        return section_settings("sim", self.data["sim"])

    @property
    def drive(self) -> DriveSettings:
        return section_settings("drive", self.data["drive"])

    @property
    def display(self) -> DisplaySettings:
        return section_settings("display", self.data["display"])

    @property
    def i2c_bus(self) -> int:
        """The bus number: the config's ``i2c_bus`` if set, else the profile's."""
        bus = self.data.get("i2c_bus")
        return int(bus) if bus is not None else int(self.load_profile().i2c_bus)

    def where(self, key: str) -> str:
        """Where ``key`` was set: the config file, an environment variable or an option."""
        return self.origin.get(key) or self.path or "the configuration"

    def load_profile(self) -> Profile:
        """The configured car profile with the user's overrides (e.g. from calibration) applied.

        Read and validated once per Config (a Config does not change; ``with_overrides`` makes a new one).
        """
        if self._profile is None:
            overrides = self.data["profile_overrides"]
            try:
                self._profile = load_profile(self.data["profile"], overrides)
            except ProfileError as e:
                if not overrides:
                    raise ProfileError("%s (profile %r, from %s)" % (_one_line(e), self.data["profile"],
                                                                     self.where("profile")))
                load_profile(self.data["profile"])  # the shipped profile alone: its own error if it is the culprit
                raise ProfileError("%s: its profile_overrides make car profile %r invalid: %s. Fix or remove them "
                                   "there (jetracer calibrate rewrites them)" % (self.where("profile_overrides"),
                                                                                 self.data["profile"], _problems(e)))
        return self._profile

    def with_overrides(self, source: str = "overrides", **overrides: Any) -> "Config":
        """A copy with some keys replaced, validated as the file is: the edge for command-line options.

        A top-level key takes its value; a section given as a mapping has those of its keys replaced
        (``drive={"mode": "manual"}``), one given typed (``camera=config.camera._replace(source="sim")``)
        replaces the section. ``None`` means "not given", at both levels. ``source`` names where the
        values come from in an error (e.g. ``"--profile"``).
        """
        data = copy.deepcopy(self.data)
        origin = dict(self.origin)
        given = {}  # type: Dict[str, Any]
        for key, value in overrides.items():
            if key in SECTIONS and isinstance(value, Mapping):
                value = dict((k, v) for k, v in value.items() if v is not None)
                value = dict(data.get(key) or {}, **section_data(value)) if value else None
            elif value is not None:
                value = section_data(value)
            if value is not None:
                given[key] = value
        _raise_problems(source, validate(given, CONFIG_SCHEMA))
        for key, value in given.items():
            data[key] = deep_merge(config_defaults()[key], value) if key in SECTIONS else value
            origin[key] = source
        _raise_problems(source, _profile_name_problems(data["profile"]) if "profile" in given else [])
        return _check_devices(Config(data, self.path, origin))

    def __repr__(self) -> str:
        return "Config(profile=%r, i2c=%r, camera=%r)" % (self.profile_name, self.i2c, self.camera.source)


def _profile_name_problems(name: Any) -> List[str]:
    try:
        find_profile(name)
    except ProfileError as e:
        return ["profile: %s" % e]
    return []


def _check_devices(config: Config) -> Config:
    """``config``, unless two devices sit at one I2C address on its bus (the display at a motor chip's).

    A profile that does not load is left to :meth:`Config.load_profile`, which names its own problem
    where the profile is used (``jetracer drive --neutral`` then falls back to the shipped profile).
    """
    try:
        profile = config.load_profile()
    except ProfileError:
        return config
    bus = config.data.get("i2c_bus")
    problems = device_address_problems(config.display.i2c_address, profile,
                                       int(profile.i2c_bus if bus is None else bus))
    keys = [k for k in ("display", "profile_overrides", "profile", "i2c_bus") if k in config.origin]
    where = config.origin[keys[0]] if keys else config.path or "the configuration"
    _raise_problems("config file %s" % where if where == config.path else where, problems)
    return config


def _raise_problems(where: str, problems: List[str]) -> None:
    if problems:
        raise ConfigError("%s: %s" % (where, "; ".join(problems)))


def _normalise(loaded: Dict[str, Any]) -> Dict[str, Any]:
    """An empty section (``drive:`` with nothing under it) is an empty mapping, as it reads."""
    out = dict(loaded)
    for key in SECTIONS + ("profile_overrides",):
        if key in out and out[key] is None:
            out[key] = {}
    return out


def load_config(path: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                source: Optional[str] = None, must_exist: bool = True) -> Config:
    """Read the configuration file, apply environment overrides and validate; see the module docstring.

    ``path`` is the file to read (``source`` names who gave it, e.g. ``"--config"``); without it
    ``$JETRACER_CONFIG`` or the default path. A named file that does not exist is a
    :class:`ConfigError` unless ``must_exist`` is False (``jetracer calibrate`` creates it).
    """
    from .yaml_file import YamlFileError, read_yaml_mapping

    env = os.environ if env is None else env
    if path:
        named_by = source or "the path given"  # type: Optional[str]
        path = os.path.expanduser(path)
    elif env.get("JETRACER_CONFIG"):
        named_by = "JETRACER_CONFIG"
        path = default_config_path(env)
    else:
        named_by = None
        path = default_config_path(env)
    loaded = {}  # type: Dict[str, Any]
    if os.path.lexists(path) or (named_by and must_exist):
        if not os.path.exists(path):
            if not named_by:
                raise ConfigError("config file %s is a symbolic link to nothing; point it at your config or remove it "
                                  "(then the defaults apply)" % path)
            raise ConfigError("config file %s (named by %s) does not exist; create it (an empty file or /dev/null "
                              "means the defaults), fix the path%s" % (path, named_by, ", or unset JETRACER_CONFIG"
                                                                       if named_by == "JETRACER_CONFIG" else ""))
        try:
            loaded = _normalise(read_yaml_mapping(path, "config file"))
        except YamlFileError as e:
            raise ConfigError(str(e))
        _raise_problems("config file %s" % path, validate(loaded, CONFIG_SCHEMA) or
                        (_profile_name_problems(loaded["profile"]) if "profile" in loaded else []))
    data = deep_merge(config_defaults(), loaded)
    origin = dict((key, path) for key in loaded)
    for name, key_path in ENV_OVERRIDES:
        value = env.get(name)
        if not value:
            continue
        problems = field_at(key_path).check(".".join(key_path), value)
        if not problems and key_path == ("profile",):
            problems = _profile_name_problems(value)
        if problems:
            raise ConfigError("environment variable %s=%s: %s; fix or unset %s (it overrides %s in %s)"
                              % (name, _shown(value), "; ".join(problems), name, ".".join(key_path), path))
        target = data
        for key in key_path[:-1]:
            target = target[key]
        target[key_path[-1]] = value
        origin[key_path[0]] = "environment variable %s" % name
    return _check_devices(Config(data, path, origin))


def sim_world_args(config: Config, **overrides: Any) -> Dict[str, Any]:
    """The :class:`jetracer.sim.world.SimWorld` keyword arguments the configuration asks for.

    The one mapping from config to simulator, used by ``jetracer drive --sim``, the ``sim`` camera
    (and simulator mode) and ``jetracer sim``: ``profile`` (the configured car with its overrides),
    ``track``, ``seed``, ``randomize``, ``obstacles`` from ``sim:``; ``fps`` from ``sim.fps`` else the profile's
    ``camera.capture_fps``; ``width``/``height`` from ``camera:`` else the profile's camera. Keyword
    ``overrides`` (command-line options; ``None`` ignored) replace any of them and may add
    ``driver`` (a hardware driver the simulated car also drives).
    """
    profile = config.load_profile()
    sim = config.sim
    camera = config.camera
    args = {
        "profile": profile,
        "track": sim.track,
        "seed": sim.seed,
        "fps": float(sim.fps if sim.fps is not None else profile.camera.capture_fps),
        "width": int(camera.width or profile.camera.width),
        "height": int(camera.height or profile.camera.height),
        "randomize": sim.randomize,
        "obstacles": sim.obstacles,
    }
    args.update((k, v) for k, v in overrides.items() if v is not None)
    return args


def save_user_settings(updates: Mapping[str, Any], path: Optional[str] = None) -> str:
    """Merge ``updates`` into the user's config file (creating it); return its path.

    Nothing is written unless the result is a config the car can load (every key validates and the
    car profile with its overrides loads). The file is edited in place (:mod:`jetracer.config_edit`):
    comments and layout stay, and a symlinked config is written through to its target.
    """
    from .config_edit import ConfigEditError, edit_yaml_text, write_through
    from .yaml_file import YamlFileError, read_yaml_mapping

    path = path or default_config_path()
    text = ""
    current = {}  # type: Dict[str, Any]
    if os.path.exists(path):
        try:
            current = _normalise(read_yaml_mapping(path, "config file"))
        except YamlFileError as e:
            raise ConfigError("%s; fix it first, nothing was saved" % e)
        with open(path) as f:
            text = f.read()
    merged = deep_merge(current, updates)
    problems = validate(merged, CONFIG_SCHEMA) or (_profile_name_problems(merged["profile"]) if "profile" in merged
                                                   else [])
    if problems:
        raise ConfigError("config file %s: not saved: %s" % (path, "; ".join(problems)))
    full = deep_merge(config_defaults(), merged)
    try:
        profile = load_profile(full["profile"], full["profile_overrides"])
    except ProfileError as e:
        raise ConfigError("%s: not saved, the car could not load the result: %s" % (path, _problems(e)))
    bus = full["i2c_bus"] if full["i2c_bus"] is not None else profile.i2c_bus
    _raise_problems("config file %s: not saved" % path,
                    device_address_problems(int(full["display"]["i2c_address"]), profile, int(bus)))
    try:
        new_text = edit_yaml_text(text, updates)
    except ConfigEditError as e:
        raise ConfigError("%s could not be edited in place (%s); nothing was saved. Put these values there by hand: %s"
                          % (path, e, dict(updates)))
    write_through(path, new_text)
    return path


def _shown(value: str, limit: int = 60) -> str:
    return repr(value) if len(value) <= limit else repr(value[:limit] + "...")


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def _problems(error: Exception) -> str:
    """The list of problems of a ProfileError, without the shipped profile's path."""
    text = str(error)
    return text.split(" is invalid:", 1)[1].strip().replace("\n  - ", "; ").lstrip("- ") if " is invalid:" in text else text
