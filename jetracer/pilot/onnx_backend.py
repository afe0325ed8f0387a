"""ONNX export with the preprocessing fused into the graph, int8 static quantization, ONNX Runtime inference.

The exported graph takes the camera frame as it comes: input ``frame_bgr`` is uint8 HxWx3 BGR. The
graph casts, orders the channels as the model expects (BGR->RGB for jetracer's models, as captured
for upstream's, ``normalization.color_order``), permutes HWC->NCHW, averages down to the model input
when the frame is an integer multiple of it (what ``cv2.INTER_AREA`` does for such sizes) and normalises with the
checkpoint's mean/std, so the car hands the frame to ONNX Runtime without a Python copy. Metadata
(``jetracer.*`` keys in ``metadata_props``) records arch, sizes, categories, normalisation, backend,
precision and the parity numbers against the fp32 checkpoint.

Export and quantization need ``onnx``, ``onnxslim`` and ``onnxruntime`` (desktop, Python >= 3.8);
running a model needs only ``onnxruntime``. A model file is read whole (at most ``safe_load.MAX_MODEL_BYTES``)
and its declared shapes checked (:mod:`jetracer.pilot.onnx_limits`) before ONNX Runtime sees the bytes.
"""
import inspect
import io
import json
import logging
import os
import tempfile
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..bounded_file import FileLimitError, read_regular
from .base import MissingBackendError, Pilot, PilotLoadError, Stopwatch
from .onnx_limits import check_onnx_model

logger = logging.getLogger(__name__)

INPUT_NAME = "frame_bgr"
OUTPUT_NAME = "outputs"
META_PREFIX = "jetracer."
# Ops quantized to int8; the fused preprocessing (Cast/Transpose/Gather/AveragePool/Sub/Mul) stays float,
# and so does the regression head (Gemm/MatMul): a few hundred multiply-adds that set the output's precision.
QUANT_OPS = ["Conv", "Add", "Relu", "MaxPool", "GlobalAveragePool", "Flatten"]
INSTALL_HINT = ("pip install onnxruntime (desktop, Python >= 3.8; on a Jetson install NVIDIA's onnxruntime-gpu "
                "wheel for your JetPack), or use --backend torch")


