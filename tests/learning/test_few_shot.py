"""The few-shot guard (``jetracer.learning.few_shot``, ``jetracer train --init --guard``): fine-tuning on a few
clicks never ends below the starter. Judged at the file level: OUT's weights are the starter's, or not."""
import os
import uuid

import cv2
import numpy as np
import pytest
import torch

from jetracer.cli.main import main
from jetracer.dataset import DatasetWriter, scan_dataset
from jetracer.learning.evaluate import evaluate_model
from jetracer.learning.few_shot import capture_time, fine_tuning_wins, guarded_finetune, hold_back, uuid1_unix_s
from jetracer.learning.train import train
from jetracer.pilot.checkpoint import load_checkpoint

from conftest import draw_road, make_tiny_dataset

torch.set_num_threads(1)

SIDE = 64


def write_clicks(root, n, seed, label=None):
    """``n`` synthetic road frames recorded in this order (index times increase); ``label(u, v, k)`` gives the
    click of frame ``k`` (default: the road's far point, which a model can learn)."""
    rng = np.random.RandomState(seed)
    writer = DatasetWriter(str(root), "apex", session="owner", source="synthetic")
    for k in range(n):
        frame, u, v = draw_road(rng, SIDE, SIDE)
        writer.save(frame, *(label(u, v, k) if label else (u, v)))
    return str(root)


def weights(path):
    model, _ = load_checkpoint(path)
    return model.state_dict()


def same_weights(a, b):
    wa, wb = weights(a), weights(b)
    return set(wa) == set(wb) and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.fixture(scope="module")
def starter(tmp_path_factory):
    """A starter that has learned the synthetic roads well (r(x) near 1 on new ones)."""
    root = tmp_path_factory.mktemp("starter")
    data = make_tiny_dataset(str(root / "roads"), sessions=16, frames_per_session=8, seed=5)
    out = str(root / "starter.pth")
    train([data], out, epochs=30, batch_size=32, input_size=32, pretrained=False, progress=False)
    return out


