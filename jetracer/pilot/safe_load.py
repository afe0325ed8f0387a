"""Read PyTorch files without running their code or trusting their sizes: the one loader for every model file.

A ``.pth`` file is a pickle, and a pickle may name any function to call while it is read (a crafted
``road_following_model.pth`` can run a shell command the moment it is loaded). ``torch.load`` has
``weights_only`` to prevent that only from PyTorch 1.13 on; the Jetson Nano's PyTorch 1.10 has
nothing. So every file here is read through :class:`Unpickler`, passed to ``torch.load`` as its
``pickle_module``, on every PyTorch: it lets a file build only tensors and storages, ``OrderedDict``,
plain containers (dict, list, tuple, set, str, bytes, bytearray, numbers) and what they need
(``torch._utils._rebuild_*``, dtypes, ``torch.Size``, ``torch.device``). That covers jetracer
checkpoints, upstream state dicts, optimized torch files, resume states and torch2trt ``TRTModule``
state dicts (an engine ``bytearray`` plus names and flattener schemas). Anything else is refused with
:class:`UnsafeFileError`, naming what the file asked to run; nothing in it is executed.

A file also cannot make the loader allocate more than it holds (a 32-byte file used to take 3 GiB before
being refused; a Nano has 4 GB, shared with the GPU). :func:`torch_load` checks before torch reads it:

* a regular file (a FIFO or device is never opened) of at most :data:`MAX_MODEL_BYTES`;
* a zip (torch >= 1.6) file: at most :data:`MAX_ZIP_RECORDS` records, none declaring more bytes than the
  file holds, and not a TorchScript archive (``torch.load`` hands those to ``torch.jit.load``, which runs
  their code); the pre-1.0 tar format is refused;
* while the pickle is read (pure-Python unpickler: the C one allocates a declared length before reading
  it): no read asks for more than the stream holds, at most :data:`MAX_PICKLE_OPS` opcodes, every storage
  declares at most the bytes its record holds (zip) or the file holds (legacy format; all storages
  together too), and every tensor view fits its storage (``set_`` would grow the storage) and holds at
  most as many bytes as the file. No allow-listed type is called with a count (``bytearray(3 << 30)``,
  ``torch.FloatStorage(n)``).

Each refusal is a :class:`FileLimitError` (one line naming the file and the limit), raised before torch
allocates anything for the file.

This module is also a ``pickle_module`` itself (``Unpickler``, ``load``, ``loads``), bounded by
:data:`MAX_MODEL_BYTES` only; :func:`torch_load` hands ``torch.load`` one bounded by the file it reads.
"""
import _compat_pickle
import io
import os
import pickle
import struct
import sys
import zipfile
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..bounded_file import FileLimitError, GIB, open_regular, shown_size
from ..errors import Failure

MAX_MODEL_BYTES = 1 * GIB   # a resnet18 checkpoint with its optimizer is ~135 MB, a TensorRT engine ~50 MB
MAX_ZIP_RECORDS = 20000     # torch writes one record per storage: ~300 for a checkpoint with its optimizer
MAX_PICKLE_OPS = 1000000    # a resnet50 checkpoint with its optimizer is ~25,000: bounds the objects a pickle makes
MAX_LINE_BYTES = 1 << 16    # text opcodes (protocol 0 names, numbers): a line is a module or class name
WHAT = "model file"

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
# what a pickle may call (REDUCE, NEWOBJ, INST, OBJ); types and storages it may only name
_CALLABLE = {
    ("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"),
    ("builtins", "slice"), ("torch", "Size"), ("torch", "device"), ("torch.nn.parameter", "Parameter"),
    ("torch.serialization", "_get_layout"), ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
}


class UnsafeFileError(Failure, pickle.UnpicklingError):
    """The file asks to run something a model file never needs; it was not loaded (nothing ran).

    A file that declares more than it holds raises :class:`jetracer.bounded_file.FileLimitError` instead."""

    def __init__(self, what: str) -> None:
        super(UnsafeFileError, self).__init__(
            "it asks to run %s while being read, which no model file needs (model files hold only tensors "
            "and plain data); it was refused and nothing in it ran. It may be malicious, or not a model "
            "file: get the model from its source again" % what)
        self.what = what


def _declared(path: str, what: str, declared: int, holds: int) -> FileLimitError:
    return FileLimitError(path, WHAT, "declares %s of %s but holds %s; refused before anything was allocated "
                          "(the file is truncated, corrupt or crafted: get the model from its source again)"
                          % (what, shown_size(declared), shown_size(holds)))


