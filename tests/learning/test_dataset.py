"""Dataset scanning and writing: upstream layout loads, bad files are reported and kept, writes are atomic."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from jetracer.dataset import DatasetWriter, parse_name, scan_dataset, summarize
from jetracer.learning.augment import EvalTransform
from jetracer.learning.road_dataset import RoadDataset


def _upstream_dataset(root, make_tiny_dataset):
    """An upstream dataset (no index.jsonl) plus a truncated JPEG, a bad name, an off-image label and garbage."""
    make_tiny_dataset(root, sessions=1, frames_per_session=6, index=False)
    folder = os.path.join(str(root), "apex")
    good = sorted(os.listdir(folder))[0]
    data = open(os.path.join(folder, good), "rb").read()
    bad = {
        "10_20_truncated.jpg": data[: len(data) // 2],
        "left_turn_3.jpg": data,
        "300_10_offimage.jpg": data,
        "5_5_garbage.jpg": b"this is not a jpeg at all",
    }
    for name, content in bad.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(content)
    return folder, sorted(os.path.join(folder, n) for n in bad)


def test_upstream_dataset_loads_and_reports_bad_files_without_deleting(tmp_path, make_tiny_dataset):
    folder, bad_paths = _upstream_dataset(tmp_path / "A", make_tiny_dataset)
    index = scan_dataset([str(tmp_path / "A")])
    assert len(index.entries) == 6
    assert index.categories == ["apex"]
    reported = {p.path: p.reason for p in index.problems}
    assert sorted(reported) == bad_paths
    assert "truncated" in reported[os.path.join(folder, "10_20_truncated.jpg")]
    assert "<u>_<v>_<id>.jpg" in reported[os.path.join(folder, "left_turn_3.jpg")]
    assert "outside the 64x64 image" in reported[os.path.join(folder, "300_10_offimage.jpg")]
    assert "not a JPEG" in reported[os.path.join(folder, "5_5_garbage.jpg")]
    assert all(os.path.exists(p) for p in bad_paths)
    for e in index.entries:
        assert (e.width, e.height) == (64, 64)
        assert e.session.startswith("legacy:A/apex@")
        assert e.source == "legacy"
        assert (e.u, e.v) == parse_name(e.path)


def test_normalised_label_follows_upstream_formula(tmp_path):
    writer = DatasetWriter(str(tmp_path), "apex")
    path = writer.save(np.zeros((60, 80, 3), np.uint8), 60, 15)
    (entry,) = scan_dataset(str(tmp_path)).entries
    assert entry.path == path
    assert entry.xy == pytest.approx(((60 - 40) / 40.0, (15 - 30) / 30.0))


def test_writer_is_atomic_names_file_by_pixels_and_appends_index(tmp_path):
    writer = DatasetWriter(str(tmp_path), "apex", session="drive-1", source="camera")
    frame = np.full((48, 64, 3), 128, np.uint8)
    paths = [writer.save(frame, 10, 20), writer.save(frame, 63.4, 0, speed_mps=1.5)]
    folder = str(tmp_path / "apex")
    assert sorted(os.listdir(folder)) == sorted([os.path.basename(p) for p in paths] + ["index.jsonl"])
    assert os.path.basename(paths[0]).startswith("10_20_") and os.path.basename(paths[1]).startswith("63_0_")
    lines = [json.loads(line) for line in open(os.path.join(folder, "index.jsonl"))]
    assert [ln["file"] for ln in lines] == [os.path.basename(p) for p in paths]
    assert all(ln["session"] == "drive-1" and (ln["width"], ln["height"]) == (64, 48) for ln in lines)
    assert lines[1]["speed_mps"] == 1.5
    assert cv2.imread(paths[0]).shape == (48, 64, 3)
    with pytest.raises(ValueError, match="outside the 64x48 frame"):
        writer.save(frame, 64, 10)
    assert len(os.listdir(folder)) == 3


def test_writer_default_session_is_unique_per_writer(tmp_path):
    a, b = DatasetWriter(str(tmp_path), "apex"), DatasetWriter(str(tmp_path), "apex")
    assert a.session != b.session
    a.save(np.zeros((32, 32, 3), np.uint8), 1, 1)
    b.save(np.zeros((32, 32, 3), np.uint8), 2, 2)
    assert scan_dataset(str(tmp_path)).sessions() == sorted([a.session, b.session])


def test_half_written_index_line_is_reported_and_images_still_load(tiny_dataset_copy):
    index_path = os.path.join(tiny_dataset_copy, "apex", "index.jsonl")
    with open(index_path, "a") as f:
        f.write('{"file": "1_2_x.jpg", "sess')
    index = scan_dataset(tiny_dataset_copy)
    assert len(index.entries) == 64
    assert len(index.problems) == 1 and index.problems[0].path.startswith(index_path + ":")
    assert len(index.sessions()) == 8


def test_flat_jetbot_folder_is_category_apex(tmp_path):
    cv2.imwrite(str(tmp_path / "3_4_abc.jpg"), np.zeros((16, 16, 3), np.uint8))
    index = scan_dataset(str(tmp_path))
    assert index.categories == ["apex"] and len(index.entries) == 1


def test_jetbot_dataset_xy_loads_like_jetracers(tmp_path):
    """JetBot's road_following data_collection: a flat dataset_xy folder of xy_%03d_%03d_<uuid>.jpg (pixels)."""
    folder = tmp_path / "dataset_xy"
    folder.mkdir()
    frame = np.zeros((224, 224, 3), np.uint8)
    for u, v in ((112, 56), (7, 200), (223, 0)):
        cv2.imwrite(str(folder / ("xy_%03d_%03d_%s.jpg" % (u, v, "9f3c2a1e-5b7d-11ea-8c4a-00044bf6b1c2"))), frame)
    index = scan_dataset(str(folder))
    assert index.categories == ["apex"] and not index.problems
    assert sorted((e.u, e.v) for e in index.entries) == [(7, 200), (112, 56), (223, 0)]
    by_u = {e.u: e for e in index.entries}
    assert by_u[112].xy == (0.0, -0.5)  # JetBot's get_x/get_y: (u - w/2)/(w/2), (v - h/2)/(h/2)
    assert by_u[7].xy == pytest.approx(((7 - 112) / 112.0, (200 - 112) / 112.0))
    (folder / "xy_12_x_bad.jpg").write_bytes(open(str(folder / os.listdir(str(folder))[0]), "rb").read())
    assert any("xy_<u>_<v>_<id>.jpg" in p.reason for p in scan_dataset(str(folder)).problems)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_dataset(str(tmp_path / "nope"))


