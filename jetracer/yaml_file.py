"""Read a small YAML file that must hold a mapping (the user config, a car profile), with one-line errors.

A directory, an unreadable or binary file, a file too large to be a config, broken YAML and a YAML
value that is not a mapping are each refused in one line that names the file and what was expected,
instead of a ``UnicodeDecodeError`` or ``IsADirectoryError`` traceback.
"""
import os
import stat
from typing import Any, Dict

import yaml

MAX_BYTES = 1 << 20  # a config or profile is a few hundred bytes; 1 MiB is not one


class YamlFileError(ValueError):
    """The file cannot be read as a YAML mapping; the message is one line naming the file."""


def read_yaml_mapping(path: str, what: str = "config file", example: str = "profile: latrax") -> Dict[str, Any]:
    """The mapping in ``path`` (an empty file, or ``/dev/null``, is ``{}``); :class:`YamlFileError` naming the problem.

    Only a regular file (or ``os.devnull``) is opened: a FIFO or a device would block or never end.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise YamlFileError("%s %s cannot be read: %s" % (what, path, e.strerror or e))
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode) and os.path.realpath(path) != os.path.realpath(os.devnull):
        raise YamlFileError("%s %s is not a regular file (a FIFO, socket or device); name a YAML file" % (what, path))
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise YamlFileError("%s %s is a directory; name the YAML file itself" % (what, path))
    except PermissionError:
        raise YamlFileError("%s %s cannot be read (permission denied); make it readable (chmod u+r %s)"
                            % (what, path, path))
    except OSError as e:
        raise YamlFileError("%s %s cannot be read: %s" % (what, path, e.strerror or e))
    if len(raw) > MAX_BYTES:
        raise YamlFileError("%s %s is larger than %d KiB: not a %s; name the right file" % (what, path, MAX_BYTES >> 10, what))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise YamlFileError("%s %s is not a text file (byte 0x%02x at offset %d is not UTF-8); a %s is YAML text "
                            "such as `%s`" % (what, path, raw[e.start], e.start, what, example))
    if "\x00" in text:
        raise YamlFileError("%s %s is not a text file (it holds NUL bytes); a %s is YAML text such as `%s`"
                            % (what, path, what, example))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise YamlFileError("%s %s is not valid YAML: %s" % (what, path, _yaml_problem(e)))
    except RecursionError:
        raise YamlFileError("%s %s is nested too deeply to be a %s" % (what, path, what))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise YamlFileError("%s %s must hold a mapping of keys (e.g. `%s`), found %s"
                            % (what, path, example, _kind(data)))
    return data


def _yaml_problem(error: Any) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
    return " ".join(("%s%s" % (problem, where)).split())


def _kind(data: Any) -> str:
    names = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}
    return names.get(type(data), "a %s" % type(data).__name__)
