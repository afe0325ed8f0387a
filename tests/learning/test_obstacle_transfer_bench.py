"""``jetracer bench obstacle-transfer``: the obstacle output on a blocked/free set, zero-shot and fine-tuned on K + K.

The starter is the hand-built model of test_obstacle_output (its blocked probability follows the frame's red
level, 0.5 at red 115), so on frames whose red level tells blocked from free its zero-shot AUROC is exactly 1.
"""
import json
import os
import subprocess
import sys

from test_obstacle_output import red_blocked_model, write_obstacle_frames

from jetracer.pilot.checkpoint import save_checkpoint
from jetracer.pilot.model import build_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bench(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "jetracer", "bench", "obstacle-transfer"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env, timeout=600)


def test_a_starter_that_tells_red_from_grey_scores_auroc_1_zero_shot_and_on_every_split(tmp_path):
    starter = red_blocked_model(tmp_path / "starter.pth")
    blocked = [150 + 5 * i for i in range(14)]   # all above red 115: p > 0.5
    free = [20 + 5 * i for i in range(14)]       # all below: p < 0.5
    data = write_obstacle_frames(tmp_path / "set", blocked, free)
    proc = bench("--starter", starter, "--real", str(tmp_path), "--set", data, "-k", "3", "--seeds", "1",
                 "--epochs", "1", "--threads", "1", "--device", "cpu", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["frames"] == {"blocked": 14, "free": 14}
    zero = report["zero_shot"]
    assert (zero["n"], zero["auroc"], zero["accuracy"], zero["recall"]) == (28, 1.0, 1.0, 1.0)
    assert set(report["splits"]) == {"time", "random-0"}
    for split in report["splits"].values():
        assert (split["train"], split["test"]) == (6, 22)
        assert split["starter"]["n"] == 22 and split["starter"]["auroc"] == 1.0
        assert split["finetuned"]["n"] == 22 and split["finetuned"]["auroc"] is not None
    assert report["road_sets"] == [] and report["starter_road_r_x"] == {}


def test_a_starter_without_an_obstacle_output_and_a_set_too_small_are_refused_in_one_line(tmp_path):
    road_only = save_checkpoint(str(tmp_path / "road.pth"), build_model("resnet18", 2, pretrained=False), "resnet18",
                                32, ["apex"])
    data = write_obstacle_frames(tmp_path / "set", [200] * 12, [40] * 12)
    proc = bench("--starter", road_only, "--real", str(tmp_path), "--set", data, "-k", "2", "--device", "cpu")
    assert proc.returncode == 2 and "has no obstacle output" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    starter = red_blocked_model(tmp_path / "starter.pth")
    proc = bench("--starter", starter, "--real", str(tmp_path), "--set", data, "-k", "5", "--device", "cpu")
    assert proc.returncode == 2 and "12 blocked and 12 free frames; K=5 needs 15 of each" in proc.stderr, proc.stderr
