"""The drive self-check refuses a model before the car moves: impossible metadata, too slow, ignores the road.

Real model files through the real loader and ``jetracer drive --sim`` (the car on the emulated chips):
a checkpoint claiming a 20000x20000 input, a resnet18 far too slow for the configured time limit, and an
ONNX model that only measures how bright the image is. A model that looks at the image passes.
"""
import json
import time

import numpy as np
import pytest

from cli_run import cli_env, jetracer, one_line_error
from jetracer.driving.failsafe import SelfCheckError, self_check

DRIVE = ["drive", "--sim", "--fast", "--duration", "1", "--json", "--arm"]


def checkpoint(tmp_path, name, input_size):
    import torch
    from jetracer.pilot.checkpoint import save_checkpoint
    from jetracer.pilot.model import build_model

    torch.manual_seed(0)
    return save_checkpoint(str(tmp_path / name), build_model("resnet18", 2, pretrained=False), "resnet18", input_size,
                           ["apex"])


def brightness_model(path, size=64):
    """An ONNX pilot in jetracer's format whose x is the mean brightness of the frame: x = mean / 127.5 - 1."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Cast", ["frame_bgr"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["f"], ["m"], axes=[0, 1, 2], keepdims=1),
        helper.make_node("Reshape", ["m", "shape"], ["m2"]),
        helper.make_node("Mul", ["m2", "scale"], ["s"]),
        helper.make_node("Sub", ["s", "one"], ["x"]),
        helper.make_node("Concat", ["x", "zero"], ["outputs"], axis=1),
    ]
    inits = [helper.make_tensor("shape", TensorProto.INT64, [2], [1, 1]),
             helper.make_tensor("scale", TensorProto.FLOAT, [1, 1], [1 / 127.5]),
             helper.make_tensor("one", TensorProto.FLOAT, [1, 1], [1.0]),
             helper.make_tensor("zero", TensorProto.FLOAT, [1, 1], [0.0])]
    graph = helper.make_graph(nodes, "brightness", [helper.make_tensor_value_info("frame_bgr", TensorProto.UINT8,
                                                                                  [size, size, 3])],
                              [helper.make_tensor_value_info("outputs", TensorProto.FLOAT, [1, 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in (("format", "jetracer.onnx"), ("input_size", [size, size]), ("categories", ["apex"]),
                       ("num_outputs", 2), ("arch", "brightness")):
        entry = model.metadata_props.add()
        entry.key, entry.value = "jetracer." + key, json.dumps(value)
    onnx.save(model, path)
    return path


def test_a_model_that_only_measures_brightness_is_refused(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from jetracer.pilot.load import load_pilot

    path = brightness_model(str(tmp_path / "brightness.onnx"))
    pilot = load_pilot(path, device="cpu")
    dark, bright = np.full((64, 64, 3), 40, np.uint8), np.full((64, 64, 3), 200, np.uint8)
    assert pilot(bright)[0] - pilot(dark)[0] > 1.0, "the model file really steers by brightness"
    env = cli_env(tmp_path)
    one_line_error(jetracer(DRIVE + ["--model", path], env), 1, "does not move when the camera image is mirrored",
                   "moves by", "with brightness", "Refusing to drive")


def test_a_model_claiming_a_huge_input_is_refused_before_it_runs(tmp_path):
    path = checkpoint(tmp_path, "huge.pth", (20000, 20000))
    started = time.monotonic()
    one_line_error(jetracer(DRIVE + ["--model", path], cli_env(tmp_path)), 1,
                   "claims an input size of (20000, 20000)", "8 to 1024 pixels a side")
    assert time.monotonic() - started < 60


def test_the_self_check_has_a_wall_clock_limit(tmp_path):
    path = checkpoint(tmp_path, "slow.pth", 1024)  # about 1 s per image on one core; 20 images to check
    env = cli_env(tmp_path, "drive: {self_check_timeout_s: 1}\n")
    started = time.monotonic()
    one_line_error(jetracer(DRIVE + ["--model", path], env), 1, "self-check images in 1 s",
                   "drive.self_check_timeout_s", "refusing to drive")
    assert time.monotonic() - started < 30, "the refusal came at the limit, not after every image"


def test_a_model_that_looks_at_the_image_passes_and_drives(tmp_path):
    path = checkpoint(tmp_path, "tiny.pth", 64)
    proc = jetracer(DRIVE + ["--model", path], cli_env(tmp_path), timeout_s=180)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["frames_processed"] == 30 and report["mode"] == "auto"


class Frames(object):
    """Road-like frames: a bright line from the bottom centre towards a point left or right."""

    @staticmethod
    def make(target_u, width=64, height=48):
        import cv2

        frame = np.full((height, width, 3), 60, np.uint8)
        cv2.line(frame, (width // 2, height - 1), (int(target_u), height // 3), (240, 240, 240), 3)
        return frame


def follow_line(frame):
    """A pilot that looks at the road: x of the brightest column in the top half."""
    top = frame[: frame.shape[0] // 2, :, 1].astype(float)
    u = float(np.argmax(top.sum(axis=0))) + 0.5
    return (u - frame.shape[1] / 2.0) / (frame.shape[1] / 2.0), 0.0


def test_self_check_rules_on_pilots():
    frames = [Frames.make(u) for u in (20, 40, 50)]
    assert len(self_check(follow_line, frames)) == 12
    with pytest.raises(SelfCheckError, match="does not move when the camera image is mirrored"):
        self_check(lambda f: (float(f.mean()) / 127.5 - 1.0, 0.0), frames)
    with pytest.raises(SelfCheckError, match="x=0.3000 for all 12"):
        self_check(lambda f: (0.3, 0.0), frames)
    with pytest.raises(SelfCheckError, match="returned \\(inf"):
        self_check(lambda f: (float("inf"), 0.0), frames)

    def hung(frame):
        time.sleep(5)
        return 0.0, 0.0

    started = time.monotonic()
    with pytest.raises(SelfCheckError, match="answered 0 of 12 self-check images"):
        self_check(hung, frames, timeout_s=0.3)
    assert time.monotonic() - started < 1.5


def test_metadata_is_checked_before_the_model_runs():
    calls = []

    class Claims(object):
        def __init__(self, **attrs):
            self.__dict__.update(attrs)

        def __call__(self, frame):
            calls.append(1)
            return follow_line(frame)

    frames = [Frames.make(20)]
    with pytest.raises(SelfCheckError, match="claims an input size of \\[4096, 224\\]"):
        self_check(Claims(input_size=[4096, 224]), frames)
    with pytest.raises(SelfCheckError, match="claims 1 outputs for 1 category"):
        self_check(Claims(input_size=(224, 224), num_outputs=1, categories=["apex"]), frames)
    with pytest.raises(SelfCheckError, match="claims 2 outputs for 2 categories"):
        self_check(Claims(input_size=(224, 224), num_outputs=2, categories=["apex", "left"]), frames)
    assert calls == []
    assert len(self_check(Claims(input_size=(224, 224), num_outputs=2, categories=["apex"]), frames)) == 4
