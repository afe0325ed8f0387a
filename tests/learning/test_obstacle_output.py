"""The obstacle output: one network for the road and for "blocked", its metrics, its training, its files.

Models whose answers are known are built by hand (a resnet18 whose blocked logit follows the frame's red level),
so the metrics ``jetracer eval`` prints can be checked against numbers worked out here.
"""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from jetracer.dataset import ObstacleWriter, scan_dataset, summarize
from jetracer.learning.evaluate import EvalError, evaluate_model
from jetracer.learning.metrics import multitask_loss
from jetracer.learning.obstacle_metrics import auroc, blocked_metrics
from jetracer.learning.road_dataset import RoadDataset
from jetracer.learning.augment import EvalTransform
from jetracer.pilot import Prediction, load_pilot, predict_frame
from jetracer.pilot.checkpoint import load_checkpoint, save_checkpoint
from jetracer.pilot.model import build_model, grow_head

torch.set_num_threads(1)

RED_AT_HALF = 115  # the red level at which the hand-built model says p = 0.5


def _feature_of_red(red):
    """Feature 0 of the hand-built resnet18 for a flat frame of this red level: normalised red + 5."""
    return (red / 255.0 - 0.485) / 0.229 + 5.0


def red_blocked_model(path, input_size=32, distance=False):
    """A checkpoint with an obstacle head whose blocked logit is ``feature(red) - feature(115)``: p rises with
    the frame's red level and is 0.5 at 115; x, y are 0; the distance (if asked) is the feature itself."""
    outputs = ["blocked_logit"] + (["distance_m"] if distance else [])
    model = build_model("resnet18", 2 + len(outputs), pretrained=False)
    state = model.state_dict()
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        value.zero_()
        if key.endswith("running_var") or (key.endswith(".weight") and value.ndim == 1):
            value.fill_(1.0)
    state["conv1.weight"][0, 0, 3, 3] = 1.0  # RGB order: input channel 0 is red; the centre tap never pads
    state["bn1.bias"][0] = 5.0
    for layer in ("layer2", "layer3", "layer4"):
        state["%s.0.downsample.0.weight" % layer][0, 0, 0, 0] = 1.0
    state["fc.weight"][2, 0] = 1.0
    state["fc.bias"][2] = -_feature_of_red(RED_AT_HALF)
    if distance:
        state["fc.weight"][3, 0] = 1.0
    model.load_state_dict(state)
    return save_checkpoint(str(path), model, "resnet18", input_size, ["apex"], obstacle_outputs=outputs)


def write_obstacle_frames(root, blocked_reds, free_reds, size=(48, 64)):
    """Flat frames in JetBot's layout: root/blocked/*.jpg and root/free/*.jpg, red level as given."""
    writer = ObstacleWriter(str(root), session="test", source="test", fsync=False)
    h, w = size
    for blocked, reds in ((True, blocked_reds), (False, free_reds)):
        for red in reds:
            frame = np.full((h, w, 3), 90, np.uint8)
            frame[:, :, 2] = red
            writer.save(frame, blocked)
    return str(root)


# the known answer: blocked frames at red 200, 180, 160, 60; free frames at 40, 50, 70, 170
BLOCKED_REDS, FREE_REDS = (200, 180, 160, 60), (40, 50, 70, 170)
# AUROC: blocked-over-free pairs ranked right: 4 + 4 + 3 + 2 of 16; called blocked at p >= 0.5 (red >= 115):
# 200, 180, 160 (right) and 170 (a false stop): accuracy 6/8, precision 3/4, recall 3/4, false stops 1/4
KNOWN = {"n": 8, "n_blocked": 4, "n_free": 4, "auroc": 0.8125, "accuracy": 0.75, "precision": 0.75, "recall": 0.75,
         "false_positive_rate": 0.25, "threshold": 0.5}


