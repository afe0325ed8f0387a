"""Upstream's models in, jetracer's models out: colour order, export to upstream, TensorRT engines.

The reference everywhere is upstream's own preprocessing, written here from its notebooks' code:
``PIL.Image.fromarray(frame)`` of the camera's BGR frame, ``transforms.functional.to_tensor``, ImageNet
``Normalize`` (the model was trained on ``cv2.imread`` frames, so it expects BGR), then the model.
"""
import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import PIL.Image
import pytest
import torch
import torchvision
import torchvision.transforms.functional as TF

from jetracer.apps.bench.inference import road_frames
from jetracer.learning.optimize import optimize
from jetracer.learning.upstream_export import export_upstream
from jetracer.pilot.checkpoint import load_checkpoint, save_checkpoint
from jetracer.pilot.load import load_pilot
from jetracer.pilot.model import build_model
from jetracer.pilot.preprocess import Preprocessor

torch.set_num_threads(1)
cv2.setNumThreads(1)

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def upstream_model():
    """What upstream's notebooks build before load_state_dict."""
    model = torchvision.models.resnet18()
    model.fc = torch.nn.Linear(512, 2)
    return model.eval()


def upstream_outputs(model, frame_bgr):
    """Upstream's live demo: to_tensor on the camera's BGR frame, ImageNet normalisation, the model (fp32)."""
    x = TF.normalize(TF.to_tensor(PIL.Image.fromarray(frame_bgr)), MEAN, STD)[None]
    with torch.no_grad():
        return model(x)[0].numpy()


@pytest.fixture(scope="module")
def colour_model():
    """A resnet18 whose output depends strongly on which channel is blue: a red/blue detector in conv1."""
    torch.manual_seed(3)
    model = upstream_model()
    with torch.no_grad():
        model.conv1.weight[:, 0] *= 3.0
        model.conv1.weight[:, 2] *= -3.0
    return model


@pytest.fixture(scope="module")
def frames():
    """Coloured road frames and noise, 224x224 BGR, where red and blue differ a lot."""
    out = road_frames(4, (224, 224), seed=5)
    rng = np.random.RandomState(0)
    out.append(rng.randint(0, 256, (224, 224, 3)).astype(np.uint8))
    tinted = out[0].copy()
    tinted[:, :, 0] = 230  # strong blue
    out.append(tinted)
    return out


@pytest.fixture(scope="module")
def upstream_file(colour_model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("upstream") / "road_following_model.pth")
    torch.save(colour_model.state_dict(), path)
    return path


def test_upstream_state_dict_gives_upstreams_own_outputs(colour_model, upstream_file, frames):
    pilot = load_pilot(upstream_file, device="cpu")
    assert pilot.color_order == "BGR"
    rgb_reading = Preprocessor(224, color_order="RGB")
    worst_rgb = 0.0
    for frame in frames:
        expected = upstream_outputs(colour_model, frame)
        assert pilot(frame) == pytest.approx((expected[0], expected[1]), abs=1e-3)
        with torch.no_grad():
            as_rgb = colour_model(rgb_reading(frame))[0].numpy()
        worst_rgb = max(worst_rgb, float(np.abs(as_rgb - expected).max()))
    assert worst_rgb > 0.05  # reading it as RGB (the old behaviour) would have been measurably wrong


def test_checkpoints_keep_recording_rgb_and_old_ones_read_as_rgb(tmp_path):
    model = build_model("resnet18", 2, pretrained=False)
    path = save_checkpoint(str(tmp_path / "ours.pth"), model, "resnet18", 64, ["apex"])
    assert torch.load(path, weights_only=True)["normalization"]["color_order"] == "RGB"
    old = torch.load(path, weights_only=True)
    del old["normalization"]["color_order"]  # written before the order was recorded
    torch.save(old, str(tmp_path / "old.pth"))
    assert load_checkpoint(str(tmp_path / "old.pth"))[1]["normalization"]["color_order"] == "RGB"
    assert load_pilot(str(tmp_path / "old.pth"), device="cpu").color_order == "RGB"


