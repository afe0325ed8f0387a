"""``jetracer pretrain``: collect in the simulator, train, drive unseen tracks, report; collection in processes."""
import json
import os
import subprocess
import sys
import tempfile

import pytest

from jetracer.apps.bench import transfer as transfer_bench
from jetracer.apps.pretrain import collect_dataset
from jetracer.cli.main import main
from jetracer.dataset import scan_dataset
from jetracer.learning.train import train
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
    assert set(report["closed_loop"]) == {"twisty", "seed-7"} and report["test"]["images"] > 0
    assert report["eval"]["count"] == 64 and not os.path.exists(str(tmp_path / "starter_data"))
    # a wrong --eval folder is refused before any collection
    bad = subprocess.run([sys.executable, "-m", "jetracer", "pretrain", "--out", str(tmp_path / "b.pth"), "--preset",
                          "quick", "--eval", str(tmp_path / "nowhere")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=300)
    assert bad.returncode == 1 and "does not exist" in bad.stderr and not os.path.exists(str(tmp_path / "b_data"))


# -- the transfer bench on stand-ins for the real sets (tests never read /work/shared) -------------------



def _fake_real_sets(root, make_tiny_dataset, n=40):
    """A ``jetracer_nhanhqq``-like folder (clicked labels in labels.csv and in uuid1 file names) and a
    ``donkey_tmdpi01car``-like one (a CSV of steering angles, -1 left .. +1 right) of synthetic road frames."""
    made = make_tiny_dataset(os.path.join(root, "made-jet"), sessions=1, frames_per_session=n, seed=1)
    jet = os.path.join(root, "jetracer_nhanhqq")
    os.makedirs(jet)
    with open(os.path.join(jet, "labels.csv"), "w") as f:
        f.write("file,x,y\n")
        for e in scan_dataset(made).entries:
            os.rename(e.path, os.path.join(jet, os.path.basename(e.path)))
            f.write("%s,%.6f,%.6f\n" % ((os.path.basename(e.path),) + e.xy))
    made = make_tiny_dataset(os.path.join(root, "made-donkey"), sessions=1, frames_per_session=n, size=(60, 80), seed=2)
    donkey = os.path.join(root, "donkey_tmdpi01car")
    os.makedirs(os.path.join(donkey, "images"))
    angles = []
    with open(os.path.join(donkey, "labels.csv"), "w") as f:
        f.write("file,angle,throttle,index,session_id,timestamp_ms\n")
        for k, e in enumerate(sorted(scan_dataset(made).entries, key=lambda e: e.time)):
            angle = round(e.xy[0], 1)
            angles.append(angle)
            name = "%d_cam_image_array_.jpg" % (k * 23)
            os.rename(e.path, os.path.join(donkey, "images", name))
            f.write("%s,%.1f,0.4,%d,s0,%d\n" % (name, angle, k * 23, 1000 * k))
    return root, angles


def test_donkey_angles_become_an_upstream_dataset_of_links(tmp_path, make_tiny_dataset):
    real, angles = _fake_real_sets(str(tmp_path / "real"), make_tiny_dataset, n=12)
    frames = transfer_bench.read_donkey_set(os.path.join(real, "donkey_tmdpi01car"))
    assert [f.order for f in frames] == [23.0 * k for k in range(12)]  # in record order
    root = transfer_bench.write_links(frames, str(tmp_path / "links"))
    entries = sorted(scan_dataset(root).entries, key=lambda e: e.time)
    assert [round(e.xy[0], 3) for e in entries] == [round(a, 3) for a in angles]  # x = angle: 80 px wide, exact
    assert all(e.xy[1] == 0.0 for e in entries)
    assert all(os.path.islink(e.path) and os.path.realpath(e.path).startswith(real) for e in entries)  # no copies


def test_bench_reports_zero_shot_and_fine_tuned_against_alone(tmp_path, tiny_dataset, make_tiny_dataset, monkeypatch):
    real, _ = _fake_real_sets(str(tmp_path / "real"), make_tiny_dataset, n=40)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    starter = str(tmp_path / "starter.pth")
    train([tiny_dataset], starter, epochs=1, input_size=32, pretrained=False, progress=False)
    lines = []
    report = transfer_bench.run_bench(real, starter, ks=[10, 400], seeds=1, epochs=1, device="cpu",
                                      say=lines.append)
    for name in ("jetracer_nhanhqq", "donkey_tmdpi01car"):
        entry = report["sets"][name]
        assert (entry["frames"], entry["eval_frames"], entry["pool_frames"]) == (40, 12, 28)
        assert entry["zero_shot"]["count"] == 12 and entry["zero_shot_all_frames"]["count"] == 40
        assert set(entry["k"]) == {"10"} and set(entry["k"]["10"]) == {"finetune", "alone"}
        assert entry["k"]["10"]["finetune"]["runs"][0]["count"] == 12  # evaluated on the held-out frames only
    assert any("K=400: skipped, only 28 frames" in ln for ln in lines)
    assert report["alone_start"].startswith("random init") and "zero-shot" in transfer_bench.format_report(report)
    assert not [p for p in os.listdir(str(tmp_path / "tmp")) if p.startswith("jetracer-transfer-")]  # links, models gone


def test_bench_says_when_the_real_frames_are_absent(tmp_path, capsys):
    for verb in (["bench", "transfer"], ["transfer-bench"]):
        with pytest.raises(SystemExit) as exit_info:
            main(verb + ["--real", str(tmp_path / "nowhere"), "--starter", "x.pth"])
        assert exit_info.value.code == 2
        assert "real frames not found at %s" % (tmp_path / "nowhere") in capsys.readouterr().err
