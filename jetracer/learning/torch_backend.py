"""PyTorch inference: eager fp32 on the CPU; fp16 + channels-last + CUDA graphs (or torch.compile) on CUDA.

An optimized torch file is a small dict, rebuilt by ``TorchPilot.from_dict``::

    {"format": "jetracer.optimized", "version": 1, "backend": "torch", "precision": "fp32"|"fp16",
     "cuda_graph": bool, "compile": bool, "meta": <checkpoint meta without weights>,
     "state_dict": <fp32 weights>, "parity": {...}}

Weights stay fp32 in the file so one file serves the CPU (fp32) and the GPU (fp16). The CUDA graph
captures the whole step: uint8 frame on the GPU -> BGR->RGB, normalise -> model, so a call is one
host->device copy of the uint8 frame, one graph replay and one 8-byte copy back.
"""
import logging
from typing import Any, Dict, Optional

import numpy as np

from .pilot import Pilot, PilotLoadError, Stopwatch

logger = logging.getLogger(__name__)

OPTIMIZED_FORMAT = "jetracer.optimized"
META_KEYS = ("arch", "input_size", "categories", "num_outputs", "normalization")


def torch_version() -> tuple:
    """(major, minor) of the installed torch."""
    import torch
    return tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])


def checkpoint_meta(ckpt: Dict[str, Any]) -> Dict[str, Any]:
    """What a pilot needs from a checkpoint: arch, input size, categories, outputs, normalisation."""
    return {k: ckpt[k] for k in META_KEYS if k in ckpt}


def build_fp32_model(meta: Dict[str, Any], state_dict: Dict[str, Any]) -> "torch.nn.Module":  # noqa: F821
    """The checkpoint's architecture with its weights, fp32, eval mode, on the CPU."""
    from .model import build_model
    model = build_model(arch=meta.get("arch", "resnet18"), num_outputs=int(meta.get("num_outputs", 2)),
                        pretrained=False)
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as e:
        raise PilotLoadError("the weights do not fit a %s with %s outputs: %s"
                             % (meta.get("arch", "resnet18"), meta.get("num_outputs", 2), e))
    return model.eval()


class TorchPilot(Pilot):
    """Eager (optionally fp16/channels-last), CUDA-graph or torch.compile inference of a torch model."""

    backend = "torch"

    def __init__(self, model: "torch.nn.Module", meta: Dict[str, Any], device: str = "cpu",  # noqa: F821
                 precision: str = "fp32", cuda_graph: bool = False, compile: bool = False, path: str = "") -> None:
        import torch
        from .preprocess import Preprocessor
        super(TorchPilot, self).__init__(meta, path=path)
        self.device = torch.device(device)
        cuda = self.device.type == "cuda"
        if precision not in ("fp32", "fp16"):
            raise ValueError("the torch backend runs fp32 or fp16, not %s; use --backend onnxruntime or "
                             "tensorrt for int8" % precision)
        if precision == "fp16" and not cuda:
            raise ValueError("fp16 with the torch backend needs CUDA; use fp32 on the CPU "
                             "(or --backend onnxruntime --precision int8)")
        if compile and not (cuda and torch_version() >= (2, 0)):
            raise ValueError("torch.compile needs CUDA and torch >= 2 (found torch %s, device %s)"
                             % (torch.__version__, device))
        self.precision = precision
        self.cuda_graph = bool(cuda_graph and cuda)
        self.compiled = bool(compile)
        dtype = torch.float16 if precision == "fp16" else torch.float32
        if cuda:
            torch.backends.cudnn.benchmark = True  # one fixed input size: let cuDNN pick its fastest kernels
        self.model = model.eval().to(self.device, dtype=dtype, memory_format=torch.channels_last)
        if self.compiled:
            self.model = torch.compile(self.model)
        self.preprocessor = Preprocessor(self.input_size, self.mean, self.std, device=self.device,
                                         half=precision == "fp16")
        self._graph = None
        if self.cuda_graph:
            self._capture_graph()
        elif cuda or self.compiled:
            self.outputs(np.zeros(self.input_size + (3,), np.uint8))  # warm-up: cuDNN plans, compilation

    @classmethod
    def from_dict(cls, obj: Dict[str, Any], path: str = "", device: str = "cpu",
                  cuda_graph: Optional[bool] = None, compile: Optional[bool] = None, **_: Any) -> "TorchPilot":
        """Rebuild an optimized torch dict (see the module docstring) on ``device``.

        An fp16 file runs fp32 on the CPU (with a warning); CUDA graphs and compilation apply on CUDA only.
        """
        meta, precision = obj["meta"], obj.get("precision", "fp32")
        on_cuda = str(device).startswith("cuda")
        if precision == "fp16" and not on_cuda:
            logger.warning("%s was optimized for fp16 on CUDA; running fp32 on %s", path, device)
            precision = "fp32"
        cuda_graph = obj.get("cuda_graph", False) if cuda_graph is None else cuda_graph
        compile = (obj.get("compile", False) and on_cuda) if compile is None else compile
        model = build_fp32_model(meta, obj["state_dict"])
        return cls(model, dict(meta, parity=obj.get("parity", {})), device=device, precision=precision,
                   cuda_graph=bool(cuda_graph), compile=bool(compile), path=path)

    def _capture_graph(self) -> None:
        import torch
        h, w = self.input_size
        self._static_in = torch.zeros((1, h, w, 3), dtype=torch.uint8, device=self.device)
        self._host_in = torch.zeros((h, w, 3), dtype=torch.uint8).pin_memory()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), torch.no_grad():
            for _ in range(3):  # warm-up outside the graph (cuDNN autotune, allocator)
                self._forward(self._static_in)
        torch.cuda.current_stream().wait_stream(stream)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph), torch.no_grad():
            self._static_out = self._forward(self._static_in)
        torch.cuda.synchronize()

    def _forward(self, frames_u8: "torch.Tensor") -> "torch.Tensor":  # noqa: F821
        import torch
        x = self.preprocessor.batch(frames_u8).contiguous(memory_format=torch.channels_last)
        return self.model(x)

    def outputs(self, frame_bgr: np.ndarray) -> np.ndarray:
        import torch
        from .preprocess import resize_bgr
        watch = Stopwatch()
        frame = resize_bgr(frame_bgr, self.input_size)
        if self._graph is not None:
            self._host_in.numpy()[...] = frame
            self._static_in[0].copy_(self._host_in, non_blocking=True)
            pre = watch.lap()
            self._graph.replay()
            out = self._static_out.float().cpu().numpy()[0]
        else:
            with torch.inference_mode():
                x = self.preprocessor(frame).contiguous(memory_format=torch.channels_last)
                pre = watch.lap()
                out = self.model(x).float().cpu().numpy()[0]
        self.last_timing_ms = {"preprocess": pre, "inference": watch.lap()}
        return out


def save_optimized(path: str, ckpt: Dict[str, Any], precision: str, parity: Dict[str, Any],
                   cuda_graph: bool = True, compile: bool = False) -> None:
    """Write an optimized torch file (see the module docstring) that ``load_pilot`` rebuilds."""
    import torch
    torch.save({"format": OPTIMIZED_FORMAT, "version": 1, "backend": "torch", "precision": precision,
                "cuda_graph": bool(cuda_graph), "compile": bool(compile), "meta": checkpoint_meta(ckpt),
                "state_dict": ckpt["state_dict"], "parity": parity}, path)
