"""Latency of preprocessing + inference at batch 1 for every backend/precision available on a device.

Each candidate is timed next to the upstream-style reference measured in the same run: PIL
``to_tensor`` + ``normalize`` + eager fp32 model on the device, as upstream's live_demo notebook
preprocesses (``PIL.Image.fromarray`` -> ``transforms.functional.to_tensor`` -> sub/div). A call is
timed from the BGR uint8 frame to the (x, y) floats on the host, so GPU work is included. p50 and p99
are over ``runs`` calls after ``warmup`` calls. ``max_abs_dx`` is each candidate's largest |dx| against
the fp32 model (torch eager on the CPU) over a few synthetic road frames; ``speedup`` is reference p50
over the candidate's p50. Without a checkpoint the model is a randomly initialised ``arch`` (no download).

torch.compile (Inductor with freezing) and CUDA graphs are measured on CUDA only; ``graph_copies``
says whether the CUDA graph also holds the frame upload and the result download. Keys in ``OPT_IN``
(max-autotune: about 80 s to build, slower on an H100) run only when named in ``only``. A candidate
that cannot run here (no torch2trt, no CUDA provider in onnxruntime: an ImportError) is listed under
``skipped``; one that raises anything else is listed under ``failed`` (a bug, or a compiler missing
for torch.compile), never as skipped.

``obstacle_head=True`` (``--obstacle-head``) also times each candidate with the obstacle head (the blocked logit
and the distance: two more rows of the last layer, see :mod:`jetracer.pilot.model`) next to the same weights
without it, calls alternated so both see the same machine load: ``results[key]["obstacle_head"]`` holds both
medians and the added cost in ms and in % of the road-only pilot's latency.
"""
import copy
import logging
import platform
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ...compute import check_device
from . import BenchError

logger = logging.getLogger(__name__)

TOLERANCE = 0.02
OPT_IN = ("torch-fp16-autotune-cudagraph",)  # measured only when named in ``only`` (builds for minutes)