def import_onnxruntime() -> Any:
    """``onnxruntime`` or ``MissingBackendError`` saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingBackendError("ONNX models need onnxruntime, which is not installed: " + INSTALL_HINT)
    return onnxruntime


def physical_cores() -> int:
    """Physical CPU cores (psutil), at least 1: the default ONNX Runtime intra-op thread count."""
    import psutil
    return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)


def _fused_module(model: Any, meta: Dict[str, Any], frame_hw: Tuple[int, int]) -> Any:
    import torch
    from .preprocess import COLOR_ORDER, IMAGENET_MEAN, IMAGENET_STD, check_color_order, input_hw

    h, w = input_hw(meta.get("input_size", 224))
    fh, fw = frame_hw
    if fh % h or fw % w or fh // h != fw // w:
        raise ValueError("the fused resize needs a frame that is the same integer multiple of the model "
                         "input in both axes; frame %dx%d, model %dx%d" % (fh, fw, h, w))
    norm = meta.get("normalization") or {}
    mean = norm.get("mean", IMAGENET_MEAN)
    std = norm.get("std", IMAGENET_STD)
    order = [2, 1, 0] if check_color_order(norm.get("color_order", COLOR_ORDER)) == "RGB" else [0, 1, 2]

    class FusedPreprocess(torch.nn.Module):
        def __init__(self) -> None:
            super(FusedPreprocess, self).__init__()
            self.model = model
            self.factor = fh // h
            self.register_buffer("shift", torch.tensor([255.0 * m for m in mean]).view(1, 3, 1, 1))
            self.register_buffer("scale", torch.tensor([1.0 / (255.0 * s) for s in std]).view(1, 3, 1, 1))

        def forward(self, frame: "torch.Tensor") -> "torch.Tensor":
            x = frame.permute(2, 0, 1)[order].unsqueeze(0).float()  # BGR HWC -> NCHW in the model's order
            if self.factor > 1:
                # cv2.INTER_AREA at an integer factor: the block mean, rounded half up to uint8
                x = torch.floor(torch.nn.functional.avg_pool2d(x, self.factor) + 0.5)
            return self.model((x - self.shift) * self.scale)

    return FusedPreprocess().eval()


def export_fused(model: Any, meta: Dict[str, Any], frame_size: Optional[Sequence[int]] = None,
                 opset: int = 17) -> Any:
    """fp32 ``model`` -> simplified ``onnx.ModelProto`` whose input is a uint8 HxWx3 BGR frame.

    ``frame_size`` (H, W) defaults to the model input; a frame k times larger in both axes is averaged
    down inside the graph. Other frame sizes are resized on the host by ``OnnxPilot``.
    """
    import onnx
    import onnxslim
    import torch
    from .preprocess import input_hw

    frame_hw = input_hw(frame_size if frame_size is not None else meta.get("input_size", 224))
    fused = _fused_module(model.float().eval(), meta, frame_hw)
    buf = io.BytesIO()
    kwargs = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: torch 1.10 has no other
        torch.onnx.export(fused, (torch.zeros(frame_hw + (3,), dtype=torch.uint8),), buf,
                          opset_version=opset, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          do_constant_folding=True, **kwargs)
    return onnxslim.slim(onnx.load_from_string(buf.getvalue()))


class _FrameReader(object):
    """onnxruntime ``CalibrationDataReader`` over BGR frames (duck-typed: ``get_next``/``rewind``)."""

    def __init__(self, frames: Sequence[np.ndarray], frame_hw: Tuple[int, int]) -> None:
        from .preprocess import resize_bgr
        self.frames = [np.ascontiguousarray(resize_bgr(f, frame_hw)) for f in frames]
        self.rewind()

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        frame = next(self._it, None)
        return None if frame is None else {INPUT_NAME: frame}

    def rewind(self) -> None:
        self._it = iter(self.frames)


def quantize_int8(model_fp32: Any, calib_frames: Sequence[np.ndarray]) -> Any:
    """Static int8 quantization (QDQ, per-channel weights, MinMax calibration on ``calib_frames``).

    The preprocessing and the regression head stay float; convolutions, residual adds and pooling are int8.
    Raises ValueError without calibration frames.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    if not len(calib_frames):
        raise ValueError("int8 needs calibration frames: pass --calib-dataset DIR (the training data)")
    shape = model_fp32.graph.input[0].type.tensor_type.shape.dim
    frame_hw = (shape[0].dim_value, shape[1].dim_value)
    reader_cls = type("FrameReader", (_FrameReader, CalibrationDataReader), {})
    tmp = tempfile.mkdtemp(prefix="jetracer-quant-")
    src, dst = os.path.join(tmp, "fp32.onnx"), os.path.join(tmp, "int8.onnx")
    logging.disable(logging.WARNING)  # quantize_static logs every bias copy and a pre-processing hint
    try:
        onnx.save(model_fp32, src)
        quantize_static(src, dst, reader_cls(calib_frames, frame_hw), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=QUANT_OPS)
        return onnx.load(dst)
    finally:
        logging.disable(logging.NOTSET)
        for p in (src, dst):
            if os.path.exists(p):
                os.remove(p)
        os.rmdir(tmp)


