"""PyTorch inference: eager fp32 on the CPU; fp16 + channels-last + CUDA graphs (or torch.compile) on CUDA.

An optimized torch file is a small dict, rebuilt by ``TorchPilot.from_dict``::

    {"format": "jetracer.optimized", "version": 1, "backend": "torch", "precision": "fp32"|"fp16",
     "cuda_graph": bool, "compile": bool, "meta": <checkpoint meta without weights>,
     "state_dict": <fp32 weights>, "parity": {...}}

Weights stay fp32 in the file so one file serves the CPU (fp32) and the GPU (fp16). On CUDA each
BatchNorm that follows a convolution is folded into it (fp32 arithmetic, before the fp16 cast; FX
tracing, skipped for models that do not trace). The CUDA graph captures the whole step: uint8 frame
upload -> channel order (BGR->RGB for jetracer's models), normalise -> model -> fp32 (x, y) download
into a pinned buffer, so a call is one copy of the frame into a persistent pinned buffer, one graph replay and one stream synchronisation
(the copies stay outside the graph, one call each, where this torch refuses to capture them).

``compile`` (CUDA, torch >= 2): True or "default" is Inductor with freezing (weights as constants,
pointwise ops fused into one kernel each); "max-autotune" also benchmarks kernel choices (minutes to
build). With ``cuda_graph`` the compiled step is then captured in the CUDA graph as above.
"""
import logging
from typing import Any, Dict, Optional

import numpy as np

from .base import Pilot, PilotLoadError, Stopwatch

logger = logging.getLogger(__name__)

OPTIMIZED_FORMAT = "jetracer.optimized"
META_KEYS = ("arch", "input_size", "categories", "num_outputs", "normalization", "obstacle_outputs")
COMPILE_OPTIONS = {"default": {"freezing": True},
                   "max-autotune": {"freezing": True, "max_autotune": True}}  # Inductor options per mode


def torch_version() -> tuple:
    """(major, minor) of the installed torch."""
    import torch
    return tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])


def checkpoint_meta(ckpt: Dict[str, Any]) -> Dict[str, Any]:
    """What a pilot needs from a checkpoint: arch, input size, categories, outputs (the obstacle ones named),
    normalisation."""
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


def fold_batchnorm(model: "torch.nn.Module") -> "torch.nn.Module":  # noqa: F821
    """``model`` (eval mode) with every BatchNorm2d whose input is a Conv2d's only use folded into that
    convolution (``torch.nn.utils.fusion.fuse_conv_bn_eval``, fp32). Same outputs to float rounding,
    one kernel fewer per pair. Returns ``model`` itself when FX cannot trace it."""
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    try:
        import torch.fx
        traced = torch.fx.symbolic_trace(model)
    except Exception as e:  # data-dependent control flow, untraceable custom layers
        logger.info("BatchNorm not folded (FX cannot trace %s: %s)", type(model).__name__, e)
        return model
    modules = dict(traced.named_modules())
    for node in list(traced.graph.nodes):
        bn = modules.get(node.target) if node.op == "call_module" else None
        conv_node = node.args[0] if node.args else None
        if (not isinstance(bn, torch.nn.BatchNorm2d) or bn.training or not bn.track_running_stats
                or not isinstance(conv_node, torch.fx.Node) or conv_node.op != "call_module"
                or not isinstance(modules.get(conv_node.target), torch.nn.Conv2d) or len(conv_node.users) != 1):
            continue
        parent, _, name = conv_node.target.rpartition(".")
        setattr(modules[parent] if parent else traced, name, fuse_conv_bn_eval(modules[conv_node.target], bn))
        node.replace_all_uses_with(conv_node)
        traced.graph.erase_node(node)
    traced.graph.lint()
    traced.recompile()
    if hasattr(traced, "delete_all_unused_submodules"):  # torch >= 1.10
        traced.delete_all_unused_submodules()
    return traced.eval()


def _step_module(model: "torch.nn.Module", preprocessor: Any) -> "torch.nn.Module":  # noqa: F821
    """uint8 1xHxWx3 BGR on the device -> fp32 model outputs (1xN): the one module compiled and captured."""
    import torch

    class FrameToOutputs(torch.nn.Module):
        def __init__(self) -> None:
            super(FrameToOutputs, self).__init__()
            self.model = model

        def forward(self, frames_u8: "torch.Tensor") -> "torch.Tensor":  # noqa: F821
            x = preprocessor.batch(frames_u8).contiguous(memory_format=torch.channels_last)
            return self.model(x).float()
    return FrameToOutputs().eval()