def _latin1_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """What protocol-2 pickles call as ``_codecs.encode`` to rebuild ``bytes``: latin-1 text only."""
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise UnsafeFileError("_codecs.encode(%s, %r)" % (type(text).__name__, encoding))
    return text.encode("latin-1")


def _no_count(cls: type) -> Callable[..., Any]:
    """``bytes``/``bytearray`` as a pickle may call them: from data, never ``bytearray(3 << 30)`` zeros."""
    def build(*args: Any) -> Any:
        if args and isinstance(args[0], int):
            raise UnsafeFileError("%s(%d)" % (cls.__name__, args[0]))
        return cls(*args)
    build.__name__ = cls.__name__
    return build


_BYTES, _BYTEARRAY = _no_count(bytes), _no_count(bytearray)


def _python3_name(module: str, name: str) -> Tuple[str, str]:
    """Protocol-2 pickles name Python 2 modules (``__builtin__``); map them as pickle itself does."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class _BoundedStream(object):
    """The stream a pickle is read from: a read of a declared length larger than what is left is refused
    (reading it would allocate that length first), a line is at most :data:`MAX_LINE_BYTES`."""

    def __init__(self, file: Any, path: str) -> None:
        self._file, self._path = file, path
        try:
            here = file.tell()
            self._left = file.seek(0, io.SEEK_END) - here
            file.seek(here)
        except (AttributeError, OSError, ValueError):
            self._left = MAX_MODEL_BYTES

    def read(self, n: int = -1) -> bytes:
        if n is not None and n > max(1, self._left):
            raise _declared(self._path, "a pickle item", n, self._left)
        data = self._file.read(self._left if n is None or n < 0 else min(n, self._left))
        self._left -= len(data)
        return data

    def readline(self) -> bytes:
        data = self._file.readline(min(MAX_LINE_BYTES, self._left))
        self._left -= len(data)
        return data


class Unpickler(pickle._Unpickler):  # type: ignore
    """A pickle reader that builds only the allow-listed objects within the file's means (module docstring).

    ``path``, ``file_bytes`` (what all storages together may declare) and ``record_bytes`` ({zip record
    name: bytes}, what each storage may declare) are set per file by :func:`torch_load`.
    """

    path = "the file"
    file_bytes = MAX_MODEL_BYTES
    record_bytes = None  # type: Optional[Dict[str, int]]

    def __init__(self, file: Any, **kwargs: Any) -> None:
        super(Unpickler, self).__init__(_BoundedStream(file, self.path), **kwargs)
        self._ops = 0
        self._storage_bytes = {}  # type: Dict[Any, int]
        self._total_bytes = 0

    def find_class(self, module: str, name: str) -> Any:
        module, name = _python3_name(module, name)
        obj = _allowed(module, name)
        if obj is None:
            raise UnsafeFileError("%s.%s" % (module, name))
        return obj

    def check_call(self, func: Any, args: Any) -> None:
        """What a pickle calls (REDUCE, NEWOBJ, INST, OBJ): only the allow-listed callables, and a tensor
        rebuilder only with a view its storage and the file can hold."""
        if not any(func is c for c in _callables()):
            raise UnsafeFileError("%s(...)" % getattr(func, "__name__", type(func).__name__))
        rebuilders = _rebuilders()
        if func is rebuilders.get("_rebuild_from_type_v2"):  # (func, new_type, args, state): torch calls func(*args)
            if not isinstance(args, tuple) or len(args) < 3 or not isinstance(args[2], tuple) or not any(
                    args[0] is f for n, f in rebuilders.items() if n != "_rebuild_from_type_v2"):
                raise UnsafeFileError("_rebuild_from_type_v2 with %s" % type(args[0] if args else None).__name__)
            func, args = args[0], args[2]
        if any(func is f for f in rebuilders.values()):
            if not isinstance(args, tuple) or len(args) < 4:
                raise UnsafeFileError("%s with %d arguments" % (func.__name__, len(args) if args else 0))
            dtype = args[6] if func is rebuilders.get("_rebuild_tensor_v3") and len(args) > 6 else None
            self.check_tensor(args[0], args[1], args[2], args[3], dtype)

    def check_storage(self, pid: Any) -> None:
        """A storage torch is about to allocate: at most what its record (zip) or the file (legacy) holds."""
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] not in ("storage", b"storage"):
            return  # torch refuses it without allocating
        storage_type, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(numel, int) or numel < 0:
            raise UnsafeFileError("a storage of %r elements" % (numel,))
        nbytes = numel * _storage_element_size(storage_type)
        holds = self.file_bytes
        if self.record_bytes is not None:
            name = key.decode("ascii", "replace") if isinstance(key, bytes) else str(key)
            holds = self.record_bytes.get("data/" + name, 0)
        if nbytes > holds:
            raise _declared(self.path, "a tensor storage", nbytes, holds)
        if key not in self._storage_bytes:
            self._storage_bytes[key] = nbytes
            self._total_bytes += nbytes
        if self._total_bytes > self.file_bytes:
            raise _declared(self.path, "tensor storages", self._total_bytes, self.file_bytes)

    def check_tensor(self, storage: Any, offset: Any, size: Any, stride: Any, dtype: Any = None) -> None:
        """A tensor view about to be set on ``storage``: it must fit the storage (``set_`` would grow the
        storage to fit) and hold no more bytes than the file (a stride-0 view claiming 3 GiB)."""
        import torch
        if isinstance(storage, torch.Tensor) or not hasattr(storage, "element_size") or not hasattr(storage, "dtype"):
            raise UnsafeFileError("a tensor on a %s" % type(storage).__name__)
        size, stride = _ints(size, "size"), _ints(stride, "stride")
        if not isinstance(offset, int) or offset < 0 or len(size) != len(stride):
            raise UnsafeFileError("a tensor at offset %r with size %r and stride %r" % (offset, size, stride))
        element = _element_size(dtype if dtype is not None else storage.dtype)
        numel = 1
        for s in size:
            numel *= s
        span = 0 if numel == 0 else offset + 1 + sum((s - 1) * st for s, st in zip(size, stride))
        untyped = getattr(storage, "_untyped_storage", storage)  # torch >= 1.13 (the public size warns)
        stored = untyped.nbytes() if hasattr(untyped, "nbytes") else storage.size() * storage.element_size()
        if span * element > stored:
            raise _declared(self.path, "a tensor view", span * element, stored)
        if numel * element > self.file_bytes:
            raise _declared(self.path, "a tensor", numel * element, self.file_bytes)

    def _instantiate(self, klass: Any, args: Any) -> None:
        """INST and OBJ (protocols 0 and 1) call a class: the same allow-list as REDUCE."""
        self.check_call(klass, tuple(args))
        super(Unpickler, self)._instantiate(klass, args)

    def load_bytearray8(self) -> None:
        """BYTEARRAY8 without allocating the declared length first (the pure-Python reader does)."""
        size, = struct.unpack("<Q", self.read(8))
        data = self.read(size)
        if len(data) < size:
            raise pickle.UnpicklingError("pickle data was truncated")
        self.append(bytearray(data))


def _counted(op: Callable[[Any], None]) -> Callable[[Any], None]:
    def counted(self: Any) -> None:
        self._ops += 1
        if self._ops > MAX_PICKLE_OPS:
            raise FileLimitError(self.path, WHAT, "holds more than %d pickle opcodes, over the limit; refused before "
                                 "it could fill memory (a resnet50 checkpoint has ~25,000)" % MAX_PICKLE_OPS)
        op(self)
    return counted


def _before(check: Callable[[Any], None], op: Callable[[Any], None]) -> Callable[[Any], None]:
    def checked(self: Any) -> None:
        check(self)
        op(self)
    return checked


def _check_build(self: Any) -> None:
    """BUILD sets attributes: only a dict's own (``OrderedDict._metadata`` of a state dict), never a
    tensor's (``Tensor.__setstate__`` resizes it) or a type's (that would change the type for everyone)."""
    inst = self.stack[-2]
    if not isinstance(inst, dict):
        raise UnsafeFileError("%s.__setstate__" % type(inst).__name__)


def _dispatch() -> Dict[int, Callable[[Any], None]]:
    """The pure-Python reader's opcode table with the checks of :class:`Unpickler`, every opcode counted."""
    base = pickle._Unpickler  # type: ignore
    table = dict(base.dispatch)
    table[pickle.REDUCE[0]] = _before(lambda self: self.check_call(self.stack[-2], self.stack[-1]), base.load_reduce)
    table[pickle.NEWOBJ[0]] = _before(lambda self: self.check_call(self.stack[-2], self.stack[-1]), base.load_newobj)
    if hasattr(pickle, "NEWOBJ_EX"):
        table[pickle.NEWOBJ_EX[0]] = _before(lambda self: self.check_call(self.stack[-3], self.stack[-2]),
                                             base.load_newobj_ex)
    table[pickle.BUILD[0]] = _before(_check_build, base.load_build)
    table[pickle.BINPERSID[0]] = _before(lambda self: self.check_storage(self.stack[-1]), base.load_binpersid)
    if hasattr(pickle, "BYTEARRAY8"):
        table[pickle.BYTEARRAY8[0]] = Unpickler.load_bytearray8
    return dict((code, _counted(op)) for code, op in table.items())