def set_metadata(model: Any, meta: Dict[str, Any], precision: str, parity: Dict[str, Any]) -> None:
    """Store jetracer's metadata (JSON values) in ``model.metadata_props``."""
    from .preprocess import normalization_meta
    props = {"format": "jetracer.onnx", "version": 1, "backend": "onnxruntime", "precision": precision,
             "arch": meta.get("arch", "resnet18"), "input_size": list(meta.get("input_size", [224, 224])),
             "categories": list(meta.get("categories") or []), "num_outputs": int(meta.get("num_outputs", 2)),
             "obstacle_outputs": list(meta.get("obstacle_outputs") or []),
             "normalization": meta.get("normalization") or normalization_meta(), "parity": parity}
    del model.metadata_props[:]
    for key, value in sorted(props.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = META_PREFIX + key, json.dumps(value)


def session_options(intra_op_threads: Optional[int] = None) -> Any:
    """ONNX Runtime options: all graph optimisations, sequential, ``intra_op_threads`` (default physical cores)."""
    ort = import_onnxruntime()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = int(intra_op_threads or physical_cores())
    opts.inter_op_num_threads = 1
    return opts


def providers_for(device: str) -> List[str]:
    """CUDA (then CPU) for a CUDA device when this onnxruntime has it, else CPU."""
    ort = import_onnxruntime()
    if str(device).startswith("cuda"):
        if "CUDAExecutionProvider" in ort.get_available_providers():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        logger.warning("this onnxruntime has no CUDA provider (install onnxruntime-gpu); running on the CPU")
    return ["CPUExecutionProvider"]


class OnnxPilot(Pilot):
    """ONNX Runtime session on a fused-preprocessing model: the uint8 frame is the graph input."""

    backend = "onnxruntime"

    def __init__(self, model: Any, meta: Optional[Dict[str, Any]] = None, device: str = "cpu",
                 intra_op_threads: Optional[int] = None, path: str = "") -> None:
        """``model``: a path, serialized bytes or an ``onnx.ModelProto``; ``meta`` overrides the file's.

        The model's declared shapes are checked before ONNX Runtime reads it (:mod:`onnx_limits`): a
        PilotLoadError names the file and the limit.
        """
        ort = import_onnxruntime()
        data = self._checked_bytes(model, path)
        try:
            self.frame_size, self.batched = check_onnx_model(path or "(in memory)", data)
        except FileLimitError as e:
            raise PilotLoadError(str(e))
        try:
            self.session = ort.InferenceSession(data, sess_options=session_options(intra_op_threads),
                                                providers=providers_for(device))
        except Exception as e:
            raise PilotLoadError("onnxruntime could not load %s: %s. The file is truncated or not an ONNX "
                                 "model; re-export it with `jetracer optimize CKPT --backend onnxruntime`"
                                 % (path or "the model", " ".join(str(e).split())))
        file_meta = read_metadata(self.session)
        if meta is None and file_meta.get("format") != "jetracer.onnx":
            raise PilotLoadError("%s is an ONNX model without jetracer metadata (input size, normalisation); "
                                 "export it with `jetracer optimize CKPT --backend onnxruntime`" % path)
        meta = dict(file_meta, **(meta or {}))
        super(OnnxPilot, self).__init__(meta, path=path)
        self.precision = meta.get("precision", "fp32")
        inp = self.session.get_inputs()[0]
        if inp.name != INPUT_NAME or inp.type != "tensor(uint8)":
            raise PilotLoadError("%s takes %s %s; jetracer ONNX models take a uint8 HxWx3 BGR frame named %s"
                                 % (path, inp.name, inp.type, INPUT_NAME))
        self.intra_op_threads = self.session.get_session_options().intra_op_num_threads

    @staticmethod
    def _checked_bytes(model: Any, path: str) -> bytes:
        """The model's bytes: a file is read only when it is a regular file within ``MAX_MODEL_BYTES``."""
        if hasattr(model, "SerializeToString"):
            return model.SerializeToString()
        if isinstance(model, (bytes, bytearray)):
            return bytes(model)
        from .safe_load import MAX_MODEL_BYTES
        try:
            return read_regular(os.fspath(model), "ONNX model", MAX_MODEL_BYTES)
        except FileLimitError as e:
            raise PilotLoadError(str(e))

    @classmethod
    def load(cls, path: str, device: str = "cpu", intra_op_threads: Optional[int] = None, **_: Any) -> "OnnxPilot":
        return cls(path, device=device, intra_op_threads=intra_op_threads, path=path)

    def outputs(self, frame_bgr: np.ndarray) -> np.ndarray:
        from .preprocess import resize_bgr
        watch = Stopwatch()
        frame = resize_bgr(frame_bgr, self.frame_size)
        if not frame.flags["C_CONTIGUOUS"]:
            frame = np.ascontiguousarray(frame)
        pre = watch.lap()
        out = self.session.run(None, {INPUT_NAME: frame[np.newaxis] if self.batched else frame})[0]
        self.last_timing_ms = {"preprocess": pre, "inference": watch.lap()}
        return out[0]


def read_metadata(session: Any) -> Dict[str, Any]:
    """jetracer's metadata from an ONNX Runtime session (keys without the ``jetracer.`` prefix)."""
    props = session.get_modelmeta().custom_metadata_map
    out = {}
    for key, value in props.items():
        if key.startswith(META_PREFIX):
            try:
                out[key[len(META_PREFIX):]] = json.loads(value)
            except ValueError:
                out[key[len(META_PREFIX):]] = value
    return out


