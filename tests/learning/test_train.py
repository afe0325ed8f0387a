"""Training: session split, label-consistent augmentation, a tiny model that learns, checkpoint, DDP on gloo."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from jetracer.dataset import Entry, scan_dataset
from jetracer.learning.augment import TrainTransform, affine, hflip, resize
from jetracer.learning.split import split_by_session, split_folders
from jetracer.learning.train import dataset_shares, epoch_sampler, train
from jetracer.pilot.checkpoint import load_checkpoint

torch.set_num_threads(1)


def _entries(sessions, per_session):
    return [Entry("/d/apex/%d_%d_%s-%d.jpg" % (k, k, s, k), "apex", k, k, 64, 64, s, float(k), "test")
            for s in sessions for k in range(per_session)]


def _dot_frame(u, v, w=64, h=48):
    frame = np.zeros((h, w, 3), np.uint8)
    frame[v, u] = (255, 255, 255)
    return frame


def _brightest(frame):
    v, u = np.unravel_index(frame.sum(axis=2).argmax(), frame.shape[:2])
    return u, v


def test_split_keeps_each_session_on_one_side_and_is_deterministic():
    entries = _entries(["drive-%03d" % i for i in range(40)], 5)
    split = split_by_session(entries, 0.15, 0.15, seed=3)
    assert split.method == "session-hash"
    sides = [set(entries[i].session for i in getattr(split, s)) for s in ("train", "val", "test")]
    assert all(sides) and not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert sorted(split.train + split.val + split.test) == list(range(len(entries)))
    again = split_by_session(list(reversed(entries)), 0.15, 0.15, seed=3)
    assert again.sessions == split.sessions
    # a new session does not move the old ones
    grown = split_by_session(entries + _entries(["drive-new"], 5), 0.15, 0.15, seed=3)
    for side in ("train", "val", "test"):
        assert set(split.sessions[side]) <= set(grown.sessions[side])


def test_few_sessions_split_in_time_blocks_and_say_so():
    entries = _entries(["only"], 20)
    split = split_by_session(entries, 0.1, 0.1)
    assert split.method == "time-blocks" and "contiguous time blocks" in split.note
    times = {s: [entries[i].time for i in getattr(split, s)] for s in ("train", "val", "test")}
    assert max(times["train"]) < min(times["val"]) and max(times["val"]) < min(times["test"])
    assert (len(times["train"]), len(times["val"]), len(times["test"])) == (16, 2, 2)


def test_horizontal_flip_negates_x():
    frame = _dot_frame(50, 10)
    flipped, u, v = hflip(frame, 50.0, 10.0)
    assert (u, v) == (13.0, 10.0) and _brightest(flipped) == (13, 10)
    w = frame.shape[1]
    x, x_flipped = (50 - w / 2.0) / (w / 2.0), (u - w / 2.0) / (w / 2.0)
    assert x_flipped == pytest.approx(-x - 2.0 / w)  # mirrored about the image centre, one pixel column width


def test_affine_moves_the_label_with_the_image():
    frame = _dot_frame(40, 12)
    frame[11:14, 39:42] = 255  # a small blob survives bilinear interpolation
    moved, u, v = affine(frame, 40.0, 12.0, angle_deg=4.0, tx_px=-3.0, ty_px=2.0)
    bu, bv = _brightest(moved)
    assert abs(bu - u) <= 1 and abs(bv - v) <= 1 and (abs(u - 40) > 2 or abs(v - 12) > 2)
    # a draw that would push the label out of the image is not applied
    edge = _dot_frame(63, 0)
    same, u2, v2 = affine(edge, 63.0, 0.0, angle_deg=0.0, tx_px=5.0, ty_px=0.0)
    assert same is edge and (u2, v2) == (63.0, 0.0)


def test_train_transform_resizes_and_keeps_label_on_the_marked_point():
    frame = np.zeros((96, 128, 3), np.uint8)
    frame[28:36, 96:104] = 255
    tf = TrainTransform((48, 64), brightness=0, contrast=0, saturation=0, hue_deg=0)
    for seed in range(6):
        out, u, v = tf(frame, 99.5, 31.5, rng=np.random.RandomState(seed))
        assert out.shape == (48, 64, 3)
        weight = out.sum(axis=2).astype(np.float64)
        ys, xs = np.mgrid[:48, :64]
        cu, cv = (weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()
        assert abs(cu - u) <= 0.75 and abs(cv - v) <= 0.75, (seed, cu, cv, u, v)
    small, u, v = resize(frame, 100.0, 30.0, (48, 64))
    assert (u, v) == (50.0, 15.0)


def test_training_reduces_validation_error_and_writes_checkpoint_and_plot(tiny_dataset, tmp_path):
    out = str(tmp_path / "run" / "model.pth")
    epochs_seen = []
    result = train([tiny_dataset], out, epochs=8, batch_size=16, input_size=64, lr=1e-3, pretrained=False,
                   progress=False, patience=0, seed=0, callback=lambda rec: epochs_seen.append(rec["epoch"]))
    assert epochs_seen == list(range(1, 9))
    before = result.history[0]["val"]
    best = result.metrics["val"]
    assert best["loss"] < 0.5 * before["loss"]
    assert best["mean_abs_du_px"] < before["mean_abs_du_px"]
    assert best["x_spread"] > 0.3 and not any("nearly the same x" in n for n in result.notes)
    assert sorted(os.listdir(str(tmp_path / "run"))) == ["model.pth", "model_loss.png"]
    with open(result.loss_plot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    model, meta = load_checkpoint(out)
    for key in ("format", "version", "arch", "input_size", "categories", "num_outputs", "normalization",
                "train_args", "split", "metrics", "epoch", "created", "torch_version"):
        assert key in meta, key
    assert meta["input_size"] == [64, 64] and meta["categories"] == ["apex"] and meta["num_outputs"] == 2
    assert meta["epoch"] == result.best_epoch and meta["train_args"]["lr"] == 1e-3
    sessions = [set(meta["split"][s]) for s in ("train", "val", "test")]
    assert all(sessions) and not (sessions[0] & (sessions[1] | sessions[2])) and not (sessions[1] & sessions[2])
    for side in ("val", "test"):
        for key in ("loss", "mean_abs_du_px", "median_abs_du_px", "mean_abs_dv_px", "median_abs_dv_px"):
            assert np.isfinite(meta["metrics"][side][key])
    assert result.images_per_s > 0


def test_epoch_dir_keeps_every_epoch_s_weights_to_choose_from(tiny_dataset, tmp_path):
    """``epoch_dir``: each epoch's checkpoint, loadable, with its own validation figures; the one of the best
    epoch holds exactly the weights training kept in ``out`` (what ``jetracer demo`` chooses among by driving)."""
    out, folder = str(tmp_path / "model.pth"), str(tmp_path / "epochs")
    result = train([tiny_dataset], out, epochs=3, batch_size=16, input_size=32, lr=1e-3, pretrained=False,
                   progress=False, patience=0, seed=0, epoch_dir=folder)
    assert sorted(os.listdir(folder)) == ["epoch_01.pth", "epoch_02.pth", "epoch_03.pth"]
    kept, _ = load_checkpoint(out)
    weights = {}
    for epoch in (1, 2, 3):
        model, meta = load_checkpoint(os.path.join(folder, "epoch_%02d.pth" % epoch))
        assert meta["epoch"] == epoch and meta["input_size"] == [32, 32] and "epoch_dir" not in meta["train_args"]
        record = next(h for h in result.history if h["epoch"] == epoch)
        assert meta["metrics"]["val"]["loss"] == pytest.approx(record["val"]["loss"])
        weights[epoch] = model.state_dict()
    assert not torch.equal(weights[1]["fc.weight"], weights[3]["fc.weight"])
    assert all(torch.equal(v, weights[result.best_epoch][k]) for k, v in kept.state_dict().items())


def test_early_stopping_and_callback_stop(tiny_dataset, tmp_path):
    result = train([tiny_dataset], str(tmp_path / "m.pth"), epochs=20, batch_size=32, input_size=32,
                   pretrained=False, progress=False, patience=1, lr=1e-6, augment=False)
    assert result.stopped_early and result.epochs_run < 20
    stopped = train([tiny_dataset], str(tmp_path / "n.pth"), epochs=5, batch_size=32, input_size=32,
                    pretrained=False, progress=False, patience=0, callback=lambda rec: rec["epoch"] == 2)
    assert stopped.epochs_run == 2 and stopped.stopped_early


def test_no_epoch_before_the_learning_rate_peaks_is_kept_or_ends_the_run(tiny_dataset, tmp_path):
    # 100 real clicks from scratch kept epoch 2 (4 steps: a constant x) and stopped in the warm-up: a small
    # validation side scored the barely trained model best. With the warm-up over half of 10 epochs the
    # learning rate peaks in epoch 5: nothing before it is kept, and patience counts from it. Here the run
    # used to stop after epoch 2 and keep epoch 1; epoch 5 scores better.
    out = tmp_path / "m.pth"
    result = train([tiny_dataset], str(out), epochs=10, batch_size=32, input_size=32, pretrained=False,
                   progress=False, patience=1, lr=3e-3, warmup=0.5, seed=0)
    assert result.epochs_run >= 6 and result.best_epoch >= 5
    assert load_checkpoint(str(out))[1]["epoch"] == result.best_epoch
    first = next(h for h in result.history if h["epoch"] == 1)
    assert result.metrics["val"]["loss"] < first["val"]["loss"]


def test_unknown_option_is_refused(tiny_dataset, tmp_path):
    with pytest.raises(ValueError, match="unknown training option"):
        train([tiny_dataset], str(tmp_path / "m.pth"), epoch=3)


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    return env


@pytest.mark.slow
def test_ddp_two_cpu_processes_on_gloo_train_disjoint_shards(tiny_dataset, tmp_path):
    out = str(tmp_path / "ddp.pth")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "jetracer", "train", tiny_dataset, "--out", out, "--input-size", "64", "--epochs", "1",
           "--batch-size", "8", "--device", "cpu", "--workers", "0", "--no-pretrained", "--no-progress"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(), timeout=300)
    log = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    _, meta = load_checkpoint(out)
    dist = meta["distributed"]
    assert dist["world_size"] == 2 and dist["backend"] == "gloo" and dist["shards_disjoint"] is True
    assert sum(dist["samples_per_rank"]) == meta["split"]["counts"]["train"] and dist["samples_per_rank"][0] > 0
    assert meta["train_args"]["world_size"] == 2
    assert sorted(os.listdir(str(tmp_path))) == ["ddp.pth", "ddp_loss.png"]  # rank 1 wrote nothing else


def test_cli_train_writes_checkpoint(tiny_dataset, tmp_path):
    out = str(tmp_path / "cli.pth")
    proc = subprocess.run([sys.executable, "-m", "jetracer", "train", tiny_dataset, "--out", out, "--epochs", "1",
                           "--input-size", "32x48", "--batch-size", "32", "--device", "cpu", "--threads", "1", "--no-progress"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(), timeout=300)
    log = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert "ImageNet weights for resnet18 are not available" in log and "checkpoint %s" % out in log
    _, meta = load_checkpoint(out)
    assert meta["input_size"] == [32, 48] and json.dumps(meta["metrics"])
    bad = subprocess.run([sys.executable, "-m", "jetracer", "train", str(tmp_path / "nothing"), "--out",
                          str(tmp_path / "other.pth")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(), timeout=300)
    assert bad.returncode == 1 and b"does not exist" in bad.stdout  # a named folder that is not there: a failure


def test_scan_reports_categories_in_requested_order(tmp_path, make_tiny_dataset):
    make_tiny_dataset(str(tmp_path / "d"), sessions=1, frames_per_session=2, category="apex")
    make_tiny_dataset(str(tmp_path / "d"), sessions=1, frames_per_session=2, category="bend", seed=1)
    index = scan_dataset(str(tmp_path / "d"), categories=["bend", "apex"])
    assert index.categories == ["bend", "apex"] and index.entries[0].category == "bend"


# -- fine-tuning, tiny datasets, several folders ------------------------------------------------------

@pytest.fixture(scope="module")
def starter(tiny_dataset, tmp_path_factory):
    """A small model to start from: resnet18 at 32x32, one epoch on the tiny dataset."""
    out = str(tmp_path_factory.mktemp("starter") / "starter.pth")
    train([tiny_dataset], out, epochs=1, batch_size=32, input_size=32, pretrained=False, progress=False)
    return out


def _val_errors_of(model_path, dataset, val_sessions):
    """Mean |du| (input pixels) of ``model_path`` loaded as the car loads it, on the given sessions' frames."""
    from jetracer.pilot.load import load_pilot
    pilot = load_pilot(model_path, device="cpu")
    import cv2
    du = []
    for e in scan_dataset(dataset).entries:
        if e.session in val_sessions:
            x, _ = pilot(cv2.imread(e.path))
            du.append(abs(x - e.xy[0]) * pilot.input_size[1] / 2.0)
    return float(np.mean(du)), len(du)


