"""Upstream JetBot's collision model (``best_model.pth``) loaded as the separate stop model.

No pretrained weights are available here, so the files are constructed the way JetBot's notebooks make them
(torchvision's alexnet or resnet18, the last layer replaced by a 2-class one, ``torch.save(model.state_dict())``)
and the stop model is checked against the network run by hand as upstream's live demo runs it.
"""
import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

from jetracer.pilot import PilotLoadError, load_pilot, load_stop_model

torch.set_num_threads(1)


def jetbot_collision_model(arch, seed=0):
    """What JetBot's train_model notebooks build (random weights instead of ImageNet's)."""
    torch.manual_seed(seed)
    if arch == "alexnet":
        model = torchvision.models.alexnet(weights=None)
        model.classifier[6] = torch.nn.Linear(model.classifier[6].in_features, 2)
    else:
        model = torchvision.models.resnet18(weights=None)
        model.fc = torch.nn.Linear(512, 2)
    return model.eval()


def upstream_blocked_p(model, frame_bgr):
    """JetBot's live demo: BGR -> RGB, /255, ImageNet mean/std, softmax, output 0 is blocked."""
    x = torch.from_numpy(frame_bgr[:, :, ::-1].copy()).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    with torch.no_grad():
        return float(F.softmax(model(((x - mean) / std)[None]), dim=1)[0, 0])


@pytest.mark.parametrize("arch", ["alexnet", "resnet18"])
def test_an_upstream_collision_model_gives_upstream_s_blocked_probability(tmp_path, arch):
    model = jetbot_collision_model(arch)
    path = str(tmp_path / "best_model.pth")
    torch.save(model.state_dict(), path)
    stop = load_stop_model(path, device="cpu")
    assert stop.arch == arch and stop.color_order == "RGB"
    rng = np.random.RandomState(3)
    for _ in range(3):
        frame = rng.randint(0, 256, size=(224, 224, 3)).astype(np.uint8)
        p = stop(frame)
        assert 0.0 <= p <= 1.0
        assert p == pytest.approx(upstream_blocked_p(model, frame), abs=1e-5)


def test_a_data_parallel_file_loads_too(tmp_path):
    model = jetbot_collision_model("resnet18", seed=1)
    path = str(tmp_path / "best_model.pth")
    torch.save({"module." + k: v for k, v in model.state_dict().items()}, path)
    frame = np.full((224, 224, 3), 120, np.uint8)
    assert load_stop_model(path, device="cpu")(frame) == pytest.approx(upstream_blocked_p(model, frame), abs=1e-5)


def test_files_that_are_not_a_collision_model_are_refused_in_one_line(tmp_path):
    road = torchvision.models.resnet18(weights=None)
    road.fc = torch.nn.Linear(512, 4)  # a road model of two categories
    torch.save(road.state_dict(), str(tmp_path / "road.pth"))
    with pytest.raises(PilotLoadError, match="not a collision model.*road-following model"):
        load_stop_model(str(tmp_path / "road.pth"))
    with pytest.raises(FileNotFoundError):
        load_stop_model(str(tmp_path / "missing.pth"))


class _Boom(object):
    def __reduce__(self):
        return (os.system, ("echo pwned > %s" % os.devnull,))


def test_the_stop_model_goes_through_the_safe_loader(tmp_path):
    path = str(tmp_path / "evil.pth")
    with open(path, "wb") as f:
        pickle.dump({"fc.weight": _Boom()}, f)
    with pytest.raises(PilotLoadError, match="refused|could not read"):
        load_stop_model(path)


def test_an_alexnet_collision_model_given_as_the_road_model_says_where_it_goes(tmp_path):
    path = str(tmp_path / "best_model.pth")
    torch.save(jetbot_collision_model("alexnet").state_dict(), path)
    with pytest.raises(PilotLoadError, match="stop model"):
        load_pilot(path, device="cpu")
