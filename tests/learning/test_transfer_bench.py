"""``jetracer bench transfer`` on stand-ins for the real sets (tests never read /work/shared), and ``jetracer
bench backbones``."""
import json
import os
import tempfile
import uuid

import pytest

from jetracer.apps.bench import backbones
from jetracer.apps.bench import transfer as transfer_bench
from jetracer.cli.main import main
from jetracer.dataset import scan_dataset
from jetracer.learning.train import train


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
    frames = transfer_bench.read_set(os.path.join(real, "donkey_tmdpi01car"))
    assert [f.order for f in frames] == [23.0 * k for k in range(12)]  # in record order
    root = transfer_bench.write_links(frames, str(tmp_path / "links"))
    entries = sorted(scan_dataset(root).entries, key=lambda e: e.time)
    assert [round(e.xy[0], 3) for e in entries] == [round(a, 3) for a in angles]  # x = angle: 80 px wide, exact
    assert all(e.xy[1] == 0.0 for e in entries)
    assert all(os.path.islink(e.path) and os.path.realpath(e.path).startswith(real) for e in entries)  # no copies


def test_jetbot_clicks_are_read_in_the_order_of_the_uuid1_in_their_names(tmp_path, make_tiny_dataset):
    """JetBot names its clicks ``xy_<u>_<v>_<uuid1>.jpg``: the time order is the uuid1's, not the CSV's rows."""
    made = make_tiny_dataset(str(tmp_path / "made"), sessions=1, frames_per_session=6, seed=3)
    folder = tmp_path / "fabianschenker_jetbot"
    folder.mkdir()
    rows = []
    for k, e in enumerate(scan_dataset(made).entries):
        u = uuid.UUID(fields=((5 - k) * 10 ** 7, 0, 0x11ed, 0x80, 0, 0x1234), version=1)  # the last row is the first
        name = "xy_%03d_%03d_%s.jpg" % (e.u, e.v, u)
        os.rename(e.path, str(folder / name))
        rows.append("%s,%.6f,%.6f" % ((name,) + e.xy))
    (folder / "labels.csv").write_text("file,x,y\n" + "\n".join(rows) + "\n")
    frames = transfer_bench.read_set(str(folder))
    assert [os.path.basename(f.path) for f in frames] == [r.split(",")[0] for r in reversed(rows)]


def test_the_time_split_trains_on_the_first_k_frames():
    assert transfer_bench._draws(40, 10, "time", 3) == [(list(range(10)), list(range(10, 40)))]
    draws = transfer_bench._draws(40, 10, "random", 2)
    assert len(draws) == 2 and draws[0][0] != draws[1][0]
    for train_idx, test_idx in draws:
        assert len(train_idx) == 10 and sorted(train_idx + test_idx) == list(range(40))


@pytest.mark.slow
def test_bench_reports_zero_shot_k_shot_by_time_and_at_random_and_the_laps(tmp_path, tiny_dataset, make_tiny_dataset,
                                                                          monkeypatch):
    real, _ = _fake_real_sets(str(tmp_path / "real"), make_tiny_dataset, n=40)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    starter = str(tmp_path / "starter.pth")
    train([tiny_dataset], starter, epochs=1, input_size=32, pretrained=False, progress=False)
    lines = []
    report = transfer_bench.run_bench(real, starter, ks=[10, 400], seeds=1, epochs=1, device="cpu", sim_laps=1,
                                      say=lines.append)
    assert report["missing"] == ["fabianschenker_jetbot"]
    assert any("fabianschenker_jetbot: not under %s" % real in ln for ln in lines)
    for name in ("jetracer_nhanhqq", "donkey_tmdpi01car"):
        entry = report["sets"][name]
        assert entry["frames"] == 40 and entry["zero_shot"]["count"] == 40  # zero-shot on every frame
        assert entry["labels"]["left"] + entry["labels"]["centre"] + entry["labels"]["right"] == 40
        for split in ("time", "random"):
            assert set(entry[split]) == {"10"}
            row = entry[split]["10"]
            assert row["test_frames"] == 30 and row["draws"] == 1
            assert set(row["runs"][0]) == {"zero_shot", "finetune", "guard", "alone"}
            assert all(row["runs"][0][a]["count"] == 30 for a in row["runs"][0])  # scored on the 30 others only
            assert row["runs"][0]["guard"]["choice"] in ("finetuned", "starter")
    assert any("K=400: skipped, 40 frames leave fewer than 20 to test on" in ln for ln in lines)
    assert set(report["sim"]["tracks"]) == {"twisty", "seed-7", "seed-8"}
    assert all(r["end_reason"] in ("laps", "lost", "max_seconds") for r in report["sim"]["tracks"].values())
    assert report["alone_start"].startswith("random init")
    table = transfer_bench.format_report(report)
    assert "time: first 10" in table and "random 10 (median 1)" in table and "simulator, randomised worlds" in table
    assert "fabianschenker_jetbot: not present" in table
    assert not [p for p in os.listdir(str(tmp_path / "tmp")) if p.startswith("jetracer-")]  # links, models gone