def _upstream_state_dict(src, dst):
    model, _ = load_checkpoint(src)
    torch.save(model.state_dict(), dst)  # what upstream's train_model notebook saves
    return dst


@pytest.mark.parametrize("kind", ["checkpoint", "upstream"])
def test_init_starts_from_the_models_predictions(starter, tiny_dataset, tmp_path, kind):
    init = starter if kind == "checkpoint" else _upstream_state_dict(starter, str(tmp_path / "road_following_model.pth"))
    _, init_meta = load_checkpoint(init)
    out = str(tmp_path / "tuned.pth")
    result = train([tiny_dataset], out, init=init, epochs=1, batch_size=32, progress=False, val_fraction=0.25,
                   test_fraction=0.1, lr=1e-2)
    _, meta = load_checkpoint(out)
    # before any step the model is the init model: its validation error is the init model's, as the car runs it
    expected, n = _val_errors_of(init, tiny_dataset, set(meta["split"]["val"]))
    assert n == result.history[0]["val"]["images"] > 0
    assert result.history[0]["val"]["mean_abs_du_px"] == pytest.approx(expected, rel=1e-4, abs=1e-4)
    # it inherits the architecture, input size and normalisation, colour order included
    assert meta["input_size"] == init_meta["input_size"] and meta["arch"] == "resnet18"
    assert meta["normalization"] == init_meta["normalization"]
    assert meta["init"]["path"] == os.path.abspath(init) and meta["train_args"]["lr"] == 1e-2
    assert any("starting from" in n for n in result.notes)


