"""No model file is lost: optimize and export refuse to write over their input (also through a symlink or a
hard link), and every model writer is atomic: one that fails midway leaves the old file and no temp file. No
ONNX model is trusted with the shapes it declares: huge or symbolic frame sizes, huge tensors and external data
are refused in one line before ONNX Runtime reads the file."""
import os
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

import crafted_files

from jetracer.atomic import atomic_write, keep_previous, remove_leftovers
from jetracer.learning.optimize import OptimizeError, optimize
from jetracer.learning.upstream_export import ExportTargetError, export_upstream
from jetracer.pilot.checkpoint import load_checkpoint, save_checkpoint
from jetracer.pilot.model import build_model
from jetracer.pilot.torch_backend import save_optimized


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp("ckpt") / "model.pth")
    return save_checkpoint(path, build_model("resnet18", 2, pretrained=False), "resnet18", 32, ["apex"])


def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "jetracer"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, lines[0]


def _bytes(path):
    with open(path, "rb") as f:
        return f.read()


def test_optimize_never_writes_over_its_checkpoint(ckpt, tmp_path):
    before = _bytes(ckpt)
    link = tmp_path / "link.pth"
    os.symlink(ckpt, str(link))
    hard = tmp_path / "hard.pth"
    os.link(ckpt, str(hard))
    for out in (ckpt, str(link), str(hard), os.path.join(os.path.dirname(ckpt), ".", "model.pth")):
        with pytest.raises(OptimizeError, match="would write over the checkpoint"):
            optimize(ckpt, "torch", "fp32", out=out, device="cpu")
    with pytest.raises(OptimizeError, match="would write over the checkpoint"):
        optimize(str(link), "torch", "fp32", out=ckpt, device="cpu")
    with pytest.raises(OptimizeError, match="is a folder"):
        optimize(ckpt, "torch", "fp32", out=str(tmp_path), device="cpu")
    rc, line = _cli("optimize", ckpt, "--out", str(link), "--backend", "torch", "--precision", "fp32",
                    "--device", "cpu")
    assert rc == 2 and "would write over the checkpoint" in line and "model_fp32_torch.pth" in line, line
    assert _bytes(ckpt) == before
    load_checkpoint(ckpt)


def test_export_never_writes_over_its_checkpoint(ckpt, tmp_path):
    before = _bytes(ckpt)
    with pytest.raises(ExportTargetError, match="would write over"):
        export_upstream(ckpt, ckpt)
    link = tmp_path / "up.pth"
    os.symlink(ckpt, str(link))
    rc, line = _cli("export", ckpt, "--upstream", str(link), "--check-frames", "0")
    assert rc == 2 and "would write over the checkpoint" in line
    rc, line = _cli("export", ckpt, "--upstream", str(tmp_path), "--check-frames", "0")
    assert rc == 2 and "is a folder" in line
    assert _bytes(ckpt) == before


class _Unpicklable(object):
    def __reduce__(self):
        raise pickle.PicklingError("cannot store this (a writer failing midway)")


def _only(folder):
    return sorted(os.listdir(str(folder)))


def test_a_checkpoint_writer_failing_midway_leaves_the_old_file(ckpt, tmp_path):
    path = str(tmp_path / "model.pth")
    with open(ckpt, "rb") as src, open(path, "wb") as dst:
        dst.write(src.read())
    before = _bytes(path)

    class BadOptimizer(object):
        def state_dict(self):
            return {"state": {0: torch.zeros(1000)}, "param_groups": [_Unpicklable()]}

    model = build_model("resnet18", 2, pretrained=False)
    with pytest.raises(pickle.PicklingError):
        save_checkpoint(path, model, "resnet18", 32, ["apex"], optimizer=BadOptimizer())
    assert _bytes(path) == before and _only(tmp_path) == ["model.pth"]
    with pytest.raises(pickle.PicklingError):
        save_optimized(path, {"state_dict": model.state_dict(), "arch": "resnet18", "input_size": [32, 32],
                              "categories": ["apex"]}, "fp32", parity={"frames": _Unpicklable()})
    assert _bytes(path) == before and _only(tmp_path) == ["model.pth"]
    load_checkpoint(path)