def test_auroc_and_the_operating_point_on_hand_worked_numbers():
    assert auroc([0.9, 0.8, 0.7, 0.1], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert auroc([0.5, 0.5, 0.5, 0.5], [True, False, True, False]) == 0.5  # ties count half
    assert auroc([0.3, 0.2], [True, True]) is None  # one class: undefined
    m = blocked_metrics([0.9, 0.6, 0.4, 0.7, 0.2, float("nan")], [True, True, True, False, False, False], 0.5)
    assert (m["n"], m["n_blocked"], m["n_free"]) == (6, 3, 3)
    assert m["precision"] == 0.6667 and m["recall"] == 0.6667 and m["accuracy"] == 0.5  # the NaN frame is wrong
    assert m["false_positive_rate"] == 0.3333


def test_eval_of_a_blocked_free_folder_gives_the_known_metrics(tmp_path):
    model = red_blocked_model(tmp_path / "red.pth")
    data = write_obstacle_frames(tmp_path / "obstacles", BLOCKED_REDS, FREE_REDS)
    result = evaluate_model(model, [data], device="cpu")
    assert result["blocked"] == KNOWN
    assert result["count"] == 0  # no road frames: no road metrics
    rows = {r["file"]: r for r in result["predictions"]}
    assert len(rows) == 8 and all(r["blocked_p"] is not None for r in rows.values())
    higher = evaluate_model(model, [data], device="cpu", threshold=0.9)["blocked"]  # p(200) ~ 0.97, p(180) ~ 0.9-
    assert higher["threshold"] == 0.9 and higher["recall"] < KNOWN["recall"] and higher["auroc"] == KNOWN["auroc"]


def _cli(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "jetracer"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=180, env=env)


def test_cli_eval_json_has_the_blocked_key(tmp_path):
    model = red_blocked_model(tmp_path / "red.pth")
    data = write_obstacle_frames(tmp_path / "obstacles", BLOCKED_REDS, FREE_REDS)
    proc = _cli("eval", "--model", model, data, "--json", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["blocked"] == KNOWN
    text = _cli("eval", "--model", model, data, "--device", "cpu")
    assert "AUROC 0.812" in text.stdout and "precision 0.750, recall 0.750" in text.stdout


def test_a_folder_with_one_class_empty_is_one_clear_error(tmp_path):
    model = red_blocked_model(tmp_path / "red.pth")
    data = write_obstacle_frames(tmp_path / "only_blocked", BLOCKED_REDS, ())
    with pytest.raises(EvalError, match="no free one"):
        evaluate_model(model, [data], device="cpu")
    proc = _cli("eval", "--model", model, data)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr
    assert "AUROC" in lines[0] and "only_blocked/free/" in lines[0]


def test_a_road_only_model_on_obstacle_frames_names_both_fixes(tmp_path):
    model = build_model("resnet18", 2, pretrained=False)
    road_only = save_checkpoint(str(tmp_path / "road.pth"), model, "resnet18", 32, ["apex"])
    data = write_obstacle_frames(tmp_path / "obstacles", BLOCKED_REDS, FREE_REDS)
    proc = _cli("eval", "--model", road_only, data)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "no obstacle output" in lines[0] and "--stop-model" in lines[0] and "jetracer train" in lines[0]


def test_predict_reads_the_head_and_call_keeps_x_y(tmp_path):
    pilot = load_pilot(red_blocked_model(tmp_path / "red.pth", distance=True), device="cpu")
    assert pilot.has_obstacle_output and pilot.road_outputs == 2 and pilot.obstacle_outputs == ["blocked_logit",
                                                                                             "distance_m"]
    for red, blocked in ((200, True), (40, False)):
        frame = np.full((32, 32, 3), 90, np.uint8)
        frame[:, :, 2] = red
        p = pilot.predict(frame)
        assert isinstance(p, Prediction) and (p.blocked_p > 0.5) == blocked
        assert p.distance_m == pytest.approx(_feature_of_red(red), abs=1e-3)
        assert pilot(frame) == (p.x, p.y) == (0.0, 0.0)
    road_only = load_pilot(save_checkpoint(str(tmp_path / "road.pth"), build_model("resnet18", 2, pretrained=False),
                                           "resnet18", 32, ["apex"]), device="cpu")
    p = road_only.predict(np.zeros((32, 32, 3), np.uint8))
    assert not road_only.has_obstacle_output and p.blocked_p is None and p.distance_m is None
    assert predict_frame(lambda frame: (0.25, -0.5), None) == Prediction(0.25, -0.5, None, None)


def test_upstream_road_state_dicts_load_without_an_obstacle_output(tmp_path):
    path = str(tmp_path / "road_following_model.pth")  # a plain state dict, as upstream's notebook saves
    torch.save(build_model("resnet18", 2, pretrained=False).state_dict(), path)
    pilot = load_pilot(path, device="cpu")
    assert not pilot.has_obstacle_output and pilot.num_outputs == 2
    assert pilot.predict(np.zeros((224, 224, 3), np.uint8)).blocked_p is None


def test_the_masked_loss_trains_each_output_only_on_frames_labelled_for_it():
    torch.manual_seed(0)
    outputs = torch.randn(4, 4, requires_grad=True)  # x, y, blocked logit, distance
    category = torch.zeros(4, dtype=torch.long)
    xy = torch.randn(4, 2)
    # frame 0: road only; 1: blocked/free only (blocked); 2: both and a distance; 3: road and free
    targets = torch.tensor([[1, 0, 0, 0, 0.0], [0, 1, 1, 0, 0.0], [1, 1, 1, 1, 0.4], [1, 1, 0, 0, 0.0]])
    loss, parts = multitask_loss(outputs, category, xy, targets, road_outputs=2)
    loss.backward()
    grad = outputs.grad
    assert sorted(parts) == ["blocked", "distance", "road"]
    assert torch.all(grad[1, :2] == 0)          # no road label: x, y untouched
    assert torch.all(grad[0, 2:] == 0)          # no obstacle label: the head untouched
    assert torch.all(grad[[0, 1, 3], 3] == 0)   # the distance trains on frame 2 only
    assert torch.all(grad[[0, 2, 3], :2] != 0) and torch.all(grad[1:, 2] != 0) and grad[2, 3] != 0


def test_the_obstacle_weight_scales_the_pull_of_the_obstacle_labels_and_leaves_the_road_alone():
    """A run's obstacle_weight (the GPU starter's 0.1) scales what the blocked and distance labels ask of the
    outputs, and so of the shared backbone; the road's pull is the same at any weight."""
    torch.manual_seed(0)
    category = torch.zeros(3, dtype=torch.long)
    xy = torch.randn(3, 2)
    targets = torch.tensor([[1, 0, 0, 0, 0.0], [0, 1, 1, 1, 0.4], [1, 1, 0, 1, 1.5]])
    start = torch.randn(3, 4)
    grads = {}
    for weight in (1.0, 0.1, 0.0):
        outputs = start.clone().requires_grad_(True)
        multitask_loss(outputs, category, xy, targets, road_outputs=2, obstacle_weight=weight)[0].backward()
        grads[weight] = outputs.grad
    assert torch.allclose(grads[0.1][:, :2], grads[1.0][:, :2]) and torch.allclose(grads[0.0][:, :2], grads[1.0][:, :2])
    assert torch.allclose(grads[0.1][:, 2:], 0.1 * grads[1.0][:, 2:]) and torch.all(grads[0.0][:, 2:] == 0)
    assert torch.all(grads[1.0][1:, 2:] != 0)


def test_grow_head_keeps_the_road_outputs(tmp_path):
    model = build_model("resnet18", 2, pretrained=False).eval()
    x = torch.randn(1, 3, 32, 32)
    before = model(x)
    grow_head(model, 4)
    after = model(x)
    assert after.shape == (1, 4) and torch.allclose(after[:, :2], before, atol=1e-6) and torch.all(after[:, 2:] == 0)


def _white_box(frame, blocked):
    if blocked:
        h, w = frame.shape[:2]
        frame[h // 2:, w // 4:3 * w // 4] = 250
    return frame


def test_training_on_road_and_blocked_free_folders_together(tmp_path, make_tiny_dataset):
    """Road frames (no obstacle label) and JetBot blocked/free frames train one model: the checkpoint has the
    blocked output (no distance: no frame gives one), it tells the classes apart, and x, y still train."""
    from jetracer.learning.train import train
    road = make_tiny_dataset(str(tmp_path / "road"), sessions=4, frames_per_session=8, size=(32, 32))
    rng = np.random.RandomState(1)
    writer = ObstacleWriter(str(tmp_path / "obstacles"), fsync=False)
    for k in range(40):
        frame = rng.randint(0, 120, size=(32, 32, 3)).astype(np.uint8)
        writer.save(_white_box(frame, k % 2 == 0), k % 2 == 0)
    out = str(tmp_path / "model.pth")
    result = train([road, str(tmp_path / "obstacles")], out, epochs=6, input_size=32, pretrained=False,
                   progress=False, threads=1, val_fraction=0.0, test_fraction=0.0, batch_size=16, augment=False)
    _, meta = load_checkpoint(out)
    assert meta["obstacle_outputs"] == ["blocked_logit"] and meta["num_outputs"] == 3
    assert meta["train_args"]["obstacle_outputs"] == ["blocked_logit"]
    evaluated = evaluate_model(out, [road, str(tmp_path / "obstacles")], device="cpu")
    assert evaluated["blocked"]["n"] == 40 and evaluated["blocked"]["auroc"] >= 0.9
    assert evaluated["count"] == 32 and evaluated["r_y"] is not None
    assert result.history[-1]["train_loss"] < result.history[1]["train_loss"]


def test_a_road_only_run_has_no_obstacle_output(tmp_path, tiny_dataset):
    from jetracer.learning.train import train
    out = str(tmp_path / "road.pth")
    result = train([tiny_dataset], out, epochs=1, input_size=32, pretrained=False, progress=False, threads=1,
                   obstacle_weight=0.1)
    _, meta = load_checkpoint(out)
    assert meta["obstacle_outputs"] == [] and meta["num_outputs"] == 2
    assert not load_pilot(out, device="cpu").has_obstacle_output
    # a weight for labels no frame has is said, not silently ignored
    assert "obstacle_weight 0.1 has no effect: no frame has a blocked/free label" in result.notes


def test_training_refuses_obstacle_labels_of_one_class(tmp_path, tiny_dataset):
    blocked_only = write_obstacle_frames(tmp_path / "obstacles", BLOCKED_REDS, ())
    proc = _cli("train", tiny_dataset, blocked_only, "--out", str(tmp_path / "m.pth"), "--epochs", "1",
                "--input-size", "32", "--no-pretrained", "--device", "cpu")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "blocked and free" in lines[-1] and "free/" in lines[-1]
    assert not os.path.exists(str(tmp_path / "m.pth"))


def test_the_dataset_reads_both_kinds_of_obstacle_label(tmp_path):
    from jetracer.dataset import DatasetWriter
    write_obstacle_frames(tmp_path / "data", (200,), (40, 50))
    road = DatasetWriter(str(tmp_path / "data"), "apex", session="s", fsync=False)
    frame = np.zeros((32, 32, 3), np.uint8)
    road.save(frame, 3, 4, blocked=True, distance_m=0.25)
    road.save(frame, 5, 6)
    with pytest.raises(ValueError, match="blocked must be true or false"):
        road.save(frame, 5, 6, blocked="yes")
    index = scan_dataset(str(tmp_path / "data"), obstacles=True)
    by_kind = sorted(((e.category, e.has_road, e.blocked, e.distance_m) for e in index.entries), key=repr)
    assert by_kind == [("apex", True, None, None), ("apex", True, True, 0.25), ("blocked", False, True, None),
                       ("free", False, False, None), ("free", False, False, None)]
    assert index.categories == ["apex"] and not index.problems
    assert summarize(index)["obstacles"] == {"blocked": 2, "free": 2, "with_distance": 1}
    road_only = scan_dataset(str(tmp_path / "data"))  # a road reader passes the blocked/free folders over
    assert len(road_only.entries) == 2 and not road_only.problems
    with open(str(tmp_path / "data" / "apex" / "index.jsonl"), "a") as f:  # a bad label is reported, road kept
        name = [n for n in os.listdir(str(tmp_path / "data" / "apex")) if n.startswith("5_6_")][0]
        f.write(json.dumps({"file": name, "session": "s", "blocked": True, "distance_m": -1}) + "\n")
    again = scan_dataset(str(tmp_path / "data"), obstacles=True)
    assert any("distance_m must be metres" in p.reason for p in again.problems)


def test_obstacle_frames_are_items_without_a_road_label(tmp_path):
    root = write_obstacle_frames(tmp_path / "data", (200,), (40,))
    index = scan_dataset(root, obstacles=True)
    ds = RoadDataset(index.entries, ["apex"], EvalTransform((32, 32)), obstacle=True)
    frame, category, xy, targets = ds[0]
    assert tuple(frame.shape) == (32, 32, 3) and category == 0 and xy.tolist() == [0.0, 0.0]
    assert targets.tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]  # no road label; blocked; no distance
    assert len(RoadDataset(index.entries, ["apex"], EvalTransform((32, 32)))[1]) == 3  # road-only items as before