def test_a_model_that_puts_out_one_x_for_every_frame_is_flagged(starter, tiny_dataset, tmp_path):
    """A collapsed model's loss looks fine (about the labels' variance) but it cannot steer: training says so
    in its notes (which `jetracer train` prints) and in the checkpoint."""
    flat = torch.load(starter, map_location="cpu", weights_only=False)
    flat["state_dict"]["fc.weight"].zero_()  # the output is the head's bias: one (x, y) for every frame
    torch.save(flat, str(tmp_path / "flat.pth"))
    out = str(tmp_path / "still_flat.pth")
    result = train([tiny_dataset], out, init=str(tmp_path / "flat.pth"), epochs=1, batch_size=32, progress=False,
                   lr=1e-12, min_steps=0)
    assert result.metrics["val"]["x_spread"] < 0.01
    assert any("nearly the same x" in n and "will not steer" in n for n in result.notes)
    _, meta = load_checkpoint(out)
    assert any("nearly the same x" in n for n in meta["notes"])


@pytest.mark.parametrize("freeze_bn", [True, False])
def test_freeze_bn_keeps_the_starters_batch_norm_statistics(starter, tmp_path, make_tiny_dataset, freeze_bn):
    data = make_tiny_dataset(str(tmp_path / "mine"), sessions=1, frames_per_session=25, seed=7)
    out = str(tmp_path / "tuned.pth")
    train([data], out, init=starter, epochs=3, batch_size=8, progress=False, freeze_bn=freeze_bn)
    init_model, _ = load_checkpoint(starter)
    tuned_model, meta = load_checkpoint(out)
    before, after = init_model.state_dict(), tuned_model.state_dict()
    stats = [k for k in before if k.endswith("running_mean") or k.endswith("running_var")]
    assert len(stats) == 40  # resnet18's 20 batch-norm layers
    moved = [k for k in stats if not torch.equal(before[k], after[k])]
    weights_moved = [k for k in before if k.endswith("conv1.weight") and not torch.equal(before[k], after[k])]
    assert weights_moved  # it trained either way
    assert (moved == []) if freeze_bn else (len(moved) == len(stats))
    assert meta["train_args"]["freeze_bn"] is freeze_bn


