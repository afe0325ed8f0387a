"""Check what an ONNX model file declares before ONNX Runtime sees it: shapes within a road model's means.

An ``.onnx`` file is a protobuf that declares its tensors' shapes; ONNX Runtime and jetracer trust them. A
file of a few hundred bytes may declare a 20000x20000 frame (every frame resized to 1.2 GB before the model
runs), a 30000x30000 weight stored in 8 bytes, a sparse initializer that densifies to 40 GB, data in an
external file (``/dev/zero``), or symbolic frame dimensions (no size to resize a frame to).
:func:`check_onnx_model` walks the protobuf's wire format (no ``onnx`` package needed: the car has only
onnxruntime) and refuses, in one line naming the file and the limit:

* a frame input that is not ``[H, W, 3]`` (or ``[N, H, W, 3]`` with a symbolic or 1 batch) with H and W
  from 8 to :data:`MAX_SIDE` pixels; symbolic spatial dimensions;
* outputs declaring more than :data:`MAX_OUTPUT_ELEMENTS` values;
* any tensor (initializer, constant, sparse initializer, in the graph, its subgraphs or functions) declaring
  more bytes than the file holds, and tensors stored outside the file.

It returns the frame size the model takes, so the pilot never needs to parse ``onnxruntime``'s shapes.
"""
from typing import Any, Iterator, List, Optional, Tuple

from ..bounded_file import FileLimitError, shown_size
from .limits import MAX_INPUT_SIDE

MAX_SIDE = MAX_INPUT_SIDE   # pixels a side (1024): a road model is 224x224
MIN_SIDE = 8
MAX_OUTPUT_ELEMENTS = 4096  # a road model outputs (x, y) per category: 2 to 128 values
MAX_DEPTH = 64              # nested messages (graphs in If/Loop nodes in graphs...)
WHAT = "ONNX model"

# bytes per element of TensorProto.DataType (sub-byte and unknown types count as 1)
_ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 8: 1, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16,
                  16: 2}
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL

# field numbers (onnx.proto3)
MODEL_GRAPH, MODEL_TRAINING_INFO, MODEL_FUNCTIONS = 7, 20, 25
GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_SPARSE, GRAPH_INPUT, GRAPH_OUTPUT = 1, 5, 15, 11, 12
NODE_ATTRIBUTE = 5
ATTR_T, ATTR_G, ATTR_TENSORS, ATTR_GRAPHS, ATTR_SPARSE, ATTR_SPARSES = 5, 6, 10, 11, 22, 23
TENSOR_DIMS, TENSOR_TYPE, TENSOR_NAME, TENSOR_EXTERNAL, TENSOR_LOCATION = 1, 2, 8, 13, 14
SPARSE_VALUES, SPARSE_INDICES, SPARSE_DIMS = 1, 2, 3
VALUE_NAME, VALUE_TYPE = 1, 2
TYPE_TENSOR, TENSOR_ELEM_TYPE, TENSOR_SHAPE, SHAPE_DIM, DIM_VALUE, DIM_PARAM = 1, 1, 2, 1, 1, 2
FUNCTION_NODE = 7
TRAINING_INIT, TRAINING_ALGORITHM = 1, 2


class _Damaged(ValueError):
    """The bytes are not a well-formed protobuf."""


def _varint(data: bytes, at: int) -> Tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise _Damaged("a number runs past the end")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _fields(data: bytes, start: int, end: int) -> Iterator[Tuple[int, int, Any]]:
    """(field number, wire type, value) of a message in ``data[start:end]``; a length-delimited value is
    its (start, end) in ``data``."""
    at = start
    while at < end:
        key, at = _varint(data, at)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 1:
            value, at = data[at:at + 8], at + 8
        elif wire == 2:
            size, at = _varint(data, at)
            value, at = (at, at + size), at + size
        elif wire == 5:
            value, at = data[at:at + 4], at + 4
        else:
            raise _Damaged("wire type %d" % wire)
        if at > end:
            raise _Damaged("a field runs past the end of its message")
        yield field, wire, value


def _int64s(data: bytes, wire: int, value: Any) -> List[int]:
    """A repeated int64 field's values (packed or not), as signed numbers."""
    if wire == 0:
        values = [value]
    elif wire == 2:
        values, at = [], value[0]
        while at < value[1]:
            v, at = _varint(data, at)
            values.append(v)
    else:
        raise _Damaged("an int64 of wire type %d" % wire)
    return [v - (1 << 64) if v >= 1 << 63 else v for v in values]