def test_zero_shot_only_scores_the_starter_on_every_frame_and_feeds_the_backbone_table(tmp_path, tiny_dataset,
                                                                                      make_tiny_dataset, capsys):
    real, _ = _fake_real_sets(str(tmp_path / "real"), make_tiny_dataset, n=24)
    starter = str(tmp_path / "starter.pth")
    train([tiny_dataset], starter, epochs=1, input_size=32, pretrained=False, progress=False)
    argv = ["transfer-bench", "--real", real, "--starter", starter, "--device", "cpu", "--no-sim", "--zero-shot"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv + ["--json"])
    assert exit_info.value.code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ks"] == [] and report["arms"] == []
    for name in ("jetracer_nhanhqq", "donkey_tmdpi01car"):
        entry = report["sets"][name]
        assert entry["zero_shot"]["count"] == 24 and -1 <= entry["zero_shot"]["r_x"] <= 1
        assert not any(entry[split] for split in report["splits"])  # nothing fine-tuned
    path = tmp_path / "zero.json"
    path.write_text(json.dumps(report))
    table = backbones.run_bench(only=[("resnet18", 32)], runs=1, warmup=0, results=[str(path)])
    row = [r for r in table["rows"] if r["input"] == 32][0]
    expected = sum(report["sets"][n]["zero_shot"]["r_x"] for n in report["sets"]) / 2
    assert row["real_r_mean"] == pytest.approx(expected, abs=1e-4) and table["default"]["input"] == 32
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    text = capsys.readouterr().out
    assert exit_info.value.code == 0 and "zero-shot on all: r(x)" in text and "r(x) on the rest" not in text
    for extra, name in ((["--ks", "10"], "--ks"), (["--mix-data", str(tmp_path)], "--mix-data")):
        with pytest.raises(SystemExit) as exit_info:
            main(argv + extra)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and "--zero-shot trains nothing, so %s has nothing to do" % name in err


def test_a_set_that_turns_one_way_only_is_said_in_the_table():
    """A loop driven one way round (the JetRacer set: 91 of 92 clicks left of -0.2): its r(x) grades how sharply."""
    frames = [transfer_bench.RealFrame("f%d.jpg" % k, x, 0.0, 224, 224, k) for k, x in enumerate([-0.9, -0.7, -0.5, -0.3] * 5)]
    spread = transfer_bench.label_spread(frames, 0.2)
    assert spread == {"mean_x": -0.6, "sd_x": pytest.approx(0.2236, abs=1e-4), "left": 20, "centre": 0, "right": 0,
                      "one_sided": True}
    both = transfer_bench.label_spread(frames + [transfer_bench.RealFrame("g.jpg", 0.5, 0, 224, 224, 99)] * 3, 0.2)
    assert (both["left"], both["right"], both["one_sided"]) == (20, 3, False)  # 20 of 23 is under 90 %
    zero = {"r_x": 0.1, "sign_agreement_x": 0.95, "sign_count_x": 20, "mae_x": 0.2, "count": 20}
    report = {"starter": "s.pth", "starter_meta": {"arch": "resnet18", "input_size": [224, 224]}, "seconds": 1.0,
              "device": "cpu", "arms": [], "ks": [], "splits": ["time"], "missing": [],
              "sets": {"loop": {"frames": 20, "labels": spread, "zero_shot": zero}}}
    report["targets"] = transfer_bench.targets_report(report)
    table = transfer_bench.format_report(report)
    assert "labels x -0.60 +- 0.22, 20 left, 0 centre, 0 right: one way round, so r(x) grades how sharply" in table


