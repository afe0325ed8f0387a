"""jetracer optimize: fused-preprocessing ONNX parity, int8 parity stored or refused, torch round trip, errors."""
import json
import os
import sys

import cv2
import numpy as np
import onnx
import pytest
import torch

from jetracer.cli.main import main
from jetracer.dataset import scan_dataset
from jetracer.learning.optimize import best_backend, optimize
from jetracer.learning.parity import ParityError
from jetracer.learning.split import split_by_session
from jetracer.pilot.checkpoint import save_checkpoint
from jetracer.pilot.load import MissingBackendError, PilotLoadError, load_pilot
from jetracer.pilot.model import build_model
from jetracer.pilot.onnx_backend import OnnxPilot, export_fused
from jetracer.pilot.tensorrt_backend import check_engine_version

torch.set_num_threads(1)
cv2.setNumThreads(1)


@pytest.fixture(scope="module")
def ckpt(tiny_dataset, tmp_path_factory):
    """A random resnet18 checkpoint (64x64) whose split names sessions of ``tiny_dataset``."""
    torch.manual_seed(0)
    index = scan_dataset([tiny_dataset])
    split = split_by_session(index.entries, 0.25, 0.25)
    path = str(tmp_path_factory.mktemp("ckpt") / "model.pth")
    return save_checkpoint(path, build_model("resnet18", 2, pretrained=False), "resnet18", 64, ["apex"],
                           train_args={"dataset": [tiny_dataset]}, split=split.as_meta())


def _test_frames(tiny_dataset, ckpt_path):
    split = torch.load(ckpt_path, weights_only=True)["split"]
    return [cv2.imread(e.path) for e in scan_dataset([tiny_dataset]).entries if e.session in split["test"]]


def _metadata(path):
    return {p.key: json.loads(p.value) for p in onnx.load(path).metadata_props}


def test_onnx_fp32_with_fused_preprocessing_matches_the_checkpoint(ckpt, tiny_dataset, tmp_path):
    out = str(tmp_path / "model.onnx")
    result = optimize(ckpt, "onnxruntime", "fp32", out=out, calib_dataset=[tiny_dataset])
    test_frames = _test_frames(tiny_dataset, ckpt)
    assert result.parity["frames"] == len(test_frames) > 0
    assert result.parity["max_abs_dx"] < 1e-4 and result.parity["max_abs_dy"] < 1e-4
    model = onnx.load(out)
    frame_input = model.graph.input[0].type.tensor_type
    assert frame_input.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_value for d in frame_input.shape.dim] == [64, 64, 3]
    meta = _metadata(out)
    assert meta["jetracer.parity"] == result.parity
    assert meta["jetracer.input_size"] == [64, 64] and meta["jetracer.categories"] == ["apex"]
    assert meta["jetracer.arch"] == "resnet18" and meta["jetracer.backend"] == "onnxruntime"
    fp32, fast = load_pilot(ckpt, device="cpu"), load_pilot(out, intra_op_threads=1)
    assert (fast.backend, fast.precision, fast.input_size, fast.intra_op_threads) == ("onnxruntime", "fp32", (64, 64), 1)
    assert np.allclose(fast(test_frames[0]), fp32(test_frames[0]), atol=1e-4)


def test_fused_graph_averages_a_double_size_frame_like_inter_area(ckpt, tiny_dataset):
    fp32 = load_pilot(ckpt, device="cpu")
    proto = export_fused(fp32.model, fp32.meta, frame_size=(128, 128))
    fused = OnnxPilot(proto, meta=fp32.meta, intra_op_threads=1)
    big = cv2.resize(_test_frames(tiny_dataset, ckpt)[0], (128, 128), interpolation=cv2.INTER_LINEAR)
    assert fused.frame_size == (128, 128)
    assert np.allclose(fused(big), fp32(big), atol=1e-4)


