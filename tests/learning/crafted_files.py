"""Small crafted model files that ask for far more memory than they hold, and a loader that measures them.

Each ``write_*`` function writes one file (at most a few KiB) that, read by a naive loader, makes Python or
torch allocate ``HUGE`` bytes (3 GiB) before anything notices the file is too short. ``python
tests/learning/crafted_files.py [DIR]`` writes them all and loads each in a fresh process, printing the peak
address space and RSS of the load and the first line of the error:

    .venv/bin/python tests/learning/crafted_files.py /tmp/crafted
"""
import io
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
from collections import OrderedDict

HUGE = 3 << 30  # bytes: what each file asks for (a Jetson Nano has 4 GB, shared with the GPU)

MAGIC = 0x1950a86a20f9469cfc6c  # torch's legacy-format magic number
LEGACY_PROTOCOL = 1001


def _pad(data, size=32):
    return data.ljust(size, b".")


def opcode_files():
    """{name: bytes}: 32-byte pickles whose first opcode declares a 3 GiB length (the C unpickler
    allocates it before reading), or whose memo index makes it grow its memo table to 32 GiB."""
    size = struct.pack("<Q", HUGE)
    return {
        "frame.pth": _pad(b"\x80\x04\x95" + size + b"\x8a"),            # FRAME of 3 GiB
        "binbytes8.pth": _pad(b"\x80\x04\x8e" + size),                  # BINBYTES8
        "binunicode8.pth": _pad(b"\x80\x04\x8d" + size),                # BINUNICODE8
        "bytearray8.pth": _pad(b"\x80\x05\x96" + size),                 # BYTEARRAY8
        "memo.pth": _pad(b"\x80\x04N" + b"r" + struct.pack("<I", 0xFFFFFFF0)),  # LONG_BINPUT at index 2^32
    }


def call_files():
    """{name: bytes}: 32-byte pickles calling an allow-listed type with a count: bytearray(3 GiB),
    bytes(3 GiB), torch.FloatStorage(768 M floats), torch.Tensor(768 M)."""
    count = HUGE
    floats = HUGE // 4
    return {
        "bytearray_call.pth": _pad(b"cbuiltins\nbytearray\n\x8a\x05" + count.to_bytes(5, "little") + b"\x85R."),
        "bytes_call.pth": _pad(b"cbuiltins\nbytes\n\x8a\x05" + count.to_bytes(5, "little") + b"\x85R."),
        "storage_call.pth": _pad(b"ctorch\nFloatStorage\nJ" + struct.pack("<i", floats) + b"\x85R."),
        "tensor_call.pth": _pad(b"ctorch\nTensor\nJ" + struct.pack("<i", floats) + b"\x85R."),
    }


class _Storage(object):
    """Stands for a storage in a crafted pickle: pickled as the persistent id torch reads."""

    def __init__(self, pid):
        self.pid = pid


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, _Storage) else None


def _dumps(obj, protocol=2):
    buf = io.BytesIO()
    _Pickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def _float_storage_type():
    import torch
    return torch.FloatStorage


