"""DDP under torchrun: when one rank dies, the others stop (no hang) and no checkpoint is left half-made."""
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest


def _rank_of(proc: psutil.Process) -> int:
    try:
        return int(proc.environ().get("RANK", "-1"))
    except (psutil.Error, ValueError):
        return -1


def _workers(parent: psutil.Process) -> dict:
    """{rank: process} of torchrun's training processes."""
    found = {}
    for child in parent.children(recursive=True):
        rank = _rank_of(child)
        if rank >= 0 and "python" in os.path.basename(child.exe() if child.is_running() else ""):
            found.setdefault(rank, child)
    return found


@pytest.mark.slow
def test_a_killed_rank_stops_the_other_and_leaves_no_checkpoint(tiny_dataset, tmp_path):
    out = tmp_path / "ddp.pth"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--max-restarts=0",
           "-m", "jetracer", "train", tiny_dataset, "--out", str(out), "--input-size", "32", "--epochs", "200",
           "--patience", "0", "--batch-size", "8", "--device", "cpu", "--workers", "0", "--no-pretrained",
           "--no-progress"]
    log_path = tmp_path / "log.txt"
    with open(str(log_path), "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path))
    try:
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 240
        while b"/200: train loss" not in log_path.read_bytes():  # an epoch ended: both ranks are training
            assert proc.poll() is None, log_path.read_bytes().decode(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "no epoch ended"
            time.sleep(0.2)
        workers = _workers(parent)
        assert sorted(workers) == [0, 1], workers
        workers[1].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        code = proc.wait(timeout=120)
        stopped_s = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log_path.read_bytes().decode(errors="replace")
    assert code != 0, text[-3000:]
    assert not workers[0].is_running() or workers[0].status() == psutil.STATUS_ZOMBIE, "rank 0 still runs"
    assert stopped_s < 60, "the other rank took %.0f s to stop" % stopped_s
    assert not out.exists(), "a killed run must not leave a checkpoint as if it had finished"
    assert b"epoch 200/" not in log_path.read_bytes()
