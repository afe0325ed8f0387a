"""``jetracer eval``: metrics of a model file on labelled frames, checked against models whose answers are known.

Two resnet18 checkpoints are built by hand so their predictions are known without running the code
under test: one whose every weight is zero but the head's bias (it predicts the same (x, y) on every
frame), and one that passes the mean red level of the frame straight through to x (a linear function of
the red level: on frames whose label is another increasing function of red, r(x) is 1; with the sign
flipped, -1).
"""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from jetracer.learning.evaluate import EvalError, evaluate_model
from jetracer.pilot.checkpoint import save_checkpoint
from jetracer.pilot.model import build_model

torch.set_num_threads(1)


def _zeroed_resnet18():
    model = build_model("resnet18", 2, pretrained=False)
    state = model.state_dict()
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        value.zero_()
        if key.endswith("running_var") or (key.endswith(".weight") and value.ndim == 1):
            value.fill_(1.0)  # BatchNorm: identity scale
    return model, state


def constant_model(path, x, y, input_size=32):
    """A checkpoint predicting (x, y) on every frame: all weights zero, the head's bias (x, y)."""
    model, state = _zeroed_resnet18()
    state["fc.bias"][:] = torch.tensor([x, y])
    model.load_state_dict(state)
    return save_checkpoint(str(path), model, "resnet18", input_size, ["apex"])


def red_model(path, gain, input_size=32):
    """A checkpoint whose x is ``gain`` times the frame's normalised red level (plus a constant).

    conv1 copies the red channel into feature 0 (centre tap), bn1 lifts it above zero so ReLU keeps it,
    every residual branch is zero so blocks pass it on (the downsampling 1x1 convolutions copy feature 0),
    the average pool keeps the mean and fc reads feature 0.
    """
    model, state = _zeroed_resnet18()
    state["conv1.weight"][0, 0, 3, 3] = 1.0  # RGB order: input channel 0 is red
    state["bn1.bias"][0] = 5.0
    for layer in ("layer2", "layer3", "layer4"):
        state["%s.0.downsample.0.weight" % layer][0, 0, 0, 0] = 1.0
    state["fc.weight"][0, 0] = gain
    model.load_state_dict(state)
    return save_checkpoint(str(path), model, "resnet18", input_size, ["apex"])


def write_frames(folder, labels_uv, size=(48, 64), red=None):
    """Flat-colour 64x48 frames named <u>_<v>_<k>.jpg; ``red`` gives each frame's red level."""
    os.makedirs(str(folder), exist_ok=True)
    h, w = size
    for k, (u, v) in enumerate(labels_uv):
        frame = np.full((h, w, 3), 90, np.uint8)
        if red is not None:
            frame[:, :, 2] = red[k]  # BGR: channel 2 is red
        cv2.imwrite(os.path.join(str(folder), "%d_%d_%03d.jpg" % (u, v, k)), frame)
    return str(folder)


def test_constant_prediction_gives_the_known_errors_and_sign_agreement(tmp_path):
    model = constant_model(tmp_path / "const.pth", 0.25, -0.5, input_size=32)
    # 64x48 frames: u = 16 -> x = -0.5, u = 48 -> x = +0.5; v = 24 -> y = 0
    data = write_frames(tmp_path / "data" / "apex", [(16, 24)] * 3 + [(48, 24)] * 3)
    result = evaluate_model(model, [str(tmp_path / "data")], device="cpu")
    assert result["count"] == 6 and result["model_input_size"] == [32, 32]  # another input size: the pilot resizes
    assert result["mae_x"] == pytest.approx(0.5, abs=1e-4)   # |-0.5 - 0.25| = 0.75 and |0.5 - 0.25| = 0.25
    assert result["mae_y"] == pytest.approx(0.5, abs=1e-4)
    assert result["r_x"] is None  # a constant prediction has no correlation
    assert result["spread_x"] == 0.0  # and no spread: it cannot steer
    assert (result["sign_count_x"], result["sign_agreement_x"]) == (6, 0.5)  # right on the +0.5 frames only
    assert sorted(r["pred_x"] for r in result["predictions"]) == [0.25] * 6
    assert os.path.isdir(data)


