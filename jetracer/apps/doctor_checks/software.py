"""Python, torch, torchvision, TensorRT, torch2trt and OpenCV: versions, whether they import, and whether
the combination is a known-good one (:mod:`jetracer.apps.doctor_checks.versions`).

The imports run in a child process under a time limit (importing torch takes seconds on a Nano, and a
broken install can hang or crash the interpreter that imports it); each package reports as soon as
it is imported, so one that hangs does not hide the others.
"""
import json
import platform
from typing import Any, Dict, List

from .base import Context, Finding
from .probe import run_python
from .versions import describe_row, judge, l4t_release, major_minor, torchvision_for

PACKAGES = ("torch", "torchvision", "tensorrt", "torch2trt", "cv2")
IMPORT_TIMEOUT_S = 150.0

PROBE = r"""
import json, sys, time
for name in %r:
    t = time.time()
    out = {"name": name}
    try:
        module = __import__(name)
        out["version"] = str(getattr(module, "__version__", "") or "installed")
        if name == "cv2":
            info = module.getBuildInformation()
            out["gstreamer"] = any(l.strip().startswith("GStreamer:") and "YES" in l for l in info.splitlines())
        if name == "torch":
            out["cuda"] = bool(module.cuda.is_available())
    except ImportError as e:
        missing = getattr(e, "name", None) == name
        out["error"] = "" if missing else "%%s: %%s" %% (type(e).__name__, " ".join(str(e).split())[:200])
    except Exception as e:
        out["error"] = "%%s: %%s" %% (type(e).__name__, " ".join(str(e).split())[:200])
    out["seconds"] = round(time.time() - t, 2)
    print(json.dumps(out), flush=True)
""" % (PACKAGES,)

INSTALL = {
    "torch": "on the Jetson NVIDIA's PyTorch wheel for your JetPack (README, On the Jetson); elsewhere "
             "pip install -e '.[train]'",
    "torchvision": "on the Jetson torchvision built from source for your torch (README); elsewhere "
                   "pip install -e '.[train]'",
}


def probe_packages(timeout_s: float = IMPORT_TIMEOUT_S) -> Dict[str, Dict[str, Any]]:
    """What importing each of :data:`PACKAGES` gave in a child interpreter: ``{name: {"version"|"error", ...}}``;
    a package the child never reported has ``error`` saying it did not finish."""
    result = run_python(["-c", PROBE], timeout_s=timeout_s)
    found = {}  # type: Dict[str, Dict[str, Any]]
    for line in result.out.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("name") in PACKAGES:
            found[item["name"]] = item
    for name in PACKAGES:
        if name not in found:
            why = result.problem or ("the probe stopped (%s)" % result.text())
            found[name] = {"name": name, "error": "import did not finish: %s" % why}
    return found


def _shown(name: str, item: Dict[str, Any]) -> str:
    label = {"cv2": "OpenCV", "tensorrt": "TensorRT"}.get(name, name)
    if item.get("version"):
        extra = ""
        if name == "torch":
            extra = " (CUDA)" if item.get("cuda") else " (CPU only)"
        if name == "cv2":
            extra = " (GStreamer)" if item.get("gstreamer") else " (no GStreamer)"
        return "%s %s%s" % (label, item["version"], extra)
    if item.get("error"):
        return "%s broken (%s)" % (label, item["error"])
    return "%s not installed" % label


def check_software(context: Context) -> Finding:
    """The software check: versions, imports and the known-good table."""
    items = probe_packages()
    python = platform.python_version()
    l4t = l4t_release(context.tegra_release)
    versions = dict((k, v.get("version", "")) for k, v in items.items())
    status, problems = judge(python, versions, l4t)
    fixes = []  # type: List[str]
    broken = [n for n in PACKAGES if items[n].get("error")]
    if broken:
        status = "fail"
        problems.insert(0, "%s does not import" % ", ".join(broken))
        fixes.append("reinstall %s (the error is in the line above; a torchvision built against another torch or "
                     "a wheel for another Python are the usual causes)" % ", ".join(broken))
    for name in ("torch", "torchvision"):
        if not items[name].get("version") and not items[name].get("error"):
            status = "fail" if status == "fail" else "warning"
            problems.append("%s is not installed (training and .pth models need it)" % name)
            fixes.append("install %s: %s" % (name, INSTALL[name]))
    if context.on_jetson:
        for name, why in (("tensorrt", "TensorRT engines (*_trt.pth) need it; JetPack ships it: a virtualenv needs "
                                       "--system-site-packages to see it"),
                          ("torch2trt", "TensorRT engines need it: git clone https://github.com/NVIDIA-AI-IOT/"
                                        "torch2trt && cd torch2trt && sudo python3 setup.py install --plugins")):
            if not items[name].get("version") and not items[name].get("error"):
                status = "fail" if status == "fail" else "warning"
                problems.append("%s is not installed" % name)
                fixes.append(why)
        cv2 = items["cv2"]
        if cv2.get("version") and not cv2.get("gstreamer"):
            status = "fail" if status == "fail" else "warning"
            problems.append("this OpenCV has no GStreamer, which the CSI camera needs (a pip opencv-python?)")
            fixes.append("pip3 uninstall opencv-python opencv-python-headless, so JetPack's OpenCV is used")
    if l4t and status != "fail" and any("JetPack" in p for p in problems):
        fixes.append("use %s" % describe_row(l4t))
    if any(" is not torch " in p for p in problems):
        fixes.append("install torchvision %s, the one released with torch %s (on the Jetson, build it from source "
                     "against that torch)" % (torchvision_for(versions["torch"]), major_minor(versions["torch"])))
    where = ("L4T %s" % l4t) if l4t else ("a desktop" if not context.on_jetson else "a Jetson without "
                                                                                  "/etc/nv_tegra_release")
    listed = ", ".join(["Python %s" % python] + [_shown(n, items[n]) for n in PACKAGES])
    if status == "ok":
        return Finding("software", "ok", "%s: a known-good combination for %s" % (listed, where))
    return Finding("software", status, "%s on %s: %s" % (listed, where, "; ".join(problems)),
                   "; ".join(fixes) or "install the versions of the known-good table (README, On the Jetson)")