def test_init_refuses_another_architecture_or_input_size(starter, tiny_dataset, tmp_path):
    with pytest.raises(ValueError, match="takes 32x32 input but --input-size 64x64 was asked"):
        train([tiny_dataset], str(tmp_path / "m.pth"), init=starter, input_size=64)
    with pytest.raises(ValueError, match="is a resnet18 model but --arch resnet34 was asked"):
        train([tiny_dataset], str(tmp_path / "m.pth"), init=starter, arch="resnet34")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train([tiny_dataset], str(tmp_path / "m.pth"), init=str(tmp_path / "nothing.pth"))
    assert not os.path.exists(str(tmp_path / "m.pth"))


def test_tiny_dataset_of_one_session_trains_on_every_frame_and_says_so(starter, tmp_path, make_tiny_dataset):
    data = make_tiny_dataset(str(tmp_path / "mine"), sessions=1, frames_per_session=25, seed=5)
    out = str(tmp_path / "tuned.pth")
    result = train([data], out, init=starter, batch_size=32, progress=False, min_steps=40)
    assert result.split["counts"] == {"train": 25, "val": 0, "test": 0}
    assert any("25 images only: all of them are used for training" in n for n in result.notes)
    # one step per epoch: the epochs were raised to make 40 steps, and the final weights are kept
    assert result.epochs_run == 40 and result.best_epoch == 40
    assert any("40 epochs, so that training makes at least 40 steps" in n for n in result.notes)
    _, meta = load_checkpoint(out)
    assert meta["epoch"] == 40 and meta["metrics"]["test"]["images"] == 0
    # asked for, the same 25 frames still split (in time blocks: one session)
    held = train([data], str(tmp_path / "held.pth"), init=starter, epochs=1, progress=False, val_fraction=0.2,
                 test_fraction=0.1)
    assert held.split["method"] == "time-blocks" and held.split["counts"] == {"train": 18, "val": 5, "test": 2}


