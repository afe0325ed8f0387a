"""The one preprocessing: BGR uint8 frame -> normalised RGB 1x3xHxW, identical in torch and numpy."""
import numpy as np
import pytest
import torch

from jetracer.pilot.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessor, preprocess_numpy, resize_bgr


def test_pure_colour_frame_gives_imagenet_normalised_rgb_values():
    frame = np.zeros((8, 8, 3), np.uint8)
    frame[:] = (255, 0, 128)  # B=255, G=0, R=128
    out = Preprocessor((8, 8))(frame)
    assert tuple(out.shape) == (1, 3, 8, 8) and out.dtype == torch.float32
    expected = [(128 / 255.0 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], (0 - IMAGENET_MEAN[1]) / IMAGENET_STD[1],
                (1.0 - IMAGENET_MEAN[2]) / IMAGENET_STD[2]]
    assert out[0, :, 3, 5].tolist() == pytest.approx(expected, abs=1e-5)


def test_torch_and_numpy_paths_agree_and_resize_to_input_size():
    rng = np.random.RandomState(1)
    frame = rng.randint(0, 256, size=(120, 160, 3)).astype(np.uint8)
    t = Preprocessor((60, 80))(frame)
    n = preprocess_numpy(frame, (60, 80))
    assert tuple(t.shape) == n.shape == (1, 3, 60, 80) and n.dtype == np.float32
    assert np.abs(t.numpy() - n).max() < 1e-5
    # INTER_AREA halving = mean of 2x2 blocks
    block = frame[:2, :2].reshape(-1, 3).mean(axis=0)
    assert resize_bgr(frame, (60, 80))[0, 0].tolist() == pytest.approx(block.tolist(), abs=1.0)


def test_frame_of_input_size_is_not_copied_before_the_tensor():
    frame = np.zeros((16, 16, 3), np.uint8)
    assert resize_bgr(frame, 16) is frame


def test_half_and_batch_paths():
    frames = torch.from_numpy(np.random.RandomState(0).randint(0, 256, size=(4, 16, 16, 3)).astype(np.uint8))
    pre = Preprocessor(16)
    batch = pre.batch(frames)
    assert tuple(batch.shape) == (4, 3, 16, 16)
    assert torch.allclose(batch[2:3], pre(frames[2].numpy()))
    assert Preprocessor(16, half=True)(frames[0].numpy()).dtype == torch.float16
    with pytest.raises(ValueError, match="resize frames first"):
        Preprocessor(32).batch(frames)


def test_bad_frames_are_refused_with_the_expected_format():
    with pytest.raises(ValueError, match="BGR uint8 HxWx3"):
        Preprocessor(16)(np.zeros((16, 16), np.uint8))
    with pytest.raises(ValueError, match="BGR uint8 HxWx3"):
        preprocess_numpy(np.zeros((16, 16, 3), np.float32), 16)


def test_bgr_colour_order_feeds_the_frame_unswapped_as_upstream_did():
    # upstream: to_tensor(bgr_frame) then Normalize(ImageNet mean/std) - channel 0 is blue with mean[0]
    frame = np.zeros((8, 8, 3), np.uint8)
    frame[:] = (255, 0, 128)  # B=255, G=0, R=128
    expected = [(1.0 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], (0 - IMAGENET_MEAN[1]) / IMAGENET_STD[1],
                (128 / 255.0 - IMAGENET_MEAN[2]) / IMAGENET_STD[2]]
    out = Preprocessor((8, 8), color_order="BGR")(frame)
    assert out[0, :, 2, 2].tolist() == pytest.approx(expected, abs=1e-5)
    assert preprocess_numpy(frame, 8, color_order="BGR")[0, :, 2, 2].tolist() == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ValueError, match="RGB or BGR"):
        Preprocessor(8, color_order="RBG")