Unpickler.dispatch = _dispatch()


def _element_size(dtype: Any) -> int:
    import torch
    if not isinstance(dtype, torch.dtype):
        raise UnsafeFileError("a tensor of type %s" % type(dtype).__name__)
    return torch.empty(0, dtype=dtype).element_size()


def _storage_element_size(storage_type: Any) -> int:
    """Bytes per element of a storage type as torch's loaders name it (a storage class, torch's
    ``StorageType``, ``UntypedStorage``: 1)."""
    import torch
    if storage_type is getattr(torch, "UntypedStorage", None):
        return 1
    dtype = getattr(storage_type, "dtype", None)
    if isinstance(dtype, torch.dtype):
        return _element_size(dtype)
    if isinstance(storage_type, type) and storage_type.__name__.endswith("Storage") and \
            storage_type.__module__.split(".")[0] == "torch":
        return storage_type(0).element_size()  # PyTorch 1.10's storage classes: dtype on instances only
    raise UnsafeFileError("a storage of type %s" % getattr(storage_type, "__name__", type(storage_type).__name__))


def _ints(values: Any, what: str) -> Tuple[int, ...]:
    if not isinstance(values, (tuple, list)) or not all(isinstance(v, int) and v >= 0 for v in values):
        raise UnsafeFileError("a tensor with %s %r" % (what, values))
    return tuple(values)