def test_split_folders_keeps_a_small_real_folder_out_of_the_held_out_sides():
    sim = _entries(["sim-%02d" % i for i in range(30)], 10)
    real = [Entry("/r/apex/%d_%d_r%d.jpg" % (k, k, k), "apex", k, k, 64, 64, "my-drive", float(k), "camera")
            for k in range(25)]
    split = split_folders([("sim", sim), ("real", real)], seed=0)
    real_ids = set(range(len(sim), len(sim) + len(real)))
    assert real_ids <= set(split.train) and split.val and split.test
    assert "real: 25 images only" in split.note
    # explicit fractions: the real folder is split in time blocks of its own session
    explicit = split_folders([("sim", sim), ("real", real)], 0.2, 0.2, seed=0)
    assert real_ids & set(explicit.val) and real_ids & set(explicit.test) and real_ids & set(explicit.train)
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        split_folders([("sim", sim)], 0.6, 0.5)


def test_equal_shares_draw_half_of_every_epoch_from_the_small_folder():
    groups = [0] * 640 + [1] * 20
    shares = dataset_shares(None, ["sim", "real"], [640, 20])
    assert shares == [0.5, 0.5]
    drawn = [groups[i] for i in epoch_sampler(groups, shares, len(groups), seed=0)]
    assert len(drawn) == 660 and 0.42 < np.mean(drawn) < 0.58
    assert dataset_shares("size", ["sim", "real"], [640, 20]) is None  # plain shuffle: 3 % real
    assert dataset_shares([3, 1], ["sim", "real"], [640, 20]) == [0.75, 0.25]
    with pytest.raises(ValueError, match=r"1 dataset weight\(s\) for 2 dataset folder"):
        dataset_shares([1], ["sim", "real"], [640, 20])


def test_two_folders_train_with_shares_and_report_each_folder(tiny_dataset, tmp_path, make_tiny_dataset):
    small = make_tiny_dataset(str(tmp_path / "small"), sessions=1, frames_per_session=10, seed=9)
    result = train([tiny_dataset, small], str(tmp_path / "m.pth"), epochs=1, input_size=32, pretrained=False,
                   progress=False)
    assert result.dataset_shares == [0.5, 0.5]
    assert any("each epoch draws 50%, 50%" in n for n in result.notes)
    _, meta = load_checkpoint(str(tmp_path / "m.pth"))
    assert meta["dataset"]["train_images_per_dir"][1] == 10 and meta["dataset"]["shares"] == [0.5, 0.5]


def test_notebook_starter_field_says_whether_training_starts_from_the_model(starter, tmp_path):
    from jetracer.notebook.training import starter_choice
    init, sentence = starter_choice(starter)
    assert init == starter and "resnet18 at 32x32" in sentence
    missing = str(tmp_path / "models" / "starter.pth")
    init, sentence = starter_choice(missing)
    assert init is None and "jetracer pretrain --out %s" % missing in sentence
    (tmp_path / "junk.pth").write_bytes(b"not a model")
    init, sentence = starter_choice(str(tmp_path / "junk.pth"))
    assert init is None and "cannot start from" in sentence


