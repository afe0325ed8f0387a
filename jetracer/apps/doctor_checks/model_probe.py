"""``python -m jetracer.apps.doctor_checks.model_probe MODEL``: load a model file as the drive would, print one
JSON line about it.

It runs in a child process of the doctor (:mod:`jetracer.apps.doctor_checks.model`), so a model
runtime that hangs or crashes on a bad file (TensorRT deserialising another version's engine) costs
the doctor a line, not its run. The file is read through the pilot loader, which never runs code from
a file; its first bytes say what it is when it is not what its name promises.
"""
import json
import math
import os
import sys
import time
from typing import Any, Dict, List, Optional


def pilot_api() -> Any:
    """``(loader, tensorrt_backend)``: the one place that names the pilot package."""
    from ...pilot import load as loader, tensorrt_backend
    return loader, tensorrt_backend


FORMATS = {"jetracer.checkpoint": "a jetracer checkpoint", "upstream.state_dict": "an upstream state dict",
           "jetracer.optimized": "an optimized torch file", "jetracer.onnx": "a jetracer ONNX model",
           "jetracer.tensorrt": "a jetracer TensorRT engine", "upstream.trt": "upstream's TensorRT engine"}
NOT_MODELS = ("an empty file", "a JPEG image", "a PNG image", "a GIF image", "a Git LFS pointer", "an HTML page",
              "JSON text")
MAGIC = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a zip archive (PyTorch's file format)"),
    (b"version https://git-lfs", "a Git LFS pointer, not the file itself (run `git lfs pull` where you cloned it)"),
    (b"<!DOCTYPE", "an HTML page (the download saved a web page instead of the file)"),
    (b"<html", "an HTML page (the download saved a web page instead of the file)"),
    (b"{", "JSON text (a sidecar or a config, not a model)"),
)


def file_kind(head: bytes) -> str:
    """What the first bytes of a file say it is, in words."""
    if not head:
        return "an empty file"
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle (PyTorch's legacy format)"
    if head[:1] == b"\x08":
        return "a protobuf message (an ONNX model)"
    if b"ptrt" in head[:32] or b"ftrt" in head[:32]:
        return "a raw TensorRT engine (not a torch2trt *_trt.pth)"
    return "data starting with %s" % head[:8].hex()


def expected_kind(path: str, accepted: List[str]) -> str:
    """What a file of this name should be."""
    if path.endswith(".onnx"):
        return "an ONNX model from `jetracer optimize MODEL --backend onnxruntime`"
    if path.endswith("_trt.pth"):
        return "a torch2trt TensorRT engine from `jetracer optimize MODEL --backend tensorrt`"
    return "one of: %s" % "; ".join(accepted)


def probe(path: str) -> Dict[str, Any]:
    """What the doctor reports about ``path``: kind, sidecar versions, and the loaded pilot's facts or the error."""
    import numpy as np
    loader, trt = pilot_api()
    out = {"path": path, "expected": expected_kind(path, loader.accepted_kinds())}  # type: Dict[str, Any]
    try:
        out["kind"] = file_kind(loader.read_model_head(path, 64))
    except Exception as e:  # noqa: BLE001 - not a regular file, too large, missing: the loader's own words
        out["kind"] = "unreadable"
        out["error"] = " ".join(str(e).split())
        return out
    if path.endswith("_trt.pth"):
        side = trt.sidecar_path(path)
        out["sidecar"] = side if os.path.exists(side) else None
        if out["sidecar"]:
            try:
                meta = trt.read_sidecar(side)
                out["built_with"] = meta.get("tensorrt_version")
                out["torch2trt_built_with"] = meta.get("torch2trt_version")
            except Exception as e:  # noqa: BLE001 - PilotLoadError: the sidecar's problem, reported as such
                out["sidecar_error"] = " ".join(str(e).split())
        try:
            out["tensorrt"] = trt.tensorrt_version()
        except ImportError:
            out["tensorrt"] = None
    started = time.monotonic()
    try:
        pilot = loader.load_pilot(path, device=None if path.endswith("_trt.pth") else "cpu")
    except Exception as e:  # noqa: BLE001 - PilotLoadError, MissingBackendError, ...: reported in one line
        out["error"] = " ".join(str(e).split())
        out["error_type"] = type(e).__name__
        return out
    out["load_s"] = round(time.monotonic() - started, 2)
    meta = getattr(pilot, "meta", {}) or {}
    described = FORMATS.get(str(meta.get("format")), "")
    if described:
        out["kind"] = "%s%s" % (described, " (%s)" % meta["arch"] if meta.get("arch") else "")
    out.update(backend=pilot.backend, precision=pilot.precision, input_size=list(pilot.input_size),
               color_order=pilot.color_order, categories=list(pilot.categories), num_outputs=pilot.num_outputs)
    frame = np.zeros((int(pilot.input_size[0]), int(pilot.input_size[1]), 3), np.uint8)
    try:
        started = time.monotonic()
        x, y = pilot(frame)
        out["inference_ms"] = round((time.monotonic() - started) * 1000.0, 1)
        out["output"] = [x, y] if math.isfinite(x) and math.isfinite(y) else [str(x), str(y)]
        out["finite"] = math.isfinite(x) and math.isfinite(y)
    except Exception as e:  # noqa: BLE001 - a model that loads but cannot run a frame
        out["run_error"] = "%s: %s" % (type(e).__name__, " ".join(str(e).split())[:300])
    return out


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m jetracer.apps.doctor_checks.model_probe MODEL\n")
        return 2
    sys.stdout.write(json.dumps(probe(argv[0])) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
