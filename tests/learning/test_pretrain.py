"""``jetracer pretrain``: collect in the simulator, train, drive unseen tracks, report; collection in processes."""
import json
import os
import subprocess
import sys

import pytest

from jetracer.apps.pretrain import collect_dataset
from jetracer.pilot.checkpoint import load_checkpoint


def _files_and_sessions(root):
    folder = os.path.join(root, "apex")
    with open(os.path.join(folder, "index.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    names = sorted(n for n in os.listdir(folder) if n.endswith(".jpg"))
    return names, [(r["file"], r["session"]) for r in lines]


@pytest.mark.slow
def test_collection_does_not_depend_on_the_number_of_processes(tmp_path):
    one = collect_dataset(str(tmp_path / "one"), 30, [1000, 1001, 1002], seed=3, processes=1, size=64)
    two = collect_dataset(str(tmp_path / "two"), 30, [1000, 1001, 1002], seed=3, processes=2, size=64)
    assert one["frames"] == two["frames"] == 30 and one["tracks"] == 3
    names, index = _files_and_sessions(str(tmp_path / "one"))
    assert len(names) == 30 and sorted(f for f, _ in index) == names  # every image has its index line
    assert (names, index) == _files_and_sessions(str(tmp_path / "two"))
    assert not os.path.exists(str(tmp_path / "one" / ".parts"))
    with pytest.raises(ValueError, match="already holds a dataset"):
        collect_dataset(str(tmp_path / "one"), 10, [1000])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "IMPORTANT.txt").write_text("not the simulator's")
    with pytest.raises(ValueError, match="already holds a dataset or other files"):
        collect_dataset(str(mine), 10, [1000])  # pretrain would train on it and remove it at the end
    assert (mine / "IMPORTANT.txt").read_text() == "not the simulator's"


@pytest.mark.slow
def test_cli_pretrain_quick_writes_a_starter_that_fine_tuning_takes(tmp_path, tiny_dataset):
    out = str(tmp_path / "starter.pth")
    proc = subprocess.run([sys.executable, "-m", "jetracer", "pretrain", "--out", out, "--preset", "quick",
                           "--frames", "90", "--epochs", "1", "--input-size", "32", "--device", "cpu", "--threads", "1",
                           "--eval", tiny_dataset], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=900, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stdout[-3000:]
    log = proc.stdout
    assert "trained: resnet18 at 32x32, 1 epochs" in log and "90 simulator frames over 12 tracks" in log
    assert "closed loop on twisty:" in log and "closed loop on seed-7:" in log and "cross-track RMS" in log
    assert "on %s: 64 frames, r(x)" % tiny_dataset in log
    _, meta = load_checkpoint(out)
    assert meta["input_size"] == [32, 32] and meta["info"]["starter"]["frames"] == 90
    with open(str(tmp_path / "starter_pretrain.json")) as f:
        report = json.load(f)
    assert set(report["closed_loop"]) == {"twisty", "seed-7", "seed-8"} and report["test"]["images"] > 0
    assert report["eval"]["count"] == 64 and not os.path.exists(str(tmp_path / "starter_data"))
    # a wrong --eval folder is refused before any collection
    bad = subprocess.run([sys.executable, "-m", "jetracer", "pretrain", "--out", str(tmp_path / "b.pth"), "--preset",
                          "quick", "--eval", str(tmp_path / "nowhere")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=300)
    assert bad.returncode == 1 and "does not exist" in bad.stderr and not os.path.exists(str(tmp_path / "b_data"))


@pytest.mark.slow
def test_pretrain_json_is_the_report_alone_with_blocked_and_free_frames_beside_the_road(tmp_path):
    """--json: stdout parses (torchvision's download attempts go to stderr); --arch picks the backbone; the obstacle
    frames come from tracks of their own in JetBot's layout, and the starter gets the obstacle output."""
    out = str(tmp_path / "starter.pth")
    proc = subprocess.run([sys.executable, "-m", "jetracer", "pretrain", "--out", out, "--preset", "quick",
                           "--frames", "400", "--epochs", "1", "--input-size", "32", "--device", "cpu", "--threads", "1",
                           "--arch", "mobilenet_v3_small", "--obstacle-weight", "0.1", "--randconv", "0.5", "--keep-data",
                           "--json"],
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=900,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["arch"] == "mobilenet_v3_small" and report["frames"] == 400
    frames = report["obstacle_frames"]
    assert frames["blocked"] > 0 and frames["free"] > 0
    data = report["data"]
    for label in ("blocked", "free"):
        assert len([n for n in os.listdir(os.path.join(data, label)) if n.endswith(".jpg")]) == frames[label]
    _, meta = load_checkpoint(out)
    assert meta["arch"] == "mobilenet_v3_small" and meta["obstacle_outputs"] == ["blocked_logit", "distance_m"]
    assert report["obstacle_weight"] == 0.1 and meta["train_args"]["obstacle_weight"] == 0.1
    assert report["randconv"] == 0.5 and meta["train_args"]["randconv"] == 0.5
    assert meta["info"]["starter"]["randconv"] == 0.5
