"""The schema engine: a schema as data (:class:`Field`, :class:`Section`, :class:`OneOf`, :class:`ListOf`)
and :func:`validate`, which names every problem it finds (with a did-you-mean for a misspelt key or choice).

One engine for every settings file and table of options (the car profiles in
:mod:`jetracer.profiles.schema`, the user config in :mod:`jetracer.config_schema`), so each is checked
the same way, once, where it is read, and gives the same one-line messages.
"""
import difflib
import math
import reprlib
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple


class Field(object):
    """One leaf of a profile or config: its type(s), allowed range or choices, and whether it may be left out.

    ``kind`` is a type or a tuple of types; ``nullable`` lets ``None`` through (meaning "not set");
    ``default`` is the value a config section takes when the key is left out (see :func:`defaults`);
    ``check`` is an extra test ``check(where, value) -> [problems]`` run once the type and range pass.
    """

    def __init__(self, kind: Any, lo: Optional[float] = None, hi: Optional[float] = None,
                 choices: Optional[Sequence[Any]] = None, required: bool = True, doc: str = "",
                 default: Any = None, nullable: bool = False,
                 check: Optional[Callable[[str, Any], List[str]]] = None) -> None:
        self.kind = kind
        self.lo = lo
        self.hi = hi
        self.choices = choices
        self.required = required
        self.doc = doc
        self.default = default
        self.nullable = nullable
        self.extra_check = check

    def check(self, where: str, value: Any) -> List[str]:
        problem = self._problem(value)
        if problem:
            return ["%s: %s%s" % (where, problem, " (%s)" % self.doc if self.doc else "")]
        if self.extra_check is not None and value is not None:
            return self.extra_check(where, value)
        return []

    def _problem(self, value: Any) -> str:
        if value is None and self.nullable:
            return ""
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
            return "expected %s, found %s" % (_kind_name(self.kind, self.nullable), _shown(value))
        if isinstance(value, float) and not math.isfinite(value):
            return "expected a finite number, found %r" % (value,)
        if self.choices is not None and value not in self.choices:
            return "expected one of %s, found %s%s" % (", ".join(map(str, self.choices)), _shown(value),
                                                       _did_you_mean(value, self.choices))
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (
                self.lo is not None and value < self.lo or self.hi is not None and value > self.hi):
            return "expected a value in [%s, %s], found %r" % (self.lo, self.hi, value)
        return ""


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60


def _shown(value: Any) -> str:
    """A short one-line repr (a config value can be a large or deeply nested YAML structure)."""
    return " ".join(_REPR.repr(value).split())


def _did_you_mean(value: Any, choices: Any) -> str:
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    return "; did you mean %s?" % close[0] if close else ""


class ListOf(object):
    """A list whose items all follow one sub-schema."""

    def __init__(self, item: Mapping[str, Any], min_len: int = 1, max_len: int = 4, required: bool = True) -> None:
        self.item = item
        self.min_len = min_len
        self.max_len = max_len
        self.required = required


class Section(object):
    """A nested mapping that may be left out (``required=False``).

    ``check`` is a test of the mapping as a whole, ``check(where, data) -> [problems]``, run after its
    keys (e.g. a servo's ``min_us < center_us < max_us``): a rule between keys of one section.
    """

    def __init__(self, schema: Mapping[str, Any], required: bool = True, doc: str = "",
                 check: Optional[Callable[[str, Any], List[str]]] = None) -> None:
        self.schema = schema
        self.required = required
        self.doc = doc
        self.extra_check = check


class OneOf(object):
    """A section whose schema is chosen by the value of one of its keys (e.g. ``driver``)."""

    def __init__(self, key: str, variants: Mapping[str, Mapping[str, Any]]) -> None:
        self.key = key
        self.variants = variants


_KIND_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping",
               list: "a list"}


def _kind_name(kind: Any, nullable: bool = False) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = [_KIND_NAMES.get(k, getattr(k, "__name__", str(k))) for k in kinds if not (k is int and float in kinds)]
    if nullable:
        names.append("null (not set)")
    return " or ".join(names)


def validate(data: Any, schema: Any, where: str = "", top: str = "profile") -> List[str]:
    """Return a list of human-readable problems (empty when ``data`` follows ``schema``).

    ``where`` is the dotted path of ``data`` in its file (the messages start with it); ``top`` names the
    whole file where that path is empty.
    """
    if isinstance(schema, Field):
        return schema.check(where, data)
    if isinstance(schema, Section):
        problems = validate(data, schema.schema, where, top)
        if schema.extra_check is not None and isinstance(data, dict):
            problems += schema.extra_check(where, data)
        return problems
    if isinstance(schema, OneOf):
        if not isinstance(data, dict):
            return ["%s: expected a mapping, found %s" % (where, _shown(data))]
        variant = data.get(schema.key)
        if variant not in schema.variants:
            return ["%s.%s: expected one of %s, found %s" % (where, schema.key, ", ".join(schema.variants), _shown(variant))]
        rest = dict((k, v) for k, v in data.items() if k != schema.key)
        return validate(rest, schema.variants[variant], where)
    if isinstance(schema, ListOf):
        if not isinstance(data, list) or not schema.min_len <= len(data) <= schema.max_len:
            return ["%s: expected a list of %d to %d entries, found %s" % (where, schema.min_len, schema.max_len, _shown(data))]
        problems = []
        for i, item in enumerate(data):
            problems += validate(item, schema.item, "%s[%d]" % (where, i))
        return problems
    if not isinstance(data, dict):
        return ["%s: expected a mapping, found %s" % (where or top, _shown(data))]
    problems = []
    for key in data:
        if key not in schema:
            problems.append("%s: unknown key (known keys: %s%s)" % (_join(where, str(key)), ", ".join(sorted(schema)),
                                                                    _did_you_mean(key, sorted(schema))))
    for key, sub in schema.items():
        if key in data:
            problems += validate(data[key], sub, _join(where, key))
        elif getattr(sub, "required", True):
            problems.append("%s: missing" % _join(where, key))
    return problems


def _join(where: str, key: str) -> str:
    return "%s.%s" % (where, key) if where else key


def defaults(schema: Mapping[str, Any]) -> Dict[str, Any]:
    """The defaults of a config schema: every Field's ``default``, every Section's own defaults."""
    out = {}  # type: Dict[str, Any]
    for key, sub in schema.items():
        if isinstance(sub, Field):
            out[key] = sub.default
        elif isinstance(sub, Section):
            out[key] = defaults(sub.schema)
        elif isinstance(sub, dict):
            out[key] = defaults(sub)
    return out


def field_paths(schema: Any, prefix: str = "") -> List[Tuple[str, Any]]:
    """Every leaf path of the schema (for documentation and the calibration tool)."""
    out = []
    if isinstance(schema, Section):
        return field_paths(schema.schema, prefix)
    if isinstance(schema, dict):
        for key, sub in schema.items():
            out += field_paths(sub, _join(prefix, key))
    elif isinstance(schema, Field):
        out.append((prefix, schema))
    return out
