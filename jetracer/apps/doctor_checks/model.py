"""The configured model file (``drive.model``): it loads as the drive loads it, its input, its backend, and a
TensorRT engine's version against the installed TensorRT.

The loading happens in :mod:`jetracer.apps.doctor_checks.model_probe`, a child process with a time
limit. An engine records the TensorRT that built it in its ``*_trt.json`` sidecar; it only loads with
that TensorRT (users.md, "Model and TensorRT"), so the two are compared before the engine is opened.
"""
import json
import os
from typing import Any, Dict

from .base import Context, Finding
from .model_probe import NOT_MODELS
from .probe import run_python

PROBE_TIMEOUT_S = 240.0
REBUILD = "rebuild it on this machine: jetracer optimize CHECKPOINT --backend tensorrt --precision fp16 --out %s"


def probe_model(path: str) -> Dict[str, Any]:
    """The model probe's JSON for ``path``; ``{"error": ...}`` when the probe itself gave none."""
    result = run_python(["-m", "jetracer.apps.doctor_checks.model_probe", path], timeout_s=PROBE_TIMEOUT_S)
    for line in reversed(result.out.splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    if result.problem:
        return {"probe_error": "loading it " + result.problem.split("` ", 1)[-1]}
    return {"probe_error": "the loader ended without an answer (exit code %s: %s)" % (result.rc, result.text())}


def model_path(context: Context) -> str:
    return os.path.expanduser(str(context.config.drive.model or ""))


def check_model(context: Context) -> Finding:
    """``drive.model`` loads, with its input size and backend; an engine's TensorRT matches this machine's."""
    path = model_path(context)
    config_file = context.where_config()
    if not path:
        return Finding("model", "skipped", "no drive.model in the config: `jetracer drive` then needs --model",
                       "after training (jetracer train ... --out model.pth, or jetracer optimize), put `drive: {model: "
                       "/path/to/model.pth}` in %s" % config_file)
    if not os.path.exists(path):
        return Finding("model", "fail", "drive.model %s does not exist" % path,
                       "fix drive.model in %s (the path of your trained model file: jetracer train --out, jetracer "
                       "optimize --out)" % config_file)
    data = probe_model(path)
    if "probe_error" in data:
        return Finding("model", "fail", "%s: %s" % (path, data["probe_error"]),
                       "run `python -m jetracer.apps.doctor_checks.model_probe %s` to see it fail; a model runtime "
                       "that hangs or crashes on a file is a broken install or a file of another version" % path)
    built, have = data.get("built_with"), data.get("tensorrt", "absent")
    if path.endswith("_trt.pth") and built:
        if have is None:
            return Finding("model", "fail", "%s is a TensorRT engine built with TensorRT %s (its sidecar %s); this "
                                            "machine has no TensorRT" % (path, built, data.get("sidecar")),
                           "run it on a Jetson with TensorRT %s; here use the checkpoint it was built from, or an ONNX "
                           "export of it (jetracer optimize CHECKPOINT --backend onnxruntime)" % built)
        if have != built:
            return Finding("model", "fail", "%s is a TensorRT engine built with TensorRT %s (its sidecar %s); this "
                                            "machine runs TensorRT %s, and engines only load with the TensorRT that "
                                            "built them" % (path, built, data.get("sidecar"), have), REBUILD % path)
    if data.get("sidecar_error"):
        return Finding("model", "fail", data["sidecar_error"], REBUILD % path)
    if data.get("error"):
        kind, expected = data.get("kind", "?"), data.get("expected", "a model file")
        first = data["error"]
        if data.get("error_type") == "MissingBackendError":
            return Finding("model", "fail", "%s (%s) needs a model runtime that is not installed here" % (path, kind),
                           first)
        if kind.startswith(NOT_MODELS):
            seen = "%s is %s, not a model file; expected %s" % (path, kind, expected)
        else:
            seen = "%s is %s but does not load: %s" % (path, kind, first)
        if path.endswith(".onnx") and not kind.startswith(NOT_MODELS):
            fix = ("export the model with `jetracer optimize CHECKPOINT --backend onnxruntime` (jetracer's ONNX models take "
                   "the camera frame, uint8 HxWx3 BGR, with the preprocessing inside), or set drive.model in %s to "
                   "another model file" % config_file)
        else:
            fix = ("set drive.model in %s to a model file (jetracer train --out, or jetracer optimize --out); "
                   "re-export or re-download this one if it is damaged" % config_file)
        return Finding("model", "fail", seen, fix)
    if data.get("run_error") or data.get("finite") is False:
        return Finding("model", "fail", "%s loads (%s) but a black %dx%d frame gives %s"
                       % (path, data.get("backend"), data["input_size"][1], data["input_size"][0],
                          data.get("run_error") or "non-finite outputs %s" % data.get("output")),
                       "retrain or re-export it (jetracer train, jetracer optimize); the drive's self-check refuses "
                       "this model")
    size = data.get("input_size") or [0, 0]
    seen = ("%s: %s, loads with %s (%s) in %.1f s, input %dx%d %s, %d output%s, one frame in %.0f ms"
            % (path, data.get("kind"), data.get("backend"), data.get("precision"), data.get("load_s", 0.0), size[1],
               size[0], data.get("color_order"), data.get("num_outputs", 2),
               "" if data.get("num_outputs", 2) == 1 else "s", data.get("inference_ms", 0.0)))
    if path.endswith("_trt.pth") and not data.get("sidecar"):
        return Finding("model", "warning", seen + "; no *_trt.json sidecar, so it is taken for upstream's engine (fp16, "
                                                  "224x224, BGR) and its TensorRT version is not known",
                       REBUILD % path + " (that writes the sidecar)")
    if path.endswith("_trt.pth") and built:
        seen += "; built with TensorRT %s, as installed" % built
    return Finding("model", "ok", seen)
