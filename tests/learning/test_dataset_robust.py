"""Datasets as users' disks hold them: EXIF-rotated JPEGs, files damaged in the middle, FIFOs, devices, dangling
links, folders named like images, unreadable files, and names that are not UTF-8; and as a careless or hostile
user leaves them: an index that is a FIFO, a link to /dev/zero or huge, a sparse 3 GiB "JPEG", a header
declaring 20000x20000 pixels. Every skipped entry is reported with its reason and the limit; nothing is opened
that could block or read that could fill memory; any name can be trained on and printed."""
import json
import os
import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from jetracer.dataset import DatasetWriter, load_frame, scan_dataset, shown_path, summarize
from jetracer.dataset import jpeg as jpeg_module, scan as scan_module

from conftest import draw_road


def _jpeg_bytes(seed=0, size=64):
    frame, u, v = draw_road(np.random.RandomState(seed), size, size)
    ok, buf = cv2.imencode(".jpg", frame, [int(cv2.IMWRITE_JPEG_QUALITY), 95])
    return buf.tobytes(), u, v


def _reasons(index):
    return dict((os.path.basename(p.path), p.reason) for p in index.problems)


def test_an_exif_rotated_jpeg_is_checked_and_loaded_upright(tmp_path):
    folder = tmp_path / "d" / "apex"
    folder.mkdir(parents=True)
    upright = np.zeros((64, 32, 3), np.uint8)             # displayed: 32 wide, 64 high
    upright[:] = (0, 90, 0)
    upright[46:55, 16:25] = (255, 0, 0)                   # a red target (RGB) around u=20, v=50
    raw = Image.fromarray(upright).transpose(Image.ROTATE_90)   # stored 64 wide, 32 high
    exif = Image.Exif()
    exif[0x0112] = 6                                      # "rotate 90 CW to display"
    raw.save(str(folder / "20_50_rotated.jpg"), "JPEG", quality=95, exif=exif.tobytes())

    index = scan_dataset(str(tmp_path / "d"))
    assert index.problems == [] and len(index.entries) == 1  # v=50 would be outside the stored 64x32
    e = index.entries[0]
    assert (e.width, e.height, e.orientation) == (32, 64, 6)
    assert e.xy == pytest.approx(((20 - 16) / 16.0, (50 - 32) / 32.0))
    frame = load_frame(e.path, e.orientation)
    assert frame.shape == (64, 32, 3)
    b, g, r = frame[50, 20].astype(int)
    assert r > 200 and g < 60 and b < 60                  # the target is where the label says, upright
    assert frame[10, 5, 2] < 60                           # and the field elsewhere


def test_a_jpeg_damaged_in_the_middle_is_skipped_with_a_reason(tmp_path):
    folder = tmp_path / "d" / "apex"
    folder.mkdir(parents=True)
    data, u, v = _jpeg_bytes(1)
    (folder / ("%d_%d_good.jpg" % (u, v))).write_bytes(data)
    mid = len(data) // 2
    zeros = bytearray(data)
    zeros[mid:mid + 120] = b"\0" * 120                    # decodes "fine" to grey garbage without a check
    (folder / ("%d_%d_zeros.jpg" % (u, v))).write_bytes(bytes(zeros))
    cut = data[:mid] + b"\xff\xd9"                        # cut short, the end marker appended
    (folder / ("%d_%d_cut.jpg" % (u, v))).write_bytes(cut)
    index = scan_dataset(str(tmp_path / "d"))
    reasons = _reasons(index)
    assert [os.path.basename(e.path) for e in index.entries] == ["%d_%d_good.jpg" % (u, v)]
    assert "corrupt JPEG data" in reasons["%d_%d_zeros.jpg" % (u, v)]
    assert "corrupt JPEG data" in reasons["%d_%d_cut.jpg" % (u, v)]