_REBUILDERS = {}  # type: Dict[str, Any]
_CALLABLES = []  # type: List[Any]


def _rebuilders() -> Dict[str, Any]:
    """{name: function} of torch's tensor rebuilders, whose arguments :meth:`Unpickler.check_call` checks."""
    if not _REBUILDERS:
        import torch._tensor
        import torch._utils
        for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3"):
            if hasattr(torch._utils, name):
                _REBUILDERS[name] = getattr(torch._utils, name)
        if hasattr(torch._tensor, "_rebuild_from_type_v2"):
            _REBUILDERS["_rebuild_from_type_v2"] = torch._tensor._rebuild_from_type_v2
    return _REBUILDERS


def _callables() -> List[Any]:
    """What a pickle may call: the plain constructors and torch's rebuilders (never a storage or tensor type)."""
    if not _CALLABLES:
        _CALLABLES.extend([_latin1_encode, _BYTES, _BYTEARRAY] + list(_rebuilders().values()))
        _CALLABLES.extend(o for o in (_allowed(m, n) for m, n in sorted(_CALLABLE)) if o is not None)
    return _CALLABLES


def _allowed(module: str, name: str) -> Any:
    """The object a file may reference as ``module.name``, or None."""
    if (module, name) == ("_codecs", "encode"):
        return _latin1_encode
    if (module, name) == ("builtins", "bytes"):
        return _BYTES
    if (module, name) == ("builtins", "bytearray"):
        return _BYTEARRAY
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


def load(file: Any, **kwargs: Any) -> Any:
    """``pickle.load`` through :class:`Unpickler` (what ``torch.load`` calls on a legacy-format file)."""
    return Unpickler(file, **kwargs).load()


def loads(data: bytes, **kwargs: Any) -> Any:
    """``pickle.loads`` through :class:`Unpickler`."""
    return Unpickler(io.BytesIO(data), **kwargs).load()


class _PickleModule(object):
    """A ``pickle_module`` for ``torch.load`` whose :class:`Unpickler` knows the limits of one file."""

    def __init__(self, path: str, file_bytes: int, record_bytes: Optional[Dict[str, int]]) -> None:
        self.__name__ = __name__  # torch.load looks at it (to tell dill apart)
        self.Unpickler = type("Unpickler", (Unpickler,), {"path": path, "file_bytes": file_bytes,
                                                         "record_bytes": record_bytes})

    def load(self, file: Any, **kwargs: Any) -> Any:
        return self.Unpickler(file, **kwargs).load()

    def loads(self, data: bytes, **kwargs: Any) -> Any:
        return self.Unpickler(io.BytesIO(data), **kwargs).load()