def _text(data: bytes, span: Tuple[int, int]) -> str:
    return data[span[0]:span[1]].decode("utf-8", "replace")


class _Walk(object):
    """One pass over a model's bytes, refusing what :func:`check_onnx_model` refuses."""

    def __init__(self, path: str, data: bytes) -> None:
        self.path, self.data = path, data

    def refuse(self, reason: str) -> FileLimitError:
        return FileLimitError(self.path, WHAT, reason)

    def model(self) -> Tuple[List[Tuple[str, List[Any]]], List[Tuple[str, List[Any]]]]:
        """(inputs, outputs) of the main graph, each (name, dims: int or str for a symbolic one)."""
        data, io = self.data, ([], [])  # type: bytes, Tuple[List[Any], List[Any]]
        for field, wire, value in _fields(data, 0, len(data)):
            if wire != 2:
                continue
            if field == MODEL_GRAPH:
                io = self.graph(value, 1, main=True)
            elif field == MODEL_FUNCTIONS:
                self.nodes(value, FUNCTION_NODE, 1)
            elif field == MODEL_TRAINING_INFO:
                for f, w, v in _fields(data, value[0], value[1]):
                    if w == 2 and f in (TRAINING_INIT, TRAINING_ALGORITHM):
                        self.graph(v, 2)
        return io

    def graph(self, span: Tuple[int, int], depth: int, main: bool = False) -> Tuple[List[Any], List[Any]]:
        if depth > MAX_DEPTH:
            raise self.refuse("nests graphs more than %d deep; not loaded" % MAX_DEPTH)
        inputs, outputs = [], []  # type: List[Any], List[Any]
        for field, wire, value in _fields(self.data, span[0], span[1]):
            if wire != 2:
                continue
            if field == GRAPH_NODE:
                self.node(value, depth)
            elif field == GRAPH_INITIALIZER:
                self.tensor(value)
            elif field == GRAPH_SPARSE:
                self.sparse(value)
            elif main and field in (GRAPH_INPUT, GRAPH_OUTPUT):
                (inputs if field == GRAPH_INPUT else outputs).append(self.value_info(value))
        return inputs, outputs

    def nodes(self, span: Tuple[int, int], node_field: int, depth: int) -> None:
        for field, wire, value in _fields(self.data, span[0], span[1]):
            if wire == 2 and field == node_field:
                self.node(value, depth)

    def node(self, span: Tuple[int, int], depth: int) -> None:
        for field, wire, value in _fields(self.data, span[0], span[1]):
            if wire != 2 or field != NODE_ATTRIBUTE:
                continue
            for f, w, v in _fields(self.data, value[0], value[1]):
                if w != 2:
                    continue
                if f in (ATTR_T, ATTR_TENSORS):
                    self.tensor(v)
                elif f in (ATTR_SPARSE, ATTR_SPARSES):
                    self.sparse(v)
                elif f in (ATTR_G, ATTR_GRAPHS):
                    self.graph(v, depth + 1)

    def declared(self, name: str, dims: List[int], element_bytes: int) -> None:
        """Refuse a tensor whose declared dims hold more bytes than the file (or are negative)."""
        total = element_bytes
        for d in dims:
            if d < 0:
                raise self.refuse("declares tensor %r with a negative dimension %s; not loaded" % (name, dims))
            total *= d
        if total > len(self.data):
            raise self.refuse("declares tensor %r of shape %s (%s) but holds %s; refused before anything was "
                              "allocated (the file is truncated, corrupt or crafted: export it again)"
                              % (name, dims, shown_size(total), shown_size(len(self.data))))

    def tensor(self, span: Tuple[int, int]) -> None:
        dims, data_type, name, external = [], 1, "", False  # type: List[int], int, str, bool
        for field, wire, value in _fields(self.data, span[0], span[1]):
            if field == TENSOR_DIMS:
                dims.extend(_int64s(self.data, wire, value))
            elif field == TENSOR_TYPE and wire == 0:
                data_type = value
            elif field == TENSOR_NAME and wire == 2:
                name = _text(self.data, value)
            elif field == TENSOR_LOCATION and wire == 0 and value == _EXTERNAL:
                external = True
            elif field == TENSOR_EXTERNAL:
                external = True
        if external:
            raise self.refuse("keeps tensor %r in an external data file; jetracer's ONNX models hold their weights "
                              "(export it again with jetracer optimize)" % name)
        self.declared(name, dims, _ELEMENT_BYTES.get(data_type, 1))

    def sparse(self, span: Tuple[int, int]) -> None:
        dims, values = [], None  # type: List[int], Optional[Tuple[int, int]]
        for field, wire, value in _fields(self.data, span[0], span[1]):
            if field == SPARSE_DIMS:
                dims.extend(_int64s(self.data, wire, value))
            elif field in (SPARSE_VALUES, SPARSE_INDICES) and wire == 2:
                self.tensor(value)
                if field == SPARSE_VALUES:
                    values = value
        data_type = 1
        if values is not None:
            for field, wire, value in _fields(self.data, values[0], values[1]):
                if field == TENSOR_TYPE and wire == 0:
                    data_type = value
        self.declared("sparse initializer", dims, _ELEMENT_BYTES.get(data_type, 1))  # ONNX Runtime densifies it

    def value_info(self, span: Tuple[int, int]) -> Tuple[str, List[Any]]:
        """(name, dims) of a graph input or output: an int per fixed dimension, its name (or "?") per symbolic one."""
        name, dims = "", []  # type: str, List[Any]
        for field, wire, value in _fields(self.data, span[0], span[1]):
            if field == VALUE_NAME and wire == 2:
                name = _text(self.data, value)
            elif field == VALUE_TYPE and wire == 2:
                for f, w, v in _fields(self.data, value[0], value[1]):
                    if f == TYPE_TENSOR and w == 2:
                        dims = self.shape(v)
        return name, dims

    def shape(self, span: Tuple[int, int]) -> List[Any]:
        dims = []  # type: List[Any]
        for field, wire, value in _fields(self.data, span[0], span[1]):
            if field != TENSOR_SHAPE or wire != 2:
                continue
            for f, w, v in _fields(self.data, value[0], value[1]):
                if f != SHAPE_DIM or w != 2:
                    continue
                dim = "?"  # type: Any
                for df, dw, dv in _fields(self.data, v[0], v[1]):
                    if df == DIM_VALUE and dw == 0:
                        dim = dv - (1 << 64) if dv >= 1 << 63 else dv
                    elif df == DIM_PARAM and dw == 2:
                        dim = _text(self.data, dv) or "?"
                dims.append(dim)
        return dims