def test_a_recorded_frame_damaged_on_disk_fails_its_checksum(tmp_path):
    writer = DatasetWriter(str(tmp_path / "d"), fsync=False)
    frame, u, v = draw_road(np.random.RandomState(2))
    path = writer.save(frame, u, v)
    record = json.loads(open(str(tmp_path / "d" / "apex" / "index.jsonl")).readline())
    assert isinstance(record["crc32"], int)
    assert len(scan_dataset(str(tmp_path / "d")).entries) == 1
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        f.write(b"\x13\x37")
    index = scan_dataset(str(tmp_path / "d"))
    assert index.entries == [] and "crc32" in index.problems[0].reason


def test_without_simplejpeg_pillow_still_catches_broken_data(tmp_path, monkeypatch):
    monkeypatch.setattr(jpeg_module, "_decoder", lambda: None)   # the car's Python 3.6 has no simplejpeg
    folder = tmp_path / "d" / "apex"
    folder.mkdir(parents=True)
    data, u, v = _jpeg_bytes(3)
    bad = bytearray(data)
    bad[len(data) // 2:len(data) // 2 + 100] = b"\xff" * 100
    (folder / ("%d_%d_bad.jpg" % (u, v))).write_bytes(bytes(bad))
    (folder / ("%d_%d_good.jpg" % (u, v))).write_bytes(data)
    index = scan_dataset(str(tmp_path / "d"))
    assert len(index.entries) == 1 and "corrupt JPEG data" in _reasons(index)["%d_%d_bad.jpg" % (u, v)]


@pytest.mark.timeout(120)
def test_every_skipped_entry_is_reported_and_none_is_opened_if_it_could_block(tmp_path):
    root = tmp_path / "d"
    folder = root / "apex"
    folder.mkdir(parents=True)
    data, u, v = _jpeg_bytes(4)
    (folder / ("%d_%d_good.jpg" % (u, v))).write_bytes(data)
    os.mkfifo(str(folder / "1_2_fifo.jpg"))               # opening it would block forever
    os.symlink("/dev/null", str(folder / "1_2_device.jpg"))
    os.symlink(str(tmp_path / "gone.jpg"), str(folder / "1_2_dangling.jpg"))
    (folder / "1_2_folder.jpg").mkdir()
    os.symlink("/proc/self/mem", str(folder / "1_2_unreadable.jpg"))  # a regular file whose read fails (EIO)
    (folder / "frame.jpg").write_bytes(data)
    (folder / "notes.txt").write_text("x")
    (folder / ".DS_Store").write_bytes(b"\0")
    (folder / ".1_2_x.jpg.abcd1234.tmp").write_bytes(b"\xff\xd8")
    (folder / "empty").mkdir()
    (root / "README.txt").write_text("about this dataset")
    index = scan_dataset(str(root))
    reasons = _reasons(index)
    assert len(index.entries) == 1
    assert "FIFO" in reasons["1_2_fifo.jpg"]
    assert "device file" in reasons["1_2_device.jpg"]
    assert "dangling symbolic link" in reasons["1_2_dangling.jpg"] and "gone.jpg" in reasons["1_2_dangling.jpg"]
    assert "folder named like an image" in reasons["1_2_folder.jpg"]
    assert "cannot read the file" in reasons["1_2_unreadable.jpg"]
    assert "file name is not <u>_<v>_<id>.jpg" in reasons["frame.jpg"]
    assert "not a .jpg image" in reasons["notes.txt"]
    assert "hidden file" in reasons[".DS_Store"]
    assert "interrupted write" in reasons[".1_2_x.jpg.abcd1234.tmp"]
    assert "categories are not nested" in reasons["empty"]
    assert "not a category folder" in reasons["README.txt"]
    assert len(index.problems) == 11

    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "jetracer", "dataset", "info", str(root)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "skipped (11; files left untouched):" in proc.stdout
    assert "%s: a FIFO (named pipe)" % (folder / "1_2_fifo.jpg") in proc.stdout


def test_names_that_are_not_utf8_are_trained_on_and_printed(tmp_path):
    from jetracer.learning.train import train
    root_b = os.path.join(os.fsencode(str(tmp_path)), b"caf\xe9")
    folder_b = os.path.join(root_b, b"apex")
    os.makedirs(folder_b)
    for k in range(6):
        data, u, v = _jpeg_bytes(10 + k)
        with open(os.path.join(folder_b, b"%d_%d_\xff%d.jpg" % (u, v, k)), "wb") as f:
            f.write(data)
    with open(os.path.join(folder_b, b"1_2_\xfe-broken.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    root = os.fsdecode(root_b)                           # what argv and os.listdir give: surrogate escapes
    index = scan_dataset(root)
    assert len(index.entries) == 6 and len(index.problems) == 1
    assert index.problems[0].path == os.fsdecode(os.path.join(folder_b, b"1_2_\xfe-broken.jpg"))
    assert summarize(index)["problems"][0]["path"].endswith("apex/1_2_\\xfe-broken.jpg")
    assert shown_path(root).endswith("caf\\xe9")

    result = train([root], str(tmp_path / "m.pth"), epochs=1, batch_size=8, input_size=32, pretrained=False,
                   progress=False, threads=1, device="cpu")
    assert os.path.isfile(result.checkpoint) and [p.path for p in result.problems] == [index.problems[0].path]

    env = dict(os.environ, OMP_NUM_THREADS="1", LC_ALL="C.UTF-8", PYTHONIOENCODING="utf-8")
    proc = subprocess.run([os.fsencode(sys.executable), b"-m", b"jetracer", b"dataset", b"info", root_b],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, env=env)
    out = proc.stdout.decode("utf-8")
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert "6 labelled images" in out and "caf\\xe9/apex/1_2_\\xfe-broken.jpg: truncated JPEG" in out


def _index_replaced(root, how):
    """``root``'s apex/index.jsonl replaced by a FIFO, a link to /dev/zero or a sparse file over the limit."""
    index = os.path.join(root, "apex", "index.jsonl")
    if os.path.lexists(index):
        os.remove(index)
    if how == "fifo":
        os.mkfifo(index)                                  # opening it would block until a writer comes
    elif how == "zero":
        os.symlink("/dev/zero", index)                    # reading it would fill memory
    else:
        with open(index, "wb") as f:
            f.write(b'{"file": "x.jpg"}\n')
        os.truncate(index, scan_module.MAX_INDEX_BYTES + (1 << 20))
    return index


INDEX_REASONS = {"fifo": "the index is a FIFO (named pipe), not a regular file; not read",
                 "zero": "the index is a device file, not a regular file; not read",
                 "sparse": "the index is 65 MiB, over the 64 MiB limit; not read"}


@pytest.mark.timeout(300)
def test_an_index_that_is_a_fifo_dev_zero_or_huge_is_reported_and_its_images_still_used(tiny_dataset_copy, tmp_path):
    from jetracer.learning.train import train
    from jetracer.pilot.checkpoint import save_checkpoint
    from jetracer.pilot.model import build_model
    root = tiny_dataset_copy
    model = save_checkpoint(str(tmp_path / "m.pth"), build_model("resnet18", 2, pretrained=False), "resnet18", 32,
                            ["apex"])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for how, reason in sorted(INDEX_REASONS.items()):
        index = _index_replaced(root, how)
        scanned = scan_dataset(root)
        assert len(scanned.entries) == 64 and [(p.path, p.reason) for p in scanned.problems] == [
            (index, reason + "; its images are read without it (sessions guessed from file times)")]
        assert all(e.session.startswith("legacy:") for e in scanned.entries)
        info = subprocess.run([sys.executable, "-m", "jetracer", "dataset", "info", root], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=120, env=env)
        assert info.returncode == 0 and "64 labelled images" in info.stdout, info.stderr
        assert "%s: %s" % (index, reason) in info.stdout
        evaluated = subprocess.run([sys.executable, "-m", "jetracer", "eval", "--model", model, root],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                   timeout=120, env=env)
        assert evaluated.returncode == 0 and "on 64 frame(s)" in evaluated.stdout and "1 file(s) skipped" in \
            evaluated.stdout, evaluated.stderr
    _index_replaced(root, "fifo")
    result = train([root], str(tmp_path / "t.pth"), epochs=1, batch_size=16, input_size=32, pretrained=False,
                   progress=False, threads=1, device="cpu")
    assert os.path.isfile(result.checkpoint) and [p.reason for p in result.problems][0].startswith(INDEX_REASONS["fifo"])


@pytest.mark.timeout(300)
def test_sim_collect_and_the_recorder_refuse_an_index_that_is_a_fifo_in_one_line(tiny_dataset_copy):
    root = tiny_dataset_copy
    index = _index_replaced(root, "fifo")
    before = sorted(os.listdir(os.path.join(root, "apex")))
    proc = subprocess.run([sys.executable, "-m", "jetracer", "sim", "collect", "--out", root, "--frames", "2",
                           "--size", "32", "32"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=280, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 1 and proc.stderr.strip().splitlines() == [
        "jetracer sim collect: dataset index %s is a FIFO (named pipe), not a regular file; not read; a collection "
        "resumes from it: move it away or collect into another folder" % index], proc.stderr
    writer = DatasetWriter(root, fsync=False)
    with pytest.raises(OSError, match="dataset index %s is a FIFO" % index):
        writer.save(np.zeros((32, 32, 3), np.uint8), 5, 6)
    assert sorted(os.listdir(os.path.join(root, "apex"))) == before  # nothing written, nothing removed


MEMORY_CAPPED_SCAN = r'''
import json, resource, sys
from jetracer.dataset import load_frame, scan_dataset
with open("/proc/self/status") as f:
    mapped = [int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize")][0]
cap = mapped + (1 << 30)
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
index = scan_dataset(sys.argv[1])
print(json.dumps({"entries": len(index.entries), "problems": [[p.path, p.reason] for p in index.problems],
                  "frames": [load_frame(p) is None for p in sys.argv[2:]]}))
'''


@pytest.mark.timeout(120)
def test_a_sparse_3_gib_jpeg_and_a_header_declaring_20000_px_are_skipped_without_reading_or_decoding(tmp_path):
    folder = tmp_path / "d" / "apex"
    folder.mkdir(parents=True)
    data, u, v = _jpeg_bytes(5)
    (folder / ("%d_%d_good.jpg" % (u, v))).write_bytes(data)
    sparse = folder / "1_2_sparse.jpg"
    sparse.write_bytes(data)
    os.truncate(str(sparse), 3 << 30)                    # 3 GiB on paper, a few KiB on disk
    sof = data.find(b"\xff\xc0")
    huge = bytearray(data)
    huge[sof + 5:sof + 9] = struct.pack(">HH", 20000, 20000)   # height, width in the frame header
    (folder / "1_2_huge.jpg").write_bytes(bytes(huge))
    proc = subprocess.run([sys.executable, "-c", MEMORY_CAPPED_SCAN, str(tmp_path / "d"), str(sparse),
                           str(folder / "1_2_huge.jpg")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=100)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["entries"] == 1 and result["frames"] == [True, True]
    assert dict(result["problems"]) == {
        str(sparse): "the image file is 3 GiB, over the 50 MiB limit; not read",
        str(folder / "1_2_huge.jpg"): "the JPEG header declares 20000x20000 pixels, over the 8192 pixels a side limit; "
                                      "not decoded"}
    assert os.stat(str(sparse)).st_blocks * 512 < (1 << 20)


def test_an_index_line_over_the_limit_is_reported_and_the_others_used(tiny_dataset_copy):
    index = os.path.join(tiny_dataset_copy, "apex", "index.jsonl")
    with open(index) as f:
        lines = f.readlines()
    long_line = json.dumps({"file": "x.jpg", "note": "x" * (scan_module.MAX_INDEX_LINE_BYTES + 10)}) + "\n"
    deep = "[" * 30000 + "\n"                           # json.loads recurses once per bracket
    with open(index, "w") as f:
        f.writelines(lines[:3] + [long_line, deep] + lines[3:])
    scanned = scan_dataset(tiny_dataset_copy)
    reasons = [(os.path.basename(p.path), p.reason) for p in scanned.problems]
    assert reasons[0] == ("index.jsonl:4", "index line longer than the 64 KiB limit; line ignored")
    assert reasons[1][0] == "index.jsonl:5" and reasons[1][1].startswith("unreadable index line")
    assert len(reasons) == 2 and len(scanned.entries) == 64
    assert all(not e.session.startswith("legacy:") for e in scanned.entries)