def compile_options(compile: Any) -> Dict[str, Any]:
    """Inductor options for ``compile`` (True/"default" or "max-autotune"); ValueError otherwise."""
    mode = "default" if compile is True else compile
    if mode not in COMPILE_OPTIONS:
        raise ValueError("compile must be True or one of %s, not %r" % (sorted(COMPILE_OPTIONS), compile))
    return dict(COMPILE_OPTIONS[mode])


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
        self.compiled = compile if compile else False
        self.graph_copies = ""  # "in-graph" or "outside" once a CUDA graph is captured
        dtype = torch.float16 if precision == "fp16" else torch.float32
        if cuda:
            torch.backends.cudnn.benchmark = True  # one fixed input size: let cuDNN pick its fastest kernels
            model = fold_batchnorm(model.eval())
        self.model = model.eval().to(self.device, dtype=dtype, memory_format=torch.channels_last)
        self.preprocessor = Preprocessor(self.input_size, self.mean, self.std, device=self.device,
                                         half=precision == "fp16", color_order=self.color_order)
        self.step = _step_module(self.model, self.preprocessor)
        if self.compiled:
            self.step = self._compile(compile_options(compile))
        self._graph = None
        if self.cuda_graph:
            self._capture_graph()
        elif cuda or self.compiled:
            self.outputs(np.zeros(self.input_size + (3,), np.uint8))  # warm-up: cuDNN plans, compilation

    def _compile(self, options: Dict[str, Any]) -> Any:
        """The compiled step, warmed up (compilation happens here); without Inductor options
        (freezing) when compiling with them fails."""
        import torch
        eager = self.step
        frames = torch.zeros((1,) + self.input_size + (3,), dtype=torch.uint8, device=self.device)
        try:
            step = torch.compile(eager, options=options)
            with torch.no_grad():
                step(frames)
        except Exception as e:  # an Inductor pass that this torch/model refuses
            if not options:
                raise
            logger.warning("torch.compile with %s failed (%s: %s); compiling without them",
                           options, type(e).__name__, str(e).strip().splitlines()[:1])
            torch._dynamo.reset()
            step = torch.compile(eager)
            with torch.no_grad():
                step(frames)
        return step

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
        """Capture upload -> step -> download in one CUDA graph; the copies stay outside the graph
        (each one call) where this torch refuses to capture copies from/to pinned host memory."""
        import torch
        h, w = self.input_size
        self._static_in = torch.zeros((1, h, w, 3), dtype=torch.uint8, device=self.device)
        self._host_in = torch.zeros((1, h, w, 3), dtype=torch.uint8).pin_memory()
        self._host_in_np = self._host_in.numpy()[0]
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream), torch.no_grad():
            for _ in range(3):  # warm-up outside the graph (cuDNN autotune, allocator, compilation)
                out = self.step(self._static_in)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        torch.cuda.synchronize(self.device)
        self._host_out = torch.zeros(tuple(out.shape), dtype=torch.float32).pin_memory()
        self._host_out_np = self._host_out.numpy()[0]
        for copies in (True, False):
            graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(graph), torch.no_grad():
                    if copies:
                        self._static_in.copy_(self._host_in, non_blocking=True)
                    self._static_out = self.step(self._static_in)
                    if copies:
                        self._host_out.copy_(self._static_out, non_blocking=True)
            except RuntimeError as e:
                if not copies:
                    raise
                logger.info("host<->device copies not captured in the CUDA graph (%s); copying outside it",
                            str(e).strip().splitlines()[:1])
                torch.cuda.synchronize(self.device)
                continue
            self.graph_copies = "in-graph" if copies else "outside"
            break
        self._graph = graph
        self._stream = torch.cuda.current_stream(self.device)
        torch.cuda.synchronize(self.device)

    def outputs(self, frame_bgr: np.ndarray) -> np.ndarray:
        import torch
        from .preprocess import resize_bgr
        watch = Stopwatch()
        frame = resize_bgr(frame_bgr, self.input_size)
        if self._graph is not None:
            np.copyto(self._host_in_np, frame)
            pre = watch.lap()
            if self.graph_copies == "outside":
                self._static_in.copy_(self._host_in, non_blocking=True)
                self._graph.replay()
                self._host_out.copy_(self._static_out, non_blocking=True)
            else:
                self._graph.replay()
            self._stream.synchronize()
            out = self._host_out_np.copy()
        else:
            with torch.no_grad():
                if not frame.flags["C_CONTIGUOUS"]:
                    frame = np.ascontiguousarray(frame)
                x = torch.from_numpy(frame).unsqueeze(0)
                if self.device.type == "cuda":
                    x = x.to(self.device, non_blocking=True)
                pre = watch.lap()
                out = self.step(x).cpu().numpy()[0]
        self.last_timing_ms = {"preprocess": pre, "inference": watch.lap()}
        return out


def save_optimized(path: str, ckpt: Dict[str, Any], precision: str, parity: Dict[str, Any],
                   cuda_graph: bool = True, compile: bool = False) -> None:
    """Write an optimized torch file (see the module docstring) that ``load_pilot`` rebuilds, atomically."""
    import torch
    from ..atomic import atomic_write
    with atomic_write(path) as f:
        torch.save({"format": OPTIMIZED_FORMAT, "version": 1, "backend": "torch", "precision": precision,
                    "cuda_graph": bool(cuda_graph), "compile": bool(compile), "meta": checkpoint_meta(ckpt),
                    "state_dict": ckpt["state_dict"], "parity": parity}, f)