def test_every_portable_backend_feeds_an_upstream_model_bgr(colour_model, upstream_file, frames, tmp_path):
    onnx_result = optimize(upstream_file, "onnxruntime", "fp32", out=str(tmp_path / "up.onnx"), frames=frames)
    torch_result = optimize(upstream_file, "torch", "fp32", out=str(tmp_path / "up_torch.pth"), frames=frames)
    for result in (onnx_result, torch_result):
        assert result.parity["max_abs_dx"] < 1e-3  # optimize's parity reference honours the order too
        pilot = load_pilot(result.path, device="cpu")
        assert pilot.color_order == "BGR"
        for frame in frames:
            expected = upstream_outputs(colour_model, frame)
            assert pilot(frame) == pytest.approx((expected[0], expected[1]), abs=2e-3), result.backend


def test_bench_on_an_upstream_model_compares_like_with_like(upstream_file):
    from jetracer.apps.bench.inference import run_bench
    report = run_bench(checkpoint=upstream_file, runs=2, warmup=1, parity_frames=3, only=["onnxruntime-fp32"])
    assert report["results"]["onnxruntime-fp32"]["max_abs_dx"] < 1e-3


def test_export_for_upstream_loads_in_upstreams_code_and_matches_jetracer(frames, tmp_path):
    torch.manual_seed(4)
    model = build_model("resnet18", 2, pretrained=False).eval()
    with torch.no_grad():
        model.conv1.weight[:, 0] *= 3.0  # our channel 0 is red
    ckpt = save_checkpoint(str(tmp_path / "ours.pth"), model, "resnet18", 224, ["apex"])
    ours = load_pilot(ckpt, device="cpu")
    out = str(tmp_path / "road_following_model.pth")
    subprocess.check_call([sys.executable, "-m", "jetracer", "export", ckpt, "--upstream", out],
                          stdout=subprocess.DEVNULL)
    up = upstream_model()
    assert str(up.load_state_dict(torch.load(out))) == "<All keys matched successfully>"
    naive = upstream_model()
    naive.load_state_dict(model.state_dict())
    folded_worst = naive_worst = 0.0
    for frame in frames:
        mine = np.array(ours(frame))
        folded_worst = max(folded_worst, float(np.abs(upstream_outputs(up, frame) - mine).max()))
        naive_worst = max(naive_worst, float(np.abs(upstream_outputs(naive, frame) - mine).max()))
    # only conv1's zero-padded border differs (measured: 0.004-0.012 on random resnet18s)
    assert folded_worst < 0.03
    assert naive_worst > 5 * folded_worst  # the fold is what makes it right
    again = load_pilot(out, device="cpu")  # and it comes back as an upstream model
    assert again.color_order == "BGR"
    assert again(frames[0]) == pytest.approx(ours(frames[0]), abs=0.03)


def test_export_interior_is_exact(tmp_path):
    """Away from the border the fold is exact: a frame that is uniform except in the centre, compared
    through conv1+bn1 on the interior pixels."""
    torch.manual_seed(5)
    model = build_model("resnet18", 2, pretrained=False).eval()
    ckpt = save_checkpoint(str(tmp_path / "ours.pth"), model, "resnet18", 224, ["apex"])
    export_upstream(ckpt, str(tmp_path / "up.pth"))
    up = upstream_model()
    up.load_state_dict(torch.load(str(tmp_path / "up.pth")))
    frame = np.random.RandomState(1).randint(0, 256, (224, 224, 3)).astype(np.uint8)
    ours_in = Preprocessor(224, color_order="RGB")(frame)
    up_in = TF.normalize(TF.to_tensor(PIL.Image.fromarray(frame)), MEAN, STD)[None]
    with torch.no_grad():
        a = model.bn1(model.conv1(ours_in))[:, :, 2:-2, 2:-2]
        b = up.bn1(up.conv1(up_in))[:, :, 2:-2, 2:-2]
    assert float((a - b).abs().max()) < 1e-3