def test_atomic_write_keeps_the_old_file_and_cleans_up(tmp_path):
    path = str(tmp_path / "f.bin")
    with open(path, "wb") as f:
        f.write(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write(b"new, half")
            raise RuntimeError("disk full")
    assert _bytes(path) == b"old" and _only(tmp_path) == ["f.bin"]
    # what a SIGKILL leaves (no exception handler ran) is cleaned by the writer's next run, and nothing else
    (tmp_path / ".f.bin.abc123.tmp").write_bytes(b"half")
    (tmp_path / ".other.bin.abc123.tmp").write_bytes(b"someone else's")
    assert remove_leftovers(path) == [str(tmp_path / ".f.bin.abc123.tmp")]
    assert _only(tmp_path) == [".other.bin.abc123.tmp", "f.bin"]
    assert keep_previous(path, path + ".prev") and _bytes(path + ".prev") == b"old"
    with atomic_write(path) as f:
        f.write(b"new")
    assert _bytes(path) == b"new" and _bytes(path + ".prev") == b"old"


ONNX_REFUSALS = {  # crafted ONNX model -> what its refusal says
    "huge_frame.onnx": "takes a 20000x20000 frame; a road model takes 8 to 1024 pixels a side",
    "symbolic_frame.onnx": "takes 'frame_bgr' of shape ['height', 'width', 3] with a symbolic height or width",
    "huge_weight.onnx": "declares tensor 'w' of shape [30000, 30000] (3.4 GiB) but holds",
    "huge_sparse.onnx": "declares tensor 'sparse initializer' of shape [100000, 100000] (37.3 GiB) but holds",
    "huge_output.onnx": "declares output 'outputs' of shape [100000, 100000] (10000000000 values), over the 4096 limit",
    "external.onnx": "keeps tensor 'w' in an external data file",
}


def test_onnx_models_declaring_huge_or_symbolic_shapes_are_refused_in_one_line(tmp_path, tiny_dataset):
    from jetracer.pilot.load import PilotLoadError, load_pilot
    paths = crafted_files.write_onnx_files(str(tmp_path))
    frame = np.random.RandomState(0).randint(0, 256, (48, 64, 3)).astype(np.uint8)
    sound = load_pilot(paths["sound.onnx"], device="cpu", intra_op_threads=1)
    batched = load_pilot(paths["batched.onnx"], device="cpu", intra_op_threads=1)  # a symbolic batch is normal
    assert sound.frame_size == batched.frame_size == (32, 32)
    expected = 0.01 * float(np.mean(cv2.resize(frame, (32, 32), interpolation=cv2.INTER_AREA)))
    assert sound(frame) == batched(frame) == pytest.approx((expected, expected), rel=1e-5)
    for name, reason in sorted(ONNX_REFUSALS.items()):
        with pytest.raises(PilotLoadError) as info:
            load_pilot(paths[name], device="cpu", intra_op_threads=1)
        assert str(info.value).startswith("ONNX model %s " % paths[name]) and reason in str(info.value), str(info.value)
    rc, line = _cli("eval", "--model", paths["symbolic_frame.onnx"], tiny_dataset)
    assert rc == 1 and line.startswith("jetracer eval: ONNX model %s takes" % paths["symbolic_frame.onnx"]), line
    assert "internal error" not in line


def test_a_checkpoint_claiming_a_huge_input_is_refused_by_every_loader_before_a_frame_is_made(tmp_path, tiny_dataset):
    from jetracer.pilot.limits import SelfCheckError
    from jetracer.pilot.load import load_pilot
    path = save_checkpoint(str(tmp_path / "huge.pth"), build_model("resnet18", 2, pretrained=False), "resnet18",
                           (20000, 20000), ["apex"])  # each frame would be 1.2 GB before the model ran
    with pytest.raises(SelfCheckError, match=r"claims an input size of \(20000, 20000\); .* 8 to 1024 pixels a side"):
        load_pilot(path, device="cpu")
    rc, line = _cli("eval", "--model", path, tiny_dataset)
    assert rc == 1 and "claims an input size of (20000, 20000)" in line, line
