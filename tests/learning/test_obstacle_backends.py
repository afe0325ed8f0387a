"""Every backend carries the obstacle output: optimize (ONNX with the preprocessing fused, optimized torch),
its parity check, and the export to upstream (road-only)."""
import numpy as np
import pytest
import torch

from jetracer.learning.optimize import optimize
from jetracer.learning.parity import ParityError, check, compare
from jetracer.learning.upstream_export import export_upstream
from jetracer.pilot import load_pilot
from jetracer.pilot.checkpoint import save_checkpoint
from jetracer.pilot.model import build_model
from jetracer.pilot.torch_backend import TorchPilot

torch.set_num_threads(1)

OUTPUTS = ["blocked_logit", "distance_m"]


def head_checkpoint(path, seed=0, logit_bias=0.0):
    torch.manual_seed(seed)
    model = build_model("resnet18", 4, pretrained=False).eval()
    with torch.no_grad():
        model.fc.bias[2] += logit_bias
    return save_checkpoint(str(path), model, "resnet18", 32, ["apex"], obstacle_outputs=OUTPUTS)


def frames(n=6, seed=0):
    rng = np.random.RandomState(seed)
    return [rng.randint(0, 256, size=(32, 32, 3)).astype(np.uint8) for _ in range(n)]


@pytest.mark.parametrize("backend,suffix", [("onnxruntime", ".onnx"), ("torch", "_torch.pth")])
def test_optimized_files_keep_the_obstacle_output(tmp_path, backend, suffix):
    ckpt = head_checkpoint(tmp_path / "model.pth")
    result = optimize(ckpt, backend, "fp32", out=str(tmp_path / ("fast" + suffix)), device="cpu", frames=frames())
    assert result.parity["max_abs_dp"] < 1e-4 and result.parity["max_abs_dd_m"] < 1e-3
    reference, fast = load_pilot(ckpt, device="cpu"), load_pilot(result.path, device="cpu")
    assert fast.has_obstacle_output and fast.obstacle_outputs == OUTPUTS and fast.road_outputs == 2
    for frame in frames(3, seed=1):
        a, b = reference.predict(frame), fast.predict(frame)
        assert b.blocked_p == pytest.approx(a.blocked_p, abs=1e-4) and b.x == pytest.approx(a.x, abs=1e-4)
        assert b.distance_m == pytest.approx(a.distance_m, abs=1e-3)


def test_parity_refuses_a_candidate_whose_blocked_probability_drifts(tmp_path):
    ref = TorchPilot(*_loaded(head_checkpoint(tmp_path / "a.pth", seed=0)), device="cpu")
    drifted = TorchPilot(*_loaded(head_checkpoint(tmp_path / "b.pth", seed=0, logit_bias=2.0)), device="cpu")
    parity = compare(ref, drifted, frames())
    assert parity["max_abs_dx"] == 0.0 and parity["max_abs_dp"] > 0.2  # same road rows, the head moved
    with pytest.raises(ParityError, match=r"max \|dp\|"):
        check(parity, 0.02, "the candidate")


def _loaded(path):
    from jetracer.pilot.checkpoint import load_checkpoint
    return load_checkpoint(str(path))


def test_the_upstream_export_is_road_only_and_says_so(tmp_path):
    ckpt = head_checkpoint(tmp_path / "model.pth")
    written = export_upstream(ckpt, str(tmp_path / "upstream.pth"))
    assert any("road outputs only" in note for note in written["notes"])
    state = torch.load(str(tmp_path / "upstream.pth"), map_location="cpu")
    assert tuple(state["fc.weight"].shape) == (2, 512) and tuple(state["fc.bias"].shape) == (2,)
    upstream = load_pilot(str(tmp_path / "upstream.pth"), device="cpu")
    assert not upstream.has_obstacle_output and upstream.num_outputs == 2