def test_export_refuses_what_upstream_cannot_build(tmp_path, capsys):
    from jetracer.cli.main import main
    ckpt = save_checkpoint(str(tmp_path / "mob.pth"), build_model("mobilenet_v3_small", 2, pretrained=False),
                           "mobilenet_v3_small", 64, ["apex"])
    with pytest.raises(SystemExit) as code:
        main(["export", ckpt, "--upstream", str(tmp_path / "x.pth")])
    assert code.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mobilenet_v3_small" in err[0] and "resnet18" in err[0]
    assert not os.path.exists(str(tmp_path / "x.pth"))


# -- TensorRT engines, through a stand-in torch2trt at the library boundary -------------------------

STAND_IN = '''
"""Stand-in for torch2trt: TRTModule as torch2trt has it (state dict {engine, input_names, output_names},
forward hands the engine its input's raw memory, uncast). The "engine" bytes name a state dict and the
dtype its input binding was built for; the engine reads exactly that many bytes as that dtype."""
import json
import torch
import torchvision

DTYPES = {"float16": torch.float16, "float32": torch.float32}
received = []


class TRTModule(torch.nn.Module):
    def __init__(self, engine=None, input_names=None, output_names=None):
        super(TRTModule, self).__init__()
        self.engine, self.input_names, self.output_names = engine, input_names, output_names

    def state_dict(self, *args, **kwargs):
        return {"engine": bytearray(self.engine), "input_names": self.input_names, "output_names": self.output_names}

    def load_state_dict(self, state_dict, strict=True):
        self.engine = bytes(state_dict["engine"])
        self.input_names, self.output_names = state_dict["input_names"], state_dict["output_names"]
        spec = json.loads(self.engine.decode())
        self.dtype = DTYPES[spec["input_dtype"]]
        self.net = torchvision.models.resnet18()
        self.net.fc = torch.nn.Linear(512, 2)
        self.net.load_state_dict(torch.load(spec["weights"]))
        self.net.eval()

    def forward(self, x):
        received.append(x.detach().clone())
        raw = x.contiguous().view(-1).view(torch.uint8)  # the data pointer: bytes, no dtype
        need = 3 * 224 * 224 * torch.tensor([], dtype=self.dtype).element_size()
        if raw.numel() != need:
            raise RuntimeError("engine input binding is %d bytes, the tensor passed has %d" % (need, raw.numel()))
        with torch.no_grad():
            return self.net(raw.view(self.dtype).view(1, 3, 224, 224).float()).to(self.dtype)
'''