def test_a_mobilenet_trained_from_scratch_reads_the_road_instead_of_putting_out_a_constant(tmp_path,
                                                                                           make_tiny_dataset):
    """torchvision gives MobileNetV3's batch norms a momentum of 0.01 (for ImageNet's long runs): over a few
    hundred steps the running statistics lagged the weights and the saved model, loaded as the car loads it,
    put out one x for every frame (spread 0.000, validation loss flat at the constant's)."""
    import cv2
    from jetracer.pilot.load import load_pilot
    data = make_tiny_dataset(str(tmp_path / "road"), sessions=12, frames_per_session=8)
    out = str(tmp_path / "mnv.pth")
    train([data], out, arch="mobilenet_v3_large", epochs=30, batch_size=16, input_size=64, pretrained=False,
          progress=False, seed=0, min_steps=0, patience=0)
    pilot = load_pilot(out, device="cpu")
    labels, predictions = [], []
    for e in scan_dataset(data).entries:
        labels.append(e.xy[0])
        predictions.append(pilot(cv2.imread(e.path))[0])
    labels, predictions = np.array(labels), np.array(predictions)
    assert predictions.std() > 0.5 * labels.std()
    assert np.corrcoef(labels, predictions)[0, 1] > 0.8


def test_frames_are_decoded_once_and_training_sees_the_same_frames(tiny_dataset, tmp_path, monkeypatch):
    """The frames kept after the resize (``frame_cache``) spare a JPEG decode per frame and epoch, and change
    nothing: the weights equal those of a run that decodes every frame every epoch."""
    import jetracer.learning.road_dataset as road_dataset
    from jetracer.pilot.checkpoint import load_checkpoint

    decodes = []
    real_load = road_dataset.load_frame
    monkeypatch.setattr(road_dataset, "load_frame", lambda path, orientation=1: decodes.append(path) or real_load(
        path, orientation))
    options = dict(epochs=3, batch_size=16, input_size=32, pretrained=False, progress=False, threads=1, workers=0,
                   device="cpu", seed=5)
    kept = train([tiny_dataset], str(tmp_path / "kept.pth"), **options)
    kept_decodes, decodes[:] = len(decodes), []
    again = train([tiny_dataset], str(tmp_path / "again.pth"), frame_cache=False, **options)
    frames = len([n for n in os.listdir(os.path.join(tiny_dataset, "apex")) if n.endswith(".jpg")])
    assert kept_decodes == frames and len(decodes) > 2 * frames
    assert [h["train_loss"] for h in kept.history] == [h["train_loss"] for h in again.history]
    a, _ = load_checkpoint(str(tmp_path / "kept.pth"))
    b, _ = load_checkpoint(str(tmp_path / "again.pth"))
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_no_frames_are_kept_where_loader_workers_would_each_get_a_pickled_copy(tiny_dataset, tmp_path, monkeypatch):
    """Workers started by spawn or forkserver (Python 3.14's default on Linux, macOS's) receive the dataset
    pickled every epoch: there the frames are decoded every epoch, and the notes say why."""
    import jetracer.learning.train_run as train_run

    monkeypatch.setattr(train_run.multiprocessing, "get_start_method", lambda allow_none=False: "forkserver")
    result = train([tiny_dataset], str(tmp_path / "m.pth"), epochs=1, batch_size=8, input_size=32, pretrained=False,
                   progress=False, threads=1, workers=1, device="cpu")
    assert any("frames decoded every epoch: loader workers start by forkserver" in n for n in result.notes), result.notes


def test_frames_beyond_the_memory_budget_are_decoded_every_epoch_and_the_notes_say_how_many_were_kept(
        tiny_dataset, tmp_path, monkeypatch):
    import jetracer.learning.train_run as train_run

    monkeypatch.setattr(train_run, "cache_budget", lambda processes=1: 10 * 32 * 32 * 3)  # ten 32x32 frames
    result = train([tiny_dataset], str(tmp_path / "m.pth"), epochs=1, batch_size=16, input_size=32, pretrained=False,
                   progress=False, threads=1, device="cpu")
    assert any(n.startswith("10 of 64 frames kept decoded in memory") for n in result.notes), result.notes
