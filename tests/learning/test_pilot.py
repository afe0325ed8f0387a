"""load_pilot: every file kind gives (x, y) = (output[0], output[1]); wrong, corrupt or unsupported files say why."""
import sys

import cv2
import numpy as np
import pytest
import torch

from jetracer.pilot.checkpoint import save_checkpoint
from jetracer.pilot.load import MissingBackendError, PilotLoadError, load_pilot
from jetracer.pilot.model import build_model
from jetracer.pilot.preprocess import Preprocessor
from jetracer.pilot.torch_backend import save_optimized

torch.set_num_threads(1)
cv2.setNumThreads(1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    return build_model("resnet18", 2, pretrained=False).eval()


@pytest.fixture(scope="module")
def ckpt(model, tmp_path_factory):
    return save_checkpoint(str(tmp_path_factory.mktemp("pilot") / "model.pth"), model, "resnet18", 64, ["apex"])


def _frame(size=64, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (size, size, 3)).astype(np.uint8)


def _expected(model, frame, size, color_order="RGB"):
    with torch.no_grad():
        out = model(Preprocessor(size, color_order=color_order)(frame))[0]
    return float(out[0]), float(out[1])


def test_checkpoint_gives_x_from_output_0_and_y_from_output_1(model, ckpt):
    pilot = load_pilot(ckpt, device="cpu")
    frame = _frame()
    x, y = pilot(frame)
    assert (x, y) == pytest.approx(_expected(model, frame, 64), abs=1e-5)
    assert (pilot.backend, pilot.precision, pilot.input_size, pilot.categories) == ("torch", "fp32", (64, 64), ["apex"])
    assert set(pilot.last_timing_ms) == {"preprocess", "inference"} and pilot.last_timing_ms["inference"] > 0


def test_upstream_plain_state_dict_runs_at_224_on_the_bgr_frame(model, tmp_path):
    path = str(tmp_path / "best_steering_model_xy.pth")
    torch.save(model.state_dict(), path)
    pilot = load_pilot(path, device="cpu")
    frame = _frame(224)
    assert (pilot.input_size, pilot.color_order) == ((224, 224), "BGR")  # as upstream trained and fed it
    assert pilot(frame) == pytest.approx(_expected(model, frame, 224, "BGR"), abs=1e-5)


def test_fp16_torch_file_runs_fp32_on_the_cpu(model, ckpt, tmp_path):
    path = str(tmp_path / "model_fp16_torch.pth")
    ck = torch.load(ckpt, weights_only=True)
    save_optimized(path, ck, "fp16", {"max_abs_dx": 0.001})
    pilot = load_pilot(path, device="cpu")
    assert (pilot.backend, pilot.precision, pilot.meta["parity"]) == ("torch", "fp32", {"max_abs_dx": 0.001})
    assert pilot(_frame()) == pytest.approx(_expected(model, _frame(), 64), abs=1e-5)


def test_a_file_of_another_kind_lists_what_is_accepted(tmp_path):
    path = str(tmp_path / "notes.pth")
    torch.save({"epoch": 3, "lr": 0.1}, path)
    with pytest.raises(PilotLoadError) as info:
        load_pilot(path)
    message = str(info.value)
    assert "found a dict with keys ['epoch', 'lr']" in message
    for kind in ("jetracer checkpoint", "upstream resnet18 state dict", ".onnx", "_trt.pth"):
        assert kind in message


def test_truncated_files_are_reported(ckpt, tmp_path):
    data = open(ckpt, "rb").read()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(PilotLoadError, match="cut.pth is a truncated or damaged zip archive"):
        load_pilot(str(cut))
    onnx_cut = tmp_path / "cut.onnx"
    onnx_cut.write_bytes(b"\x08\x07\x12\x07pytorch")
    with pytest.raises(PilotLoadError, match="truncated or not an ONNX model"):
        load_pilot(str(onnx_cut))
    with pytest.raises(FileNotFoundError):
        load_pilot(str(tmp_path / "missing.pth"))


def test_files_name_the_runtime_they_need(tmp_path, monkeypatch):
    engine = str(tmp_path / "model_trt.pth")
    torch.save({"engine": bytearray(b"serialized"), "input_names": ["input_0"], "output_names": ["output_0"]}, engine)
    onnx_file = tmp_path / "model.onnx"
    onnx_file.write_bytes(b"\x08\x07")
    monkeypatch.setitem(sys.modules, "torch2trt", None)  # as on any machine without them
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingBackendError) as info:
        load_pilot(engine, device="cuda")
    assert "git clone https://github.com/NVIDIA-AI-IOT/torch2trt" in str(info.value)
    with pytest.raises(MissingBackendError, match="pip install onnxruntime"):
        load_pilot(str(onnx_file))


def test_a_frame_that_is_not_bgr_uint8_is_refused(ckpt):
    pilot = load_pilot(ckpt, device="cpu")
    with pytest.raises(ValueError, match="BGR uint8 HxWx3"):
        pilot(np.zeros((64, 64), np.float32))
