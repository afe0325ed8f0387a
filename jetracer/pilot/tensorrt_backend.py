"""TensorRT through torch2trt (on the Jetson): build, save and load ``*_trt.pth`` engines.

The engine file is exactly what torch2trt's ``TRTModule.state_dict()`` gives, so upstream's
``TRTModule().load_state_dict(torch.load(path))`` keeps working. What jetracer needs beside it lives
in a sidecar ``*_trt.json``: the TensorRT (and torch2trt) version that built it, the checkpoint's meta
(input size, categories, normalisation), precision and parity. An engine only deserializes with the
TensorRT that built it, so loading one built by another version is refused with the rebuild command.

What an engine is fed. torch2trt's ``TRTModule.forward`` hands TensorRT each input's data pointer
without casting it, so the input must already have the dtype, layout and channel order the engine
was built for:

* jetracer's engines (``jetracer optimize --backend tensorrt``) are built from the fp32 model with a
  float32 1x3xHxW input; the sidecar records ``input_dtype`` ("float32") and the checkpoint's
  ``normalization`` (mean, std, ``color_order``, RGB for jetracer's models);
* an engine without a sidecar is taken for upstream's: its ``optimize_model`` notebook builds it from
  ``model.half()`` with a half 1x3x224x224 input, and its live demo feeds ``preprocess(image).half()``,
  the camera's BGR frame through ``to_tensor`` and ImageNet normalisation unswapped. So it is fed
  float16, 224x224, BGR, ImageNet mean/std (:data:`UPSTREAM_ENGINE`).

The Jetson Nano's GPU runs fp16, not int8; int8 (Xavier/Orin, desktop GPUs) is calibrated on
training frames through torch2trt's ``int8_calib_dataset``.
"""
import json
import logging
import os
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .base import MissingBackendError, Pilot, PilotLoadError, Stopwatch

logger = logging.getLogger(__name__)

INSTALL_HINT = ("TensorRT engines (*_trt.pth) need torch2trt, which is not installed: on the Jetson run "
                "`git clone https://github.com/NVIDIA-AI-IOT/torch2trt && cd torch2trt && sudo python3 setup.py "
                "install --plugins`; elsewhere use the checkpoint (.pth) or export it with "
                "`jetracer optimize CKPT --backend onnxruntime` or `--backend torch`")
UPSTREAM_ENGINE = {"input_dtype": "float16", "input_size": [224, 224], "categories": ["apex"], "num_outputs": 2,
                   "normalization": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                                     "color_order": "BGR"},
                   "precision": "fp16", "format": "upstream.trt"}
INPUT_DTYPES = ("float32", "float16")
MAX_SIDECAR_BYTES = 1 << 20  # a sidecar is ~1 KiB of JSON (versions, meta, parity)


def import_torch2trt() -> Any:
    """The ``torch2trt`` module, or MissingBackendError with the Jetson install command."""
    try:
        import torch2trt
    except ImportError:
        raise MissingBackendError(INSTALL_HINT)
    return torch2trt


def tensorrt_version() -> str:
    """The installed TensorRT's version string."""
    import tensorrt
    return tensorrt.__version__


def sidecar_path(engine_path: str) -> str:
    """``model_trt.pth`` -> ``model_trt.json``."""
    return os.path.splitext(engine_path)[0] + ".json"


def check_engine_version(path: str, built_with: Optional[str], running: str) -> None:
    """Refuse an engine built by another TensorRT (it would fail to deserialize with an obscure error)."""
    if built_with is not None and built_with != running:
        raise PilotLoadError(
            "%s was built with TensorRT %s but this machine runs TensorRT %s; engines only load with the "
            "TensorRT that built them. Rebuild it here: jetracer optimize CHECKPOINT --backend tensorrt "
            "--precision fp16 --out %s" % (path, built_with, running, path))


def build_engine(model: Any, meta: Dict[str, Any], precision: str,
                 calib_frames: Sequence[np.ndarray] = ()) -> Any:
    """fp32 torch ``model`` -> torch2trt ``TRTModule`` (fp16 or int8) on the GPU, batch 1."""
    import torch
    from .preprocess import Preprocessor
    t2t = import_torch2trt()
    if precision not in ("fp32", "fp16", "int8"):
        raise ValueError("precision must be fp32, fp16 or int8, got %s" % precision)
    model = model.float().eval().cuda()
    # the engine is built for a float32 input (save_engine records it as input_dtype)
    pre = Preprocessor(meta.get("input_size", 224), device="cuda", **_norm(meta))
    example = torch.zeros((1, 3) + pre.input_size, device="cuda")
    kwargs = {"fp16_mode": precision in ("fp16", "int8"), "max_batch_size": 1}
    if precision == "int8":
        if not len(calib_frames):
            raise ValueError("int8 needs calibration frames: pass --calib-dataset DIR (the training data)")
        kwargs.update(int8_mode=True, int8_calib_dataset=[[pre(f).contiguous()] for f in calib_frames])
    with torch.no_grad():
        return t2t.torch2trt(model, [example], **kwargs)