def test_bench_says_when_the_real_frames_are_absent(tmp_path, capsys):
    for verb in (["bench", "transfer"], ["transfer-bench"]):
        with pytest.raises(SystemExit) as exit_info:
            main(verb + ["--real", str(tmp_path / "nowhere"), "--starter", "x.pth"])
        assert exit_info.value.code == 2
        assert "real frames not found at %s" % (tmp_path / "nowhere") in capsys.readouterr().err


# -- the backbone table ----------------------------------------------------------------------------------

def _transfer_json(path, arch, size, rs):
    report = {"starter_meta": {"arch": arch, "input_size": [size, size]}, "sim": None,
              "sets": {n: {"zero_shot": {"r_x": r}, "time": {"25": {"finetune": {"r_x": r + 0.2}}}}
                       for n, r in rs.items()}}
    with open(str(path), "w") as f:
        json.dump(report, f)
    return str(path)


def test_backbone_table_counts_flops_times_them_and_picks_the_cheapest_within_002_of_the_best(tmp_path, capsys):
    r18 = _transfer_json(tmp_path / "r18.json", "resnet18", 224, {"a": 0.50, "b": 0.50})
    small = _transfer_json(tmp_path / "small.json", "mobilenet_v3_small", 64, {"a": 0.47, "b": 0.51})
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "backbones", "--only", "mobilenet_v3_small@64", "--runs", "2", "--warmup", "0", "--json",
              "--results", r18, small])
    assert exit_info.value.code == 0
    report = json.loads(capsys.readouterr().out)
    ref, small_row = report["rows"]
    assert (ref["arch"], ref["input"], small_row["arch"], small_row["input"]) == ("resnet18", 224, "mobilenet_v3_small", 64)
    assert 3.6 < ref["gflop"] < 3.7 and ref["depthwise_gflop"] == 0  # 1.81 G multiply-adds, as published
    assert 0 < small_row["depthwise_gflop"] < small_row["gflop"] < ref["gflop"] / 10
    assert ref["nano_ms_estimate"] == backbones.NANO_R18_224_MS and small_row["nano_ms_estimate"] < ref["nano_ms_estimate"]
    assert ref["cpu_ratio"] == 1.0 and small_row["cpu_ms"] > 0
    assert small_row["real_r_mean"] == 0.49 and small_row["finetune_25_r_mean"] == pytest.approx(0.69)
    assert report["default"]["arch"] == "mobilenet_v3_small"  # 0.49 is within 0.02 of 0.50, at a fraction of the FLOPs
    worse = _transfer_json(tmp_path / "worse.json", "mobilenet_v3_small", 64, {"a": 0.40, "b": 0.50})
    table = backbones.run_bench(only=[("mobilenet_v3_small", 64)], runs=1, warmup=0, results=[r18, worse])
    assert table["default"]["arch"] == "resnet18"
    assert "cheapest within 0.02 of the best mean real r (0.500): resnet18@224" in backbones.format_report(table)


def test_backbone_table_refuses_what_it_cannot_read(tmp_path, capsys):
    (tmp_path / "other.json").write_text("[1, 2]")
    for argv, message in ((["--only", "resnet99@224"], "unknown arch(s) resnet99"),
                          (["--results", str(tmp_path / "other.json")], "is neither a `jetracer bench transfer --json`"),
                          (["--results", str(tmp_path / "none.json")], "none.json: No such file or directory")):
        with pytest.raises(SystemExit) as exit_info:
            main(["bench", "backbones", "--runs", "1"] + argv)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
