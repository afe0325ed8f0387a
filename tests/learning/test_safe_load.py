"""No model file runs code or exhausts memory when loaded: crafted files are refused by name and never execute,
files declaring more than they hold are refused before anything is allocated (under a memory limit), FIFOs and
devices are never opened; every real kind of file still loads, also through a torch.load without
``weights_only`` (PyTorch 1.10's)."""
import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from jetracer.pilot.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from jetracer.pilot.load import PilotLoadError, load_pilot
from jetracer.pilot.model import build_model
from jetracer.pilot.preprocess import Preprocessor
from jetracer.pilot.safe_load import UnsafeFileError, torch_load
from jetracer.pilot.torch_backend import save_optimized

import crafted_files

torch.set_num_threads(1)


class Payload(object):
    """Unpickling this runs a shell command that creates ``marker``: what a crafted model file does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch %s" % self.marker,))


def _upstream_dict(extra):
    model = torch.nn.Linear(512, 2)
    state = {"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": model.weight.detach(),
             "fc.bias": model.bias.detach()}
    state.update(extra)
    return state


@pytest.fixture
def evil_files(tmp_path):
    marker = str(tmp_path / "code-ran")
    files = {}
    files["zip"] = str(tmp_path / "road_following_model.pth")
    torch.save(_upstream_dict({"x": Payload(marker)}), files["zip"])
    files["legacy"] = str(tmp_path / "legacy_model.pth")
    torch.save(_upstream_dict({"x": Payload(marker)}), files["legacy"], _use_new_zipfile_serialization=False)
    files["raw_pickle"] = str(tmp_path / "raw.pth")
    with open(files["raw_pickle"], "wb") as f:
        pickle.dump(Payload(marker), f, protocol=2)
    files["checkpoint"] = str(tmp_path / "ckpt.pth")
    torch.save({"format": "jetracer.checkpoint", "version": 1, "arch": "resnet18", "input_size": [64, 64],
                "categories": ["apex"], "state_dict": {}, "train_args": Payload(marker)}, files["checkpoint"])
    return marker, files


def test_crafted_files_are_refused_by_name_and_never_run(evil_files):
    marker, files = evil_files
    for kind, path in sorted(files.items()):
        with pytest.raises(PilotLoadError) as info:
            load_pilot(path, device="cpu")
        assert "refused to load %s" % path in str(info.value) and "posix.system" in str(info.value), kind
        with pytest.raises(CheckpointError, match="posix.system"):
            load_checkpoint(path)
        with pytest.raises(UnsafeFileError):
            torch_load(path)
        assert not os.path.exists(marker), kind


def test_crafted_tensorrt_engine_file_is_refused(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "torch2trt.py").write_text(textwrap.dedent('''
        import torch
        class TRTModule(torch.nn.Module):
            def load_state_dict(self, state_dict, strict=True):
                self.state = state_dict
    '''))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "torch2trt", raising=False)
    from jetracer.pilot.tensorrt_backend import TensorRTPilot
    monkeypatch.setattr(TensorRTPilot, "engine_device", "cpu")
    marker = str(tmp_path / "code-ran")
    engine = str(tmp_path / "road_following_model_trt.pth")
    torch.save({"engine": Payload(marker), "input_names": ["input_0"], "output_names": ["output_0"]}, engine)
    with pytest.raises(PilotLoadError, match="refused to load .*posix.system"):
        load_pilot(engine, device="cpu")
    assert not os.path.exists(marker)
    honest = str(tmp_path / "honest_trt.pth")
    torch.save({"engine": bytearray(b"\x00\x01serialized\xff"), "input_names": ["input_0"],
                "output_names": ["output_0"], "input_flattener": {"schema": (0,), "size": 1},
                "output_flattener": {"schema": 0, "size": 1}}, honest)
    pilot = load_pilot(honest, device="cpu")
    assert pilot.module.state["engine"] == bytearray(b"\x00\x01serialized\xff")
    assert pilot.module.state["input_flattener"] == {"schema": (0,), "size": 1}


def test_the_drive_service_refuses_a_crafted_model_in_one_line(evil_files, tmp_path):
    marker, files = evil_files
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CONFIG=os.devnull,
               JETRACER_STATE=str(tmp_path / "state.json"), OMP_NUM_THREADS="1")
    for args in (["drive", "--sim", "--model", files["zip"]], ["sim", "drive", "--model", files["legacy"]]):
        proc = subprocess.Popen([sys.executable, "-m", "jetracer"] + args, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 1 and len(err.strip().splitlines()) == 1, err
        assert "posix.system" in err
    assert not os.path.exists(marker)


def _real_files(tmp_path):
    torch.manual_seed(0)
    model = build_model("resnet18", 2, pretrained=False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    model(torch.zeros(2, 3, 64, 64)).sum().backward()
    optimizer.step()
    model.eval()
    ckpt = save_checkpoint(str(tmp_path / "ckpt.pth"), model, "resnet18", 64, ["apex"], optimizer=optimizer,
                           train_args={"lr": 1e-3, "epochs": 2}, metrics={"test": {"loss": 0.1}})
    zipped = str(tmp_path / "upstream.pth")
    torch.save(model.state_dict(), zipped)
    legacy = str(tmp_path / "upstream_legacy.pth")
    torch.save(model.state_dict(), legacy, _use_new_zipfile_serialization=False)
    ddp = str(tmp_path / "ddp.pth")
    torch.save({"module." + k: v for k, v in model.state_dict().items()}, ddp)
    half = str(tmp_path / "half.pth")
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, half)
    optimized = str(tmp_path / "model_fp16_torch.pth")
    save_optimized(optimized, torch_load(ckpt), "fp16", {"max_abs_dx": 0.001})
    return model, [ckpt, zipped, legacy, ddp, half, optimized]


def test_every_real_kind_of_file_still_loads(tmp_path):
    model, paths = _real_files(tmp_path)
    frame = np.random.RandomState(0).randint(0, 256, (64, 64, 3)).astype(np.uint8)
    ours = [load_pilot(p, device="cpu") for p in paths]
    reference = ours[0](frame)
    assert ours[-1](frame) == pytest.approx(reference, abs=1e-5)  # the optimized torch file
    with torch.no_grad():  # plain state dicts are upstream's layout: 224x224, the BGR frame as upstream fed it
        upstream = model(Preprocessor(224, color_order="BGR")(frame))[0].tolist()
    for pilot in ours[1:5]:  # also DDP-prefixed or half precision
        assert pilot.color_order == "BGR" and pilot.input_size == (224, 224)
        assert pilot(frame) == pytest.approx(upstream, abs=0.02 if "half" in pilot.path else 1e-4), pilot.path
    ck = torch_load(paths[0])
    assert ck["optimizer"]["state"] and ck["train_args"] == {"lr": 1e-3, "epochs": 2}
    assert load_checkpoint(paths[0])[1]["metrics"] == {"test": {"loss": 0.1}}


def test_loads_through_a_torch_load_without_weights_only(tmp_path, evil_files, monkeypatch):
    """PyTorch 1.10's signature: torch.load(f, map_location=None, pickle_module=pickle, **pickle_load_args)."""
    real_load = torch.load

    def load_1_10(f, map_location=None, pickle_module=pickle, **pickle_load_args):
        assert pickle_module is not pickle, "jetracer must pass its own pickle_module"
        return real_load(f, map_location=map_location, pickle_module=pickle_module, weights_only=False,
                         **pickle_load_args)

    monkeypatch.setattr(torch, "load", load_1_10)
    (tmp_path / "real").mkdir()
    model, paths = _real_files(tmp_path / "real")
    for path in paths:
        assert load_pilot(path, device="cpu").num_outputs == 2
    marker, files = evil_files
    for path in files.values():
        with pytest.raises(PilotLoadError, match="posix.system"):
            load_pilot(path, device="cpu")
    assert not os.path.exists(marker)


