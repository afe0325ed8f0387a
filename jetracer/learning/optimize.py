"""Turn a trained checkpoint into a faster model file, and refuse it if it drifts from the fp32 model.

``optimize(ckpt, backend, precision, ...)``:

* ``tensorrt`` (Jetson, torch2trt): fp16, or int8 calibrated on training frames -> ``*_trt.pth``
  (+ ``*_trt.json`` with the TensorRT version);
* ``onnxruntime`` (desktop CPU/GPU): ONNX with the preprocessing fused into the graph, fp32 or
  static int8 (QDQ, per-channel) -> ``.onnx``;
* ``torch``: fp32 eager on the CPU; fp16 + channels-last + CUDA graphs on CUDA -> ``*_torch.pth``.

Every candidate runs next to the fp32 checkpoint on held-out frames (the checkpoint's test sessions);
the max/mean |dx|, |dy| are logged and stored in the file, and a candidate whose max |dx| exceeds
``tolerance`` raises ``ParityError`` and is not written.
"""
import copy
import logging
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..compute import check_device
from ..errors import UserError
from .parity import DEFAULT_TOLERANCE, check, compare, dataset_frames, dataset_paths_from_meta, format_parity

logger = logging.getLogger(__name__)

BACKENDS = ("tensorrt", "onnxruntime", "torch")
PRECISIONS = ("fp32", "fp16", "int8")
SUFFIX = {"tensorrt": "_trt.pth", "onnxruntime": ".onnx", "torch": "_torch.pth"}
SUPPORTED = {
    "tensorrt": ("fp32", "fp16", "int8"),
    "onnxruntime": ("fp32", "int8"),
    "torch": ("fp32", "fp16"),
}


class OptimizeError(UserError):
    """The optimization cannot be done as asked (e.g. ``out`` would write over the checkpoint)."""


def check_out(ckpt: str, out: str, backend: str, precision: str) -> None:
    """OptimizeError when writing ``out`` (or its TensorRT sidecar) would replace ``ckpt``, or ``out`` is a folder
    or in a place that cannot be written."""
    from ..atomic import check_output_file, same_file
    from ..pilot.tensorrt_backend import sidecar_path
    check_output_file(out, "--out", what="model file", make_folder=True, error=OptimizeError)
    for target in (out, sidecar_path(out) if out.endswith("_trt.pth") else None):
        if target and same_file(target, ckpt):
            raise OptimizeError("--out %s would write over the checkpoint %s it is made from; choose another --out "
                                "(the default is %s)" % (out, ckpt, default_out(ckpt, backend, precision)))


class OptimizeResult(object):
    """What ``optimize`` wrote: ``path`` (the model file), ``files`` (with sidecars), ``backend``,
    ``precision``, ``parity`` (max/mean |dx|, |dy|, frames), ``note`` (where the frames came from), ``seconds``."""

    def __init__(self, path: str, files: List[str], backend: str, precision: str, parity: Dict[str, Any],
                 note: str, seconds: float) -> None:
        self.path, self.files, self.backend, self.precision = path, files, backend, precision
        self.parity, self.note, self.seconds = parity, note, seconds

    def as_dict(self) -> Dict[str, Any]:
        return {"path": self.path, "files": self.files, "backend": self.backend, "precision": self.precision,
                "parity": self.parity, "note": self.note, "seconds": self.seconds}

    def __repr__(self) -> str:
        return "OptimizeResult(%s %s -> %s; %s)" % (self.backend, self.precision, self.path, format_parity(self.parity))


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _cuda(device: Optional[str]) -> bool:
    from ..pilot.load import default_device
    return default_device(device).startswith("cuda")


def available_backends(device: Optional[str] = None) -> List[Tuple[str, str]]:
    """(backend, precision) pairs usable on this machine for ``device``, fastest first."""
    pairs = []  # type: List[Tuple[str, str]]
    if _cuda(device):
        if _has("torch2trt"):
            pairs.append(("tensorrt", "fp16"))
        pairs.append(("torch", "fp16"))
    if _has("onnxruntime") and _has("onnx") and _has("onnxslim"):
        pairs += [("onnxruntime", "int8"), ("onnxruntime", "fp32")]
    pairs.append(("torch", "fp32"))
    return pairs


def best_backend(device: Optional[str] = None) -> Tuple[str, str]:
    """The fastest (backend, precision) available here: TensorRT fp16 on a Jetson with torch2trt, torch
    fp16 on other GPUs, ONNX Runtime int8 on a CPU, torch fp32 when nothing else is installed."""
    return available_backends(device)[0]


def default_out(ckpt: str, backend: str, precision: str) -> str:
    """``runs/model.pth`` -> ``runs/model_fp16_trt.pth`` / ``runs/model_int8.onnx`` / ``runs/model_fp16_torch.pth``."""
    stem = os.path.splitext(str(ckpt))[0]
    return "%s_%s%s" % (stem, precision, SUFFIX[backend])


def check_request(backend: str, precision: str) -> None:
    """OptimizeError for an unknown backend/precision or a pair that backend cannot run."""
    if backend not in BACKENDS:
        raise OptimizeError("unknown backend %r; choose one of %s" % (backend, ", ".join(BACKENDS)))
    if precision not in SUPPORTED[backend]:
        hint = {"int8": "--backend onnxruntime or tensorrt", "fp16": "--backend torch or tensorrt on a GPU"}
        raise OptimizeError("the %s backend runs %s, not %s; for %s use %s" % (
            backend, "/".join(SUPPORTED[backend]), precision, precision, hint.get(precision, "fp32")))


