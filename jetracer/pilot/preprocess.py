"""Camera frame -> model input: the ONE preprocessing used by training, the car, the simulator and notebooks.

A frame is BGR uint8 HxWx3 (OpenCV order). The model input is float 1x3xHxW in the model's colour
order (``RGB`` for jetracer checkpoints; ``BGR`` for upstream's state dicts, which upstream trained on
``cv2.imread`` frames and fed the camera's BGR frame unswapped), normalised per channel with
``(pixel / 255 - mean[c]) / std[c]`` where channel c is in that order (ImageNet statistics by default,
applied as given, as upstream does), resized to the model
input size with ``cv2.INTER_AREA`` when the frame has another size. Resizing does not move a
normalised label: ``x = (u - w/2)/(w/2)`` is the same fraction of the width at any size.

The torch path copies as little as possible: ``torch.from_numpy`` shares the frame's memory, the
uint8 frame (a quarter of the float size) is what travels to the GPU, and the BGR->RGB flip,
HWC->CHW permute and normalisation run on the device. ``preprocess_numpy`` gives the same numbers
without torch (ONNX Runtime, calibration data).
"""
from typing import Any, Optional, Sequence, Tuple

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
COLOR_ORDER = "RGB"
COLOR_ORDERS = ("RGB", "BGR")


def input_hw(input_size: Any) -> Tuple[int, int]:
    """``224`` or ``(H, W)`` -> ``(H, W)``; raises ValueError on anything that is not 1 or 2 positive ints."""
    if isinstance(input_size, (int, np.integer)):
        size = (int(input_size), int(input_size))
    else:
        size = tuple(int(s) for s in input_size)
        if len(size) == 1:
            size = (size[0], size[0])
    if len(size) != 2 or size[0] <= 0 or size[1] <= 0:
        raise ValueError("input size must be N or (H, W) with positive integers, got %r" % (input_size,))
    return size


def _check_frame(frame: Any) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(
            "expected a BGR uint8 HxWx3 numpy frame (OpenCV order), got %s"
            % (("%s %s" % (frame.dtype, frame.shape)) if isinstance(frame, np.ndarray) else type(frame).__name__))
    return frame


def check_color_order(color_order: str) -> str:
    """``color_order`` if it is RGB or BGR (the model's input channel order), else ValueError naming both."""
    if color_order not in COLOR_ORDERS:
        raise ValueError("colour order must be RGB or BGR (the channel order the model was trained on), got %r"
                         % (color_order,))
    return color_order


def resize_bgr(frame_bgr: np.ndarray, input_size: Any) -> np.ndarray:
    """Resize to ``(H, W)`` with INTER_AREA; returns the frame itself (no copy) when it already has that size."""
    import cv2
    h, w = input_hw(input_size)
    frame_bgr = _check_frame(frame_bgr)
    if frame_bgr.shape[0] == h and frame_bgr.shape[1] == w:
        return frame_bgr
    return cv2.resize(frame_bgr, (w, h), interpolation=cv2.INTER_AREA)


def preprocess_numpy(frame_bgr: np.ndarray, input_size: Any = 224, mean: Sequence[float] = IMAGENET_MEAN,
                     std: Sequence[float] = IMAGENET_STD, color_order: str = COLOR_ORDER) -> np.ndarray:
    """BGR uint8 HxWx3 -> float32 1x3xHxW in ``color_order``, normalised: the numbers of ``Preprocessor`` without torch."""
    frame = resize_bgr(frame_bgr, input_hw(input_size))
    scale = 1.0 / (255.0 * np.asarray(std, dtype=np.float32))
    shift = np.asarray(mean, dtype=np.float32) * 255.0
    ordered = frame[:, :, ::-1] if check_color_order(color_order) == "RGB" else frame
    out = (ordered.astype(np.float32) - shift) * scale
    return np.ascontiguousarray(out.transpose(2, 0, 1))[None]


class Preprocessor(object):
    """``Preprocessor(input_size, mean, std, device, half=False)(frame_bgr) -> Tensor 1x3xHxW`` on ``device``.

    ``batch(frames)`` takes a uint8 Nx H x W x3 BGR tensor (what ``RoadDataset`` yields) and returns
    the normalised Nx3xHxW batch on ``device``; training uses it so the car and the trainer share
    the arithmetic. ``half=True`` returns float16 (TensorRT/fp16 models). ``color_order`` is the
    model's input channel order (RGB: channels swapped from the BGR frame; BGR: as captured).
    """

    def __init__(self, input_size: Any = 224, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD, device: Any = "cpu", half: bool = False,
                 color_order: str = COLOR_ORDER) -> None:
        import torch
        self.input_size = input_hw(input_size)
        self.color_order = check_color_order(color_order)
        self.device = torch.device(device)
        self.half = bool(half)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError("mean and std need 3 values (RGB) and std > 0, got %r %r" % (mean, std))
        # (p/255 - mean)/std == (p - 255*mean) * (1/(255*std)), channels in the model's order
        self._shift = torch.tensor([255.0 * m for m in self.mean], device=self.device).view(1, 3, 1, 1)
        self._scale = torch.tensor([1.0 / (255.0 * s) for s in self.std], device=self.device).view(1, 3, 1, 1)
        self._order = torch.tensor([2, 1, 0] if self.color_order == "RGB" else [0, 1, 2], device=self.device)

    def __call__(self, frame_bgr: np.ndarray) -> "torch.Tensor":  # noqa: F821
        import torch
        frame = resize_bgr(frame_bgr, self.input_size)
        if not frame.flags["C_CONTIGUOUS"]:
            frame = np.ascontiguousarray(frame)
        tensor = torch.from_numpy(frame)
        if self.device.type == "cuda":
            tensor = tensor.to(self.device, non_blocking=True)
        return self.batch(tensor.unsqueeze(0))

    def batch(self, frames_bgr: "torch.Tensor") -> "torch.Tensor":  # noqa: F821
        """uint8 NxHxWx3 BGR tensor (any device) -> normalised float Nx3xHxW (model colour order) on ``self.device``."""
        if frames_bgr.dim() != 4 or frames_bgr.shape[3] != 3:
            raise ValueError("expected an NxHxWx3 BGR batch, got shape %s" % (tuple(frames_bgr.shape),))
        if tuple(frames_bgr.shape[1:3]) != self.input_size:
            raise ValueError("batch is %dx%d but the model input is %dx%d; resize frames first (resize_bgr)"
                             % (frames_bgr.shape[1], frames_bgr.shape[2], self.input_size[0], self.input_size[1]))
        x = frames_bgr.to(self.device, non_blocking=True).permute(0, 3, 1, 2)
        x = x.index_select(1, self._order).float()
        x = (x - self._shift) * self._scale
        return x.half() if self.half else x

    def __repr__(self) -> str:
        return "Preprocessor(input_size=%r, device=%s, half=%s, color_order=%s)" % (
            self.input_size, self.device, self.half, self.color_order)


def normalization_meta(mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
                       color_order: str = COLOR_ORDER) -> dict:
    """The ``normalization`` entry of a checkpoint: mean, std and the model's input colour order."""
    return {"mean": list(mean or IMAGENET_MEAN), "std": list(std or IMAGENET_STD),
            "color_order": check_color_order(color_order)}