# A child that imports torch, caps its address space 1.5 GiB above what it then maps, and loads each file.
UNDER_A_MEMORY_LIMIT = r'''
import json, resource, sys
import torch
from jetracer.pilot import load_pilot
from jetracer.pilot.checkpoint import load_checkpoint
with open("/proc/self/status") as f:
    mapped = [int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize")][0]
cap = mapped + (3 << 29)
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
rows = {}
for path in sys.argv[1:]:
    rows[path] = []
    for load in (lambda p: load_pilot(p, device="cpu"), load_checkpoint):
        try:
            load(path)
            rows[path].append("loaded")
        except BaseException as e:
            rows[path].append("%s: %s" % (type(e).__name__, e))
print(json.dumps(rows))
'''

REFUSALS = {  # crafted file -> what its refusal says
    "frame.pth": "declares a pickle item of 3 GiB but holds 21 bytes",
    "binbytes8.pth": "declares a pickle item of 3 GiB but holds 21 bytes",
    "binunicode8.pth": "declares a pickle item of 3 GiB but holds 21 bytes",
    "bytearray8.pth": "declares a pickle item of 3 GiB but holds 21 bytes",
    "memo.pth": "Invalid magic number",
    "bytearray_call.pth": "it asks to run bytearray(3221225472)",
    "bytes_call.pth": "it asks to run bytes(3221225472)",
    "storage_call.pth": "it asks to run FloatStorage(...)",
    "tensor_call.pth": "it asks to run Tensor(...)",
    "legacy_storage.pth": "declares a tensor storage of 3 GiB but holds 191 bytes",
    "zip_storage.pth": "declares a tensor storage of 3 GiB but holds 4 bytes",
    "zip_record.pth": "declares a zip record (data.pkl) of 3 GiB but holds 508 bytes",
    "expanded.pth": "declares a tensor of 3 GiB but holds",
    "view_past_storage.pth": "declares a tensor view of 3 GiB but holds 4 bytes",
    "tar_storage.pth": "tar format of PyTorch before 1.0",
    "torchscript.pth": "is a TorchScript archive",
    "many_records.pth": "declares 20005 zip records, over the 20000 limit",
    "many_ops.pth": "holds more than 1000000 pickle opcodes, over the limit",
}


