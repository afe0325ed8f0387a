"""Car profiles: every hardware fact of a car (addresses, channels, pulses, camera, dynamics) as data.

A profile is a YAML file shipped in this folder (one per car) or a user file. It is validated
against :data:`jetracer.profiles.schema.SCHEMA` when loaded, so a typo is refused with a message
that names the key, instead of silently driving with a default.
"""
import copy
import os
from typing import Any, Dict, List, Mapping, Optional

from ..errors import UserError
from .schema import SCHEMA, check_profile, validate

PROFILE_DIR = os.path.dirname(os.path.abspath(__file__))


class ProfileError(UserError):
    """A car profile is missing, malformed, or has a wrong key or value."""


class Profile(object):
    """A validated, read-only view of a profile mapping with attribute access.

    ``profile.steering.center_us`` and ``profile["steering"]["center_us"]`` are the same value.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", data)

    def __getattr__(self, key: str) -> Any:
        try:
            return _wrap(self._data[key])
        except KeyError:
            raise AttributeError("profile has no key %r" % key)

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("profiles are read-only; pass overrides to load_profile()")

    def get(self, key: str, default: Any = None) -> Any:
        return _wrap(self._data.get(key, default))

    def keys(self):
        return self._data.keys()

    def to_dict(self) -> Dict[str, Any]:
        """A deep copy as plain dicts and lists (for saving into checkpoints or configs)."""
        return copy.deepcopy(dict(self._data))

    def __repr__(self) -> str:
        return "Profile(%r)" % (self._data.get("name"),)


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return Profile(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def available_profiles() -> List[str]:
    """Names of the profiles shipped with the package."""
    return sorted(f[:-5] for f in os.listdir(PROFILE_DIR) if f.endswith(".yaml"))


def _read_yaml(path: str) -> Dict[str, Any]:
    from ..yaml_file import YamlFileError, read_yaml_mapping
    try:
        return read_yaml_mapping(path, "car profile", example="name: mycar")
    except YamlFileError as e:
        raise ProfileError(str(e))


def deep_merge(base: Dict[str, Any], overrides: Mapping[str, Any]) -> Dict[str, Any]:
    """Return ``base`` with ``overrides`` merged in, recursing into mappings (lists are replaced)."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def find_profile(name_or_path: Any) -> str:
    """The file of a shipped profile name (``latrax``) or of a profile path; ProfileError naming the choices."""
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise ProfileError("a car profile is a name (%s) or the path of a profile YAML file, found %r"
                           % (", ".join(available_profiles()), name_or_path))
    if os.path.sep in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        path = os.path.expanduser(name_or_path)
        if not os.path.exists(path):
            raise ProfileError("profile file %s does not exist; give an existing profile YAML file or one of %s"
                               % (path, ", ".join(available_profiles())))
        return path
    path = os.path.join(PROFILE_DIR, name_or_path + ".yaml")
    if not os.path.exists(path):
        raise ProfileError(
            "unknown car profile %r; choose one of %s or give the path of a profile YAML file"
            % (name_or_path, ", ".join(available_profiles())))
    return path


def load_profile(name_or_path: str, overrides: Optional[Mapping[str, Any]] = None) -> Profile:
    """Load a shipped profile by name (``latrax``) or a YAML file by path, merge ``overrides``, validate.

    Raises :class:`ProfileError` naming the unknown profile, key or value and what was expected.
    """
    path = find_profile(name_or_path)
    data = _read_yaml(path)
    if overrides:
        if not isinstance(overrides, Mapping):
            raise ProfileError("profile overrides must be a mapping of profile keys, found %r" % (overrides,))
        data = deep_merge(data, overrides)
    return profile_from_mapping(data, path)


def profile_from_mapping(data: Mapping[str, Any], where: str = "profile") -> Profile:
    """Validate a profile mapping (keys, then the sections against each other and the chip's timing)."""
    problems = validate(data, SCHEMA) or check_profile(data)
    if problems:
        raise ProfileError("car profile %s is invalid:\n  - %s" % (where, "\n  - ".join(problems)))
    return Profile(copy.deepcopy(dict(data)))


__all__ = ["Profile", "ProfileError", "available_profiles", "deep_merge", "find_profile", "load_profile", "profile_from_mapping",
           "PROFILE_DIR"]
