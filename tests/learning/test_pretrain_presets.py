"""The starter's presets are a schema on the engine (apps/pretrain.PRESET): each preset and each override is
checked against it before anything is collected, with the same one-line messages as every other setting."""
import os

import pytest

from jetracer.apps.pretrain import PRESET, PRESETS, Preset, PretrainError, pick_preset, preset_settings, pretrain
from jetracer.learning.train_options import TRAIN
from jetracer.schema import validate


def test_every_preset_follows_the_schema_and_the_settings_object_has_its_keys():
    assert list(Preset._fields) == list(PRESET)
    for name, values in PRESETS.items():
        assert validate(values, PRESET) == [], name
        assert preset_settings(name)._asdict() == values
    # the keys a preset shares with training take training's ranges
    assert (PRESET["epochs"].lo, PRESET["epochs"].hi) == (TRAIN["epochs"].lo, TRAIN["epochs"].hi)
    assert list(PRESET["arch"].choices) == list(TRAIN["arch"].choices)


def test_an_unknown_preset_or_key_names_the_likely_one_and_a_bad_value_its_range():
    assert pick_preset(None, "cuda:0") == "gpu" and pick_preset(None, "cpu") == "cpu"
    with pytest.raises(PretrainError, match="expected one of gpu, cpu, quick, found 'qiuck'; did you mean quick"):
        pick_preset("qiuck", "cpu")
    with pytest.raises(PretrainError, match="frame: unknown key .*did you mean frames"):
        preset_settings("cpu", {"frame": 100})
    with pytest.raises(PretrainError) as caught:
        preset_settings("quick", {"epochs": 0, "input_size": 4096})
    assert "epochs: expected a value in [1, 100000]" in str(caught.value)
    assert "input_size: expected a value in [16, 1024]" in str(caught.value)
    assert preset_settings("quick", {"epochs": 1}).epochs == 1


def test_pretrain_refuses_a_bad_override_before_it_collects(tmp_path):
    out = tmp_path / "starter.pth"
    with pytest.raises(PretrainError, match="did you mean frames"):
        pretrain(str(out), preset="quick", device="cpu", overrides={"frame": 90}, say=lambda s: None)
    assert os.listdir(str(tmp_path)) == []  # no data folder, no checkpoint, no report
