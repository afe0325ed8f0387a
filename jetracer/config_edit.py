"""Change keys of the user's YAML config in place: comments, order, layout and the file itself are kept.

PyYAML's composer gives the position of every node, so a changed value is replaced where it stands
(its trailing comment stays) and a missing key is added at the end of its mapping, in the mapping's own
style (block or ``{flow}``). The edited text is re-parsed and must equal the old data with the updates
merged in; otherwise :class:`ConfigEditError` is raised and nothing is written. The file is written
atomically *through* a symlink to its target, keeping the target's mode and owner.
"""
import os
from typing import Any, List, Mapping, Optional, Tuple

import yaml
from yaml.nodes import MappingNode, ScalarNode

from .errors import UserError
from .profiles import deep_merge


class ConfigEditError(UserError):
    """The file could not be edited in place without changing its meaning; nothing was written."""


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 16).strip()
    return text[:-4].rstrip() if text.endswith("\n...") else (text[:-3].rstrip() if text.endswith("...") else text)


def _block(key: str, value: Any, indent: int) -> str:
    """``key: value`` as block YAML lines at ``indent`` (no trailing newline)."""
    if isinstance(value, Mapping) and value:
        body = yaml.safe_dump(dict(value), default_flow_style=False, sort_keys=False, width=1 << 16).rstrip("\n")
        lines = [" " * indent + "%s:" % key] + [" " * (indent + 2) + line for line in body.splitlines()]
        return "\n".join(lines)
    return " " * indent + "%s: %s" % (key, _flow(value))


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end < 0 else end


def _last_end(node: Any) -> int:
    """Where the text of ``node`` ends (a block collection's end mark lies at the next token: use its last item)."""
    if getattr(node, "flow_style", True) is False and node.value:
        last = node.value[-1]
        return _last_end(last[1] if isinstance(last, tuple) else last)
    return node.end_mark.index


def _plan(text: str, node: MappingNode, updates: Mapping[str, Any], edits: List[Tuple[int, int, str]]) -> None:
    pairs = dict((k.value, (k, v)) for k, v in node.value if isinstance(k, ScalarNode))
    indent = node.value[0][0].start_mark.column if node.value else 0
    for key, value in updates.items():
        if key in pairs:
            _, vnode = pairs[key]
            if isinstance(value, Mapping) and isinstance(vnode, MappingNode) and vnode.value:
                _plan(text, vnode, value, edits)
                continue
            start, end = vnode.start_mark.index, vnode.end_mark.index
            if isinstance(vnode, MappingNode) and not vnode.flow_style:
                raise ConfigEditError("cannot replace the block mapping %r by a value" % key)
            replacement = _flow(value)
            if start == end and start > 0 and text[start - 1] == ":":
                replacement = " " + replacement
            edits.append((start, end, replacement))
        elif node.flow_style:
            close = node.end_mark.index - 1
            if text[close] != "}":
                raise ConfigEditError("unexpected flow mapping layout near %r" % key)
            edits.append((close, close, (", " if node.value else "") + "%s: %s" % (key, _flow(value))))
        elif node.value:
            at = _line_end(text, _last_end(node.value[-1][1]))
            edits.append((at, at, "\n" + _block(key, value, indent)))
        else:
            raise ConfigEditError("cannot add %r to an empty block mapping" % key)


def edit_yaml_text(text: str, updates: Mapping[str, Any]) -> str:
    """``text`` with ``updates`` (nested mappings of values) merged in, comments and layout kept."""
    try:
        old = yaml.safe_load(text) if text.strip() else None
        root = yaml.compose(text) if text.strip() else None
    except yaml.YAMLError as e:
        raise ConfigEditError("it is not valid YAML: %s" % e)
    old = old or {}
    if not isinstance(old, dict):
        raise ConfigEditError("it must hold a mapping, found %s" % type(old).__name__)
    if root is None or not root.value:
        body = "\n".join(_block(k, v, 0) for k, v in updates.items()) + "\n"
        new = (text if text.endswith("\n") or not text else text + "\n") + body
    else:
        edits = []  # type: List[Tuple[int, int, str]]
        _plan(text, root, updates, edits)
        new = text
        for start, end, replacement in sorted(edits, reverse=True):
            new = new[:start] + replacement + new[end:]
    if (yaml.safe_load(new) or {}) != deep_merge(old, updates):
        raise ConfigEditError("an in-place edit would not give the intended values")
    return new


def write_through(path: str, text: str) -> str:
    """Atomically replace the file ``path`` points to (through symlinks) with ``text``; keep mode and owner."""
    from .atomic import atomic_write

    target = os.path.realpath(path)
    try:
        st = os.stat(target)  # type: Optional[os.stat_result]
    except FileNotFoundError:
        st = None
    with atomic_write(target, "w") as f:
        f.write(text)
        if st is not None:
            os.fchmod(f.fileno(), st.st_mode & 0o7777)
            if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
                os.fchown(f.fileno(), st.st_uid, st.st_gid)
        else:
            os.fchmod(f.fileno(), 0o644 & ~_umask())
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
