"""RandConv restyles colour and texture but leaves shapes where they were, so the road labels stay true."""
import pytest
import torch

from jetracer.learning.randconv import RandConv
from jetracer.learning.train import train
from jetracer.learning.train_options import TrainError
from jetracer.pilot.checkpoint import load_checkpoint


def _edge_batch(n=16, h=32, w=32, edge=10):
    """n images: one colour left of column ``edge``, another right of it (a tape edge on a floor)."""
    torch.manual_seed(1)
    left, right = torch.randn(n, 3, 1, 1), torch.randn(n, 3, 1, 1)
    cols = torch.arange(w)[None, None, None, :] < edge
    return torch.where(cols, left, right).expand(n, 3, h, w).contiguous()


def test_an_edge_stays_where_it_was_while_its_colours_change():
    batch = _edge_batch()
    torch.manual_seed(0)
    out = RandConv(1.0)(batch)
    assert out.shape == batch.shape and out.dtype == batch.dtype
    # the largest kernel is 7x7: a pixel 3 or more columns from the edge sees one side only, so only the 6
    # columns about the edge may change shape; a shifted image would bend the flat sides too
    left, right = out[:, :, :, :10 - 3], out[:, :, :, 10 + 3:]
    # each side is still one flat colour (no texture appears on a flat floor) ...
    assert float((left - left[:, :, :1, :1]).abs().max()) < 1e-4
    assert float((right - right[:, :, :1, :1]).abs().max()) < 1e-4
    # ... the two sides still differ on every image (the edge is still there) ...
    step = (left[:, :, 0, 0] - right[:, :, 0, 0]).abs().max(dim=1).values
    assert bool((step > 1e-3).all())
    # ... and the colours moved on most images
    moved = (out - batch).abs().flatten(1).max(dim=1).values > 0.05
    assert int(moved.sum()) >= 12


def test_each_images_mean_colour_is_kept():
    torch.manual_seed(3)
    batch = torch.randn(8, 3, 24, 24) * 0.7 + 0.2
    out = RandConv(1.0)(batch)
    assert torch.allclose(out.mean(dim=(2, 3)), batch.mean(dim=(2, 3)), atol=1e-4)
    assert not torch.allclose(out, batch, atol=1e-2)


def test_off_means_off_and_a_seed_repeats_the_draws():
    batch = _edge_batch(n=64)
    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    assert RandConv(0.0)(batch) is batch
    assert torch.equal(torch.rand(4), expected)  # p = 0 draws nothing: a run without it keeps its draws
    torch.manual_seed(7)
    a = RandConv(0.5)(batch)
    torch.manual_seed(7)
    b = RandConv(0.5)(batch)
    assert torch.equal(a, b)
    changed = int(((a - batch).abs().flatten(1).max(dim=1).values > 0).sum())
    assert 16 <= changed <= 48  # about half of 64
    with pytest.raises(ValueError, match="probability"):
        RandConv(1.5)


def test_training_with_every_image_restyled_still_learns_the_road(tiny_dataset, tmp_path):
    out = str(tmp_path / "m.pth")
    result = train([tiny_dataset], out, epochs=8, batch_size=16, input_size=64, lr=1e-3, pretrained=False,
                   progress=False, patience=0, seed=0, randconv=1.0)
    before, best = result.history[0]["val"], result.metrics["val"]
    assert best["loss"] < 0.5 * before["loss"] and best["mean_abs_du_px"] < before["mean_abs_du_px"]
    assert load_checkpoint(out)[1]["train_args"]["randconv"] == 1.0


def test_randconv_without_augmentation_is_refused_not_ignored(tiny_dataset, tmp_path):
    with pytest.raises(TrainError, match="--no-augment"):
        train([tiny_dataset], str(tmp_path / "m.pth"), epochs=1, input_size=32, pretrained=False,
              progress=False, randconv=0.5, augment=False)
    assert not (tmp_path / "m.pth").exists()