@pytest.fixture
def stand_in_torch2trt(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "torch2trt.py").write_text(textwrap.dedent(STAND_IN))
    (site / "tensorrt.py").write_text("__version__ = '8.2.1.8'\n")
    monkeypatch.syspath_prepend(str(site))
    for name in ("torch2trt", "tensorrt"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    from jetracer.pilot.tensorrt_backend import TensorRTPilot
    monkeypatch.setattr(TensorRTPilot, "engine_device", "cpu")  # the stand-in engine reads CPU memory
    import torch2trt
    return torch2trt


def _engine_file(t2t, path, weights, input_dtype):
    module = t2t.TRTModule(json.dumps({"weights": weights, "input_dtype": input_dtype}).encode(),
                           ["input_0"], ["output_0"])
    torch.save(module.state_dict(), path)  # what upstream's optimize notebook does
    return path


def test_upstream_engine_is_fed_fp16_bgr_as_upstream_fed_it(stand_in_torch2trt, colour_model, upstream_file,
                                                           frames, tmp_path):
    engine = _engine_file(stand_in_torch2trt, str(tmp_path / "road_following_model_trt.pth"), upstream_file,
                          "float16")
    pilot = load_pilot(engine, device="cpu")
    assert (pilot.backend, pilot.input_dtype, pilot.color_order) == ("tensorrt", "float16", "BGR")
    for frame in frames:
        x = pilot(frame)
        fed = stand_in_torch2trt.received[-1]
        assert fed.dtype == torch.float16 and tuple(fed.shape) == (1, 3, 224, 224)
        blue = (frame[:, :, 0] / 255.0 - MEAN[0]) / STD[0]  # upstream's channel 0: the B pixel, R's statistics
        assert np.abs(fed[0, 0].float().numpy() - blue).max() < 0.01
        # upstream's utils.preprocess: to_tensor(...).half(), sub/div in half, model_trt(image)
        up = TF.to_tensor(PIL.Image.fromarray(frame)).half()
        up.sub_(torch.tensor(MEAN).half()[:, None, None]).div_(torch.tensor(STD).half()[:, None, None])
        with torch.no_grad():
            expected = colour_model(up[None].float())[0].half().float().numpy()
        assert x == pytest.approx((expected[0], expected[1]), abs=0.01)


def test_jetracer_engine_records_what_it_takes(stand_in_torch2trt, tmp_path, frames):
    from jetracer.pilot.tensorrt_backend import save_engine
    torch.manual_seed(6)
    model = build_model("resnet18", 2, pretrained=False).eval()
    ckpt = save_checkpoint(str(tmp_path / "ours.pth"), model, "resnet18", 224, ["apex"])
    weights = str(tmp_path / "weights.pth")
    torch.save(model.state_dict(), weights)
    meta = load_checkpoint(ckpt)[1]
    module = stand_in_torch2trt.TRTModule(json.dumps({"weights": weights, "input_dtype": "float32"}).encode(),
                                          ["input_0"], ["output_0"])
    path, side = save_engine(module, str(tmp_path / "ours_fp16_trt.pth"), meta, "fp16", {"max_abs_dx": 0.0})
    recorded = json.load(open(side))
    assert (recorded["input_dtype"], recorded["normalization"]["color_order"]) == ("float32", "RGB")
    assert recorded["tensorrt_version"] == "8.2.1.8"
    pilot = load_pilot(path, device="cpu")
    reference = load_pilot(ckpt, device="cpu")
    for frame in frames[:3]:
        assert pilot(frame) == pytest.approx(reference(frame), abs=1e-4)
        fed = stand_in_torch2trt.received[-1]
        assert fed.dtype == torch.float32
        red = (frame[:, :, 2] / 255.0 - MEAN[0]) / STD[0]
        assert np.abs(fed[0, 0].numpy() - red).max() < 1e-4
    # the stand-in really checks: an engine fed the wrong dtype fails instead of silently misreading
    side_data = dict(recorded, input_dtype="float16")
    json.dump(side_data, open(side, "w"))
    with pytest.raises(RuntimeError, match="binding"):
        load_pilot(path, device="cpu")(frames[0])


def test_missing_torch2trt_is_one_line_on_every_command(tmp_path):
    if subprocess.call([sys.executable, "-c", "import torch2trt"], stderr=subprocess.DEVNULL) == 0:
        pytest.skip("torch2trt is installed here")
    engine = str(tmp_path / "model_trt.pth")
    torch.save({"engine": bytearray(b"x"), "input_names": ["input_0"], "output_names": ["output_0"]}, engine)
    ckpt = save_checkpoint(str(tmp_path / "m.pth"), build_model("resnet18", 2, pretrained=False), "resnet18", 64,
                           ["apex"], train_args={"dataset": [str(tmp_path)]})
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_CAMERA="sim", JETRACER_CONFIG=os.devnull,
               JETRACER_STATE=str(tmp_path / "state.json"), OMP_NUM_THREADS="1")
    for args in (["drive", "--model", engine, "--duration", "1"], ["drive", "--sim", "--model", engine],
                 ["sim", "drive", "--model", engine, "--laps", "1"],
                 ["optimize", ckpt, "--backend", "tensorrt", "--device", "cuda"]):
        proc = subprocess.run([sys.executable, "-m", "jetracer"] + args, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode != 0 and len(lines) == 1, (args, proc.stderr)
        assert "torch2trt" in lines[0] and "git clone https://github.com/NVIDIA-AI-IOT/torch2trt" in lines[0], args
