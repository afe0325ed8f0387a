"""Model building (offline ImageNet fallback) and the checkpoint loader's acceptance and refusals."""
import os
import urllib.request
import warnings

import pytest
import torch
import torchvision

from jetracer.pilot.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from jetracer.pilot.model import PretrainedWeightsUnavailable, build_model

torch.set_num_threads(1)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No cached weights and no route to the download server, whatever machine runs the test."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # the discard port: connection refused at once
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    # urlopen builds its global opener (and reads the proxy) once; drop the one built with the dead proxy
    monkeypatch.setattr(urllib.request, "_opener", None)


def test_offline_build_warns_once_and_gives_a_working_random_model(offline):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = build_model("resnet18", num_outputs=4, pretrained=True)
    ours = [w for w in caught if issubclass(w.category, PretrainedWeightsUnavailable)]
    assert len(caught) == 1 and len(ours) == 1
    assert "random weights" in str(ours[0].message) and "resnet18" in str(ours[0].message)
    assert model.fc.in_features == 512 and model.fc.out_features == 4
    model.eval()
    with torch.no_grad():
        assert tuple(model(torch.zeros(1, 3, 64, 64)).shape) == (1, 4)


@pytest.mark.parametrize("arch", ["mobilenet_v3_small", "efficientnet_b0", "resnet34"])
def test_other_backbones_get_the_regression_head(arch):
    model = build_model(arch, num_outputs=2, pretrained=False).eval()
    with torch.no_grad():
        assert tuple(model(torch.zeros(2, 3, 64, 64)).shape) == (2, 2)


def test_unknown_arch_lists_the_supported_ones():
    with pytest.raises(ValueError, match="resnet18"):
        build_model("vgg_unknown", pretrained=False)


def test_checkpoint_round_trip_keeps_weights_and_meta(tmp_path):
    model = build_model("resnet18", 2, pretrained=False)
    path = save_checkpoint(str(tmp_path / "m.pth"), model, "resnet18", (48, 64), ["apex"], train_args={"lr": 1e-3},
                           split={"train": ["a"], "val": ["b"], "test": ["c"]}, metrics={"test": {"loss": 0.5}}, epoch=3)
    assert os.listdir(str(tmp_path)) == ["m.pth"]
    loaded, meta = load_checkpoint(path)
    assert meta["format"] == "jetracer.checkpoint" and meta["version"] == 1
    assert meta["input_size"] == [48, 64] and meta["categories"] == ["apex"] and meta["num_outputs"] == 2
    assert meta["normalization"]["color_order"] == "RGB" and meta["epoch"] == 3
    assert "state_dict" not in meta and "optimizer" not in meta
    assert torch.equal(loaded.fc.weight, model.fc.weight) and not loaded.training


def test_upstream_plain_resnet18_state_dict_loads(tmp_path):
    model = torchvision.models.resnet18()
    model.fc = torch.nn.Linear(512, 2)
    torch.save(model.state_dict(), str(tmp_path / "road_following_model.pth"))
    loaded, meta = load_checkpoint(str(tmp_path / "road_following_model.pth"))
    assert meta["arch"] == "resnet18" and meta["input_size"] == [224, 224] and meta["categories"] == ["apex"]
    x = torch.randn(1, 3, 224, 224)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x))


def test_random_file_is_rejected_saying_what_was_expected(tmp_path):
    path = tmp_path / "junk.pth"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(CheckpointError, match="jetracer checkpoint .* or an upstream road_following resnet18"):
        load_checkpoint(str(path))
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(str(tmp_path / "missing.pth"))


def test_state_dict_of_another_architecture_is_rejected(tmp_path):
    model = torchvision.models.resnet34()
    model.fc = torch.nn.Linear(512, 2)
    torch.save(model.state_dict(), str(tmp_path / "r34.pth"))
    with pytest.raises(CheckpointError, match="do not fit resnet18"):
        load_checkpoint(str(tmp_path / "r34.pth"))
    mobilenet = build_model("mobilenet_v3_small", 2, pretrained=False)
    torch.save(mobilenet.state_dict(), str(tmp_path / "mnv3.pth"))
    with pytest.raises(CheckpointError, match="not of upstream's resnet18"):
        load_checkpoint(str(tmp_path / "mnv3.pth"))