def _zip_entry_count(f: Any, size: int) -> Optional[int]:
    """The record count a zip's end-of-central-directory declares (zip64 too), or None when there is none."""
    tail = min(size, 22 + 0xFFFF)
    f.seek(size - tail)
    data = f.read(tail)
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < 22:
        return None
    count = struct.unpack("<H", data[at + 10:at + 12])[0]
    if count == 0xFFFF and at >= 20 and data[at - 20:at - 16] == b"PK\x06\x07":
        offset = struct.unpack("<Q", data[at - 12:at - 4])[0]
        if offset + 56 <= size:
            f.seek(offset)
            record = f.read(56)
            if record[:4] == b"PK\x06\x06":
                count = struct.unpack("<Q", record[32:40])[0]
    return count


def _zip_records(path: str, f: Any, size: int) -> Dict[str, int]:
    """{record name without the archive folder: declared bytes}, after checking the zip against ``size``."""
    count = _zip_entry_count(f, size)
    if count is not None and count > MAX_ZIP_RECORDS:
        raise FileLimitError(path, WHAT, "declares %d zip records, over the %d limit; refused before anything was "
                             "allocated (torch writes one per tensor storage)" % (count, MAX_ZIP_RECORDS))
    f.seek(0)
    try:
        with zipfile.ZipFile(f) as archive:
            infos = archive.infolist()
    except Exception as e:  # BadZipFile, struct.error, UnicodeDecodeError...: what torch reads must be checked here
        raise FileLimitError(path, WHAT, "is a truncated or damaged zip archive (%s: %s); not read"
                             % (type(e).__name__, " ".join(str(e).split())[:200]))
    records = {}  # type: Dict[str, int]
    for info in infos:
        name = info.filename.split("/", 1)[-1]
        if name == "constants.pkl" or name.endswith("/constants.pkl"):
            raise FileLimitError(path, WHAT, "is a TorchScript archive (torch.jit.save), which runs its code when "
                                 "loaded; refused. jetracer loads checkpoints, state dicts and `jetracer optimize` "
                                 "files: save the model's state_dict() instead")
        for declared in (info.file_size, info.compress_size):
            if declared > size:
                raise _declared(path, "a zip record (%s)" % name, declared, size)
        records[name] = info.file_size
    return records


def _is_tar(head: bytes) -> bool:
    """What ``torch.load`` takes for its pre-1.0 tar format (it reads the storages' declared sizes from it)."""
    import tarfile
    if len(head) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(head[:512], "utf-8", "surrogateescape")
    except (tarfile.HeaderError, ValueError):
        return False
    return True


def torch_load(path: str, map_location: Any = "cpu") -> Any:
    """``torch.load(path)`` through the allow-listed, bounded unpickler, on any PyTorch from 1.10 on.

    Raises :class:`UnsafeFileError` for a file that asks to run anything else; :class:`FileLimitError`
    (one line naming the file and the limit) for one that is not a regular file, is larger than
    :data:`MAX_MODEL_BYTES` or declares more than it holds, before anything is allocated for it; the
    ``OSError`` of opening it; other errors (a truncated or foreign file) are torch's own.
    """
    import torch
    path = os.fspath(path)
    with open_regular(path, WHAT, MAX_MODEL_BYTES) as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(512)
        records = None  # type: Optional[Dict[str, int]]
        if head.startswith(b"PK\x03\x04"):
            records = _zip_records(path, f, size)
        elif _is_tar(head):
            raise FileLimitError(path, WHAT, "is in the tar format of PyTorch before 1.0, which jetracer does not "
                                 "read (it trusts the sizes the file declares); load and save it again with torch")
        f.seek(0)
        module = _PickleModule(path, size, records)
        kwargs = {"map_location": map_location, "pickle_module": module}  # type: Dict[str, Any]
        if "weights_only" in _parameters(torch.load):
            kwargs["weights_only"] = False  # torch refuses its own safe mode with a pickle_module: ours is stricter
        return torch.load(f, **kwargs)


def _parameters(fn: Callable[..., Any]) -> Tuple[str, ...]:
    code = getattr(fn, "__code__", None)
    return tuple(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]) if code is not None else ()

