"""Training never loses work: an existing --out is refused up front (or kept as OUT.prev with --force), the
checkpoint is written only when training finishes, and --resume continues a killed run from OUT.partial."""
import os
import signal
import subprocess
import sys
import time

import cv2
import pytest
import torch

from jetracer.learning import train as train_module
from jetracer.learning.train import TrainError, train
from jetracer.pilot.checkpoint import load_checkpoint
from jetracer.pilot.load import load_pilot

FAST = ["--input-size", "64", "--batch-size", "32", "--device", "cpu", "--workers", "0", "--threads", "1",
        "--no-pretrained", "--no-progress"]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    return env


def _train_cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "jetracer", "train"] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, env=_env(), **kwargs)


def _run(*args):
    proc = _train_cli(*args)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def _one_line(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_an_existing_out_is_refused_before_any_data_is_read(tmp_path):
    out = tmp_path / "model.pth"
    out.write_bytes(b"the good model")
    start = time.time()
    rc, _, err = _run(str(tmp_path / "no-such-dataset"), "--out", str(out))  # the dataset is never looked at
    line = _one_line(err)
    assert rc == 2 and "exists" in line and "--force" in line and "model.pth.prev" in line, line
    assert out.read_bytes() == b"the good model" and sorted(os.listdir(str(tmp_path))) == ["model.pth"]
    assert time.time() - start < 60
    (tmp_path / "model.pth.partial").write_bytes(b"state")
    rc, _, err = _run(str(tmp_path / "no-such-dataset"), "--out", str(out))
    assert rc == 2 and "--resume" in _one_line(err)
    rc, _, err = _run(str(tmp_path / "no-such-dataset"), "--out", str(out), "--force", "--resume")
    assert rc == 2 and "not allowed with argument" in _one_line(err)


def test_a_folder_or_an_unwritable_place_is_refused_before_training(tmp_path):
    rc, _, err = _run(str(tmp_path / "no-such-dataset"), "--out", str(tmp_path))
    assert rc == 2 and "is a folder" in _one_line(err)
    (tmp_path / "afile").write_text("x")
    rc, _, err = _run(str(tmp_path / "no-such-dataset"), "--out", str(tmp_path / "afile" / "model.pth"))
    assert rc == 2 and "cannot write in" in _one_line(err)
    rc, _, err = _run(str(tmp_path / "no-such-dataset"), "--out", str(tmp_path / "m.pth"), "--resume")
    assert rc == 2 and "no resume state" in _one_line(err)


@pytest.mark.parametrize("args,needle", [
    (["--epochs", "0"], "--epochs: expected an integer in [1, 100000]"),
    (["--lr", "nan"], "--lr: expected a finite number"),
    (["--batch-size", "-3"], "--batch-size"),
    (["--threads", "0"], "--threads"),
    (["--input-size", "100000"], "--input-size"),
    (["--val-fraction", "1.5"], "--val-fraction"),
])
def test_bad_numbers_are_one_line_usage_errors(tmp_path, args, needle):
    rc, _, err = _run(str(tmp_path), "--out", str(tmp_path / "m.pth"), *args)
    assert rc == 2 and needle in _one_line(err)


def test_a_missing_dataset_is_a_failure_naming_it(tmp_path):
    rc, _, err = _run(str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.pth"))
    assert rc == 1 and "does not exist" in _one_line(err) and not os.path.exists(str(tmp_path / "m.pth"))


def test_a_killed_run_keeps_the_old_model_and_resumes_to_a_working_one(tiny_dataset, tmp_path):
    out = tmp_path / "model.pth"
    out.write_bytes(b"the good model")
    partial = tmp_path / "model.pth.partial"
    proc = _train_cli(tiny_dataset, "--out", str(out), "--force", "--epochs", "8", *FAST)
    deadline = time.time() + 240
    while not partial.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert partial.exists(), proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL  # killed mid-run, not finished
    assert out.read_bytes() == b"the good model"
    assert not (tmp_path / "model.pth.prev").exists()

    rc, _, err = _run(tiny_dataset, "--out", str(out), "--resume", "--epochs", "8", *(FAST + ["--lr", "0.01"]))
    line = _one_line(err)
    assert rc == 2 and "--lr (default then, 0.01 now)" in line, line
    assert out.read_bytes() == b"the good model"

    rc, stdout, err = _run(tiny_dataset, "--out", str(out), "--resume", "--epochs", "8", *FAST)
    assert rc == 0, err[-3000:]
    assert "resumed from" in stdout and "after epoch" in stdout
    assert "the checkpoint it replaced is kept as %s.prev" % out in stdout
    assert (tmp_path / "model.pth.prev").read_bytes() == b"the good model"
    assert not partial.exists()
    assert not [n for n in os.listdir(str(tmp_path)) if n.endswith(".tmp")]
    _, meta = load_checkpoint(str(out))
    assert meta["train_args"]["epochs"] == 8 and meta["input_size"] == [64, 64]
    pilot = load_pilot(str(out), device="cpu")
    frame = cv2.imread(os.path.join(tiny_dataset, "apex", sorted(os.listdir(os.path.join(tiny_dataset, "apex")))[0]))
    x, y = pilot(frame)
    assert -2 < x < 2 and -2 < y < 2


class _Killed(Exception):
    pass


def _kill_at(epoch):
    def callback(record):
        if record["epoch"] == epoch:
            raise _Killed()
    return callback


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tiny_dataset, tmp_path):
    options = dict(epochs=3, batch_size=32, input_size=32, pretrained=False, progress=False, threads=1, workers=0,
                   device="cpu", seed=3)
    whole = train([tiny_dataset], str(tmp_path / "whole.pth"), **options)
    with pytest.raises(_Killed):
        train([tiny_dataset], str(tmp_path / "cut.pth"), callback=_kill_at(2), **options)
    assert not (tmp_path / "cut.pth").exists() and (tmp_path / "cut.pth.partial").exists()
    with pytest.raises(TrainError, match="interrupted run"):
        train([tiny_dataset], str(tmp_path / "cut.pth"), overwrite=False, **options)
    # as an older jetracer wrote it, before the obstacle weight was an option: that run trained at the default
    state = torch.load(str(tmp_path / "cut.pth.partial"), map_location="cpu", weights_only=False)
    del state["options"]["obstacle_weight"]
    torch.save(state, str(tmp_path / "cut.pth.partial"))
    resumed = train([tiny_dataset], str(tmp_path / "cut.pth"), resume=True, **options)
    assert resumed.epochs_run == whole.epochs_run == 3 and resumed.best_epoch == whole.best_epoch
    assert resumed.resumed_from == 1 and resumed.previous is None and whole.resumed_from is None
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in whole.history]
    a, _ = load_checkpoint(str(tmp_path / "whole.pth"))
    b, _ = load_checkpoint(str(tmp_path / "cut.pth"))
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_the_resume_state_is_written_after_the_first_epoch_then_at_most_every_state_interval(tiny_dataset, tmp_path,
                                                                                              monkeypatch):
    out = tmp_path / "m.pth"
    partial = tmp_path / "m.pth.partial"
    seen = []  # the resume state file (inode, mtime) as each epoch ends, before that epoch writes it

    def look(record):
        st = os.stat(str(partial)) if partial.exists() else None
        seen.append((st.st_ino, st.st_mtime_ns) if st else None)

    options = dict(epochs=8, batch_size=64, input_size=32, pretrained=False, progress=False, threads=1,
                   device="cpu", val_fraction=0.0, test_fraction=0.0, callback=look)
    monkeypatch.setattr(train_module, "STATE_EVERY_S", 3600.0)
    train([tiny_dataset], str(out), **options)
    assert seen[0] is None and seen[1] is not None and len(set(seen[1:])) == 1  # written once, after epoch 1
    assert not partial.exists()  # and gone with the finished checkpoint
    seen[:] = []
    monkeypatch.setattr(train_module, "STATE_EVERY_S", 0.0)
    train([tiny_dataset], str(out), overwrite=True, **options)
    assert seen[0] is None and len(set(seen[1:])) == 7  # rewritten after every epoch