def _norm(meta: Dict[str, Any]) -> Dict[str, Any]:
    norm = meta.get("normalization") or {}
    return {k: norm[k] for k in ("mean", "std", "color_order") if k in norm}


def save_engine(trt_module: Any, path: str, meta: Dict[str, Any], precision: str, parity: Dict[str, Any]) -> List[str]:
    """Write the TRTModule state dict (``*_trt.pth``) and its ``*_trt.json`` sidecar, each atomically; returns
    both paths."""
    import torch
    if not path.endswith("_trt.pth"):
        raise ValueError("TensorRT engine files are named *_trt.pth (got %s)" % path)
    from ..atomic import atomic_write
    t2t = import_torch2trt()
    side = dict(meta, format="jetracer.tensorrt", version=1, backend="tensorrt", precision=precision,
                input_dtype="float32", parity=parity, tensorrt_version=tensorrt_version(),
                torch2trt_version=getattr(t2t, "__version__", "unknown"), torch_version=torch.__version__)
    text = json.dumps(side, indent=1, sort_keys=True)  # before any file is written: a bad value writes nothing
    with atomic_write(path) as f:
        torch.save(trt_module.state_dict(), f)
    with atomic_write(sidecar_path(path), "w") as f:
        f.write(text)
    return [path, sidecar_path(path)]


def read_sidecar(side: str) -> Dict[str, Any]:
    """The JSON object in the sidecar ``side``: PilotLoadError (one line) when it is not a regular file of at
    most :data:`MAX_SIDECAR_BYTES`, not JSON or not an object."""
    from ..bounded_file import FileLimitError, read_regular
    try:
        meta = json.loads(read_regular(side, "TensorRT sidecar", MAX_SIDECAR_BYTES).decode("utf-8"))
    except FileLimitError as e:
        raise PilotLoadError("%s; rebuild the engine with jetracer optimize" % e)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise PilotLoadError("%s is not valid JSON (%s); rebuild the engine with jetracer optimize"
                             % (side, " ".join(str(e).split())[:200] or type(e).__name__))
    if not isinstance(meta, dict):
        raise PilotLoadError("%s holds a JSON %s, not an object; rebuild the engine with jetracer optimize"
                             % (side, type(meta).__name__))
    return meta


class TensorRTPilot(Pilot):
    """A torch2trt ``TRTModule`` fed what its engine was built for (see the module docstring).

    ``input_dtype`` ("float32" or "float16") and ``color_order`` say what it is fed: the frame is
    uploaded as uint8, ordered, normalised and cast on ``device`` by the ``Preprocessor``.
    """

    backend = "tensorrt"
    engine_device = "cuda"  # TensorRT engines take their inputs in GPU memory

    def __init__(self, trt_module: Any, meta: Dict[str, Any], path: str = "", device: Optional[str] = None) -> None:
        from .preprocess import Preprocessor
        super(TensorRTPilot, self).__init__(meta, path=path)
        self.precision = meta.get("precision", "fp16")
        self.input_dtype = meta.get("input_dtype", "float32")
        if self.input_dtype not in INPUT_DTYPES:
            raise PilotLoadError("%s: input_dtype %r in its sidecar is not one of %s; rebuild the engine with "
                                 "jetracer optimize" % (path, self.input_dtype, ", ".join(INPUT_DTYPES)))
        self.module = trt_module
        self.device = device or self.engine_device
        self.preprocessor = Preprocessor(self.input_size, self.mean, self.std, device=self.device,
                                         half=self.input_dtype == "float16", color_order=self.color_order)

    @classmethod
    def load(cls, path: str, device: str = "cuda", **_: Any) -> "TensorRTPilot":
        """Load ``*_trt.pth`` (+ sidecar); refuses another TensorRT's engine and a missing torch2trt.

        Without a sidecar the engine is upstream's (:data:`UPSTREAM_ENGINE`: fp16 input, 224x224, BGR).
        """
        t2t = import_torch2trt()
        side = sidecar_path(path)
        if os.path.exists(side):
            meta = read_sidecar(side)
            meta.setdefault("input_dtype", "float32")  # every jetracer-built engine takes float32
        else:
            logger.warning("%s has no sidecar %s: taking it for upstream's engine (fp16 224x224 BGR input, "
                           "ImageNet normalisation) and not checking the TensorRT version", path, side)
            meta = json.loads(json.dumps(UPSTREAM_ENGINE))
        if str(device).split(":")[0] != cls.engine_device.split(":")[0]:
            raise PilotLoadError("%s is a TensorRT engine and runs on the GPU only (device %s asked)" % (path, device))
        if "tensorrt_version" in meta:
            check_engine_version(path, meta["tensorrt_version"], tensorrt_version())
        from .base import torch_load
        module = t2t.TRTModule()
        module.load_state_dict(torch_load(path))
        return cls(module, meta, path=path, device=device)

    def outputs(self, frame_bgr: np.ndarray) -> np.ndarray:
        import torch
        watch = Stopwatch()
        x = self.preprocessor(frame_bgr).contiguous()
        pre = watch.lap()
        with torch.no_grad():
            out = self.module(x).float().cpu().numpy()[0]
        self.last_timing_ms = {"preprocess": pre, "inference": watch.lap()}
        return out
