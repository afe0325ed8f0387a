"""`jetracer sim collect` killed mid-run, then run again with the same arguments: its temporary files are gone,
the index has one line per image on disk, and the dataset is the one an uninterrupted run writes."""
import json
import os
import signal
import subprocess
import sys
import time

from jetracer.dataset import scan_dataset

ARGS = ["--frames", "400", "--size", "64", "64", "--track", "oval"]


def _env(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    env.pop("JETRACER_CONFIG", None)
    return env


def _collect(out, env, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "jetracer", "sim", "collect", "--out", str(out)] + ARGS, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, **kwargs)


def _lines(folder):
    path = os.path.join(str(folder), "index.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().splitlines()


def test_a_killed_collection_resumes_without_duplicates_or_leftovers(tmp_path):
    env = _env(tmp_path)
    folder = tmp_path / "killed" / "apex"
    proc = _collect(tmp_path / "killed", env)
    deadline = time.time() + 120
    while len(_lines(folder)) < 60 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the collection finished before it could be killed"
    assert 60 <= len(_lines(folder)) < 400
    # what a kill can leave: a temporary file of the frame being written, a line cut short
    (folder / ".1_2_x.jpg.k1ll3d.tmp").write_bytes(b"\xff\xd8half a frame")
    with open(str(folder / "index.jsonl"), "a") as f:
        f.write('{"file": "3_4_cut')

    again = _collect(tmp_path / "killed", env)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["frames"] == 400 and summary["written"] + summary["kept"] == 400 and summary["kept"] >= 59

    records = [json.loads(line) for line in _lines(folder)]
    names = [r["file"] for r in records]
    on_disk = sorted(n for n in os.listdir(str(folder)) if n.endswith(".jpg"))
    assert len(names) == len(set(names)) == 400
    assert sorted(names) == on_disk
    assert not [n for n in os.listdir(str(folder)) if n.endswith(".tmp")]
    index = scan_dataset(str(tmp_path / "killed"))
    assert len(index.entries) == 400 and index.problems == []

    whole = _collect(tmp_path / "whole", env)
    whole.communicate(timeout=300)
    assert whole.returncode == 0
    assert sorted(os.listdir(str(tmp_path / "whole" / "apex"))) == sorted(os.listdir(str(folder)))
    by_file = dict((json.loads(line)["file"], json.loads(line)) for line in _lines(tmp_path / "whole" / "apex"))
    assert all(by_file[r["file"]]["session"] == r["session"] and by_file[r["file"]]["frame"] == r["frame"]
               for r in records)
