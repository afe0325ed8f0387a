"""Read a small YAML file that must hold a mapping (the user config, a car profile), with one-line errors.

A directory, a FIFO or device, an unreadable or binary file, a file too large to be a config, a YAML alias
bomb, broken YAML and a YAML value that is not a mapping are each refused in one line that names the file and
what was expected (or the limit), instead of a ``UnicodeDecodeError`` or ``IsADirectoryError`` traceback, a
hang or a full memory.
"""
import os
import stat
from typing import Any, Dict, List

import yaml

from .bounded_file import FileLimitError, open_regular
from .errors import UserError

MAX_BYTES = 1 << 20  # a config or profile is a few hundred bytes; 1 MiB is not one
MAX_NODES = 100000   # values once aliases are expanded: a profile has ~100


class YamlFileError(UserError):
    """The file cannot be read as a YAML mapping; the message is one line naming the file."""


def read_yaml_mapping(path: str, what: str = "config file", example: str = "profile: latrax") -> Dict[str, Any]:
    """The mapping in ``path`` (an empty file, or ``/dev/null``, is ``{}``); :class:`YamlFileError` naming the problem.

    ``/dev/null`` (or a link to it) means "the defaults" and is not read. Otherwise only a regular file is
    opened (a FIFO or a device would block or never end), without blocking, and checked again once open; at
    most :data:`MAX_BYTES` are read, and a document whose aliases expand to more than :data:`MAX_NODES` values
    (a "billion laughs" of a few hundred bytes) or that refers to itself is refused before it is built.
    """
    if os.path.realpath(path) == os.path.realpath(os.devnull):
        return {}
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise YamlFileError("%s %s cannot be read: %s" % (what, path, e.strerror or e))
    if stat.S_ISDIR(mode):
        raise YamlFileError("%s %s is a directory; name the YAML file itself" % (what, path))
    not_regular = YamlFileError("%s %s is not a regular file (a FIFO, socket or device); name a YAML file" % (what, path))
    if not stat.S_ISREG(mode):
        raise not_regular
    try:
        with open_regular(path, what) as f:
            raw = f.read(MAX_BYTES + 1)
    except FileLimitError:  # replaced by something else between stat and open
        raise not_regular
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
        data = _safe_load(text, "%s %s" % (what, path))
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


def _safe_load(text: str, shown: str) -> Any:
    """``yaml.safe_load(text)``, refusing (YamlFileError naming ``shown``) a document whose aliases expand
    to more than :data:`MAX_NODES` values or that contains itself, before anything is constructed."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded = _expanded_size(node, {}, set(), shown)
        if expanded > MAX_NODES:
            raise YamlFileError("%s expands to more than %d values through its aliases (*name), over the limit; "
                                "a config holds a few hundred: write the values out" % (shown, MAX_NODES))
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: Any, sizes: Dict[int, int], open_nodes: set, shown: str) -> int:
    """How many nodes ``node`` stands for once every alias is replaced by what it names (capped just
    above :data:`MAX_NODES`); ``sizes`` memoises shared nodes, ``open_nodes`` finds a node inside itself."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise YamlFileError("%s has a YAML alias (*name) inside the node it names (a recursive document); not a "
                            "config: write the values out" % shown)
    open_nodes.add(key)
    total = 1
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]  # type: List[Any]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    for child in children:
        total = min(total + _expanded_size(child, sizes, open_nodes, shown), MAX_NODES + 1)
    open_nodes.discard(key)
    sizes[key] = total
    return total


def _yaml_problem(error: Any) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
    return " ".join(("%s%s" % (problem, where)).split())


def _kind(data: Any) -> str:
    names = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}
    return names.get(type(data), "a %s" % type(data).__name__)