def _frames(meta: Dict[str, Any], ckpt: str, calib_dataset: Optional[Sequence[str]],
            frames: Optional[Sequence[np.ndarray]], calib_frames: Optional[Sequence[np.ndarray]],
            need_calib: bool) -> Tuple[List[np.ndarray], List[np.ndarray], str]:
    if frames is not None and (calib_frames is not None or not need_calib):
        return list(frames), list(calib_frames or []), "%d given frames" % len(frames)
    paths = list(calib_dataset or []) or dataset_paths_from_meta(meta)
    paths = [p for p in paths if os.path.isdir(p)]
    if not paths:
        raise OptimizeError("%s: no dataset to check the optimized model on; pass --calib-dataset DIR (the folders "
                         "it was trained on, with its test sessions)" % ckpt)
    heldout, calib, note = dataset_frames(meta, paths)
    if frames is not None:
        heldout, note = list(frames), "%d given frames" % len(frames)
    if need_calib and not calib:
        raise OptimizeError("int8 needs calibration frames but %s has no training frames" % ", ".join(paths))
    return heldout, (list(calib_frames) if calib_frames is not None else calib), note


def build_candidate(model: Any, meta: Dict[str, Any], backend: str, precision: str, device: str,
                    calib: Sequence[np.ndarray], intra_op_threads: Optional[int] = None,
                    frame_size: Optional[Sequence[int]] = None) -> Tuple[Any, Any]:
    """(pilot, artefact to save) for ``backend``/``precision``; ``model`` is consumed (moved/cast)."""
    meta = dict(meta, precision=precision)
    if backend == "onnxruntime":
        from ..pilot.onnx_backend import OnnxPilot, export_fused, quantize_int8
        proto = export_fused(model, meta, frame_size=frame_size)
        if precision == "int8":
            proto = quantize_int8(proto, calib)
        return OnnxPilot(proto, meta=meta, device=device, intra_op_threads=intra_op_threads), proto
    if backend == "torch":
        from ..pilot.torch_backend import TorchPilot, torch_version
        cuda = device.startswith("cuda")
        compiled = cuda and torch_version() >= (2, 0)  # the 0.23 ms path on an H100; not on JetPack 4.6's torch
        pilot = TorchPilot(model, meta, device=device, precision=precision, cuda_graph=cuda, compile=compiled)
        return pilot, {"compile": compiled}
    from ..pilot.tensorrt_backend import TensorRTPilot, build_engine
    engine = build_engine(model, meta, precision, calib)
    return TensorRTPilot(engine, meta), engine


def _write_onnx(proto: Any, path: str) -> None:
    from ..atomic import atomic_write
    with atomic_write(path) as f:
        f.write(proto.SerializeToString())


def optimize(ckpt: str, backend: str, precision: str, out: Optional[str] = None,
             calib_dataset: Optional[Sequence[str]] = None, tolerance: float = DEFAULT_TOLERANCE,
             device: Optional[str] = None, frames: Optional[Sequence[np.ndarray]] = None,
             calib_frames: Optional[Sequence[np.ndarray]] = None, intra_op_threads: Optional[int] = None,
             frame_size: Optional[Sequence[int]] = None) -> OptimizeResult:
    """Optimize checkpoint ``ckpt`` for ``backend``/``precision``, check parity, write ``out``.

    Held-out frames: ``frames`` if given, else the checkpoint's test sessions in ``calib_dataset``
    (default: the dataset recorded in the checkpoint's train_args). int8 calibration uses the training
    sessions (or ``calib_frames``). ``frame_size`` (H, W): the camera frame size the ONNX graph takes
    (an integer multiple of the model input; default the input size).
    Raises OptimizeError (bad request, no frames), DeviceError (a GPU this machine does not have),
    MissingBackendError (torch2trt/onnxruntime missing, with how to install it), ParityError (max |dx| >
    ``tolerance``; nothing written).
    """
    from ..pilot.checkpoint import load_checkpoint
    from ..pilot.load import default_device
    from ..pilot.torch_backend import TorchPilot
    start = time.time()
    check_request(backend, precision)
    out = str(out or default_out(ckpt, backend, precision))
    check_out(str(ckpt), out, backend, precision)
    device = default_device(device)
    if backend == "tensorrt":
        from ..pilot.tensorrt_backend import import_torch2trt
        import_torch2trt()
        if not device.startswith("cuda"):
            raise OptimizeError("TensorRT runs on the GPU; use --device cuda (or --backend onnxruntime on a CPU)")
    elif backend == "onnxruntime":
        from ..pilot.onnx_backend import import_onnxruntime
        import_onnxruntime()
    check_device(device)
    model, meta = load_checkpoint(str(ckpt))
    heldout, calib, note = _frames(meta, str(ckpt), calib_dataset, frames, calib_frames, precision == "int8")
    reference = TorchPilot(copy.deepcopy(model), meta, device="cpu")
    state_dict = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    pilot, artefact = build_candidate(model, meta, backend, precision, device, calib, intra_op_threads, frame_size)
    what = "%s %s of %s" % (backend, precision, ckpt)
    parity = compare(reference, pilot, heldout)
    logger.info("%s: %s (%s)", what, format_parity(parity), note)
    check(parity, tolerance, what)
    if os.path.dirname(os.path.abspath(out)):
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if backend == "onnxruntime":
        from ..pilot.onnx_backend import set_metadata
        set_metadata(artefact, meta, precision, parity)
        _write_onnx(artefact, out)
        files = [out]
    elif backend == "torch":
        from ..pilot.torch_backend import save_optimized
        save_optimized(out, dict(meta, state_dict=state_dict), precision, parity, cuda_graph=True,
                       compile=artefact["compile"])
        files = [out]
    else:
        from ..pilot.tensorrt_backend import save_engine
        files = save_engine(artefact, out, meta, precision, parity)
    return OptimizeResult(out, files, backend, precision, parity, note, time.time() - start)