def _shown(dims: List[Any]) -> str:
    return "[%s]" % ", ".join(str(d) if isinstance(d, int) else repr(d) for d in dims)


def check_onnx_model(path: str, data: bytes) -> Tuple[Tuple[int, int], bool]:
    """((H, W) of the frame the model takes, whether its input has a batch dimension), after checking the
    model in ``data`` (the bytes of ``path``) as the module docstring says.

    Raises :class:`jetracer.bounded_file.FileLimitError`, one line naming the file and the limit.
    """
    walk = _Walk(path, data)
    try:
        inputs, outputs = walk.model()
    except _Damaged as e:
        raise walk.refuse("is truncated or not an ONNX model (%s); export it again with jetracer optimize" % e)
    except RecursionError:
        raise walk.refuse("nests messages too deeply to be a model; not loaded")
    if not inputs or not outputs:
        raise walk.refuse("is truncated or not an ONNX model (no graph inputs or outputs); export it again with "
                          "jetracer optimize")
    name, dims = inputs[0]
    batched = len(dims) == 4
    frame = dims[1:] if batched else dims
    if len(frame) != 3 or frame[2] != 3 or (batched and isinstance(dims[0], int) and dims[0] != 1):
        raise walk.refuse("takes %r of shape %s; a jetracer road model takes a frame [H, W, 3] (or [batch, H, W, 3])"
                          % (name, _shown(dims)))
    height, width = frame[0], frame[1]
    if not isinstance(height, int) or not isinstance(width, int):
        raise walk.refuse("takes %r of shape %s with a symbolic height or width; a road model takes a fixed frame "
                          "size (%d to %d pixels a side): export it again with jetracer optimize"
                          % (name, _shown(dims), MIN_SIDE, MAX_SIDE))
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        raise walk.refuse("takes a %dx%d frame; a road model takes %d to %d pixels a side (224x224 as trained by "
                          "jetracer train): export it again with jetracer optimize" % (height, width, MIN_SIDE, MAX_SIDE))
    for out_name, out_dims in outputs:
        fixed = 1
        for d in out_dims:
            fixed *= d if isinstance(d, int) and d > 0 else 1
        if fixed > MAX_OUTPUT_ELEMENTS:
            raise walk.refuse("declares output %r of shape %s (%d values), over the %d limit; a road model outputs "
                              "(x, y) per category" % (out_name, _shown(out_dims), fixed, MAX_OUTPUT_ELEMENTS))
    return (height, width), batched

