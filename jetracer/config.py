"""The user's configuration: which car profile, which I2C bus (real or emulated), which camera.

Read from ``$JETRACER_CONFIG`` or ``~/.config/jetracer/config.yaml`` (missing file = defaults);
the environment variables ``JETRACER_PROFILE``, ``JETRACER_I2C`` and ``JETRACER_CAMERA`` override it,
so a notebook, the CLI or a service can be moved onto the emulated chips or the simulator without
editing code.
"""
import copy
import os
from typing import Any, Dict, Mapping, Optional

import yaml

from .atomic import atomic_write
from .profiles import Profile, ProfileError, deep_merge, load_profile

I2C_MODES = ("hardware", "emulated")
CAMERA_SOURCES = ("csi", "usb", "sim", "replay")

DEFAULTS = {
    "profile": "latrax",
    "i2c": "hardware",
    "i2c_bus": None,
    "profile_overrides": {},
    "camera": {"source": "csi"},
    "sim": {},
    "drive": {},
    "display": {},
}


class ConfigError(ValueError):
    """The user configuration has a wrong key or value."""


def default_config_path() -> str:
    """Where the configuration is read from and where calibration writes to."""
    env = os.environ.get("JETRACER_CONFIG")
    if env:
        return os.path.expanduser(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "jetracer", "config.yaml")


class Config(object):
    """The merged configuration (defaults < file < environment < explicit overrides)."""

    def __init__(self, data: Mapping[str, Any], path: Optional[str] = None) -> None:
        self.data = dict(data)
        self.path = path
        self._profile = None  # type: Optional[Profile]

    profile_name = property(lambda self: self.data["profile"])
    i2c = property(lambda self: self.data["i2c"])
    camera = property(lambda self: self.data["camera"])
    sim = property(lambda self: self.data["sim"])
    drive = property(lambda self: self.data["drive"])
    display = property(lambda self: self.data["display"])
    profile_overrides = property(lambda self: self.data["profile_overrides"])

    @property
    def i2c_bus(self) -> int:
        """The bus number: the config's ``i2c_bus`` if set, else the profile's."""
        bus = self.data.get("i2c_bus")
        return int(bus) if bus is not None else int(self.load_profile().i2c_bus)

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
                    raise
                load_profile(self.data["profile"])  # the shipped profile alone: its own error if it is the culprit
                raise ProfileError("%s: its profile_overrides make car profile %r invalid: %s. Fix or remove them "
                                   "there (jetracer calibrate rewrites them)" % (self.path or "the config",
                                                                                 self.data["profile"], _problems(e)))
        return self._profile

    def with_overrides(self, **overrides: Any) -> "Config":
        """A copy with some top-level keys replaced (``None`` values are ignored)."""
        data = copy.deepcopy(self.data)
        data.update((k, v) for k, v in overrides.items() if v is not None)
        _validate(data, self.path or "overrides")
        return Config(data, self.path)

    def __repr__(self) -> str:
        return "Config(profile=%r, i2c=%r, camera=%r)" % (self.profile_name, self.i2c, self.camera.get("source"))


def _validate(data: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise ConfigError("%s: unknown key(s) %s; known keys: %s" % (where, ", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    if data["i2c"] not in I2C_MODES:
        raise ConfigError("%s: i2c must be one of %s (set JETRACER_I2C=emulated to run without a car), found %r"
                          % (where, ", ".join(I2C_MODES), data["i2c"]))
    for key in ("camera", "sim", "drive", "display", "profile_overrides"):
        if not isinstance(data[key], Mapping):
            raise ConfigError("%s: %s must be a mapping, found %r" % (where, key, data[key]))
    source = data["camera"].get("source")
    if source not in CAMERA_SOURCES:
        raise ConfigError("%s: camera.source must be one of %s, found %r" % (where, ", ".join(CAMERA_SOURCES), source))


def load_config(path: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> Config:
    """Read the configuration file (if any), apply environment overrides and validate."""
    env = os.environ if env is None else env
    path = path or default_config_path()
    data = copy.deepcopy(DEFAULTS)
    if os.path.exists(path):
        try:
            with open(path) as f:
                loaded = yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
            raise ConfigError("%s is not valid YAML: %s" % (path, e))
        if not isinstance(loaded, dict):
            raise ConfigError("%s must hold a mapping, found %s" % (path, type(loaded).__name__))
        data = deep_merge(data, loaded)
    if env.get("JETRACER_PROFILE"):
        data["profile"] = env["JETRACER_PROFILE"]
    if env.get("JETRACER_I2C"):
        data["i2c"] = env["JETRACER_I2C"]
    if env.get("JETRACER_CAMERA"):
        data["camera"] = dict(data["camera"], source=env["JETRACER_CAMERA"])
    _validate(data, path)
    return Config(data, path)


def save_user_settings(updates: Mapping[str, Any], path: Optional[str] = None) -> str:
    """Merge ``updates`` into the user's config file (creating it); return its path.

    Nothing is written unless the result is a config the car can load (top-level keys and the car
    profile with its overrides validate). The file is edited in place (:mod:`jetracer.config_edit`):
    comments and layout stay, and a symlinked config is written through to its target.
    """
    from .config_edit import ConfigEditError, edit_yaml_text, write_through

    path = path or default_config_path()
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    try:
        current = (yaml.safe_load(text) if text.strip() else {}) or {}
    except yaml.YAMLError as e:
        raise ConfigError("%s is not valid YAML (%s); fix it first, nothing was saved" % (path, e))
    if not isinstance(current, dict):
        raise ConfigError("%s must hold a mapping, found %s; nothing was saved" % (path, type(current).__name__))
    merged = deep_merge(copy.deepcopy(DEFAULTS), deep_merge(current, updates))
    _validate(merged, path)
    try:
        load_profile(merged["profile"], merged["profile_overrides"])
    except ProfileError as e:
        raise ConfigError("%s: not saved, the car could not load the result: %s" % (path, _problems(e)))
    try:
        new_text = edit_yaml_text(text, updates)
    except ConfigEditError as e:
        raise ConfigError("%s could not be edited in place (%s); nothing was saved. Put these values there by hand: %s"
                          % (path, e, dict(updates)))
    write_through(path, new_text)
    return path


def _problems(error: Exception) -> str:
    """The list of problems of a ProfileError, without the shipped profile's path."""
    text = str(error)
    return text.split(" is invalid:", 1)[1].strip().replace("\n  - ", "; ").lstrip("- ") if " is invalid:" in text else text