def _write_legacy(path, obj, storage_bytes):
    """torch's legacy format (before 1.6): magic, protocol, sys info, the pickle, its storage keys, storage "0"."""
    with open(path, "wb") as f:
        for part in (MAGIC, LEGACY_PROTOCOL, {"protocol_version": LEGACY_PROTOCOL, "little_endian": True}):
            pickle.dump(part, f, protocol=2)
        f.write(_dumps(obj))
        pickle.dump(["0"], f, protocol=2)
        f.write(struct.pack("<q", len(storage_bytes) // 4) + storage_bytes)
    return path


def write_legacy_storage(path, numel=HUGE // 4):
    """A legacy-format file whose one storage declares ``numel`` floats and holds 4 bytes."""
    storage = _Storage(("storage", _float_storage_type(), "0", "cpu", numel, None))
    return _write_legacy(path, {"fc.weight": storage}, b"\0" * 4)


def _zip_records(data_pkl, extra=()):
    records = [("archive/data.pkl", data_pkl), ("archive/byteorder", b"little"), ("archive/version", b"3\n"),
               ("archive/.data/serialization_id", b"0" * 40)]
    return records + list(extra)


def _write_zip(path, records, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in records:
            z.writestr(name, data)
    return path


def write_zip_storage(path, numel=HUGE // 4):
    """A zip-format (torch >= 1.6) file whose storage ``data/0`` declares ``numel`` floats and holds 4 bytes."""
    storage = _Storage(("storage", _float_storage_type(), "0", "cpu", numel))
    return _write_zip(path, _zip_records(_dumps({"fc.weight": storage}), [("archive/data/0", b"\0" * 4)]))


def write_zip_record(path, declared=HUGE):
    """A zip-format file whose ``data.pkl`` record says it unpacks to ``declared`` bytes (a deflated record
    of a few bytes); torch allocates the declared size before inflating it."""
    _write_zip(path, _zip_records(pickle.dumps({}, protocol=2)), zipfile.ZIP_DEFLATED)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    name = b"archive/data.pkl"
    local = data.find(b"PK\x03\x04")  # the first local header is data.pkl's
    central = data.find(b"PK\x01\x02")
    assert data[local + 30:local + 30 + len(name)] == name and data[central + 46:central + 46 + len(name)] == name
    data[local + 22:local + 26] = struct.pack("<I", declared)    # local header: uncompressed size
    data[central + 24:central + 28] = struct.pack("<I", declared)  # central directory: uncompressed size
    with open(path, "wb") as f:
        f.write(bytes(data))
    return path


class _Rebuild(object):
    """Pickled as ``torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())``."""

    def __init__(self, storage, size, stride):
        self.args = (storage, 0, size, stride, False, OrderedDict())

    def __reduce__(self):
        import torch._utils
        return torch._utils._rebuild_tensor_v2, self.args


def write_view_past_storage(path, numel=HUGE // 4):
    """A legacy-format file whose storage holds one float and whose tensor views ``numel`` of them (stride 1):
    torch's ``set_`` grows the (resizable) storage to fit the view."""
    storage = _Storage(("storage", _float_storage_type(), "0", "cpu", 1, None))
    return _write_legacy(path, {"fc.weight": _Rebuild(storage, (numel,), (1,))}, b"\0" * 4)


def write_expanded_tensor(path, numel=HUGE // 4):
    """A zip-format file holding one float whose tensor claims ``numel`` elements over it (stride 0)."""
    import torch
    t = torch.zeros(1).expand(numel)
    torch.save({"fc.weight": t}, path)
    return path


def write_tar_storage(path, numel=HUGE // 4):
    """torch's oldest (tar) format: the ``storages`` member declares ``numel`` floats and holds none."""
    members = {
        "sys_info": pickle.dumps({"protocol_version": LEGACY_PROTOCOL, "little_endian": True}, protocol=2),
        "storages": (pickle.dumps(1, protocol=2) + _dumps(("0", "cpu", _float_storage_type()))
                     + struct.pack("<q", numel)),
        "tensors": pickle.dumps(0, protocol=2),
        "pickle": pickle.dumps({}, protocol=2),
    }
    with tarfile.open(path, "w:", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_many_records(path, count=20001):
    """A zip-format file of ``count`` empty records (~2 MB): reading its directory makes ~600 bytes of Python
    objects a record before torch reads anything."""
    return _write_zip(path, _zip_records(pickle.dumps({}, protocol=2), [("archive/r/%d" % i, b"")
                                                                          for i in range(count)]))


def write_many_ops(path, ops=1200000):
    """A legacy-format file whose first pickle is ``ops`` opcodes (push None, pop: ~2.4 MB) before its value."""
    with open(path, "wb") as f:
        f.write(b"\x80\x02" + b"N0" * (ops // 2) + b"N.")
    return path


def write_torchscript(path):
    """A real TorchScript archive (``torch.jit.save``): torch.load hands it to ``torch.jit.load``, which runs its code."""
    import warnings
    import torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated, not gone
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)
    return path


def write_all(folder):
    """Every crafted file in ``folder``; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name, data in sorted(dict(opcode_files(), **call_files()).items()):
        paths.append(os.path.join(folder, name))
        with open(paths[-1], "wb") as f:
            f.write(data)
    for name, writer in (("legacy_storage.pth", write_legacy_storage), ("zip_storage.pth", write_zip_storage),
                         ("zip_record.pth", write_zip_record), ("expanded.pth", write_expanded_tensor),
                         ("view_past_storage.pth", write_view_past_storage),
                         ("tar_storage.pth", write_tar_storage), ("torchscript.pth", write_torchscript),
                         ("many_records.pth", write_many_records), ("many_ops.pth", write_many_ops)):
        paths.append(writer(os.path.join(folder, name)))
    return paths


MEASURE = r'''
import resource, sys
def vm(key):
    with open("/proc/self/status") as f:
        return [int(l.split()[1]) for l in f if l.startswith(key)][0] // 1024
limit_mib = int(sys.argv[2])
import torch
from jetracer.pilot import load_pilot
before = vm("VmPeak"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
if limit_mib:
    cap = (vm("VmSize") + limit_mib) << 20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
try:
    load_pilot(sys.argv[1], device="cpu")
    line = "loaded"
except BaseException as e:
    line = "%s: %s" % (type(e).__name__, " ".join(str(e).split()))
after = vm("VmPeak"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print("%+d MiB address space, %+d MiB RSS | %s" % (after[0] - before[0], after[1] - before[1], line[:160]))
'''


def measure(path, limit_mib=0):
    """One line: peak address space and RSS the load of ``path`` added, and how it ended (a fresh process)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", MEASURE, path, str(limit_mib)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, env=env, timeout=300).stdout
    return out.strip().splitlines()[-1] if out.strip() else "(no output)"


if __name__ == "__main__":
    folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp/crafted_models"
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    for p in write_all(folder):
        print("%-22s %5d bytes  %s" % (os.path.basename(p), os.path.getsize(p), measure(p, limit)))


def tiny_onnx(frame_dims=(32, 32, 3), weight_dims=(1, 2), weight_bytes=None, sparse_dims=None, external=None,
              output_dims=(1, 2)):
    """A jetracer ONNX road model (uint8 HxWx3 ``frame_bgr`` -> (1, 2) ``outputs``: the frame's mean times a
    (1, 2) weight) as ``onnx.ModelProto``, with what a crafted file may change: the declared frame dims
    (ints, or names for symbolic ones), the weight's declared dims and stored bytes, a sparse initializer of
    ``sparse_dims`` holding one value, the weight's data in an ``external`` file, the declared output dims."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper
    from jetracer.pilot.onnx_backend import INPUT_NAME, OUTPUT_NAME, set_metadata
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 2], np.full(2, 0.01, np.float32).tobytes(), raw=True)
    del weight.dims[:]
    weight.dims.extend(weight_dims)  # what the file declares, whatever it holds
    if weight_bytes is not None:
        weight.raw_data = weight_bytes
    if external is not None:
        weight.ClearField("raw_data")
        weight.data_location = TensorProto.EXTERNAL
        for key, value in (("location", external), ("offset", "0"), ("length", str(4 * 2))):
            entry = weight.external_data.add()
            entry.key, entry.value = key, value
    nodes = [helper.make_node("Cast", [INPUT_NAME], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Reshape", ["f", "flat"], ["r"]),
             helper.make_node("ReduceMean", ["r"], ["m"], axes=[1], keepdims=1),
             helper.make_node("Mul", ["m", "w"], [OUTPUT_NAME])]
    inits = [weight, helper.make_tensor("flat", TensorProto.INT64, [2], [1, -1])]
    sparse = []
    if sparse_dims is not None:
        values = helper.make_tensor("s", TensorProto.FLOAT, [1], [1.0])
        indices = helper.make_tensor("s_i", TensorProto.INT64, [1], [0])
        sparse.append(helper.make_sparse_tensor(values, indices, list(sparse_dims)))
    graph = helper.make_graph(nodes, "road", [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8,
                                                                             list(frame_dims))],
                              [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, list(output_dims))],
                              initializer=inits, sparse_initializer=sparse)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    set_metadata(model, {"input_size": [32, 32], "categories": ["apex"], "num_outputs": 2}, "fp32", {})
    return model


def write_onnx_files(folder):
    """{name: path} of a sound tiny ONNX model and crafted ones (huge declared shapes, symbolic dims, external data)."""
    import onnx
    os.makedirs(folder, exist_ok=True)
    models = {
        "sound.onnx": tiny_onnx(),
        "huge_frame.onnx": tiny_onnx(frame_dims=(20000, 20000, 3)),
        "symbolic_frame.onnx": tiny_onnx(frame_dims=("height", "width", 3)),
        "batched.onnx": tiny_onnx(frame_dims=("batch", 32, 32, 3)),
        "huge_weight.onnx": tiny_onnx(weight_dims=(30000, 30000)),
        "huge_sparse.onnx": tiny_onnx(sparse_dims=(100000, 100000)),
        "huge_output.onnx": tiny_onnx(output_dims=(100000, 100000)),
        "external.onnx": tiny_onnx(external="/dev/zero"),
    }
    paths = {}
    for name, model in sorted(models.items()):
        paths[name] = os.path.join(folder, name)
        with open(paths[name], "wb") as f:
            f.write(model.SerializeToString())
    return paths