def test_int8_parity_is_measured_and_stored(ckpt, tiny_dataset, tmp_path):
    out = str(tmp_path / "model_int8.onnx")
    result = optimize(ckpt, "onnxruntime", "int8", out=out, calib_dataset=[tiny_dataset], tolerance=0.5)
    assert 0 < result.parity["max_abs_dx"] <= 0.5
    assert result.parity["mean_abs_dx"] <= result.parity["max_abs_dx"]
    meta = _metadata(out)
    assert meta["jetracer.parity"] == result.parity and meta["jetracer.precision"] == "int8"
    ops = set(n.op_type for n in onnx.load(out).graph.node)
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    pilot = load_pilot(out)
    assert pilot.precision == "int8" and pilot.meta["parity"] == result.parity


def test_int8_beyond_tolerance_is_refused_and_not_written(ckpt, tiny_dataset, tmp_path, capsys):
    out = str(tmp_path / "refused.onnx")
    with pytest.raises(SystemExit) as exit_info:
        main(["optimize", ckpt, "--backend", "onnxruntime", "--precision", "int8", "--tolerance", "1e-6",
              "--calib-dataset", tiny_dataset, "--out", out])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "refused" in err and "max |dx|" in err and "tolerance 1e-06" in err
    assert not os.path.exists(out)
    with pytest.raises(ParityError) as info:
        optimize(ckpt, "onnxruntime", "int8", out=out, calib_dataset=[tiny_dataset], tolerance=1e-6)
    assert info.value.parity["max_abs_dx"] > 1e-6 and not os.path.exists(out)


def test_torch_backend_round_trip(ckpt, tiny_dataset, tmp_path):
    out = str(tmp_path / "model_torch.pth")
    result = optimize(ckpt, "torch", "fp32", out=out, calib_dataset=[tiny_dataset], device="cpu")
    assert result.parity["max_abs_dx"] == 0.0
    saved = torch.load(out, weights_only=True)
    assert saved["format"] == "jetracer.optimized" and saved["precision"] == "fp32"
    assert saved["meta"]["input_size"] == [64, 64] and saved["parity"] == result.parity
    pilot, fp32 = load_pilot(out, device="cpu"), load_pilot(ckpt, device="cpu")
    frame = _test_frames(tiny_dataset, ckpt)[0]
    assert (pilot.backend, pilot.precision) == ("torch", "fp32")
    assert pilot(frame) == fp32(frame)


def test_tensorrt_without_torch2trt_says_how_to_install(ckpt, tiny_dataset, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch2trt", None)  # as on any machine without it
    with pytest.raises(MissingBackendError) as info:
        optimize(ckpt, "tensorrt", "fp16", calib_dataset=[tiny_dataset])
    message = str(info.value)
    assert "git clone https://github.com/NVIDIA-AI-IOT/torch2trt" in message
    assert "sudo python3 setup.py install --plugins" in message
    assert "--backend onnxruntime" in message and "--backend torch" in message


def test_engine_from_another_tensorrt_is_refused_with_the_rebuild_command():
    check_engine_version("car_trt.pth", "8.2.1.8", "8.2.1.8")
    with pytest.raises(PilotLoadError) as info:
        check_engine_version("car_trt.pth", "8.2.1.8", "10.3.0")
    message = str(info.value)
    assert "built with TensorRT 8.2.1.8" in message and "runs TensorRT 10.3.0" in message
    assert "jetracer optimize" in message and "--backend tensorrt" in message


def test_requests_that_cannot_work_say_why(ckpt, tmp_path):
    with pytest.raises(ValueError, match="--calib-dataset"):
        optimize(save_checkpoint(str(tmp_path / "bare.pth"), build_model("resnet18", 2, pretrained=False),
                                 "resnet18", 64, ["apex"]), "onnxruntime", "fp32")
    with pytest.raises(ValueError, match="int8"):
        optimize(ckpt, "torch", "int8")
    assert best_backend("cpu") == ("onnxruntime", "int8")