@pytest.mark.timeout(300)
def test_tiny_files_declaring_gigabytes_are_refused_in_one_line_under_a_memory_limit(tmp_path):
    """Each file of at most a few KiB used to make every loader allocate 3 GiB before refusing it (on a Nano
    with 4 GB shared with the GPU); under a 1.5 GiB cap that allocation would fail with MemoryError."""
    paths = crafted_files.write_all(str(tmp_path))
    assert sorted(os.path.basename(p) for p in paths) == sorted(REFUSALS)
    proc = subprocess.run([sys.executable, "-c", UNDER_A_MEMORY_LIMIT] + paths, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=280,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    for path in paths:
        expected = REFUSALS[os.path.basename(path)]
        pilot, checkpoint = rows[path]
        assert pilot.startswith("PilotLoadError: ") and checkpoint.startswith("CheckpointError: "), (path, rows[path])
        for message in (pilot, checkpoint):
            assert "\n" not in message and path in message and expected in message, message
            assert "MemoryError" not in message
    assert os.path.getsize(os.path.join(str(tmp_path), "frame.pth")) == 32


@pytest.mark.timeout(300)
def test_the_cli_refuses_a_32_byte_model_in_one_line_under_a_memory_limit(tmp_path, tiny_dataset):
    crafted = crafted_files.opcode_files()
    path = str(tmp_path / "road_following_model.pth")
    with open(path, "wb") as f:
        f.write(crafted["frame.pth"])
    cli = UNDER_A_MEMORY_LIMIT.split("rows = {}")[0] + "from jetracer.cli.main import main\nmain(sys.argv[1:])\n"
    for args in (["eval", "--model", path, tiny_dataset], ["export", path, "--upstream", str(tmp_path / "up.pth")]):
        proc = subprocess.run([sys.executable, "-c", cli] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=280, env=dict(os.environ, OMP_NUM_THREADS="1"))
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1, proc.stderr
        assert path in lines[0] and "declares a pickle item of 3 GiB but holds 21 bytes" in lines[0]
    assert not os.path.exists(str(tmp_path / "up.pth"))


@pytest.mark.timeout(120)
def test_model_files_that_are_not_regular_files_or_too_large_are_refused_at_once(tmp_path):
    fifo = str(tmp_path / "fifo.pth")
    os.mkfifo(fifo)                                        # opening it would block until a writer comes
    onnx_fifo = str(tmp_path / "fifo.onnx")
    os.mkfifo(onnx_fifo)
    zero = str(tmp_path / "zero.pth")
    os.symlink("/dev/zero", zero)                          # reading it would never end
    sparse = str(tmp_path / "sparse.pth")
    with open(sparse, "wb") as f:
        f.write(crafted_files.opcode_files()["frame.pth"])
    os.truncate(sparse, 2 << 30)                           # 2 GiB on paper, 4 KiB on disk
    for path, expected in ((fifo, "is a FIFO (named pipe), not a regular file"),
                           (onnx_fifo, "is a FIFO (named pipe), not a regular file"),
                           (zero, "is a device file, not a regular file"), (sparse, "is 2 GiB, over the 1 GiB limit")):
        with pytest.raises(PilotLoadError) as info:
            load_pilot(path, device="cpu")
        assert str(info.value) == "model file %s %s; not read" % (path, expected)
        if not path.endswith(".onnx"):
            with pytest.raises(CheckpointError) as info:
                load_checkpoint(path)
            assert str(info.value) == "model file %s %s; not read" % (path, expected)
    assert os.stat(sparse).st_blocks * 512 < (1 << 20)
