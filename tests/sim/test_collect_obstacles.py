"""``jetracer sim collect --obstacles N [--layout jetbot]``: obstacle labels from geometry, in the index or in
upstream JetBot's blocked/ and free/ folders."""
import json
import os
import subprocess
import sys

from jetracer.apps.collect import nominal_speed_mps
from jetracer.dataset import scan_dataset
from jetracer.profiles import load_profile


def _collect(tmp_path, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1", XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    env.pop("JETRACER_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "jetracer", "sim", "collect", "--track", "oval", "--size", "64", "48",
                           "--seed", "3"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300, env=env)


def _index_lines(folder):
    with open(os.path.join(folder, "index.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_the_label_speed_is_the_speed_of_the_default_auto_throttle():
    # latrax: throttle 0.2 x gain 0.8 = output 0.16, x 4.0 m/s at output 1
    assert abs(nominal_speed_mps(load_profile("latrax")) - 0.64) < 1e-9
    assert nominal_speed_mps(load_profile("latrax"), throttle=0.05) == 0.0  # inside the dead band: standing


def test_jetbot_layout_sorts_frames_by_the_geometric_label(tmp_path):
    out = tmp_path / "collision"
    proc = _collect(tmp_path, "--frames", "150", "--obstacles", "8", "--layout", "jetbot", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["blocked"] > 0 and summary["free"] > 0 and summary["blocked"] + summary["free"] == 150
    assert summary["label_speed_mps"] == 0.64
    blocked, free = _index_lines(str(out / "blocked")), _index_lines(str(out / "free"))
    assert (len(blocked), len(free)) == (summary["blocked"], summary["free"])
    assert sorted(os.listdir(str(out))) == ["blocked", "free"]
    for line in blocked:  # in the swept path within the stopping distance at 0.64 m/s (0.40 m)
        assert line["blocked"] is True and line["distance_m"] <= line["stop_distance_m"] == 0.401
    for line in free:
        assert line["blocked"] is False and (line["distance_m"] is None or line["distance_m"] > line["stop_distance_m"])
    index = scan_dataset(str(out), obstacles=True)
    assert len(index.entries) == 150 and not index.problems and not any(e.has_road for e in index.entries)


def test_road_layout_keeps_both_labels_and_the_same_seed_writes_the_same_files(tmp_path):
    runs = []
    for name in ("a", "b"):
        proc = _collect(tmp_path, "--frames", "60", "--obstacles", "8", "--out", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
        runs.append(sorted(os.listdir(str(tmp_path / name / "apex"))))
    assert runs[0] == runs[1]
    lines = _index_lines(str(tmp_path / "a" / "apex"))
    assert len(lines) == 60 and all(isinstance(line["blocked"], bool) and "distance_m" in line for line in lines)
    entries = scan_dataset(str(tmp_path / "a")).entries
    assert len(entries) == 60 and all(e.has_road and e.has_obstacle for e in entries)


def test_jetbot_layout_without_obstacles_is_one_line(tmp_path):
    proc = _collect(tmp_path, "--frames", "5", "--layout", "jetbot", "--out", str(tmp_path / "x"))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "--obstacles" in lines[0]
    assert not os.path.exists(str(tmp_path / "x" / "blocked"))