def test_torch_dataset_yields_input_sized_bgr_frames_and_labels(tiny_dataset):
    index = scan_dataset(tiny_dataset)
    ds = RoadDataset(index.entries, index.categories, EvalTransform((32, 48)))
    frame, category, xy = ds[3]
    assert tuple(frame.shape) == (32, 48, 3) and str(frame.dtype) == "torch.uint8"
    assert category == 0
    assert xy.tolist() == pytest.approx(index.entries[3].xy, abs=1e-6)


def test_summary_counts_and_histogram(tiny_dataset):
    summary = summarize(scan_dataset(tiny_dataset), bins=4)
    assert summary["images"] == 64 and summary["categories"] == {"apex": 64}
    assert len(summary["sessions"]) == 8 and set(summary["sessions"].values()) == {8}
    assert sum(summary["histogram"]["x"]) == 64 and len(summary["histogram"]["x"]) == 4
    # the synthetic far point is in the top half: every y label is negative
    assert summary["histogram"]["y"][2:] == [0, 0]


def test_cli_dataset_info_json(tmp_path, make_tiny_dataset):
    folder, bad_paths = _upstream_dataset(tmp_path / "A", make_tiny_dataset)
    out = subprocess.check_output([sys.executable, "-m", "jetracer", "dataset", "info", str(tmp_path / "A"), "--json"])
    info = json.loads(out.decode())
    assert info["images"] == 6 and info["categories"] == {"apex": 6}
    assert sorted(p["path"] for p in info["problems"]) == bad_paths
    text = subprocess.check_output([sys.executable, "-m", "jetracer", "dataset", "info", str(tmp_path / "A")]).decode()
    assert "6 labelled images" in text and "left_turn_3.jpg" in text
