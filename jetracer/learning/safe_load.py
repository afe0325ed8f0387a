"""Read PyTorch files without running their code: the one loader for every model file jetracer opens.

A ``.pth`` file is a pickle, and a pickle may name any function to call while it is read (a crafted
``road_following_model.pth`` can run a shell command the moment it is loaded). ``torch.load`` has
``weights_only`` to prevent that only from PyTorch 1.13 on; the Jetson Nano's PyTorch 1.10 has
nothing. So every file here is read through :class:`Unpickler`, passed to ``torch.load`` as its
``pickle_module``, on every PyTorch: it lets a file build only tensors and storages, ``OrderedDict``,
plain containers (dict, list, tuple, set, str, bytes, bytearray, numbers) and what they need
(``torch._utils._rebuild_*``, dtypes, ``torch.Size``, ``torch.device``). That covers jetracer
checkpoints, upstream state dicts, optimized torch files and torch2trt ``TRTModule`` state dicts
(an engine ``bytearray`` plus names and flattener schemas). Anything else is refused with
:class:`UnsafeFileError`, naming what the file asked to run; nothing in it is executed.

This module is also the ``pickle_module`` object itself (``Unpickler``, ``load``, ``loads``).
"""
import _compat_pickle
import io
import pickle
import sys
from typing import Any, Callable, Dict, Tuple

# (module, name) pairs a model file may reference, beyond the tensor rebuilders and storages below
_PLAIN = {
    ("collections", "OrderedDict"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"), ("builtins", "bytearray"),
    ("builtins", "bytes"), ("builtins", "slice"),
    ("torch", "Size"), ("torch", "device"), ("torch", "Tensor"), ("torch._tensor", "Tensor"),
    ("torch.nn.parameter", "Parameter"), ("torch.serialization", "_get_layout"),
    ("torch._tensor", "_rebuild_from_type_v2"), ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor_v3"),
    ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
}
_STORAGE_MODULES = ("torch", "torch.cuda", "torch.storage")


class UnsafeFileError(pickle.UnpicklingError):
    """The file asks to run something a model file never needs; it was not loaded (nothing ran)."""

    def __init__(self, what: str) -> None:
        super(UnsafeFileError, self).__init__(
            "it asks to run %s while being read, which no model file needs (model files hold only tensors "
            "and plain data); it was refused and nothing in it ran. It may be malicious, or not a model "
            "file: get the model from its source again" % what)
        self.what = what


def _latin1_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """What protocol-2 pickles call as ``_codecs.encode`` to rebuild ``bytes``: latin-1 text only."""
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise UnsafeFileError("_codecs.encode(%s, %r)" % (type(text).__name__, encoding))
    return text.encode("latin-1")


def _allowed(module: str, name: str) -> Any:
    """The object a file may reference as ``module.name``, or None."""
    if (module, name) == ("_codecs", "encode"):
        return _latin1_encode
    plain = (module, name) in _PLAIN
    storage = module in _STORAGE_MODULES and name.endswith("Storage")
    if not (plain or storage or (module == "torch" and not name.startswith("_"))):
        return None
    import torch
    try:
        __import__(module)
    except ImportError:
        return None
    obj = getattr(sys.modules[module], name, None)
    if plain or isinstance(obj, torch.dtype) or (storage and isinstance(obj, type)):
        return obj
    return None


def _python3_name(module: str, name: str) -> Tuple[str, str]:
    """Protocol-2 pickles name Python 2 modules (``__builtin__``); map them as pickle itself does."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class Unpickler(pickle.Unpickler):
    """A pickle reader that builds only the allow-listed objects (see the module docstring)."""

    def find_class(self, module: str, name: str) -> Any:
        module, name = _python3_name(module, name)
        obj = _allowed(module, name)
        if obj is None:
            raise UnsafeFileError("%s.%s" % (module, name))
        return obj


def load(file: Any, **kwargs: Any) -> Any:
    """``pickle.load`` through :class:`Unpickler` (what ``torch.load`` calls on a legacy-format file)."""
    return Unpickler(file, **kwargs).load()


def loads(data: bytes, **kwargs: Any) -> Any:
    """``pickle.loads`` through :class:`Unpickler`."""
    return Unpickler(io.BytesIO(data), **kwargs).load()


def torch_load(path: str, map_location: Any = "cpu") -> Any:
    """``torch.load(path)`` through the allow-listed unpickler, on any PyTorch from 1.10 on.

    Raises :class:`UnsafeFileError` for a file that asks to run anything else; other errors (a truncated
    or foreign file) are torch's own.
    """
    import torch
    kwargs = {"map_location": map_location, "pickle_module": sys.modules[__name__]}  # type: Dict[str, Any]
    if "weights_only" in _parameters(torch.load):
        kwargs["weights_only"] = False  # torch refuses its own safe mode with a pickle_module: ours is stricter
    return torch.load(path, **kwargs)


def _parameters(fn: Callable[..., Any]) -> Tuple[str, ...]:
    code = getattr(fn, "__code__", None)
    return tuple(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]) if code is not None else ()