def road_frames(n: int, size: Tuple[int, int], seed: int = 0) -> List[np.ndarray]:
    """``n`` synthetic BGR road frames (grass, a grey road curving left/right, lane lines, noise)."""
    import cv2
    rng = np.random.RandomState(seed)
    h, w = size
    frames = []
    for _ in range(n):
        img = np.empty((h, w, 3), np.uint8)
        img[:] = rng.randint(40, 120, 3)
        shift = rng.uniform(-0.4, 0.4) * w
        top_l, top_r = w * 0.45 + shift, w * 0.55 + shift
        road = np.array([[0, h], [w, h], [top_r, h * 0.35], [top_l, h * 0.35]], np.int32)
        cv2.fillPoly(img, [road], tuple(int(c) for c in rng.randint(70, 150, 3)))
        cv2.line(img, (w // 2, h), (int(shift + w / 2), int(h * 0.35)), (230, 230, 230), max(1, w // 60))
        noise = rng.normal(0, 8, img.shape)
        frames.append(np.clip(img + noise, 0, 255).astype(np.uint8))
    return frames


def upstream_reference(model: Any, device: str, mean: Any, std: Any) -> Callable[[np.ndarray], Tuple[float, float]]:
    """Upstream live_demo's path: PIL -> to_tensor -> normalise -> eager fp32 model -> numpy (no BGR flip)."""
    import PIL.Image
    import torch
    import torchvision.transforms as transforms
    model = model.float().eval().to(device)
    mean_t = torch.Tensor(list(mean)).to(device)
    std_t = torch.Tensor(list(std)).to(device)

    def preprocess(image: np.ndarray) -> "torch.Tensor":
        image = PIL.Image.fromarray(image)
        image = transforms.functional.to_tensor(image).to(device)
        image.sub_(mean_t[:, None, None]).div_(std_t[:, None, None])
        return image[None, ...]

    def run(frame: np.ndarray) -> Tuple[float, float]:
        with torch.no_grad():
            output = model(preprocess(frame)).detach().cpu().numpy().flatten()
        return float(output[0]), float(output[1])
    return run


def time_calls(fn: Callable[[np.ndarray], Any], frame: np.ndarray, runs: int, warmup: int) -> Dict[str, float]:
    """p50/p99 (ms) of ``fn(frame)`` over ``runs`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn(frame)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(frame)
        times.append((time.perf_counter() - t) * 1000.0)
    return {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99))}


def time_pair(a: Callable[[np.ndarray], Any], b: Callable[[np.ndarray], Any], frame: np.ndarray, runs: int,
              warmup: int) -> Tuple[Dict[str, float], Dict[str, float]]:
    """p50/p99 (ms) of ``a(frame)`` and ``b(frame)``, their calls alternated (a, b, b, a, ...) so that both see
    the same load on a shared machine."""
    for _ in range(warmup):
        a(frame)
        b(frame)
    times = ([], [])  # type: Tuple[List[float], List[float]]
    for i in range(runs):
        for k in ((0, 1) if i % 2 == 0 else (1, 0)):
            fn = (a, b)[k]
            t = time.perf_counter()
            fn(frame)
            times[k].append((time.perf_counter() - t) * 1000.0)
    return tuple({"p50_ms": float(np.percentile(t, 50)), "p99_ms": float(np.percentile(t, 99))}  # type: ignore
                 for t in times)


def head_variants(model: Any, meta: Dict[str, Any]) -> Tuple[Any, Dict[str, Any], Any, Dict[str, Any]]:
    """(road-only model, meta, the same model with the obstacle head, meta): the head's rows follow the road
    rows of the same last layer, so both share every other weight."""
    from ...pilot.base import OBSTACLE_OUTPUTS
    from ...pilot.model import grow_head
    road = 2 * max(1, len(meta.get("categories") or []))
    plain = grow_head(copy.deepcopy(model), road).eval()
    head = grow_head(copy.deepcopy(model), road + len(OBSTACLE_OUTPUTS)).eval()  # new rows: zeros, same cost
    return (plain, dict(meta, num_outputs=road, obstacle_outputs=[]), head,
            dict(meta, num_outputs=road + len(OBSTACLE_OUTPUTS), obstacle_outputs=list(OBSTACLE_OUTPUTS)))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return "%s: %s" % (type(error).__name__, text.splitlines()[0] if text else "")


def candidates(device: str) -> List[Tuple[str, str, str, Dict[str, Any]]]:
    """(key, backend, precision, options) to measure on ``device``."""
    if device.startswith("cuda"):
        return [("torch-fp32", "torch", "fp32", {}),
                ("torch-fp16", "torch", "fp16", {}),
                ("torch-fp16-cudagraph", "torch", "fp16", {"cuda_graph": True}),
                ("torch-fp16-compile", "torch", "fp16", {"compile": True}),
                ("torch-fp16-compile-cudagraph", "torch", "fp16", {"compile": True, "cuda_graph": True}),
                ("torch-fp16-autotune-cudagraph", "torch", "fp16", {"compile": "max-autotune", "cuda_graph": True}),
                ("onnxruntime-fp32", "onnxruntime", "fp32", {}),
                ("tensorrt-fp16", "tensorrt", "fp16", {}),
                ("tensorrt-int8", "tensorrt", "int8", {})]
    return [("torch-fp32", "torch", "fp32", {}),
            ("onnxruntime-fp32", "onnxruntime", "fp32", {}),
            ("onnxruntime-int8", "onnxruntime", "int8", {})]


def _build(model: Any, meta: Dict[str, Any], backend: str, precision: str, device: str, options: Dict[str, Any],
           calib: List[np.ndarray], threads: Optional[int]) -> Any:
    from ...learning.optimize import build_candidate
    if backend == "torch":
        from ...pilot.torch_backend import TorchPilot
        return TorchPilot(model, meta, device=device, precision=precision,
                          cuda_graph=options.get("cuda_graph", False), compile=options.get("compile", False))
    if backend == "onnxruntime" and device.startswith("cuda"):
        from ...pilot.onnx_backend import import_onnxruntime
        if "CUDAExecutionProvider" not in import_onnxruntime().get_available_providers():
            from ...pilot.base import MissingBackendError
            raise MissingBackendError("this onnxruntime has no CUDAExecutionProvider (pip install onnxruntime-gpu)")
    return build_candidate(model, meta, backend, precision, device, calib, intra_op_threads=threads)[0]


def run_bench(device: str = "cpu", runs: int = 100, warmup: int = 20, input_size: int = 224,
              arch: str = "resnet18", checkpoint: Optional[str] = None, threads: Optional[int] = None,
              parity_frames: int = 16, calib_frames: int = 32, only: Optional[List[str]] = None,
              obstacle_head: bool = False) -> Dict[str, Any]:
    """Measure every candidate on ``device``; returns the JSON-able report described in the module docstring.

    ``threads``: ONNX Runtime intra-op threads (default physical cores); torch keeps its own default.
    ``only``: keys to measure (e.g. ["onnxruntime-int8"]). Raises DeviceError for a GPU this machine does not
    have, BenchError for a key of ``only`` that is not measured on ``device``.
    """
    check_device(device)
    keys = [key for key, _, _, _ in candidates(device)]
    unknown = [key for key in only or () if key not in keys]
    if unknown:
        raise BenchError("--only %s: not measured on %s; the keys there: %s" % (" ".join(unknown), device,
                                                                                  ", ".join(keys)))
    import torch
    from ...learning.parity import compare
    from ...pilot.onnx_backend import physical_cores
    from ...pilot.preprocess import normalization_meta
    from ...pilot.torch_backend import TorchPilot
    if checkpoint:
        from ...pilot.checkpoint import load_checkpoint
        model, meta = load_checkpoint(checkpoint)
    else:
        from ...pilot.model import build_model
        torch.manual_seed(0)
        model = build_model(arch, 2, pretrained=False).eval()
        meta = {"arch": arch, "input_size": [input_size, input_size], "categories": ["apex"], "num_outputs": 2,
                "normalization": normalization_meta()}
    size = tuple(meta["input_size"])
    frames = road_frames(parity_frames + calib_frames + 1, size)
    frame, heldout, calib = frames[0], frames[1:1 + parity_frames], frames[1 + parity_frames:]
    fp32 = TorchPilot(copy.deepcopy(model), meta, device="cpu")
    norm = meta["normalization"]
    reference = upstream_reference(copy.deepcopy(model), device, norm["mean"], norm["std"])
    ref = time_calls(reference, frame, runs, warmup)
    report = {"device": device, "device_name": _device_name(device), "arch": meta.get("arch"),
              "input_size": list(size), "runs": runs, "warmup": warmup,
              "threads": {"torch": torch.get_num_threads(), "onnxruntime": int(threads or physical_cores())},
              "checkpoint": checkpoint, "reference_ms": ref["p50_ms"],
              "reference": dict(ref, what="PIL to_tensor + normalize + eager fp32 %s on %s" % (meta.get("arch"), device)),
              "results": {}, "skipped": {}, "failed": {}, "versions": _versions()}  # type: Dict[str, Any]
    for key, backend, precision, options in candidates(device):
        if (only and key not in only) or (key in OPT_IN and not (only and key in only)):
            continue
        try:
            t = time.time()
            pilot = _build(copy.deepcopy(model), meta, backend, precision, device, options, calib, threads)
            build_s = time.time() - t
            timing = time_calls(pilot, frame, runs, warmup)
            stages = pilot.last_timing_ms
            dx = compare(fp32, pilot, heldout)["max_abs_dx"]
        except ImportError as e:  # a runtime missing here (torch2trt, a CUDA provider) is a result, not a crash
            report["skipped"][key] = _first_line(e)
            logger.info("skipped %s: %s", key, report["skipped"][key])
            continue
        except Exception as e:  # anything else failed: reported as such (a bug is not "skipped")
            report["failed"][key] = _first_line(e)
            logger.warning("%s failed: %s", key, report["failed"][key], exc_info=logger.isEnabledFor(logging.DEBUG))
            continue
        report["results"][key] = dict(timing, speedup=ref["p50_ms"] / timing["p50_ms"], max_abs_dx=dx,
                                      within_tolerance=dx <= TOLERANCE, build_s=build_s,
                                      last_stage_ms=stages, graph_copies=getattr(pilot, "graph_copies", None))
        if obstacle_head:
            del pilot
            report["results"][key]["obstacle_head"] = _head_cost(model, meta, backend, precision, device, options,
                                                                 calib, threads, frame, runs, warmup)
    ok = [k for k, r in report["results"].items() if r["within_tolerance"]]
    report["best"] = min(ok, key=lambda k: report["results"][k]["p50_ms"]) if ok else None
    return report


def _head_cost(model: Any, meta: Dict[str, Any], backend: str, precision: str, device: str, options: Dict[str, Any],
               calib: List[np.ndarray], threads: Optional[int], frame: np.ndarray, runs: int,
               warmup: int) -> Dict[str, Any]:
    """The candidate timed with and without the obstacle head, alternated: both medians, the added ms and %."""
    plain_model, plain_meta, head_model, head_meta = head_variants(model, meta)
    plain = _build(plain_model, plain_meta, backend, precision, device, options, calib, threads)
    head = _build(head_model, head_meta, backend, precision, device, options, calib, threads)
    without, with_head = time_pair(plain, head, frame, runs, warmup)
    added = with_head["p50_ms"] - without["p50_ms"]
    return {"p50_ms_road_only": without["p50_ms"], "p50_ms_with_head": with_head["p50_ms"],
            "p99_ms_road_only": without["p99_ms"], "p99_ms_with_head": with_head["p99_ms"],
            "added_ms": added, "added_pct": 100.0 * added / without["p50_ms"],
            "outputs": head_meta["obstacle_outputs"], "has_obstacle_output": bool(head.has_obstacle_output)}


def _device_name(device: str) -> str:
    import torch
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    import psutil
    return "%s, %s physical / %s logical cores" % (platform.processor() or platform.machine(),
                                                   psutil.cpu_count(logical=False), psutil.cpu_count())


def _versions() -> Dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("torch", "torchvision", "onnxruntime", "tensorrt", "torch2trt"):
        try:
            out[name] = str(getattr(__import__(name), "__version__", "installed"))
        except ImportError:
            pass
    return out


def format_report(report: Dict[str, Any]) -> str:
    """A table: backend-precision, p50, p99, speedup over the reference, max |dx|."""
    lines = ["device: %s (%s), input %dx%d, %d runs after %d warm-up" % (
        report["device"], report["device_name"], report["input_size"][0], report["input_size"][1],
        report["runs"], report["warmup"]),
        "%-24s %9s %9s %8s %10s" % ("backend-precision", "p50 ms", "p99 ms", "speedup", "max |dx|"),
        "%-24s %9.2f %9.2f %8s %10s" % ("reference (upstream)", report["reference"]["p50_ms"],
                                        report["reference"]["p99_ms"], "1.00x", "-")]
    for key, r in report["results"].items():
        lines.append("%-24s %9.2f %9.2f %7.2fx %10.4g%s" % (key, r["p50_ms"], r["p99_ms"], r["speedup"],
                                                          r["max_abs_dx"], "" if r["within_tolerance"] else " (!)"))
    heads = [(k, r["obstacle_head"]) for k, r in report["results"].items() if "obstacle_head" in r]
    if heads:
        lines.append("obstacle head (blocked logit + distance), timed alternately with the same weights without it:")
        lines.append("%-24s %9s %9s %9s %8s" % ("backend-precision", "road ms", "head ms", "added ms", "added"))
        for key, h in heads:
            lines.append("%-24s %9.3f %9.3f %9.3f %7.1f%%" % (key, h["p50_ms_road_only"], h["p50_ms_with_head"],
                                                              h["added_ms"], h["added_pct"]))
    for key, why in report["skipped"].items():
        lines.append("%-24s skipped: %s" % (key, why))
    for key, why in report.get("failed", {}).items():
        lines.append("%-24s FAILED: %s (`jetracer -v bench inference` shows the traceback)" % (key, why))
    if report.get("best"):
        lines.append("best within |dx| <= %.2f: %s (%.2fx)" % (TOLERANCE, report["best"],
                                                               report["results"][report["best"]]["speedup"]))
    return "\n".join(lines)