@pytest.mark.parametrize("gain,expected_r", [(0.05, 1.0), (-0.05, -1.0)])
def test_a_model_that_follows_the_label_has_r_of_one(tmp_path, gain, expected_r):
    model = red_model(tmp_path / "red.pth", gain)
    reds = [30, 60, 90, 120, 150, 180, 210, 240]
    uv = [(4 + 7 * k, 24) for k in range(len(reds))]  # label x rises with the red level
    write_frames(tmp_path / "data" / "apex", uv, red=reds)
    result = evaluate_model(model, [str(tmp_path / "data")], device="cpu")
    assert result["r_x"] == pytest.approx(expected_r, abs=2e-3)
    preds = [r["pred_x"] for r in sorted(result["predictions"], key=lambda r: r["x"])]
    assert preds == sorted(preds, reverse=gain < 0)


def test_labels_all_alike_have_no_correlation_not_a_zero_one(tmp_path):
    """Three clicks at the same x (0.1 on a 160-wide frame: equal floats whose std is 1e-17, not 0) have no r(x):
    it is n/a, so the few-shot guard judges by the mean error instead of a tie of two made-up 0.0s."""
    model = red_model(tmp_path / "red.pth", 0.05)
    write_frames(tmp_path / "data" / "apex", [(88, 60)] * 3, size=(120, 160), red=[60, 150, 240])
    result = evaluate_model(model, [str(tmp_path / "data")], device="cpu")
    assert [round(r["x"], 6) for r in result["predictions"]] == [0.1] * 3
    assert len(set(round(r["pred_x"], 4) for r in result["predictions"])) == 3  # the model's answers differ
    assert result["r_x"] is None


def test_no_labelled_frames_is_an_error_naming_the_files(tmp_path):
    model = constant_model(tmp_path / "const.pth", 0.0, 0.0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalError, match="no labelled images"):
        evaluate_model(model, [str(tmp_path / "empty")])
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    cv2.imwrite(str(folder / "frame_000.jpg"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(EvalError, match=r"frame_000.jpg \(file name is not <u>_<v>_<id>.jpg"):
        evaluate_model(model, [str(folder)])


def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "jetracer", "eval"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    return proc.returncode, proc.stdout, proc.stderr


def test_cli_prints_json_and_writes_the_plot(tmp_path):
    model = constant_model(tmp_path / "const.pth", 0.25, -0.5)
    write_frames(tmp_path / "data" / "apex", [(16, 24), (48, 24)])
    rc, out, err = _cli("--model", model, str(tmp_path / "data"), "--json", "--plot", str(tmp_path / "x.png"),
                        "--device", "cpu")
    assert rc == 0, err
    result = json.loads(out)
    assert result["count"] == 2 and result["mae_x"] == pytest.approx(0.5, abs=1e-4)
    with open(str(tmp_path / "x.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_cli_warns_that_a_model_putting_out_one_x_will_not_steer(tmp_path):
    """Its mean error can look acceptable (here 0.5) and r is n/a: the spread says what is wrong, on the CLI."""
    write_frames(tmp_path / "data" / "apex", [(16, 24), (48, 24), (32, 24)])
    rc, out, err = _cli("--model", constant_model(tmp_path / "const.pth", 0.0, 0.0), str(tmp_path / "data"),
                        "--device", "cpu")
    assert rc == 0, err
    assert "nearly the same x for every frame (its spread is 0.000 of the labels'): it will not steer" in out
    reds = [30, 90, 150, 240]
    write_frames(tmp_path / "follows" / "apex", [(4 + 14 * k, 24) for k in range(4)], red=reds)
    rc, out, err = _cli("--model", red_model(tmp_path / "red.pth", 0.5), str(tmp_path / "follows"), "--device", "cpu")
    assert rc == 0, err
    assert "will not steer" not in out and "x: r 0.99" in out


def test_cli_bad_inputs_get_one_line_and_a_non_zero_exit(tmp_path):
    model = constant_model(tmp_path / "const.pth", 0.0, 0.0)
    (tmp_path / "empty").mkdir()
    write_frames(tmp_path / "data" / "apex", [(16, 24)])
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    cv2.imwrite(str(unlabelled / "frame_000.jpg"), np.zeros((8, 8, 3), np.uint8))
    cases = [(("--model", model, str(tmp_path / "empty")), 2, "no labelled images"),
             (("--model", model, str(unlabelled)), 2, "frame_000.jpg"),
             (("--model", model, str(tmp_path / "nowhere")), 1, "does not exist"),
             (("--model", str(tmp_path / "missing.pth"), str(tmp_path / "data")), 1, "no model file"),
             (("--model", model, str(tmp_path / "data"), "--threads", "0"), 2, "--threads")]
    for args, code, needle in cases:
        rc, out, err = _cli(*args)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert rc == code and len(lines) == 1 and needle in lines[0] and "Traceback" not in err, (args, err)