@pytest.mark.slow
def test_the_guard_keeps_the_starter_when_the_first_clicks_cannot_teach_it(starter, tmp_path):
    n = 50
    rng = np.random.RandomState(3)
    shuffled = [(int(rng.randint(8, SIDE - 8)), int(rng.randint(12, SIDE // 2))) for _ in range(n)]
    data = write_clicks(tmp_path / "clicks", n, seed=11,  # the first 40 clicks are noise, the last 10 are right
                        label=lambda u, v, k: shuffled[k] if k < n - n // 5 else (u, v))
    out = str(tmp_path / "mine.pth")
    result = guarded_finetune([data], out, init=starter, epochs=10, batch_size=8, progress=False)
    assert result.choice == "starter" and (result.held_out, result.trained_on) == (10, 40)
    assert result.starter_score["mae_x"] < result.finetuned_score["mae_x"]
    assert same_weights(out, starter)
    with open(out, "rb") as f, open(starter, "rb") as g:
        assert f.read() == g.read()  # a byte copy: the file the owner already had
    assert "did not beat the starter" in result.summary
    assert "mean |error x| on the last 10 of 50 frames" in result.summary


@pytest.mark.slow
def test_the_guard_keeps_fine_tuning_where_it_helps(starter, tmp_path):
    # this track's clicks are consistent but mirrored: the starter steers the wrong way, fine-tuning learns it
    data = write_clicks(tmp_path / "clicks", 50, seed=12, label=lambda u, v, k: (SIDE - 1 - u, v))
    out = str(tmp_path / "mine.pth")
    result = guarded_finetune([data], out, init=starter, epochs=10, batch_size=8, progress=False)
    assert result.choice == "finetuned" and result.finetuned_score["mae_x"] < result.starter_score["mae_x"]
    assert not same_weights(out, starter)
    _, meta = load_checkpoint(out)
    assert meta["info"]["guard"]["choice"] == "finetuned" and meta["info"]["guard"]["held_out"] == 10
    assert meta["dataset"]["images"] == 50  # trained again on all the clicks, not the first 40
    held = hold_back(scan_dataset(data).entries)[1]
    assert evaluate_model(out, None, device="cpu", entries=held)["r_x"] > 0.5


def test_a_few_held_back_clicks_are_judged_by_the_error_not_by_r():
    """Why (issue 20, the donkeycar set's first 25 clicks): on the 5 held back the starter had r(x) 0.84 against
    the fine-tuned model's 0.73, and on the 590 clicks after them it scored 0.00 against 0.52. r of 5 clicks
    is noise; the mean |error x| decides, whatever r says."""
    starter = {"count": 5, "r_x": 0.835, "mae_x": 0.10}
    tuned = {"count": 5, "r_x": 0.730, "mae_x": 0.05}
    assert fine_tuning_wins(starter, tuned) == (True, "mae_x")
    assert fine_tuning_wins(tuned, starter) == (False, "mae_x")
    assert fine_tuning_wins(starter, dict(starter)) == (False, "mae_x")  # a tie keeps the starter


def test_frames_are_held_back_by_the_uuid1_time_in_their_names(tmp_path):
    """Upstream's clicks have no index: their uuid1 says when they were taken, whatever the file times say."""
    folder = tmp_path / "clicks"
    folder.mkdir()
    rng = np.random.RandomState(0)
    names = []
    for k in range(10):
        u = uuid.UUID(fields=(k * 10 ** 7, 0, 0x11ed, 0x80, 0, 0x1234), version=1)  # a second apart, in 2023
        names.append("xy_%03d_%03d_%s.jpg" % (10 + k, 20, u) if k % 2 else "%d_%d_%s.jpg" % (10 + k, 20, u))
        cv2.imwrite(str(folder / names[-1]), draw_road(rng, SIDE, SIDE)[0])
        os.utime(str(folder / names[-1]), (2e9 - 100 * k, 2e9 - 100 * k))  # file times run backwards
    entries = scan_dataset(str(folder)).entries
    assert all(e.source == "legacy" for e in entries)
    first, last = hold_back(entries)
    assert [os.path.basename(e.path) for e in first + last] == names
    assert len(last) == 3 and uuid1_unix_s(names[-1]) == capture_time(last[-1])
    assert uuid1_unix_s("12_34_%s.jpg" % uuid.uuid4()) is None


def test_cli_guard_is_the_default_below_200_frames_and_no_guard_turns_it_off(starter, tmp_path, capsys):
    data = write_clicks(tmp_path / "clicks", 12, seed=13)
    out = str(tmp_path / "mine.pth")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", data, "--init", starter, "--out", out, "--epochs", "1", "--no-progress", "--device", "cpu"])
    assert exit_info.value.code == 0
    said = capsys.readouterr().out
    assert "guard: mean |error x| on the last 3 of 12 frames" in said and os.path.isfile(out)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", data, "--init", starter, "--out", out, "--force", "--no-guard", "--epochs", "1",
              "--no-progress", "--device", "cpu"])
    assert exit_info.value.code == 0
    said = capsys.readouterr().out
    assert "guard:" not in said and "started from %s" % starter in said and os.path.isfile(out + ".prev")


def test_cli_guard_refuses_what_it_cannot_judge(starter, tmp_path, capsys):
    data = write_clicks(tmp_path / "clicks", 4, seed=14)
    out = str(tmp_path / "mine.pth")
    for extra, message in ((["--init", starter], "jetracer train: --guard: %s has 4 frame(s): the guard holds back the "
                            "last 3 and needs 2 more to fine-tune on; label more frames, or pass --no-guard" % data),
                           ([], "jetracer train: --guard compares fine-tuning with the model it starts from: add "
                            "--init MODEL")):
        with pytest.raises(SystemExit) as exit_info:
            main(["train", data, "--out", out, "--guard", "--epochs", "1", "--no-progress"] + extra)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.strip() == message and len(err.strip().splitlines()) == 1
        assert not os.path.exists(out)
